"""`reynard sandbox start|status` and playbooks on a running sandbox: a real moto server started by the
command, seeded through boto3, read back here with the tests' own clients; playbooks run with no AWS
credentials of the user's and no endpoint configured."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sandbox_support import ACCOUNT, REGION, SCENARIO, aws, moto_alive, reynard, sandbox_json, stop_for_good

from reynard.runtime import Runtime
from reynard.settings import Settings
from reynard.simulate.environment import Estate

PLAYBOOKS = Path(__file__).parents[2] / "src" / "reynard" / "respond" / "playbooks"
CONTAIN = {
    "StartAt": "Isolate",
    "States": {
        "Isolate": {
            "Type": "Task",
            "Resource": "reynard:isolate-instance",
            "Parameters": {"InstanceId.$": "$.InstanceId"},
            "ResultPath": "$.isolated",
            "Next": "Snapshot",
        },
        "Snapshot": {
            "Type": "Task",
            "Resource": "reynard:snapshot-volumes",
            "Parameters": {"InstanceId.$": "$.InstanceId"},
            "ResultPath": "$.snapshots",
            "End": True,
        },
    },
}


class Running:
    def __init__(self, data: Path, output: str):
        self.data, self.output = data, output
        self.info = sandbox_json(data)
        self.endpoint = self.info["endpoint_url"]
        self.estate = Estate.from_json(json.loads((data / "sandbox" / "estate.json").read_text()))

    def client(self, service: str) -> Any:
        return aws(self.endpoint, service)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Any:
    data = tmp_path_factory.mktemp("sandbox") / "data"
    started = reynard(data, "sandbox", "start", str(SCENARIO))
    try:
        assert started.exit_code == 0, started.output
        yield Running(data, started.stdout)
    finally:
        stop_for_good(data)


def instance(running: Running, instance_id: str) -> dict[str, Any]:
    found = running.client("ec2").describe_instances(InstanceIds=[instance_id])
    return found["Reservations"][0]["Instances"][0]


def groups_of(described: dict[str, Any]) -> list[str]:
    return sorted(g["GroupId"] for e in described["NetworkInterfaces"] for g in e["Groups"])


def test_start_runs_moto_and_says_where_with_which_credentials(sandbox):
    info = sandbox.info
    assert moto_alive(info["pid"])
    assert info["endpoint_url"] == f"http://127.0.0.1:{info['port']}"
    assert (info["scenario"], info["account"], info["region"]) == ("sandbox-test", ACCOUNT, REGION)
    assert f"moto at {info['endpoint_url']} (pid {info['pid']})" in sandbox.output
    assert "your AWS credentials are never sent to it" in sandbox.output
    assert "playbooks: AWS calls go to the sandbox at " + info["endpoint_url"] in sandbox.output
    assert "no findings API" in sandbox.output and "SSM Run Command" in sandbox.output
    estate = sandbox.estate
    assert (estate.source, estate.endpoint_url, estate.account) == ("sandbox", info["endpoint_url"], ACCOUNT)
    assert [i.name for i in estate.instances] == ["prod-web-1", "prod-web-2", "bastion-1"]


def test_the_estate_is_what_moto_holds(sandbox):
    ec2, estate = sandbox.client("ec2"), sandbox.estate
    groups = {g["GroupId"]: g for g in ec2.describe_security_groups()["SecurityGroups"]}
    for seeded in estate.instances:
        found = instance(sandbox, seeded.instance_id)
        tags = {t["Key"]: t["Value"] for t in found["Tags"] if not t["Key"].startswith("aws:")}
        production = "true" if seeded.service == "prod-web" else "false"
        assert tags == {"Name": seeded.name, "Service": seeded.service, "Production": production}
        assert found["State"]["Name"] == "running"
        assert found["VpcId"] == estate.vpc_id
        assert groups_of(found) == list(seeded.security_group_ids)
        assert [groups[g]["GroupName"] for g in seeded.security_group_ids] == [seeded.service]
        assert found["PrivateIpAddress"] == seeded.private_ip and found["PublicIpAddress"] == seeded.public_ip
        assert found["IamInstanceProfile"]["Arn"].endswith(f":instance-profile/{seeded.service}-app") == (
            seeded.service == "prod-web"
        )
        volumes = ec2.describe_volumes(
            Filters=[{"Name": "attachment.instance-id", "Values": [seeded.instance_id]}]
        )
        assert sorted(v["VolumeId"] for v in volumes["Volumes"]) == sorted(seeded.volume_ids)
        assert len(seeded.volume_ids) == 2

    def rules(service: str) -> set[tuple[int, int, str]]:
        [group] = [g for g in groups.values() if g["GroupName"] == service]
        return {
            (p["FromPort"], p["ToPort"], r["CidrIp"]) for p in group["IpPermissions"] for r in p["IpRanges"]
        }

    inside = {(0, 65535, "10.0.0.0/8")}  # the corporate range: the VPN reaches only vpn_ports
    assert rules("prod-web") == {(443, 443, "0.0.0.0/0"), *inside}
    assert rules("bastion") == {(22, 22, "0.0.0.0/0"), *inside}


def test_the_auto_scaling_group_and_load_balancer_hold_the_service(sandbox):
    web = sorted(i.instance_id for i in sandbox.estate.of_service("prod-web"))
    [group] = sandbox.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=["prod-web-asg"]
    )["AutoScalingGroups"]
    assert (group["DesiredCapacity"], sorted(i["InstanceId"] for i in group["Instances"])) == (2, web)
    assert group["TargetGroupARNs"] == [sandbox.estate.target_group_arns["prod-web-alb"]]
    elbv2 = sandbox.client("elbv2")
    health = elbv2.describe_target_health(TargetGroupArn=sandbox.estate.target_group_arns["prod-web-alb"])
    assert sorted(h["Target"]["Id"] for h in health["TargetHealthDescriptions"]) == web
    [listener] = elbv2.describe_listeners(LoadBalancerArn=sandbox.estate.load_balancer_arns["prod-web-alb"])[
        "Listeners"
    ]
    assert listener["Port"] == 443


def test_buckets_users_roles_and_detector(sandbox):
    s3, estate = sandbox.client("s3"), sandbox.estate
    assert s3.get_bucket_policy_status(Bucket="acme-public-site")["PolicyStatus"]["IsPublic"] is True
    grants = s3.get_bucket_acl(Bucket="acme-public-site")["Grants"]
    assert any(
        g["Grantee"].get("URI", "").endswith("/AllUsers") and g["Permission"] == "READ" for g in grants
    )
    assert s3.get_bucket_tagging(Bucket="acme-public-site")["TagSet"] == [{"Key": "Public", "Value": "true"}]
    with pytest.raises(ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket="acme-web-assets")
    block = s3.get_public_access_block(Bucket="acme-web-assets")["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    iam = sandbox.client("iam")
    keys = iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [estate.access_keys["alice"]]
    assert estate.role_arns == {
        role: f"arn:aws:iam::{ACCOUNT}:role/{role}" for role in ("prod-web-app", "bastion", "ci-deploy")
    }
    assert iam.get_role(RoleName="ci-deploy")["Role"]["Arn"] == estate.role_arns["ci-deploy"]
    assert sandbox.client("guardduty").list_detectors()["DetectorIds"] == [estate.detector_id]


def test_status_reads_moto_now_not_the_estate_file(sandbox):
    sandbox.client("s3").create_bucket(
        Bucket="made-after-start", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    result = reynard(sandbox.data, "sandbox", "status", "--json")
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["sandbox"] == sandbox.info and status["running"] is True
    assert status["credentials"] == {"access_key_id": "REYNARDSANDBOXTEST01", "yours": False}
    assert status["playbooks"]["sandbox"] is True
    live = status["live"]
    assert {b["name"] for b in live["buckets"]} == {"acme-web-assets", "acme-public-site", "made-after-start"}
    assert "made-after-start" not in sandbox.estate.buckets
    by_id = {i["instance_id"]: i for i in live["instances"]}
    for seeded in sandbox.estate.instances:
        assert by_id[seeded.instance_id]["state"] == "running"
        assert [g["id"] for g in by_id[seeded.instance_id]["security_groups"]] == list(
            seeded.security_group_ids
        )
    assert live["auto_scaling_groups"][0]["desired_capacity"] == 2
    assert live["guardduty_detectors"] == [sandbox.estate.detector_id]
    assert any("no findings API" in gap for gap in status["moto_cannot"])
    text = reynard(sandbox.data, "sandbox", "status")
    assert text.exit_code == 0 and "made-after-start" in text.stdout and "read from moto now" in text.stdout


def test_start_again_leaves_the_running_sandbox_as_it_is(sandbox):
    again = reynard(sandbox.data, "sandbox", "start", str(SCENARIO))
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("a sandbox is already running for this data directory")
    assert sandbox_json(sandbox.data) == sandbox.info
    reservations = sandbox.client("ec2").describe_instances()["Reservations"]
    assert len([i for r in reservations for i in r["Instances"]]) == 3  # nothing seeded twice


def test_another_scenario_is_not_started_over_a_running_one(sandbox, tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text("name: other\nduration: 1h\nenvironment:\n  services:\n    - {name: web, role: web}\n")
    refused = reynard(sandbox.data, "sandbox", "start", str(other))
    assert refused.exit_code == 1
    assert refused.stderr == "reynard: not starting other: `reynard sandbox stop` first\n"
    assert sandbox_json(sandbox.data) == sandbox.info


def test_a_playbook_acts_on_the_sandbox_with_no_endpoint_and_no_credentials(sandbox, tmp_path):
    """Isolation and snapshots through the runtime's rule; their effects read back from moto. The
    settings' profile (which does not exist here) and region are the real account's: not used."""
    target = sandbox.estate.instance("prod-web-2")
    playbook = tmp_path / "contain.json"
    playbook.write_text(json.dumps(CONTAIN))
    config = tmp_path / "reynard.toml"
    config.write_text('[respond.aws]\nprofile = "reynard-tests-no-such-profile"\nregion = "us-east-1"\n')
    result = reynard(
        sandbox.data,
        "playbook",
        "run",
        str(playbook),
        "--input",
        json.dumps({"InstanceId": target.instance_id}),
        config=config,
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"sandbox: AWS calls go to the sandbox at {sandbox.endpoint} (moto;")
    assert "never yours" in result.stderr
    ec2 = sandbox.client("ec2")
    [isolation] = groups_of(instance(sandbox, target.instance_id))
    [group] = ec2.describe_security_groups(GroupIds=[isolation])["SecurityGroups"]
    assert (group["GroupName"], group["IpPermissions"], group["IpPermissionsEgress"]) == (
        "reynard-isolation-no-rules",
        [],
        [],
    )
    snapshots = ec2.describe_snapshots(Filters=[{"Name": "volume-id", "Values": list(target.volume_ids)}])
    assert sorted(s["VolumeId"] for s in snapshots["Snapshots"]) == sorted(target.volume_ids)
    assert {s["State"] for s in snapshots["Snapshots"]} == {"completed"}
    other = instance(sandbox, sandbox.estate.instance("prod-web-1").instance_id)
    assert groups_of(other) == list(sandbox.estate.instance("prod-web-1").security_group_ids)  # untouched
    audit = reynard(sandbox.data, "audit", "list", "--format", "json").stdout.splitlines()
    assert json.loads(json.loads(audit[-1])["detail"])["aws"] == "sandbox"


def test_the_shipped_crypto_playbook_dry_run_walks_the_sandbox(sandbox, tmp_path):
    """The dry run reads the sandbox (group, target group, interfaces, volumes of the instance) and says
    what it would do to them; nothing changes. A webhook notifier is configured, never called in a dry run."""
    target = sandbox.estate.instance("prod-web-1")
    finding = copy.deepcopy(
        json.loads((PLAYBOOKS / "guardduty_crypto_mining.example_event.json").read_text())
    )
    finding["region"] = finding["detail"]["region"] = REGION
    finding["account"] = finding["detail"]["accountId"] = ACCOUNT
    finding["detail"]["resource"]["instanceDetails"]["instanceId"] = target.instance_id
    config = tmp_path / "reynard.toml"
    config.write_text('[respond.notifiers.soc]\ntype = "webhook"\nurl = "http://127.0.0.1:9/never"\n')
    run = reynard(
        sandbox.data,
        "playbook",
        "run",
        "guardduty_crypto_mining",
        "--dry-run",
        "--input",
        json.dumps(finding),
        config=config,
    )
    assert run.exit_code == 0, run.output
    assert f"AWS calls go to the sandbox at {sandbox.endpoint}" in run.stderr
    assert "waiting for approval at state 'RequestApproval'" in run.stderr
    execution_id = run.stderr.split("execution ")[1].split()[0]
    shown = json.loads(reynard(sandbox.data, "playbook", "show", execution_id, "--json").stdout)
    outputs = {
        e["state"]: e["details"]["output"]
        for e in shown["history"]
        if e["type"] == "TaskSucceeded" and e.get("state")
    }
    changes = {
        state: outputs[state]["Changes"]
        for state in ("DetachFromAutoScaling", "DeregisterFromLoadBalancers", "SnapshotVolumes")
    }
    assert [c["From"] for c in changes["DetachFromAutoScaling"]] == ["prod-web-asg"]
    assert [c["Resource"] for c in changes["DeregisterFromLoadBalancers"]] == [
        sandbox.estate.target_group_arns["prod-web-alb"]
    ]
    assert sorted(c["Resource"] for c in changes["SnapshotVolumes"]) == sorted(target.volume_ids)
    assert all(outputs[state]["DryRun"] is True for state in changes)
    described = instance(sandbox, target.instance_id)  # a dry run: still in its group, on its own groups
    assert groups_of(described) == list(target.security_group_ids)
    members = sandbox.client("autoscaling").describe_auto_scaling_instances(InstanceIds=[target.instance_id])
    assert [m["AutoScalingGroupName"] for m in members["AutoScalingInstances"]] == ["prod-web-asg"]


def test_an_endpoint_in_the_settings_wins_over_the_sandbox(sandbox, tmp_path):
    """Configured endpoints are never overridden: the sandbox is only the default's replacement."""
    config = tmp_path / "reynard.toml"
    config.write_text(
        '[respond.aws]\nendpoint_url = "http://127.0.0.1:9"\nregion = "eu-west-1"\nmax_attempts = 1\n'
    )
    status = json.loads(reynard(sandbox.data, "sandbox", "status", "--json", config=config).stdout)
    assert status["playbooks"] == {
        "sandbox": False,
        "route": "AWS calls go to http://127.0.0.1:9 ([respond.aws] endpoint_url)",
    }
    playbook = tmp_path / "contain.json"
    playbook.write_text(json.dumps(CONTAIN))
    target = sandbox.estate.instance("bastion-1").instance_id
    run = reynard(
        sandbox.data,
        "playbook",
        "run",
        str(playbook),
        "--dry-run",
        "--input",
        json.dumps({"InstanceId": target}),
        config=config,
        env={"AWS_ACCESS_KEY_ID": "AKIATESTSUSERSOWN001", "AWS_SECRET_ACCESS_KEY": "user's own"},
    )
    assert run.exit_code == 1 and "sandbox:" not in run.stderr
    assert "cannot reach http://127.0.0.1:9" in run.stderr
    runtime = Runtime(Settings(data_dir=sandbox.data))
    try:
        assert runtime.aws_route().sandbox is True
        given = runtime.aws_route("http://127.0.0.1:9")
        assert (given.sandbox, given.endpoint_url) == (False, "http://127.0.0.1:9")
        assert given.description == "AWS calls go to http://127.0.0.1:9 (--endpoint-url)"
    finally:
        runtime.close()
