"""Containment and credentials actions against moto in server mode, each run as a dry run, for real, and
again, with the AWS state read back through boto3: Auto Scaling membership and desired capacity, target
groups and classic ELBs, the inline revocation policy, the access key, the bucket's public access block,
and the instance stopped or terminated (refused while protected, and without snapshots).

moto does not evaluate IAM policies by default, so what is shown for revoke-role-sessions is the policy
and its condition as stored, not a denied call."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from respond_support import World, context, reynard
from reynard.respond.errors import StatesError


def thrice(tasks, action: str, arguments: dict) -> tuple[dict, dict, dict]:
    """A dry run, the real run and a second run: the second must find nothing to do."""
    planned = tasks.action(action, arguments, context(dry_run=True))
    assert planned["DryRun"] and not planned["Changed"] and planned["Changes"] and not planned["Verified"]
    done = tasks.action(action, arguments)
    assert done["Changed"] and done["Verified"] and all(c["Applied"] for c in done["Changes"])
    again = tasks.action(action, arguments)
    assert again["AlreadyDone"] and not again["Changed"] and again["Changes"] == [] and again["Verified"]
    return planned, done, again


def test_detach_from_asg_keeps_the_desired_capacity(world: World) -> None:
    asg = world.autoscaling
    desired = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[world.asg])["AutoScalingGroups"][0][
        "DesiredCapacity"
    ]
    planned, done, _ = thrice(reynard(world.endpoint), "detach-from-asg", {"InstanceId": world.instance})
    assert planned["AutoScalingGroupName"] == world.asg
    assert done["AutoScalingGroupName"] == world.asg and done["DesiredCapacity"] == desired
    assert asg.describe_auto_scaling_instances(InstanceIds=[world.instance])["AutoScalingInstances"] == []
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[world.asg])["AutoScalingGroups"][0]
    assert group["DesiredCapacity"] == desired
    assert world.instance not in [i["InstanceId"] for i in group["Instances"]]
    assert world.describe()["State"]["Name"] == "running"  # detached, not terminated


def test_an_instance_in_no_group_is_already_detached(world: World) -> None:
    world.autoscaling.detach_instances(
        InstanceIds=[world.instance], AutoScalingGroupName=world.asg, ShouldDecrementDesiredCapacity=True
    )
    result = reynard(world.endpoint).action("detach-from-asg", {"InstanceId": world.instance})
    assert result["AlreadyDone"] and result["Verified"] and result["AutoScalingGroupName"] is None


def test_deregister_from_target_groups_and_classic_elbs(world: World) -> None:
    planned, _, _ = thrice(
        reynard(world.endpoint), "deregister-from-load-balancers", {"InstanceId": world.instance}
    )
    assert planned["TargetGroups"] == [world.target_group] and planned["ClassicLoadBalancers"] == [
        world.classic_elb
    ]
    health = world.elbv2.describe_target_health(TargetGroupArn=world.target_group)["TargetHealthDescriptions"]
    assert [
        h for h in health if h["Target"]["Id"] == world.instance and h["TargetHealth"]["State"] != "draining"
    ] == []
    classic = world.elb.describe_load_balancers(LoadBalancerNames=[world.classic_elb])[
        "LoadBalancerDescriptions"
    ][0]
    assert classic["Instances"] == []


def inline_policy(world: World) -> dict:
    return world.iam.get_role_policy(RoleName=world.role, PolicyName="AWSRevokeOlderSessions")[
        "PolicyDocument"
    ]


def test_revoke_role_sessions_denies_tokens_issued_before_now(world: World) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    planned, done, again = thrice(
        reynard(world.endpoint), "revoke-role-sessions", {"InstanceId": world.instance}
    )
    after = datetime.now(UTC)
    assert planned["Roles"] == [world.role] and planned["InstanceProfile"] == world.profile
    (statement,) = inline_policy(world)["Statement"]
    assert statement["Effect"] == "Deny" and statement["Action"] == ["*"] and statement["Resource"] == ["*"]
    issued_before = statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
    assert before <= datetime.fromisoformat(issued_before.replace("Z", "+00:00")) <= after
    assert (
        done["RevokedBefore"] == {world.role: issued_before} == again["RevokedBefore"]
    )  # a retry keeps the time


def test_a_later_execution_moves_the_revocation_time_and_an_explicit_time_is_kept(world: World) -> None:
    tasks = reynard(world.endpoint)
    tasks.action("revoke-role-sessions", {"RoleNames": [world.role], "IssuedBefore": "2026-01-01T00:00:00Z"})
    assert (
        inline_policy(world)["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        == "2026-01-01T00:00:00Z"
    )
    earlier = tasks.action(
        "revoke-role-sessions",
        {"RoleNames": [world.role], "IssuedBefore": "2025-06-01T00:00:00Z"},
        context(execution="exec-2"),
    )
    assert earlier["AlreadyDone"]  # already denies everything issued before 2026: nothing to widen
    later = tasks.action("revoke-role-sessions", {"RoleNames": [world.role]}, context(execution="exec-3"))
    assert later["Changed"] and later["RevokedBefore"][world.role] > "2026-01-01T00:00:00Z"


def test_an_instance_without_a_profile_has_no_sessions_to_revoke(world: World) -> None:
    world.ec2.disassociate_iam_instance_profile(AssociationId=world.describe()["IamInstanceProfile"]["Id"])
    result = reynard(world.endpoint).action("revoke-role-sessions", {"InstanceId": world.instance})
    assert result["Roles"] == [] and result["AlreadyDone"] and result["Verified"]


def test_disable_access_key(world: World) -> None:
    _, done, _ = thrice(reynard(world.endpoint), "disable-access-key", {"AccessKeyId": world.access_key})
    assert done["UserName"] == world.user
    keys = world.iam.list_access_keys(UserName=world.user)["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in keys] == [(world.access_key, "Inactive")]


def test_block_bucket_public_access(world: World) -> None:
    world.s3.put_public_access_block(
        Bucket=world.bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    thrice(reynard(world.endpoint), "block-bucket-public-access", {"Bucket": world.bucket})
    block = world.s3.get_public_access_block(Bucket=world.bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }


def test_stop_refuses_a_protected_instance_unless_told_then_stops_it(world: World) -> None:
    tasks = reynard(world.endpoint)
    tasks.action("protect-instance", {"InstanceId": world.instance})
    with pytest.raises(StatesError) as info:
        tasks.action("stop-instance", {"InstanceId": world.instance})
    assert info.value.error == "Reynard.PreconditionFailed" and "OverrideStopProtection" in info.value.cause
    assert world.describe()["State"]["Name"] == "running"
    _, done, _ = thrice(
        tasks, "stop-instance", {"InstanceId": world.instance, "OverrideStopProtection": True}
    )
    assert [c["Change"] for c in done["Changes"]] == ["DisableApiStop", "state"]
    assert world.describe()["State"]["Name"] == "stopped"


def test_terminate_needs_snapshots_and_keeps_the_protected_volumes(world: World) -> None:
    tasks = reynard(world.endpoint)
    tasks.action("protect-instance", {"InstanceId": world.instance})
    arguments = {"InstanceId": world.instance, "OverrideTerminationProtection": True}
    with pytest.raises(StatesError) as info:
        tasks.action("terminate-instance", arguments)
    assert (
        info.value.error == "Reynard.PreconditionFailed"
        and "no completed Reynard snapshot" in info.value.cause
    )
    assert world.describe()["State"]["Name"] == "running"
    tasks.action("snapshot-volumes", {"InstanceId": world.instance})
    _, done, _ = thrice(tasks, "terminate-instance", arguments)
    assert world.describe()["State"]["Name"] == "terminated"
    kept = world.ec2.describe_volumes(VolumeIds=done["KeptVolumes"])["Volumes"]
    assert len(kept) == 2 and {v["State"] for v in kept} == {"available"}


def test_stopping_a_missing_instance_is_a_failure_naming_it(world: World) -> None:
    with pytest.raises(StatesError) as info:
        reynard(world.endpoint).action("stop-instance", {"InstanceId": "i-0123456789abcdef0"})
    assert info.value.error == "Reynard.ResourceNotFound"
    assert info.value.cause == "instance i-0123456789abcdef0 does not exist in us-east-1"
