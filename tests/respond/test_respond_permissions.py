"""A task may make only the AWS calls its resource declares (`respond/permissions.py`): what each resource
declares, the refusal of an undeclared call before it is sent (moto in server mode, and a local endpoint
that counts requests), one task's limit not leaking into another running at the same time, no retry of
the refusal, and the calls a definition may make, state by state, Parallel branches and Map processors
included. The built-in actions' own tests run them through `Dispatch` with the check on: a call missing
from an action's declaration fails those tests."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from respond_support import World, answering, context, reset, settings
from reynard.respond.actions import ACTIONS, ActionEnv, PythonActions, register_all
from reynard.respond.actions.base import PERMANENT_ERRORS
from reynard.respond.actions.bucket import BlockBucketPublicAccess
from reynard.respond.actions.config import RespondConfig
from reynard.respond.actions.integrations import LAMBDA_INVOKE, SNS_PUBLISH
from reynard.respond.actions.protect import ProtectInstance
from reynard.respond.asl.definition import load_definition
from reynard.respond.aws_sdk import AwsClients, call, service_model
from reynard.respond.dispatch import Dispatch, default_dispatch
from reynard.respond.errors import StatesError
from reynard.respond.executions import ExecutionStore
from reynard.respond.permissions import call_name, declared_aws_calls
from reynard.respond.playbooks import definition
from reynard.respond.resources import ACTION_PREFIX
from reynard.respond.runner import Runner
from reynard.settings import Settings
from reynard.state import open_state

SDK = "arn:aws:states:::aws-sdk:"


def wired(endpoint: str) -> tuple[Dispatch, AwsClients, ActionEnv]:
    """Reynard's task resources at `endpoint`, its AWS clients, and the env a further action needs."""
    table, config = Dispatch(), settings()
    clients = register_all(table, config, endpoint_url=endpoint, python_actions=PythonActions())
    env = ActionEnv(clients=clients, config=RespondConfig.from_settings(config, clients.config))
    return table, clients, env


# -- what each resource declares ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "declared"),
    [
        (SDK + "ec2:describeInstances", {"ec2:DescribeInstances"}),
        (SDK + "elasticloadbalancingv2:deregisterTargets", {"elasticloadbalancing:DeregisterTargets"}),
        (SDK + "elbv2:deregisterTargets", {"elasticloadbalancing:DeregisterTargets"}),
        (SDK + "sfn:startExecution", {"states:StartExecution"}),
        (SDK + "cloudwatchlogs:putLogEvents", {"logs:PutLogEvents"}),
        (SDK + "s3:putPublicAccessBlock", {"s3:PutPublicAccessBlock"}),
        (SDK + "ec2:noSuchAction", set()),  # names no API: invoking it is States.Runtime
        (SNS_PUBLISH, {"sns:Publish"}),
        (LAMBDA_INVOKE, {"lambda:Invoke"}),
        ("arn:aws:lambda:us-east-1:123456789012:function:enrich", {"lambda:Invoke"}),
        ("reynard:approval", set()),
        ("reynard:open-incident", set()),
        ("reynard:add-timeline-entry", set()),
        ("reynard:notify", {"sns:Publish"}),
        ("reynard:request-approval", {"sns:Publish"}),
        ("reynard:block-bucket-public-access", {"s3:GetPublicAccessBlock", "s3:PutPublicAccessBlock"}),
        ("reynard:no-such-action", set()),
    ],
)
def test_what_a_resource_declares(resource: str, declared: set[str]) -> None:
    assert default_dispatch(Settings()).aws_calls(resource) == declared


# The boto3 services behind each signing name the built-in actions use.
SERVICES = {
    "autoscaling": ["autoscaling"],
    "ec2": ["ec2"],
    "elasticloadbalancing": ["elbv2", "elb"],
    "iam": ["iam"],
    "lambda": ["lambda"],
    "s3": ["s3"],
    "sns": ["sns"],
    "ssm": ["ssm"],
}


def test_every_declared_call_is_an_operation_in_botocores_models() -> None:
    table = default_dispatch(Settings())
    resources = [ACTION_PREFIX + action.name for action in ACTIONS] + [SNS_PUBLISH, LAMBDA_INVOKE]
    for resource in resources:
        for name in table.aws_calls(resource):
            prefix, _, operation = name.partition(":")
            models = [service_model(boto) for boto in SERVICES[prefix]]
            assert any(
                operation in model.operation_names and call_name(model, operation) == name for model in models
            ), f"{resource}: {name}"


# -- the refusal -------------------------------------------------------------------------------------------


class ReadOnlyBucketBlock(BlockBucketPublicAccess):
    """block-bucket-public-access declaring its read only: its write must be refused."""

    name = "block-bucket-public-access-read-only"
    aws_actions = frozenset({"s3:GetPublicAccessBlock"})


def test_an_undeclared_call_is_refused_and_changes_nothing(world: World) -> None:
    table, _, env = wired(world.endpoint)
    table.register(ACTION_PREFIX + ReadOnlyBucketBlock.name, ReadOnlyBucketBlock(env))
    with pytest.raises(StatesError) as info:
        table.invoke(
            "reynard:block-bucket-public-access-read-only", {"Bucket": world.bucket}, context("Block")
        )
    assert info.value.error == "Reynard.UndeclaredAwsCall"
    assert info.value.cause == (
        "Block: s3:PutPublicAccessBlock is not among the AWS calls "
        "reynard:block-bucket-public-access-read-only declares (s3:GetPublicAccessBlock)"
    )
    with pytest.raises(world.s3.exceptions.ClientError, match="NoSuchPublicAccessBlockConfiguration"):
        world.s3.get_public_access_block(Bucket=world.bucket)

    done = table.invoke("reynard:block-bucket-public-access", {"Bucket": world.bucket}, context("Block"))
    assert done["Changed"] and done["Verified"]  # the same action, declaring its write, makes it
    assert all(
        world.s3.get_public_access_block(Bucket=world.bucket)["PublicAccessBlockConfiguration"].values()
    )


class ProtectDeclaringNothing(ProtectInstance):
    name = "protect-instance-declaring-nothing"
    aws_actions = frozenset()


UNAUTHORIZED = (
    b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>UnauthorizedOperation</Code>'
    b"<Message>not allowed</Message></Error></Errors><RequestID>req-1</RequestID></Response>"
)


def test_a_refused_call_never_reaches_the_endpoint() -> None:
    with answering(403, UNAUTHORIZED) as server:
        table, _, env = wired(server.url)
        table.register(ACTION_PREFIX + ProtectDeclaringNothing.name, ProtectDeclaringNothing(env))
        with pytest.raises(StatesError) as info:
            table.invoke("reynard:protect-instance-declaring-nothing", {"InstanceId": "i-0abc"}, context())
        assert info.value.error == "Reynard.UndeclaredAwsCall"
        assert info.value.cause.endswith("declares (none)")
        assert server.requests == 0
        with pytest.raises(StatesError) as info:  # the declared action's first read does go out
            table.invoke("reynard:protect-instance", {"InstanceId": "i-0abc"}, context())
        assert info.value.error == "Reynard.AccessDenied" and server.requests == 1


def test_a_function_handler_declares_nothing_and_outside_a_task_nothing_is_limited(aws: str) -> None:
    reset(aws)
    table, clients, _ = wired(aws)
    table.register("reynard:list-vpcs", lambda r, a, c: call(clients.client("ec2"), "describe_vpcs"))
    with pytest.raises(StatesError) as info:
        table.invoke("reynard:list-vpcs", {}, context("Vpcs"))
    assert (
        info.value.cause
        == "Vpcs: ec2:DescribeVpcs is not among the AWS calls reynard:list-vpcs declares (none)"
    )
    assert call(clients.client("ec2"), "describe_vpcs")["Vpcs"]  # the same client, outside any task
    listed = table.invoke(SDK + "ec2:describeVpcs", {}, context())  # and the resource that declares it
    assert listed["Vpcs"]


# -- in a running playbook ---------------------------------------------------------------------------------


class ReadsVpcs:
    """A task handler declaring `declared` that reads the VPCs while every task of the test is running: its
    first attempt calls only once all have started and ends only once all have called, so the limits of
    tasks running at the same time on different threads are checked side by side."""

    def __init__(self, clients: AwsClients, declared: set[str], together: threading.Barrier):
        self.clients, self.declared, self.together = clients, frozenset(declared), together
        self.attempts = 0

    def aws_calls(self, resource: str) -> frozenset[str]:
        return self.declared

    def invoke(self, resource: str, arguments: Any, context: Any) -> Any:
        self.attempts += 1
        if self.attempts > 1:
            return self.read()
        self.together.wait()
        try:
            return self.read()
        finally:
            self.together.wait()

    def read(self) -> dict[str, int]:
        return {"Vpcs": len(call(self.clients.client("ec2"), "describe_vpcs")["Vpcs"])}


def permanent_then_all() -> list[dict[str, Any]]:
    """The Retry the shipped playbook gives every Task."""
    return [
        {"ErrorEquals": list(PERMANENT_ERRORS), "MaxAttempts": 0},
        {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2},
    ]


def test_parallel_tasks_each_have_their_own_limit_and_a_refusal_is_not_retried(aws: str, tmp_path) -> None:
    reset(aws)
    table, clients, _ = wired(aws)
    together = threading.Barrier(2, timeout=10)
    allowed = ReadsVpcs(clients, {"ec2:DescribeVpcs"}, together)
    other = ReadsVpcs(clients, {"ec2:DescribeSubnets"}, together)
    table.register("reynard:reads-vpcs", allowed).register("reynard:reads-subnets", other)
    branch = {
        "StartAt": "Read",
        "States": {"Read": {"Type": "Task", "Resource": "", "Retry": permanent_then_all(), "End": True}},
    }
    vpcs, subnets = json.loads(json.dumps(branch)), json.loads(json.dumps(branch))
    vpcs["States"]["Read"]["Resource"] = "reynard:reads-vpcs"
    subnets["States"]["Read"]["Resource"] = "reynard:reads-subnets"
    subnets["States"]["Read"]["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": "Refused"}]
    subnets["States"]["Refused"] = {"Type": "Pass", "End": True}
    playbook = {
        "StartAt": "Both",
        "States": {"Both": {"Type": "Parallel", "Branches": [vpcs, subnets], "End": True}},
    }
    store = ExecutionStore(open_state(f"sqlite:///{tmp_path / 'state.db'}"))
    runner = Runner(store, table, max_sleep=0)
    try:
        execution = runner.start(json.dumps(playbook), {}, playbook="limits", started_by="tests")
    finally:
        runner.close()
    assert execution.status == "SUCCEEDED", execution.cause
    read, refused = execution.output
    assert read["Vpcs"] >= 1  # moto's default VPC
    assert refused["Error"] == "Reynard.UndeclaredAwsCall"
    assert refused["Cause"] == (
        "Read: ec2:DescribeVpcs is not among the AWS calls reynard:reads-subnets declares "
        "(ec2:DescribeSubnets)"
    )
    assert (allowed.attempts, other.attempts) == (1, 1)  # a refusal is permanent: not retried


# -- what a definition may call ----------------------------------------------------------------------------


def test_the_calls_of_nested_states_by_place() -> None:
    machine = load_definition(
        {
            "StartAt": "Each",
            "States": {
                "Each": {
                    "Type": "Map",
                    "ItemProcessor": {
                        "StartAt": "Snapshot",
                        "States": {
                            "Snapshot": {"Type": "Task", "Resource": "reynard:snapshot-volumes", "End": True}
                        },
                    },
                    "Next": "Both",
                },
                "Both": {
                    "Type": "Parallel",
                    "Branches": [
                        {
                            "StartAt": "Ask",
                            "States": {
                                "Ask": {
                                    "Type": "Task",
                                    "Resource": "reynard:approval.waitForTaskToken",
                                    "End": True,
                                }
                            },
                        },
                        {
                            "StartAt": "Stop",
                            "States": {
                                "Stop": {"Type": "Task", "Resource": SDK + "ec2:stopInstances", "End": True}
                            },
                        },
                    ],
                    "Next": "Tell",
                },
                "Tell": {"Type": "Task", "Resource": SNS_PUBLISH, "End": True},
            },
        }
    )
    assert declared_aws_calls(machine, default_dispatch(Settings())) == {
        "Each/ItemProcessor/Snapshot": {
            "ec2:CreateSnapshot",
            "ec2:DescribeInstances",
            "ec2:DescribeSnapshots",
            "ec2:DescribeVolumes",
        },
        "Both/Branches[0]/Ask": set(),
        "Both/Branches[1]/Stop": {"ec2:StopInstances"},
        "Tell": {"sns:Publish"},
    }
    cannot_tell = declared_aws_calls(machine, object())  # an invoker without aws_calls declares nothing
    assert list(cannot_tell) == [
        "Each/ItemProcessor/Snapshot",
        "Both/Branches[0]/Ask",
        "Both/Branches[1]/Stop",
        "Tell",
    ]
    assert not any(cannot_tell.values())


def test_the_calls_the_shipped_playbook_may_make() -> None:
    machine = load_definition(definition("guardduty_crypto_mining"))
    declared = declared_aws_calls(machine, default_dispatch(Settings()))
    assert len(declared) == 32
    assert {place for place, calls in declared.items() if not calls} == {
        "OpenIncident",
        *(place for place in declared if place.startswith("Timeline")),
    }
    assert {place: sorted(calls) for place, calls in declared.items() if calls} == {
        "NotifyTeam": ["sns:Publish"],
        "CollectForensics": [
            "ec2:DescribeInstances",
            "ssm:GetCommandInvocation",
            "ssm:ListCommands",
            "ssm:SendCommand",
        ],
        "DetachFromAutoScaling": [
            "autoscaling:DescribeAutoScalingGroups",
            "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DetachInstances",
            "ec2:DescribeInstances",
        ],
        "DeregisterFromLoadBalancers": [
            "ec2:DescribeInstances",
            "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
            "elasticloadbalancing:DeregisterTargets",
            "elasticloadbalancing:DescribeLoadBalancers",
            "elasticloadbalancing:DescribeTargetGroups",
            "elasticloadbalancing:DescribeTargetHealth",
        ],
        "IsolateInstance": [
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:CreateSecurityGroup",
            "ec2:CreateTags",
            "ec2:DescribeAddresses",
            "ec2:DescribeInstances",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSecurityGroups",
            "ec2:DisassociateAddress",
            "ec2:ModifyNetworkInterfaceAttribute",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupIngress",
        ],
        "ProtectInstance": [
            "ec2:DescribeInstanceAttribute",
            "ec2:DescribeInstances",
            "ec2:ModifyInstanceAttribute",
        ],
        "SnapshotVolumes": [
            "ec2:CreateSnapshot",
            "ec2:DescribeInstances",
            "ec2:DescribeSnapshots",
            "ec2:DescribeVolumes",
        ],
        "RevokeRoleSessions": [
            "ec2:DescribeInstances",
            "iam:GetInstanceProfile",
            "iam:GetRole",
            "iam:GetRolePolicy",
            "iam:PutRolePolicy",
        ],
        "RequestApproval": ["sns:Publish"],
        "StopInstance": [
            "ec2:DescribeInstanceAttribute",
            "ec2:DescribeInstances",
            "ec2:ModifyInstanceAttribute",
            "ec2:StopInstances",
        ],
        "TerminateInstance": [
            "ec2:DescribeInstanceAttribute",
            "ec2:DescribeInstances",
            "ec2:DescribeSnapshots",
            "ec2:DescribeVolumes",
            "ec2:ModifyInstanceAttribute",
            "ec2:TerminateInstances",
        ],
        "NotifyDone": ["sns:Publish"],
        "NotifyFailure": ["sns:Publish"],
    }
