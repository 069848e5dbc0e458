"""`export_definition`: the shipped playbook and single actions exported for AWS Step Functions.

The export is checked as a definition (every transition lands, no Reynard resource is left, each AWS SDK
task names a real API and only parameters that API takes, the data flow and Retry/Catch are kept) and the
exported actions are *run* by moto's Step Functions interpreter (LocalStack's, with
`execute_state_machine`) against moto's EC2, IAM, S3 and Auto Scaling. That interpreter reads a definite
index path such as `$.Groups[0].Name` as a one-element list where AWS gives the value, which is why the
export reads such values through `States.ArrayGetItem(...[*]..., 0)`: the same on both."""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from respond_support import World, build_world, client, moto_server, reset, reynard
from reynard.respond.aws_sdk import AWS_SDK_PREFIX, _member_name, parse_resource
from reynard.respond.export import export_definition
from reynard.respond.playbooks import definition

TOPIC = "arn:aws:sns:us-east-1:123456789012:soc"
PLACEHOLDERS = {
    "isolate-instance",
    "deregister-from-load-balancers",
    "collect-forensics",
    "revoke-role-sessions",
    "open-incident",
    "add-timeline-entry",
}


def machine_of(action: str, parameters: dict[str, Any], **state: Any) -> dict[str, Any]:
    task = {"Type": "Task", "Resource": f"reynard:{action}", "Parameters": parameters, "End": True, **state}
    return {"StartAt": "Act", "States": {"Act": task}}


def all_states(
    machine: dict[str, Any], where: str = ""
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(path, state, the machine or branch holding it), through Parallel branches and Map processors."""
    for name, state in machine["States"].items():
        yield f"{where}{name}", state, machine
        for branch in state.get("Branches", []):
            yield from all_states(branch, f"{where}{name}/")
        if "ItemProcessor" in state:
            yield from all_states(state["ItemProcessor"], f"{where}{name}/")


def check_deployable(machine: dict[str, Any]) -> None:
    for path, state, holder in all_states(machine):
        for target in [
            state.get("Next"),
            state.get("Default"),
            *(c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])),
        ]:
            assert target is None or target in holder["States"], f"{path} -> {target}"
        assert holder["StartAt"] in holder["States"]
        if state["Type"] == "Parallel":
            assert not {"TimeoutSeconds", "HeartbeatSeconds", "Resource"} & set(state), path
        if state["Type"] != "Task":
            continue
        resource = state["Resource"]
        assert not resource.startswith("reynard:"), path
        if resource.startswith(AWS_SDK_PREFIX):
            target = parse_resource(resource)
            members = target.model.input_shape.members if target.model.input_shape else {}
            for key in state.get("Parameters", {}):
                name = key.removesuffix(".$")
                assert _member_name(members, name) in members, f"{path}: {target.operation} takes no {name}"
        else:
            assert resource.startswith(
                ("arn:aws:states:::sns:publish", "arn:aws:states:::lambda:invoke", "${Reynard")
            ), path


# -- the shipped playbook ---------------------------------------------------------------------------------


def test_the_playbook_exports_without_changing_the_input() -> None:
    original = definition("guardduty_crypto_mining")
    kept = copy.deepcopy(original)
    export = export_definition(original)
    assert original == kept
    json.dumps(export)
    check_deployable(export["definition"])


def test_what_is_not_exported_is_named_and_left_as_a_lambda_placeholder() -> None:
    original = definition("guardduty_crypto_mining")["States"]
    export = export_definition(definition("guardduty_crypto_mining"))
    states = export["definition"]["States"]
    listed = {item["state"]: item for item in export["not_exported"]}
    for name, state in original.items():
        action = state.get("Resource", "").removeprefix("reynard:").removesuffix(".waitForTaskToken")
        if state["Type"] != "Task":
            continue
        if action in PLACEHOLDERS or action in ("notify", "request-approval"):
            assert listed[name]["reason"] and listed[name]["resource"] == state["Resource"]
            placeholder = listed[name]["placeholder"]
            assert placeholder.startswith("${Reynard") and placeholder.endswith("FunctionArn}")
            exported = states[name]
            if state["Resource"].endswith(".waitForTaskToken"):
                assert exported["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
                assert exported["Parameters"]["FunctionName"] == placeholder
                assert exported["Parameters"]["Payload"]["TaskToken.$"] == "$$.Task.Token"
                assert exported["Parameters"]["Payload"]["Arguments"] == state["Parameters"]
            else:
                assert exported["Resource"] == placeholder and exported["Parameters"] == state["Parameters"]
            for key in ("ResultSelector", "ResultPath", "Retry", "Catch", "Next", "TimeoutSeconds"):
                assert exported.get(key) == state.get(key), (name, key)
        else:
            assert name not in listed and states[name]["Type"] == "Parallel", name
    assert listed["IsolateInstance"]["placeholder"] == "${ReynardIsolateInstanceFunctionArn}"
    assert "ASL" in listed["IsolateInstance"]["reason"]


def test_exported_actions_keep_the_states_data_flow_retry_and_catch() -> None:
    original = definition("guardduty_crypto_mining")["States"]["SnapshotVolumes"]
    exported = export_definition(definition("guardduty_crypto_mining"))["definition"]["States"][
        "SnapshotVolumes"
    ]
    assert exported["Type"] == "Parallel"
    for key in ("Parameters", "ResultPath", "Retry", "Catch", "Next"):
        assert exported[key] == original[key], key
    assert exported["ResultSelector"] == {
        f"{k}.$": f"States.ArrayGetItem($[*].{k}, 0)"
        for k in ("Action", "InstanceId", "Verified", "Snapshots")
    }
    (branch,) = exported["Branches"]
    inner = [s for _, s, _ in all_states(branch) if s["Type"] == "Task"]
    assert inner and all(s.get("TimeoutSeconds") == original["TimeoutSeconds"] for s in inner)


def test_with_a_topic_notify_and_the_approval_publish_to_sns() -> None:
    export = export_definition(definition("guardduty_crypto_mining"), notify_topic_arn=TOPIC)
    states = export["definition"]["States"]
    assert not {"NotifyTeam", "RequestApproval", "NotifyFailure"} & {
        i["state"] for i in export["not_exported"]
    }
    approval = states["RequestApproval"]
    assert approval["Resource"] == "arn:aws:states:::sns:publish.waitForTaskToken"
    assert approval["Parameters"]["TopicArn"] == TOPIC
    assert approval["Parameters"]["Message"]["taskToken.$"] == "$$.Task.Token"
    assert approval["Parameters"]["Message"]["options"] == ["stop", "terminate", "keep"]
    assert approval["Catch"] == definition("guardduty_crypto_mining")["States"]["RequestApproval"]["Catch"]
    publish = states["NotifyTeam"]["Branches"][0]["States"]["Publish"]
    assert (
        publish["Resource"] == "arn:aws:states:::sns:publish" and publish["Parameters"]["TopicArn"] == TOPIC
    )
    check_deployable(export["definition"])


# -- single actions ---------------------------------------------------------------------------------------


def test_stop_instance_is_ec2_stop_instances_with_its_protection_lifted_only_when_told() -> None:
    lifted = export_definition(
        machine_of("stop-instance", {"InstanceId.$": "$.id", "OverrideStopProtection": True})
    )
    (branch,) = lifted["definition"]["States"]["Act"]["Branches"]
    assert branch["StartAt"] == "LiftDisableApiStop"
    lift = branch["States"]["LiftDisableApiStop"]
    assert lift["Resource"] == "arn:aws:states:::aws-sdk:ec2:modifyInstanceAttribute"
    assert lift["Parameters"] == {"InstanceId.$": "$.InstanceId", "DisableApiStop": {"Value": False}}
    stop = branch["States"]["Stop"]
    assert stop["Resource"] == "arn:aws:states:::aws-sdk:ec2:stopInstances"
    assert stop["Parameters"] == {"InstanceIds.$": "States.Array($.InstanceId)", "Force": False}
    plain = export_definition(machine_of("stop-instance", {"InstanceId.$": "$.id"}))
    assert plain["definition"]["States"]["Act"]["Branches"][0]["StartAt"] == "Stop"
    assert lifted["not_exported"] == plain["not_exported"] == []


def test_a_flag_given_by_a_path_cannot_be_exported() -> None:
    export = export_definition(
        machine_of("stop-instance", {"InstanceId.$": "$.id", "OverrideStopProtection.$": "$.ok"})
    )
    (item,) = export["not_exported"]
    assert (
        item["reason"] == "OverrideStopProtection comes from a path, and its value decides the exported steps"
    )
    assert export["definition"]["States"]["Act"]["Resource"] == "${ReynardStopInstanceFunctionArn}"


def test_the_states_own_result_selector_is_rebased_on_the_parallels_result() -> None:
    selector = {
        "Ok.$": "$.Verified",
        "Text.$": "States.Format('{} was $.not_a_path', $.InstanceId)",
        "Run.$": "$$.Execution.Id",
        "Lost.$": "$.Changes",
        "Fixed": "value",
    }
    export = export_definition(machine_of("stop-instance", {"InstanceId": "i-1"}, ResultSelector=selector))
    assert export["definition"]["States"]["Act"]["ResultSelector"] == {
        "Ok.$": "States.ArrayGetItem($[*].Verified, 0)",
        "Text.$": "States.Format('{} was $.not_a_path', States.ArrayGetItem($[*].InstanceId, 0))",
        "Run.$": "$$.Execution.Id",
        "Fixed": "value",
    }
    assert "Act: ResultSelector drops Lost: the exported result has no Changes" in export["notes"]


def test_nested_states_and_jsonata_states_are_handled() -> None:
    machine = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [machine_of("block-bucket-public-access", {"Bucket": "b"})],
                "Next": "Later",
            },
            "Later": {
                "Type": "Task",
                "QueryLanguage": "JSONata",
                "Resource": "reynard:stop-instance",
                "Arguments": {"InstanceId": "i-1"},
                "End": True,
            },
        },
    }
    export = export_definition(machine)
    assert export["definition"]["States"]["Both"]["Branches"][0]["States"]["Act"]["Type"] == "Parallel"
    assert [(i["state"], i["resource"]) for i in export["not_exported"]] == [
        ("Later", "reynard:stop-instance")
    ]
    assert export["definition"]["States"]["Later"]["Arguments"] == {"InstanceId": "i-1"}


# -- exported actions, run by moto's Step Functions ------------------------------------------------------


@pytest.fixture(scope="module")
def aws() -> Iterator[str]:
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)  # it logs every failed state in full
    with moto_server() as endpoint, pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOTO_PORT", endpoint.rsplit(":", 1)[1])  # where its interpreter sends aws-sdk calls
        yield endpoint


@pytest.fixture
def world(aws: str) -> World:
    reset(aws)
    urllib3.request("POST", f"{aws}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}})
    return build_world(aws)


def run_exported(world: World, action: str, arguments: dict[str, Any]) -> tuple[str, Any]:
    """Export a one-state machine running the action, deploy it in moto's Step Functions, run it."""
    export = export_definition(machine_of(action, arguments))
    assert export["not_exported"] == []
    sfn = client(world.endpoint, "stepfunctions")
    arn = sfn.create_state_machine(
        name=f"{action}-{time.monotonic_ns()}",
        definition=json.dumps(export["definition"]),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(arguments))["executionArn"]
    for _ in range(240):
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            break
        time.sleep(0.25)
    if described["status"] == "SUCCEEDED":
        return "SUCCEEDED", json.loads(described["output"])
    return described["status"], (described.get("error"), described.get("cause"))


def test_exported_protect_then_stop_then_terminate_run_in_moto(world: World) -> None:
    status, output = run_exported(world, "protect-instance", {"InstanceId": world.instance})
    assert (status, output) == (
        "SUCCEEDED",
        {"Action": "protect-instance", "InstanceId": world.instance, "Verified": True},
    )
    assert world.ec2.describe_instance_attribute(InstanceId=world.instance, Attribute="disableApiStop")[
        "DisableApiStop"
    ]["Value"]
    assert {m["Ebs"]["DeleteOnTermination"] for m in world.describe()["BlockDeviceMappings"]} == {False}

    status, (error, cause) = run_exported(world, "stop-instance", {"InstanceId": world.instance})
    assert status == "FAILED" and "disableApiStop" in cause  # the protection holds
    # AWS (and Reynard) name it Ec2.Ec2Exception; moto's copy of LocalStack does not PascalCase the service
    assert error in ("Ec2.Ec2Exception", "ec2.ec2Exception")

    status, output = run_exported(
        world, "stop-instance", {"InstanceId": world.instance, "OverrideStopProtection": True}
    )
    assert status == "SUCCEEDED" and output["State"] == "stopped" and output["Verified"] is True, output
    assert world.describe()["State"]["Name"] == "stopped"

    arguments = {"InstanceId": world.instance, "OverrideTerminationProtection": True}
    status, (error, _) = run_exported(world, "terminate-instance", arguments)
    assert (status, error) == ("FAILED", "Reynard.PreconditionFailed")  # no snapshots yet
    reynard(world.endpoint).action("snapshot-volumes", {"InstanceId": world.instance})
    status, output = run_exported(world, "terminate-instance", arguments)
    assert status == "SUCCEEDED" and output["State"] == "terminated"


def test_exported_snapshot_volumes_runs_in_moto(world: World) -> None:
    arguments = {"InstanceId": world.instance, "Tags": {"incident": "INC-7"}}
    status, output = run_exported(world, "snapshot-volumes", arguments)
    assert status == "SUCCEEDED", output
    assert len(output["Snapshots"]) == 2 and {s["State"] for s in output["Snapshots"]} == {"completed"}
    snapshot = world.ec2.describe_snapshots(SnapshotIds=[output["Snapshots"][0]["SnapshotId"]])["Snapshots"][
        0
    ]
    assert {"Key": "reynard:source-instance-id", "Value": world.instance} in snapshot["Tags"]
    assert {"Key": "incident", "Value": "INC-7"} in snapshot["Tags"]


def test_exported_detach_block_and_disable_run_in_moto(world: World) -> None:
    status, output = run_exported(world, "detach-from-asg", {"InstanceId": world.instance})
    assert status == "SUCCEEDED" and output["AutoScalingGroupName"] == world.asg, output
    assert (
        world.autoscaling.describe_auto_scaling_instances(InstanceIds=[world.instance])[
            "AutoScalingInstances"
        ]
        == []
    )
    status, output = run_exported(world, "detach-from-asg", {"InstanceId": world.instance})
    assert status == "SUCCEEDED" and output["AutoScalingGroupName"] is None  # already out

    status, _ = run_exported(world, "block-bucket-public-access", {"Bucket": world.bucket})
    assert status == "SUCCEEDED"
    assert set(
        world.s3.get_public_access_block(Bucket=world.bucket)["PublicAccessBlockConfiguration"].values()
    ) == {True}

    status, _ = run_exported(world, "disable-access-key", {"AccessKeyId": world.access_key})
    assert status == "SUCCEEDED"
    assert world.iam.list_access_keys(UserName=world.user)["AccessKeyMetadata"][0]["Status"] == "Inactive"


def test_the_moto_port_is_this_servers(aws: str) -> None:
    assert os.environ["MOTO_PORT"] == aws.rsplit(":", 1)[1]
