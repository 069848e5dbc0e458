"""A response that tells the truth (issue 13): what each step result and incident timeline entry says is
what was read back from AWS, and nothing else.

- Without AWS credentials (the environment stripped of them, the shared files empty, the instance
  metadata service off: environment, not mocking), a dry run of the shipped playbook walks its success
  path in seconds and each step says what it would do, claiming no read; a real run fails at once, the
  cause named, never retried.
- Against moto in server mode: an instance that does not exist is `Reynard.ResourceNotFound` naming it,
  never `AlreadyDone`; with moto's IAM enforcement on (`/moto-api/reset-auth`), a call the credentials
  may not make is `Reynard.AccessDenied` and a key AWS does not know is `Reynard.AwsCredentials`, neither
  retried. Each time the incident's timeline states only what happened.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import urllib3
from playbook_support import Response, finding, response

from loopback import Recorder, recording
from respond_support import REGION, World, answering, context, reynard
from reynard.respond.actions import ACTIONS
from reynard.respond.actions.base import NOT_READ, PERMANENT_ERRORS
from reynard.respond.aws_access import ACCESS_DENIED, AWS_CREDENTIALS
from reynard.respond.errors import StatesError
from reynard.respond.outcome import failures, step_lines

AWS_STEPS = (
    "CollectForensics",
    "DetachFromAutoScaling",
    "DeregisterFromLoadBalancers",
    "IsolateInstance",
    "ProtectInstance",
    "SnapshotVolumes",
    "RevokeRoleSessions",
)
MISSING = "i-0abc1234def567890"  # the example finding's instance: no such instance in moto


@pytest.fixture
def inbox() -> Iterator[Recorder]:
    with recording() as server:
        yield server


def soc(inbox: Recorder) -> dict:
    return {"soc": {"type": "slack", "url": inbox.url("/soc")}}


def retried(tasks: Response) -> list[str]:
    return [e["state"] for e in tasks.history() if e["type"] == "RetryScheduled"]


# -- no credentials ----------------------------------------------------------------------------------------


def test_a_dry_run_without_credentials_walks_the_success_path_saying_what_each_step_would_do(
    no_aws_credentials, tmp_path
) -> None:
    """No credentials and no settings beyond a region, as a new user has: the dry run reaches the
    approval with every containment step and its verification passed, and, answered, the end."""
    tasks = response(None, tmp_path)
    began = time.monotonic()
    status, output, visited = tasks.run(finding(), {"Decision": "terminate"}, dry_run=True)
    assert time.monotonic() - began < 10
    assert status == "SUCCEEDED", output
    assert {*AWS_STEPS, "VerifyContainment", "TimelineVerified", "RequestApproval"} <= set(visited)
    assert {"TerminateInstance", "Done"} <= set(visited) and "NotifyFailure" not in visited
    history = tasks.history()
    assert not retried(tasks) and not [e for e in history if e["type"] == "TaskFailed"]
    results = tasks.results()
    for state in (*AWS_STEPS, "TerminateInstance"):
        result = results[state]
        assert result["DryRun"] and result["Verified"] is None and result["Unverified"] == NOT_READ, state
        assert result["Checks"] == [] and not result["Changed"] and not result["AlreadyDone"], state
        assert [c["Resource"] for c in result["Changes"]] == [MISSING], state
        assert not any(c["Applied"] for c in result["Changes"]), state
    assert tasks.incidents.list() == []  # a dry run opens no incident
    lines = step_lines(history)
    assert (
        f"DetachFromAutoScaling: dry run: would change {MISSING}: detach it from its Auto Scaling group, "
        f"if it is in one, keeping the group's desired capacity. {NOT_READ}"
    ) in lines
    assert any(line.startswith("NotifyTeam: dry run: would change (no destination)") for line in lines)
    assert len([line for line in lines if line.endswith(NOT_READ)]) == len(AWS_STEPS) + 1


def test_without_credentials_a_real_run_fails_at_once_naming_the_cause(no_aws_credentials, tmp_path) -> None:
    tasks = response(None, tmp_path)
    began = time.monotonic()
    status, error, _ = tasks.run(finding(), {"Decision": "terminate"})
    assert time.monotonic() - began < 10
    assert (status, error) == ("FAILED", "Reynard.ContainmentFailed")
    assert not retried(tasks)
    failed = {f.state: f for f in failures(tasks.history())}
    assert set(failed) == {"NotifyTeam", "CollectForensics", "DetachFromAutoScaling", "NotifyFailure"}
    detach = failed["DetachFromAutoScaling"]
    assert (detach.error, detach.attempts) == (AWS_CREDENTIALS, 1)
    assert detach.cause.startswith("ec2: no AWS credentials (looked in the environment")
    timeline = tasks.timeline()
    assert timeline[1] == (
        f"Could not collect volatile evidence over SSM; containment goes on: {AWS_CREDENTIALS}: "
        f"{failed['CollectForensics'].cause}"
    )
    assert timeline[-1] == f"Response failed: {AWS_CREDENTIALS}: {detach.cause}"
    assert not any("Read back" in line or "changed" in line for line in timeline)


def test_an_aws_sdk_read_in_a_dry_run_without_credentials_says_it_read_nothing(no_aws_credentials) -> None:
    tasks = reynard("http://127.0.0.1:1")
    sdk = "arn:aws:states:::aws-sdk:ec2:describeInstances"
    planned = tasks.run(sdk, {"InstanceIds": ["i-1"]}, context(dry_run=True))
    assert planned == {
        "DryRun": True,
        "WouldCall": "ec2:DescribeInstances",
        "Parameters": {"InstanceIds": ["i-1"]},
        "Unverified": "no AWS credentials: nothing was read",
    }
    with pytest.raises(StatesError) as info:
        tasks.run(sdk, {"InstanceIds": ["i-1"]})
    assert info.value.error == AWS_CREDENTIALS


def arguments_for(action: type, world: World | None = None) -> dict:
    """The smallest arguments each AWS action takes, naming the world's resources (or made-up ones)."""
    if action.target == "Bucket":
        return {"Bucket": world.bucket if world else "evidence"}
    if action.target == "AccessKeyId":
        return {"AccessKeyId": world.access_key if world else "AKIAIOSFODNN7EXAMPLE"}
    if action.name == "terminate-instance":  # refused without snapshots, in a dry run too
        return {"InstanceId": world.instance if world else MISSING, "RequireSnapshots": False}
    return {"InstanceId": world.instance if world else MISSING}


AWS_ACTIONS = [action for action in ACTIONS if action.target is not None]
ENVELOPE = {"Action", "DryRun", "Changed", "AlreadyDone", "Changes", "Verified", "Checks"}


@pytest.mark.parametrize("action", AWS_ACTIONS, ids=lambda a: a.name)
def test_every_aws_action_says_what_it_would_do_when_it_can_read_nothing(no_aws_credentials, action) -> None:
    arguments = arguments_for(action)
    result = reynard("http://127.0.0.1:1").action(action.name, arguments, context(dry_run=True))
    assert set(result) == ENVELOPE | {"Unverified", *action.result_keys}
    assert result["Verified"] is None and result["Unverified"] == NOT_READ and result["Checks"] == []
    ((resource, target),) = [(c["Resource"], arguments[action.target]) for c in result["Changes"]]
    assert resource == target and result[action.target] == target
    with pytest.raises(StatesError) as info:  # a mistake in the arguments is refused all the same
        reynard("http://127.0.0.1:1").action(action.name, {**arguments, "Nope": 1}, context(dry_run=True))
    assert info.value.error == "Reynard.InvalidArguments"


@pytest.mark.parametrize("action", AWS_ACTIONS, ids=lambda a: a.name)
def test_the_keys_a_blind_dry_run_gives_are_the_actions_own(world: World, action) -> None:
    """`result_keys` are the keys the action gives when it can read: a playbook's paths work either way."""
    result = reynard(world.endpoint).action(action.name, arguments_for(action, world), context(dry_run=True))
    assert set(result) - ENVELOPE == set(action.result_keys)


# -- missing resources -------------------------------------------------------------------------------------


INSTANCE_ACTIONS = [action for action in AWS_ACTIONS if action.target == "InstanceId"]


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry run"])
@pytest.mark.parametrize("action", INSTANCE_ACTIONS, ids=lambda a: a.name)
def test_an_instance_that_does_not_exist_is_a_failure_naming_it(world: World, action, dry_run) -> None:
    """detach-from-asg was the reported case: Auto Scaling says "in no group" of an id it never saw."""
    with pytest.raises(StatesError) as info:
        reynard(world.endpoint).action(action.name, {"InstanceId": MISSING}, context(dry_run=dry_run))
    assert (info.value.error, info.value.cause) == (
        "Reynard.ResourceNotFound",
        f"instance {MISSING} does not exist in {REGION}",
    )


@pytest.mark.parametrize(
    ("action", "arguments", "cause"),
    [
        ("block-bucket-public-access", {"Bucket": "no-such-bucket"}, "bucket no-such-bucket does not exist"),
        ("revoke-role-sessions", {"RoleNames": ["no-such-role"]}, "role no-such-role does not exist"),
        (
            "disable-access-key",
            {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE"},
            "access key AKIAIOSFODNN7EXAMPLE (no IAM user owns it) does not exist",
        ),
        (
            "disable-access-key",
            {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "UserName": "nobody"},
            "user nobody does not exist",
        ),
    ],
)
def test_a_bucket_role_key_or_user_that_does_not_exist_is_a_failure_naming_it(
    world: World, action: str, arguments: dict, cause: str
) -> None:
    with pytest.raises(StatesError) as info:
        reynard(world.endpoint).action(action, arguments)
    assert (info.value.error, info.value.cause) == ("Reynard.ResourceNotFound", cause)


def test_the_playbook_on_a_missing_instance_fails_at_once_and_its_timeline_claims_nothing(
    world: World, inbox: Recorder, tmp_path
) -> None:
    tasks = response(world.endpoint, tmp_path, notifiers=soc(inbox))
    status, error, visited = tasks.run(finding(MISSING), {"Decision": "terminate"})
    assert (status, error) == ("FAILED", "Reynard.ContainmentFailed")
    assert not retried(tasks) and "TimelineDetached" not in visited
    failed = {f.state: f for f in failures(tasks.history())}
    cause = f"instance {MISSING} does not exist in {REGION}"
    assert {state: (f.error, f.cause, f.attempts) for state, f in failed.items()} == {
        "CollectForensics": ("Reynard.ResourceNotFound", cause, 1),
        "DetachFromAutoScaling": ("Reynard.ResourceNotFound", cause, 1),
    }
    assert tasks.timeline()[1:] == [
        "Could not collect volatile evidence over SSM; containment goes on: "
        f"Reynard.ResourceNotFound: {cause}",
        f"Response failed: Reynard.ResourceNotFound: {cause}",
    ]


def test_an_instance_in_no_group_is_said_to_be_read_back_in_none(world: World) -> None:
    """Nothing to detach is a fact read back, so it is stated as one, with what was read."""
    world.autoscaling.detach_instances(
        InstanceIds=[world.instance], AutoScalingGroupName=world.asg, ShouldDecrementDesiredCapacity=True
    )
    tasks = reynard(world.endpoint)
    tasks.action("open-incident", {"Key": "f-1", "Title": "t"})
    result = tasks.action("detach-from-asg", {"InstanceId": world.instance})
    tasks.action("add-timeline-entry", {"IncidentId": "incident-1", "Text": "Detach", "Result": result})
    ((entry,),) = [tasks.incidents.read("incident-1").entries]
    assert entry.text == (
        f"Detach: nothing needed changing. Read back: {world.instance} Auto Scaling group = none"
    )
    assert entry.details["Result"] == result


# -- refused credentials and denied calls (moto's IAM enforcement) ----------------------------------------


READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "ec2:Describe*",
                "autoscaling:Describe*",
                "elasticloadbalancing:Describe*",
                "ssm:List*",
                "ssm:Get*",
                "iam:Get*",
            ],
            "Resource": "*",
        }
    ],
}


@contextmanager
def enforced(world: World, monkeypatch) -> Iterator[None]:
    """moto checks every request's credentials and the IAM policies of its user until the block ends;
    Reynard's environment holds the keys of `reader`, a user who may only read."""
    world.iam.create_user(UserName="reader")
    world.iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps(READ_ONLY))
    key = world.iam.create_access_key(UserName="reader")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    urllib3.request("POST", f"{world.endpoint}/moto-api/reset-auth", body=b"0")
    try:
        yield
    finally:
        urllib3.request("POST", f"{world.endpoint}/moto-api/reset-auth", body=b"inf")
        monkeypatch.undo()


def test_a_denied_call_fails_at_once_and_the_timeline_says_so(
    world: World, inbox: Recorder, tmp_path, monkeypatch
) -> None:
    groups = world.eni_groups(world.primary_eni)
    with enforced(world, monkeypatch):
        tasks = response(world.endpoint, tmp_path, notifiers=soc(inbox))
        status, error, visited = tasks.run(finding(world.instance), {"Decision": "terminate"})
    assert (status, error) == ("FAILED", "Reynard.ContainmentFailed")
    assert not retried(tasks) and "TimelineDetached" not in visited
    failed = {f.state: f for f in failures(tasks.history())}
    assert set(failed) == {"CollectForensics", "DetachFromAutoScaling"}
    detach = failed["DetachFromAutoScaling"]
    assert (detach.error, detach.attempts) == (ACCESS_DENIED, 1)
    assert "autoscaling:DetachInstances" in detach.cause and "user/reader" in detach.cause
    assert failed["CollectForensics"].error == ACCESS_DENIED
    assert tasks.timeline()[-1] == f"Response failed: {ACCESS_DENIED}: {detach.cause}"
    asg = world.autoscaling.describe_auto_scaling_instances(InstanceIds=[world.instance])
    assert asg["AutoScalingInstances"][0]["AutoScalingGroupName"] == world.asg  # nothing was changed
    assert world.eni_groups(world.primary_eni) == groups


def test_a_key_aws_does_not_know_fails_at_once_as_a_credentials_error(
    world: World, inbox: Recorder, tmp_path, monkeypatch
) -> None:
    with enforced(world, monkeypatch):
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        tasks = response(world.endpoint, tmp_path, notifiers=soc(inbox))
        status, _, _ = tasks.run(finding(world.instance), {"Decision": "terminate"})
    assert status == "FAILED" and not retried(tasks)
    detach = next(f for f in failures(tasks.history()) if f.state == "DetachFromAutoScaling")
    assert detach.error == AWS_CREDENTIALS
    assert "did not accept the AWS credentials: AuthFailure" in detach.cause


# -- the error codes, from a loopback endpoint answering as AWS does -------------------------------------


def ec2_error(code: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>{code}</Code>'
        f"<Message>{code} here</Message></Error></Errors><RequestID>r-1</RequestID></Response>"
    ).encode()


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (401, "AuthFailure", AWS_CREDENTIALS),
        (403, "InvalidClientTokenId", AWS_CREDENTIALS),
        (400, "ExpiredToken", AWS_CREDENTIALS),
        (403, "SignatureDoesNotMatch", AWS_CREDENTIALS),
        (403, "UnauthorizedOperation", ACCESS_DENIED),
        (403, "AccessDenied", ACCESS_DENIED),
        (403, "SomethingElseForbidden", ACCESS_DENIED),
        (400, "InvalidParameterValue", "Ec2.Ec2Exception"),
    ],
)
def test_credential_and_access_errors_are_named_and_never_retried(
    aws: str, status: int, code: str, error: str
) -> None:
    with answering(status, ec2_error(code)) as server:
        tasks = reynard(server.url, aws={"region": REGION, "max_attempts": 3})
        with pytest.raises(StatesError) as info:
            tasks.action("protect-instance", {"InstanceId": "i-0abc"})
    assert info.value.error == error and f"{code} here" in info.value.cause
    assert (error in PERMANENT_ERRORS) == (error != "Ec2.Ec2Exception")
    assert server.requests == 1
