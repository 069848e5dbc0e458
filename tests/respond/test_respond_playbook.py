"""The shipped workshop playbook (`guardduty_crypto_mining.asl.json`).

Its structure is checked as a definition: every transition lands on a state, every Task has Retry and
Catch, every resource is one `register_all` provides and every argument one its action takes, the
verification Choice covers every containment step, each step is put on the timeline, and stop and
terminate cannot be reached except through the approval. Then it runs: Reynard's interpreter and
executions (a state database in a temp dir), the real task resources against moto in server mode, the
incident's timeline in Reynard's incidents, the approval answered by its task token as `reynard playbook
approve` would. The input is a GuardDuty finding event from a fixture (moto has no GuardDuty findings
API), its instance id replaced by the moto instance's."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playbook_support import NAME, Response, finding, response

from loopback import Recorder, recording
from respond_support import World
from reynard.respond.actions import ACTIONS, PERMANENT_ERRORS, register_all
from reynard.respond.actions.statement import statement
from reynard.respond.dispatch import Dispatch
from reynard.respond.playbooks import definition, example_input, shipped
from reynard.respond.resources import ACTION_PREFIX
from reynard.settings import Settings

WAIT = ".waitForTaskToken"
ACTION_PARAMETERS = {ACTION_PREFIX + action.name: action.parameters for action in ACTIONS}


@pytest.fixture(scope="module")
def playbook() -> dict[str, Any]:
    return definition(NAME)


def transitions(state: dict[str, Any]) -> list[str]:
    targets = [state.get("Next"), state.get("Default")]
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    targets += [catcher["Next"] for catcher in state.get("Catch", [])]
    return [t for t in targets if t]


def reachable(states: dict[str, Any], start: str, skip: tuple[str, str] | None = None) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        state = states[name]
        nexts = transitions(state)
        if skip and name == skip[0]:
            nexts = [t for t in nexts if t != skip[1] or any(c["Next"] == t for c in state.get("Catch", []))]
        todo += nexts
    return seen


def tasks_of(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in states.items() if s["Type"] == "Task"}


def keys(value: Any) -> set[str]:
    return {key.removesuffix(".$") for key in value} if isinstance(value, dict) else set()


# -- structure --------------------------------------------------------------------------------------------


def test_it_is_shipped_with_an_example_input() -> None:
    assert NAME in shipped()
    assert example_input(NAME)["detail"]["type"] == "CryptoCurrency:EC2/BitcoinTool.B!DNS"


def test_every_transition_lands_on_a_state_and_every_state_is_reachable(playbook) -> None:
    states = playbook["States"]
    assert playbook["StartAt"] in states
    for name, state in states.items():
        for target in transitions(state):
            assert target in states, f"{name} -> {target}"
        assert state["Type"] in ("Succeed", "Fail", "Choice") or "Next" in state or state.get("End"), name
    assert reachable(states, playbook["StartAt"]) == set(states)


def test_every_task_has_retry_and_catch_with_states_all_last_and_alone(playbook) -> None:
    for name, task in tasks_of(playbook["States"]).items():
        assert task.get("Retry") and task.get("Catch"), name
        for rules in (task["Retry"], task["Catch"]):
            for i, rule in enumerate(rules):
                if "States.ALL" in rule["ErrorEquals"]:
                    assert rule["ErrorEquals"] == ["States.ALL"] and i == len(rules) - 1, name


def test_every_task_retries_nothing_no_retry_can_fix(playbook) -> None:
    """The first retrier of every Task is the PERMANENT_ERRORS, undeclared AWS calls among them, with
    MaxAttempts 0, so States.ALL after it never retries them."""
    assert "Reynard.UndeclaredAwsCall" in PERMANENT_ERRORS
    for name, task in tasks_of(playbook["States"]).items():
        assert task["Retry"][0] == {"ErrorEquals": list(PERMANENT_ERRORS), "MaxAttempts": 0}, name


def test_every_resource_is_registered_and_every_argument_is_one_its_action_takes(playbook) -> None:
    table = Dispatch()
    register_all(table, Settings())
    for name, task in tasks_of(playbook["States"]).items():
        resource = task["Resource"].removesuffix(WAIT)
        assert table.handler_for(resource) is not None, f"{name}: {resource}"
        unknown = keys(task["Parameters"]) - ACTION_PARAMETERS[resource]
        assert not unknown, f"{name} passes {unknown} to {resource}"


def test_the_verification_choice_covers_every_containment_step(playbook) -> None:
    states = playbook["States"]
    containment = {
        "reynard:detach-from-asg",
        "reynard:deregister-from-load-balancers",
        "reynard:isolate-instance",
        "reynard:protect-instance",
        "reynard:snapshot-volumes",
        "reynard:revoke-role-sessions",
    }
    result_paths = {t["ResultPath"] for t in tasks_of(states).values() if t["Resource"] in containment}
    (rule,) = states["VerifyContainment"]["Choices"]
    checked = set()
    for condition in rule["And"]:  # each: Verified, or a dry run (which changes nothing to verify)
        verified, dry = condition["Or"]
        assert verified["BooleanEquals"] is True and verified["Variable"].endswith(".Verified")
        dry_variable = verified["Variable"].replace(".Verified", ".DryRun")
        assert dry == {"Variable": dry_variable, "BooleanEquals": True}
        checked.add(verified["Variable"].removesuffix(".Verified"))
    assert checked == result_paths and len(result_paths) == len(containment)
    assert states["VerifyContainment"]["Default"] == "ContainmentNotVerified"


def test_every_step_goes_on_the_timeline(playbook) -> None:
    states = playbook["States"]
    timeline = {n for n, s in tasks_of(states).items() if s["Resource"] == "reynard:add-timeline-entry"}
    for name, task in tasks_of(states).items():
        if name in timeline or task["Resource"] == "reynard:open-incident":
            continue
        assert task["Next"] in timeline, f"{name} is not followed by a timeline entry"
        for catcher in task["Catch"]:
            target = catcher["Next"]
            while states[target]["Type"] == "Pass":  # a Pass only records the outcome
                target = states[target]["Next"]
            assert target in timeline | {"NotifyFailure"}, f"{name} catches to {catcher['Next']}"
    assert states["NotifyFailure"]["Next"] in timeline


def test_stop_and_terminate_are_reached_only_through_the_approval_and_never_from_a_failure(playbook) -> None:
    states = playbook["States"]
    ending = {
        n
        for n, s in tasks_of(states).items()
        if s["Resource"] in ("reynard:stop-instance", "reynard:terminate-instance")
    }
    assert len(ending) == 2
    approval = states["RequestApproval"]
    assert approval["Resource"] == "reynard:request-approval" + WAIT
    without_approval = reachable(states, playbook["StartAt"], skip=("RequestApproval", approval["Next"]))
    assert not ending & without_approval
    assert not ending & reachable(states, "NotifyFailure")
    assert reachable(states, "NotifyFailure") == {"NotifyFailure", "TimelineFailure", "ContainmentFailed"}
    assert {c["ErrorEquals"][0]: c["Next"] for c in approval["Catch"]} == {
        "States.Timeout": "NoDecision",
        "States.ALL": "NotifyFailure",
    }


def parse_format(expression: str) -> tuple[str, list[str]]:
    match = re.fullmatch(r"States\.Format\('([^']*)'((?:,\s*\$[\w.]+)*)\)", expression)
    assert match, expression
    return match[1], [a.strip() for a in match[2].split(",") if a.strip()]


def test_every_format_has_as_many_arguments_as_placeholders(playbook) -> None:
    for name, task in tasks_of(playbook["States"]).items():
        for value in _strings(task.get("Parameters", {})):
            if value.startswith("States.Format("):
                template, args = parse_format(value)
                assert template.count("{}") == len(args), name


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


# -- running it against moto ------------------------------------------------------------------------------


@pytest.fixture
def inbox() -> Iterator[Recorder]:
    """The SOC's chat: every Slack message the playbook sends."""
    with recording() as server:
        yield server


def messages(inbox: Recorder) -> list[str]:
    return [body["text"] for body in inbox.bodies]


def finding_for(world: World) -> dict[str, Any]:
    return finding(world.instance)


def responders(world: World, inbox: Recorder, tmp_path) -> Response:
    url = inbox.url("/soc")
    return response(world.endpoint, tmp_path, notifiers={"soc": {"type": "slack", "url": url}})


def test_the_approved_termination(world: World, inbox: Recorder, tmp_path) -> None:
    desired = world.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[world.asg])[
        "AutoScalingGroups"
    ][0]["DesiredCapacity"]
    tasks = responders(world, inbox, tmp_path)
    kind, output, visited = tasks.run(finding_for(world), {"Decision": "terminate"})
    assert kind == "SUCCEEDED", output
    final = output["results"]["final"]
    assert {k: final[k] for k in ("Outcome", "Verified", "InstanceId")} == {
        "Outcome": "terminated",
        "Verified": True,
        "InstanceId": world.instance,
    }
    assert final["Result"]["Action"] == "terminate-instance" and final["Result"]["Verified"]
    assert visited[:4] == ["CheckFinding", "ReadFinding", "OpenIncident", "NotifyTeam"]
    assert "TimelineNotifyFailed" not in visited and "NotifyFailure" not in visited

    described = world.describe()
    assert described["State"]["Name"] == "terminated"
    snapshots = world.ec2.describe_snapshots(
        Filters=[{"Name": "tag:reynard:source-instance-id", "Values": [world.instance]}]
    )["Snapshots"]
    assert len(snapshots) == 2 and {s["State"] for s in snapshots} == {"completed"}
    finding_id = output["finding"]["FindingId"]
    assert all({"Key": "reynard:finding-id", "Value": finding_id} in s["Tags"] for s in snapshots)
    kept = world.ec2.describe_volumes(VolumeIds=[s["VolumeId"] for s in snapshots])["Volumes"]
    assert len(kept) == 2  # kept after termination: protect-instance set DeleteOnTermination false
    policy = world.iam.get_role_policy(RoleName=world.role, PolicyName="AWSRevokeOlderSessions")[
        "PolicyDocument"
    ]
    assert "aws:TokenIssueTime" in policy["Statement"][0]["Condition"]["DateLessThan"]
    assert (
        world.autoscaling.describe_auto_scaling_instances(InstanceIds=[world.instance])[
            "AutoScalingInstances"
        ]
        == []
    )

    i = world.instance
    timeline = tasks.timeline()
    assert [line.split(": ", 1)[0] for line in timeline] == [
        f"Notify the on-call team that containment of {i} started",
        f"Collect volatile evidence over SSM from {i}",
        f"Detach {i} from its Auto Scaling group, keeping the desired capacity",
        f"Deregister {i} from its load balancers",
        f"Isolate {i}",
        f"Protect {i} against termination and stop",
        f"Snapshot every volume of {i}",
        f"Revoke the sessions of the roles of {i}",
        f"Containment of {i} verified",
        f"Decision received for {i}",
        f"Terminate {i} as decided",
        "Response finished",
    ]
    # Each step's entry states what its result read back, and keeps the result.
    assert timeline[2] == (
        f"Detach {i} from its Auto Scaling group, keeping the desired capacity: changed {i}: detach from "
        f"Auto Scaling group. Read back: {i} Auto Scaling group = none; "
        f"{world.asg} DesiredCapacity = {desired}"
    )
    revoked = output["results"]["revocation"]["RevokedBefore"][world.role]
    assert timeline[7].endswith(
        f"Read back: {i} instance profile = {world.profile}; {world.role} "
        f"AWSRevokeOlderSessions denies sessions issued before = {revoked}"
    )
    for entry in tasks.entries():
        result = (entry.data or {}).get("Result")
        if statement(result) is not None:
            assert entry.text.endswith(": " + statement(result))
            assert result.get("Verified") is True and not result["DryRun"], entry.text
    sent = messages(inbox)
    assert any("reynard playbook approve " in m for m in sent)
    assert "automatic containment started" in sent[0] and "finished: terminated" in sent[-1]


def test_a_failure_after_isolation_leaves_the_instance_and_its_evidence(
    world: World, inbox: Recorder, tmp_path
) -> None:
    """The instance profile is deleted under the instance: revoke-role-sessions fails (Iam.NoSuchEntity)."""
    world.iam.remove_role_from_instance_profile(InstanceProfileName=world.profile, RoleName=world.role)
    world.iam.delete_instance_profile(InstanceProfileName=world.profile)
    tasks = responders(world, inbox, tmp_path)
    kind, error, visited = tasks.run(finding_for(world), {"Decision": "terminate"})
    assert (kind, error) == ("FAILED", "Reynard.ContainmentFailed")
    assert visited[-4:] == ["RevokeRoleSessions", "NotifyFailure", "TimelineFailure", "ContainmentFailed"]
    assert "RequestApproval" not in visited
    assert world.describe()["State"]["Name"] == "running"  # neither stopped nor terminated
    assert world.eni_groups(world.primary_eni) != [world.web_sg, world.admin_sg]  # still isolated
    snapshots = world.ec2.describe_snapshots(
        Filters=[{"Name": "tag:reynard:source-instance-id", "Values": [world.instance]}]
    )["Snapshots"]
    assert len(snapshots) == 2
    last = messages(inbox)[-1]
    assert "FAILED (Reynard.ResourceNotFound)" in last and "nothing stopped or terminated" in last
    assert tasks.timeline()[-1] == (
        f"Response failed: Reynard.ResourceNotFound: instance profile {world.profile} of {world.instance} "
        "does not exist"
    )


def test_no_decision_keeps_the_instance_isolated(world: World, inbox: Recorder, tmp_path) -> None:
    tasks = responders(world, inbox, tmp_path)
    kind, output, visited = tasks.run(finding_for(world), None)
    assert (
        kind == "SUCCEEDED"
        and output["results"]["final"]["Outcome"] == "no decision within 24 hours: kept isolated"
    )
    assert "NoDecision" in visited and world.describe()["State"]["Name"] == "running"


def test_without_notifiers_or_ssm_it_contains_then_stops_at_the_approval(world: World, tmp_path) -> None:
    """No notifier configured, and a stopped instance, which SSM cannot run commands on (collect-forensics
    refuses it; moto's SSM itself would accept any instance). Neither holds back containment: both are put
    on the timeline and the instance is isolated and snapshotted. But an approval nobody can receive is not
    an approval: the failure path takes over before any decision, and nothing is terminated."""
    world.ec2.stop_instances(InstanceIds=[world.instance])
    tasks = response(world.endpoint, tmp_path)
    kind, error, visited = tasks.run(finding_for(world), {"Decision": "terminate"})
    assert (kind, error) == ("FAILED", "Reynard.ContainmentFailed")
    assert {
        "TimelineNotifyFailed",
        "TimelineForensicsFailed",
        "TimelineIsolated",
        "TimelineSnapshots",
    } <= set(visited)
    assert visited[-4:] == ["RequestApproval", "NotifyFailure", "TimelineFailure", "ContainmentFailed"]
    assert world.describe()["State"]["Name"] == "stopped"
    assert tasks.timeline()[-1] == (
        "Response failed: Reynard.NotConfigured: request-approval: no notifiers configured "
        "([respond.notifiers.NAME] or [[notifiers]])"
    )


def test_it_refuses_another_kind_of_finding(world: World, tmp_path) -> None:
    event = finding_for(world)
    event["detail"]["type"] = "Recon:EC2/PortProbeUnprotectedPort"
    kind, error, visited = response(world.endpoint, tmp_path).run(event, {})
    assert (kind, error, visited) == (
        "FAILED",
        "Reynard.UnexpectedInput",
        ["CheckFinding", "NotThisPlaybook"],
    )


def test_the_cli_runs_it_dry_against_any_endpoint_and_exports_it(world: World, tmp_path) -> None:
    """`reynard playbook run --dry-run --endpoint-url`: every step says what it would do against moto,
    nothing changes, and the execution waits for the approval; `export` gives a Step Functions definition
    and names what it left as Lambda placeholders."""
    from click.testing import CliRunner

    from reynard.cli import main

    data_dir = tmp_path / "data"
    config = tmp_path / "reynard.toml"  # a notifier, so the approval request can be sent
    config.write_text('[respond.notifiers.soc]\ntype = "webhook"\nurl = "http://127.0.0.1:9/soc"\n')
    before = world.eni_groups(world.primary_eni)
    result = CliRunner().invoke(
        main,
        [
            "--config",
            str(config),
            "--data-dir",
            str(data_dir),
            "playbook",
            "run",
            NAME,
            "--input",
            json.dumps(finding_for(world)),
            "--dry-run",
            "--endpoint-url",
            world.endpoint,
            "--max-sleep",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "approv" in result.stderr.lower() or "waiting" in result.stderr.lower()
    assert world.eni_groups(world.primary_eni) == before  # a dry run changes nothing
    assert world.describe()["State"]["Name"] == "running"

    exported = CliRunner().invoke(main, ["--data-dir", str(data_dir), "playbook", "export", NAME])
    assert exported.exit_code == 0, exported.output
    definition = json.loads(exported.stdout)
    assert definition["StartAt"] == "CheckFinding"
    resources = json.dumps(definition)
    assert "arn:aws:states:::aws-sdk:ec2:terminateInstances" in resources
    assert "not exported" in exported.stderr and "ReynardIsolateInstanceFunctionArn" in exported.stderr
