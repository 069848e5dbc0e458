"""reynard:isolate-instance against moto in server mode: dry run, real run, second run, the shared isolation
groups kept to their rules, and the resulting AWS state read back with boto3.

moto models no connection tracking, so what cannot be shown here is the effect of the allow-all step on
live connections; what is shown is that every ENI went allow-all then no-rules, in that order, with both
groups holding exactly the rules that make the swap cut tracked connections."""

from __future__ import annotations

import pytest

from respond_support import World, context, reynard
from reynard.respond.errors import StatesError

EVERYWHERE = [
    {
        "IpProtocol": "-1",
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
        "Ipv6Ranges": [],
        "PrefixListIds": [],
        "UserIdGroupPairs": [],
    },
    {
        "IpProtocol": "-1",
        "IpRanges": [],
        "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
        "PrefixListIds": [],
        "UserIdGroupPairs": [],
    },
]


def group(world: World, name: str) -> dict | None:
    found = world.ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [name]}, {"Name": "vpc-id", "Values": [world.vpc]}]
    )["SecurityGroups"]
    return found[0] if found else None


def associations(world: World) -> list[str | None]:
    return [
        a.get("AssociationId")
        for a in world.ec2.describe_addresses(AllocationIds=world.addresses)["Addresses"]
    ]


def rule_set(permissions: list[dict]) -> set[tuple]:
    return {
        (p["IpProtocol"], r.get("CidrIp") or r.get("CidrIpv6"))
        for p in permissions
        for r in p.get("IpRanges", []) + p.get("Ipv6Ranges", [])
    }


def test_dry_run_says_what_would_change_and_changes_nothing(world: World) -> None:
    tasks = reynard(world.endpoint)
    result = tasks.action("isolate-instance", {"InstanceId": world.instance}, context(dry_run=True))
    assert result["DryRun"] and not result["Changed"] and not result["Verified"]
    changes = [(c["Resource"], c["Change"]) for c in result["Changes"]]
    assert (world.vpc, "create security group reynard-isolation-allow-all") in changes
    assert (world.vpc, "create security group reynard-isolation-no-rules") in changes
    for eni in (world.primary_eni, world.secondary_eni):
        assert (eni, "security groups, step 1 of 2") in changes and (
            eni,
            "security groups, step 2 of 2",
        ) in changes
    assert sum(c == "disassociate Elastic IP" for _, c in changes) == 2
    assert not any(c["Applied"] for c in result["Changes"])
    # nothing changed in AWS
    assert world.eni_groups(world.primary_eni) == [world.web_sg, world.admin_sg]
    assert world.eni_groups(world.secondary_eni) == [world.web_sg]
    assert (
        group(world, "reynard-isolation-no-rules") is None
        and group(world, "reynard-isolation-allow-all") is None
    )
    assert all(associations(world))
    assert not any(key.startswith("reynard:") for key in world.instance_tags())


def test_isolation_swaps_every_eni_backs_up_its_groups_and_releases_elastic_ips(world: World) -> None:
    tasks = reynard(world.endpoint)
    result = tasks.action("isolate-instance", {"InstanceId": world.instance})
    assert result["Verified"] and result["Changed"] and all(c["Ok"] for c in result["Checks"])

    no_rules, allow_all = (
        group(world, "reynard-isolation-no-rules"),
        group(world, "reynard-isolation-allow-all"),
    )
    assert world.eni_groups(world.primary_eni) == [no_rules["GroupId"]]
    assert world.eni_groups(world.secondary_eni) == [no_rules["GroupId"]]
    assert no_rules["IpPermissions"] == [] and no_rules["IpPermissionsEgress"] == []
    assert (
        rule_set(allow_all["IpPermissions"])
        == rule_set(allow_all["IpPermissionsEgress"])
        == rule_set(EVERYWHERE)
    )
    assert result["IsolationGroups"] == {
        world.vpc: {"AllowAll": allow_all["GroupId"], "NoRules": no_rules["GroupId"]}
    }

    swaps = [(c["Resource"], c["To"]) for c in result["Changes"] if c["Change"].startswith("security groups")]
    assert swaps == [
        (world.primary_eni, [allow_all["GroupId"]]),
        (world.primary_eni, [no_rules["GroupId"]]),
        (world.secondary_eni, [allow_all["GroupId"]]),
        (world.secondary_eni, [no_rules["GroupId"]]),
    ]

    backups = {world.primary_eni: [world.web_sg, world.admin_sg], world.secondary_eni: [world.web_sg]}
    assert result["OriginalSecurityGroups"] == backups
    tags = world.instance_tags()
    assert tags[f"reynard:original-security-groups:{world.primary_eni}"] == f"{world.web_sg},{world.admin_sg}"
    assert tags[f"reynard:original-security-groups:{world.secondary_eni}"] == world.web_sg

    assert associations(world) == [None, None]
    released = {r["AllocationId"]: r["NetworkInterfaceId"] for r in result["DisassociatedElasticIps"]}
    assert released == dict(zip(world.addresses, (world.primary_eni, world.secondary_eni), strict=True))
    assert all(a in tags["reynard:disassociated-elastic-ips"] for a in world.addresses)


def test_a_second_run_changes_nothing_and_keeps_the_original_backup(world: World) -> None:
    tasks = reynard(world.endpoint)
    first = tasks.action("isolate-instance", {"InstanceId": world.instance})
    tags = world.instance_tags()
    second = tasks.action("isolate-instance", {"InstanceId": world.instance})
    assert second["AlreadyDone"] and not second["Changed"] and second["Changes"] == [] and second["Verified"]
    assert second["OriginalSecurityGroups"] == first["OriginalSecurityGroups"]  # not the isolation group
    assert world.instance_tags() == tags


def test_the_groups_are_shared_per_vpc_and_put_back_to_their_rules(world: World) -> None:
    tasks = reynard(world.endpoint)
    first = tasks.action("isolate-instance", {"InstanceId": world.instance})
    no_rules = group(world, "reynard-isolation-no-rules")["GroupId"]
    # someone opens the no-rules group; the next isolation in the VPC closes it again
    world.ec2.authorize_security_group_ingress(
        GroupId=no_rules,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    other = world.ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": world.subnets[0], "Groups": [world.web_sg]}],
    )["Instances"][0]["InstanceId"]
    second = tasks.action("isolate-instance", {"InstanceId": other})
    assert second["IsolationGroups"] == first["IsolationGroups"]
    assert not any(c["Change"].startswith("create security group") for c in second["Changes"])
    assert (no_rules, "revoke ingress rules") in [(c["Resource"], c["Change"]) for c in second["Changes"]]
    assert group(world, "reynard-isolation-no-rules")["IpPermissions"] == []


def test_keeping_elastic_ips_is_a_choice(world: World) -> None:
    result = reynard(world.endpoint).action(
        "isolate-instance", {"InstanceId": world.instance, "DisassociateElasticIps": False}
    )
    assert result["Verified"] and result["DisassociatedElasticIps"] == [] and all(associations(world))


def test_a_missing_instance_is_a_failure_naming_it(world: World) -> None:
    with pytest.raises(StatesError) as info:
        reynard(world.endpoint).action("isolate-instance", {"InstanceId": "i-0123456789abcdef0"})
    assert (info.value.error, info.value.cause) == (
        "Reynard.ResourceNotFound",
        "instance i-0123456789abcdef0 does not exist in us-east-1",
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "isolate-instance: missing argument 'InstanceId'"),
        ({"InstanceID": "i-1"}, "isolate-instance: unknown argument(s) InstanceID; known: "),
        (
            {"InstanceId": "i-1", "DisassociateElasticIps": "no"},
            "argument 'DisassociateElasticIps' has the wrong type str",
        ),
    ],
)
def test_bad_arguments_are_refused_by_name(world: World, arguments: dict, message: str) -> None:
    with pytest.raises(StatesError) as info:
        reynard(world.endpoint).action("isolate-instance", arguments)
    assert info.value.error == "Reynard.InvalidArguments" and message in info.value.cause
