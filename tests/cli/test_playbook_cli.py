"""`reynard playbook ...` (in-process, click's CliRunner) and the playbook API (TestClient on the router,
and a real `reynard serve`)."""

import getpass
import json
import time
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from helpers import Server, bearer
from reynard.cli import main
from reynard.respond.service import PlaybookService
from reynard.runtime import Runtime
from reynard.settings import Settings
from reynard.web.errors import add_error_handlers
from reynard.web.playbooks import playbooks_router

APPROVAL = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {
            "Type": "Pass",
            "Parameters": {"instance.$": "$.instance"},
            "ResultPath": "$.prepared",
            "Next": "Ask",
        },
        "Ask": {
            "Type": "Task",
            "Resource": "reynard:approval.waitForTaskToken",
            "Parameters": {"question.$": "States.Format('Stop {}?', $.instance)"},
            "ResultPath": "$.approval",
            "Catch": [{"ErrorEquals": ["Rejected"], "ResultPath": "$.rejection", "Next": "Declined"}],
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
        "Declined": {"Type": "Fail", "ErrorPath": "$.rejection.Error", "CausePath": "$.rejection.Cause"},
    },
}


@pytest.fixture
def files(tmp_path):
    def write(name, definition):
        path = tmp_path / name
        path.write_text(json.dumps(definition) if not isinstance(definition, str) else definition)
        return str(path)

    return write


@pytest.fixture
def cli(tmp_path):
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, ["--data-dir", str(tmp_path / "data"), "playbook", *args])

    return invoke


def test_validate(cli, files):
    good = files("good.asl.json", APPROVAL)
    result = cli("validate", good)
    assert result.exit_code == 0 and "valid (4 states" in result.output
    bad = files(
        "bad.json",
        {"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1, "Timestamp": "x", "End": True}}},
    )
    result = cli("validate", bad)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"reynard: {bad}: A: Timestamp: give exactly one of Seconds, SecondsPath, Timestamp, TimestampPath "
        "(got Seconds, Timestamp)"
    ]
    assert cli("validate", files("text.json", "{nope")).exit_code == 1
    unknown = cli("validate", "no-such-playbook")
    assert unknown.exit_code == 2 and "no such file nor known playbook" in unknown.stderr


def test_validate_lists_the_aws_calls_each_task_may_make_and_their_union(cli, files):
    path = files(
        "contain.asl.json",
        {
            "StartAt": "Ask",
            "States": {
                "Ask": {"Type": "Task", "Resource": "reynard:approval.waitForTaskToken", "Next": "Both"},
                "Both": {
                    "Type": "Parallel",
                    "Branches": [
                        {
                            "StartAt": "Protect",
                            "States": {
                                "Protect": {
                                    "Type": "Task",
                                    "Resource": "reynard:protect-instance",
                                    "End": True,
                                }
                            },
                        },
                        {
                            "StartAt": "Stop",
                            "States": {
                                "Stop": {
                                    "Type": "Task",
                                    "Resource": "arn:aws:states:::aws-sdk:ec2:stopInstances",
                                    "End": True,
                                }
                            },
                        },
                    ],
                    "Next": "Tell",
                },
                "Tell": {"Type": "Task", "Resource": "reynard:launch-rockets", "End": True},
            },
        },
    )
    result = cli("validate", path)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{path}: valid (3 states at the top level, JSONPath)",
        "AWS calls each Task state may make:",
        "  Ask (reynard:approval): none",
        "  Both/Branches[0]/Protect (reynard:protect-instance): ec2:DescribeInstanceAttribute, "
        "ec2:DescribeInstances, ec2:ModifyInstanceAttribute",
        "  Both/Branches[1]/Stop (arn:aws:states:::aws-sdk:ec2:stopInstances): ec2:StopInstances",
        "  Tell (reynard:launch-rockets): no handler is registered for this resource",
        "AWS calls this playbook may make:",
        "  ec2:DescribeInstanceAttribute",
        "  ec2:DescribeInstances",
        "  ec2:ModifyInstanceAttribute",
        "  ec2:StopInstances",
    ]


def test_validate_a_shipped_playbook_by_name(cli):
    result = cli("validate", "guardduty_crypto_mining")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "guardduty_crypto_mining: valid (42 states at the top level, JSONPath)"
    forensics = (
        "  CollectForensics (reynard:collect-forensics): ec2:DescribeInstances, ssm:GetCommandInvocation, "
        "ssm:ListCommands, ssm:SendCommand"
    )
    assert forensics in lines
    union = lines[lines.index("AWS calls this playbook may make:") + 1 :]
    assert len(union) == 35 and union == sorted(union)
    assert {"  ec2:TerminateInstances", "  iam:PutRolePolicy", "  sns:Publish", "  ssm:SendCommand"} <= set(
        union
    )


def test_run_prints_the_output_as_json(cli, files):
    path = files(
        "hello.json",
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"hi.$": "$.name"}, "End": True}}},
    )
    result = cli("run", path, "--input", '{"name": "bob"}', "--name", "first")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"hi": "bob"}
    assert "SUCCEEDED" in result.stderr
    assert (
        cli("run", path, "--input", "{}", "--name", "first").exit_code == 2
    )  # names are unique per playbook
    assert "not JSON" in cli("run", path, "--input", "{bad").stderr


def test_a_failed_execution_exits_1_with_its_error_and_cause(cli, files):
    path = files(
        "fail.json",
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Custom.Bad", "Cause": "it went wrong"}}},
    )
    result = cli("run", path)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "FAILED: Custom.Bad: it went wrong" in result.stderr


def test_run_waits_for_approval_and_approve_finishes_it(cli, files):
    path = files("stop-instance.asl.json", APPROVAL)
    result = cli("run", path, "--input", '{"instance": "i-1"}')
    assert result.exit_code == 0, result.output
    assert "waiting for approval at state 'Ask'" in result.stderr
    listed = [
        json.loads(line) for line in cli("executions", "--status", "WAITING", "--json").stdout.splitlines()
    ]
    [execution] = listed
    token = execution["waitingFor"][0]["token"]
    assert token in result.stderr
    shown = json.loads(cli("show", execution["executionId"], "--json").stdout)
    assert shown["status"] == "WAITING"
    assert [e["type"] for e in shown["history"]][-2:] == ["TaskSubmitted", "TaskTokenWaiting"]
    approved = cli("approve", token, "--output", '{"by": "alice"}')
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.stdout) == {
        "instance": "i-1",
        "prepared": {"instance": "i-1"},
        "approval": {"by": "alice"},
    }
    again = cli("approve", token)
    assert again.exit_code == 2 and "already answered" in again.stderr
    text = cli("show", execution["executionId"]).stdout
    assert "SUCCEEDED" in text and "TaskSucceeded" in text and "ExecutionSucceeded" in text


def test_reject_goes_through_the_catch(cli, files):
    path = files("stop-instance.asl.json", APPROVAL)
    cli("run", path, "--input", '{"instance": "i-2"}')
    [execution] = [json.loads(line) for line in cli("executions", "--json").stdout.splitlines()]
    token = execution["waitingFor"][0]["token"]
    rejected = cli("reject", token, "--error", "Rejected", "--cause", "not during business hours")
    assert rejected.exit_code == 0
    assert "FAILED: Rejected: not during business hours" in rejected.stderr
    assert "FAILED" in cli("executions", "--status", "FAILED").stdout


def test_add_list_and_run_by_name(cli, files, tmp_path):
    assert cli("add", files("contain.asl.json", APPROVAL)).exit_code == 0
    broken = tmp_path / "data" / "playbooks" / "broken.json"
    broken.write_text('{"StartAt": "X", "States": {}}')
    listed = [json.loads(line) for line in cli("list", "--json").stdout.splitlines()]
    assert [(p["name"], p["source"], p["valid"]) for p in listed if p["source"] == "registered"] == [
        ("broken", "registered", False),
        ("contain", "registered", True),
    ]
    shipped = {p["name"]: p["valid"] for p in listed if p["source"] == "shipped"}
    assert shipped == {"guardduty_crypto_mining": True}  # the workshop's playbook, valid
    assert cli("run", "contain", "--input", '{"instance": "i-3"}').exit_code == 0
    unknown = cli("run", "nothing-by-this-name")
    assert unknown.exit_code == 2 and "no such file nor known playbook" in unknown.stderr


def test_a_parked_wait_is_resumed_by_the_resume_command(cli, files):
    path = files("w.json", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}})
    result = cli("run", path, "--max-sleep", "0")
    assert result.exit_code == 0 and "waiting until" in result.stderr
    time.sleep(1.05)
    resumed = cli("resume")
    assert resumed.exit_code == 0 and "1 executions continued" in resumed.stderr
    assert json.loads(resumed.stdout) == {}


def test_stop(cli, files):
    cli("run", files("a.json", APPROVAL), "--input", '{"instance": "i"}')
    [execution] = [json.loads(line) for line in cli("executions", "--json").stdout.splitlines()]
    assert "ABORTED" in cli("stop", execution["executionId"], "--cause", "drill over").stdout
    assert cli("approve", execution["waitingFor"][0]["token"]).exit_code == 2


def test_executions_say_who_started_them_and_who_stopped_them(cli, files):
    path = files("stop-instance.asl.json", APPROVAL)
    assert cli("run", path, "--input", '{"instance": "i-1"}', "--by", "alice").exit_code == 0
    assert cli("run", path, "--input", '{"instance": "i-2"}').exit_code == 0
    listed = [json.loads(line) for line in cli("executions", "--json").stdout.splitlines()]
    me = getpass.getuser()
    assert sorted(e["startedBy"] for e in listed) == sorted(["alice", me])
    assert sorted(line.rsplit("(by ", 1)[1] for line in cli("executions").stdout.splitlines()) == sorted(
        ["alice)", f"{me})"]
    )
    alice = next(e for e in listed if e["startedBy"] == "alice")["executionId"]
    assert cli("show", alice).stdout.splitlines()[1].split(" by ")[1] == "alice"
    assert cli("stop", alice, "--by", "bob", "--cause", "wrong instance").exit_code == 0
    aborted = json.loads(cli("show", alice, "--json").stdout)["history"][-1]
    assert aborted["type"] == "ExecutionAborted"
    assert aborted["details"] == {"error": None, "cause": "wrong instance", "by": "bob"}


def test_executions_from_before_migration_0013_were_started_by_unknown(tmp_path, cli):
    """A state database upgraded from 0012 keeps its executions; who started them is not known."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    from reynard.state.db import MIGRATIONS

    (tmp_path / "data").mkdir()
    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'state.db'}")
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0012")
        connection.execute(
            text(
                "INSERT INTO executions (id, name, playbook, definition_hash, definition, input, status,"
                " output, dry_run, started, stopped) VALUES ('old-1', 'old-1', 'contain', 'h', :definition,"
                " '{}', 'SUCCEEDED', '{}', 0, '2026-01-02 03:04:05', '2026-01-02 03:04:06')"
            ),
            {"definition": json.dumps(APPROVAL)},
        )
    engine.dispose()
    [listed] = [json.loads(line) for line in cli("executions", "--json").stdout.splitlines()]
    assert (listed["executionId"], listed["startedBy"]) == ("old-1", None)
    assert cli("executions").stdout.strip().endswith("(by unknown)")
    assert cli("show", "old-1").stdout.splitlines()[1] == (
        "started 2026-01-02T03:04:05+00:00 by unknown, stopped 2026-01-02T03:04:06+00:00"
    )


# -- the API ------------------------------------------------------------------------------------------------
@pytest.fixture
def api_runtime(tmp_path):
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    contain = tmp_path / "contain.asl.json"
    contain.write_text(json.dumps(APPROVAL))
    runtime.playbook_catalog.add(contain)  # the API starts registered playbooks only
    yield runtime
    runtime.close()


@pytest.fixture
def api(api_runtime):
    runtime = api_runtime
    service = PlaybookService(
        runtime.executions, runtime.dispatch(), runtime.playbook_catalog, poll_seconds=0.1
    )
    app = FastAPI()
    app.state.identity = runtime.identity
    add_error_handlers(app)
    app.include_router(playbooks_router(SimpleNamespace(playbooks=service)))  # type: ignore[arg-type]
    with TestClient(app, base_url="http://localhost") as client:
        client.headers.update(bearer(runtime.identity.create_token("rita", "responder", by="tests")[1]))
        yield client
    service.close()


def wait_for(client, execution_id, status, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = client.get(f"/api/executions/{execution_id}").json()
        if body["status"] == status:
            return body
        time.sleep(0.05)
    raise AssertionError(f"{execution_id} is {body['status']}, not {status}")


def test_api_start_approve_and_history(api, api_runtime):
    started = api.post("/api/playbooks/contain/executions", json={"input": {"instance": "i-9"}})
    assert started.status_code == 202
    assert started.json()["startedBy"] == "rita"  # the token's name
    execution_id = started.json()["executionId"]
    waiting = wait_for(api, execution_id, "WAITING")
    [asked] = waiting["waitingFor"]
    assert "token" not in asked  # task tokens never leave the server: an answer names the state
    tokens = api_runtime.executions.tokens_of(execution_id)
    assert tokens and not any(token in json.dumps(waiting) for token in tokens)
    wrong = api.post(f"/api/executions/{execution_id}/approve", json={"state": "Nope", "output": {}})
    assert wrong.status_code == 404 and asked["state"] in wrong.json()["error"]
    approved = api.post(
        f"/api/executions/{execution_id}/approve", json={"state": asked["state"], "output": {"ok": True}}
    )
    assert approved.status_code == 202
    done = wait_for(api, execution_id, "SUCCEEDED")
    assert done["output"]["approval"] == {"ok": True}
    assert done["definition"] == APPROVAL
    response = api.get(f"/api/executions/{execution_id}/history")
    assert not any(token in response.text for token in tokens)
    history = response.json()["events"]
    assert history[0]["type"] == "ExecutionStarted" and history[-1]["type"] == "ExecutionSucceeded"
    assert api.get("/api/executions", params={"status": "SUCCEEDED"}).json()["count"] == 1
    assert api.get("/api/executions/nope").status_code == 404


def test_api_reject_validate_and_list(api):
    execution_id = api.post("/api/playbooks/contain/executions", json={"input": {"instance": "i"}}).json()[
        "executionId"
    ]
    state = wait_for(api, execution_id, "WAITING")["waitingFor"][0]["state"]
    api.post(
        f"/api/executions/{execution_id}/reject", json={"state": state, "error": "Rejected", "cause": "no"}
    )
    failed = wait_for(api, execution_id, "FAILED")
    assert (failed["error"], failed["cause"]) == ("Rejected", "no")
    assert api.post("/api/playbooks/validate", json=APPROVAL).json() == {
        "valid": True,
        "states": 4,
        "aws_calls": {"tasks": {"Ask": []}, "all": []},
    }
    stop = {
        "StartAt": "Stop",
        "States": {"Stop": {"Type": "Task", "Resource": "reynard:stop-instance", "End": True}},
    }
    assert api.post("/api/playbooks/validate", json=stop).json()["aws_calls"] == {
        "tasks": {
            "Stop": [
                "ec2:DescribeInstanceAttribute",
                "ec2:DescribeInstances",
                "ec2:ModifyInstanceAttribute",
                "ec2:StopInstances",
            ]
        },
        "all": [
            "ec2:DescribeInstanceAttribute",
            "ec2:DescribeInstances",
            "ec2:ModifyInstanceAttribute",
            "ec2:StopInstances",
        ],
    }
    answer = api.post(
        "/api/playbooks/validate", json={"StartAt": "A", "States": {"A": {"Type": "Pass"}}}
    ).json()
    assert (answer["valid"], answer["state"], answer["field"]) == (False, "A", "Next")
    listed = api.get("/api/playbooks").json()
    assert [(p["name"], p["source"]) for p in listed["playbooks"]] == [
        ("contain", "registered"),
        ("guardduty_crypto_mining", "shipped"),
    ]
    contain, shipped = listed["playbooks"]
    assert contain["aws_calls"] == {"tasks": {"Ask": []}, "all": []}
    assert len(shipped["aws_calls"]["tasks"]) == 32 and len(shipped["aws_calls"]["all"]) == 35
    assert shipped["aws_calls"]["tasks"]["NotifyTeam"] == ["sns:Publish"]
    assert api.post("/api/playbooks/unknown/executions", json={}).status_code == 404
    # never a definition sent with the request, nor a file on the server
    inline = api.post("/api/playbooks/unknown/executions", json={"definition": APPROVAL})
    assert inline.status_code == 404
    a_path = api.post("/api/playbooks/%2Fetc%2Fpasswd/executions", json={})
    assert a_path.status_code == 404


def test_api_on_a_real_server_with_a_cli_approval(tmp_path, files):
    data = tmp_path / "data"
    runner = CliRunner()
    assert (
        runner.invoke(
            main, ["--data-dir", str(data), "playbook", "add", files("contain.asl.json", APPROVAL)]
        ).exit_code
        == 0
    )
    server = Server(data).start()
    try:
        started = server.post(
            f"{server.url}/api/playbooks/contain/executions", json={"input": {"instance": "i-7"}}
        )
        assert started.status_code == 202, started.text
        assert started.json()["startedBy"] == "test-admin"  # the token's name (helpers.api_token)
        execution_id = started.json()["executionId"]
        deadline = time.monotonic() + 10
        while (body := server.get(f"{server.url}/api/executions/{execution_id}").json())[
            "status"
        ] != "WAITING":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        # the token is in the data directory (the CLI on the machine reads it), never in the API
        shown = runner.invoke(main, ["--data-dir", str(data), "playbook", "show", execution_id, "--json"])
        token = json.loads(shown.stdout)["waitingFor"][0]["token"]
        approved = runner.invoke(
            main, ["--data-dir", str(data), "playbook", "approve", token, "--output", '{"by": "cli"}']
        )
        assert approved.exit_code == 0, approved.output
        deadline = time.monotonic() + 10
        while (body := server.get(f"{server.url}/api/executions/{execution_id}").json())[
            "status"
        ] != "SUCCEEDED":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert body["output"]["approval"] == {"by": "cli"}
        second = server.post(
            f"{server.url}/api/playbooks/contain/executions", json={"input": {"instance": "i-8"}}
        ).json()
        stopped = server.post(
            f"{server.url}/api/executions/{second['executionId']}/stop", json={"cause": "x"}
        )
        assert stopped.status_code == 200 and stopped.json()["status"] == "ABORTED"
        history = server.get(f"{server.url}/api/executions/{second['executionId']}/history").json()["events"]
        assert history[-1]["type"] == "ExecutionAborted" and history[-1]["details"]["by"] == "test-admin"
        # the API's requests and the CLI's answer, in one audit trail
        trail = server.get(f"{server.url}/api/audit").json()["entries"]
        assert [(e["actor"], e["actor_kind"], e["action"]) for e in trail] == [
            (getpass.getuser(), "cli", "playbook add"),
            ("test-admin", "token", "POST /api/playbooks/{name}/executions"),
            (getpass.getuser(), "cli", "playbook approve"),
            ("test-admin", "token", "POST /api/playbooks/{name}/executions"),
            ("test-admin", "token", "POST /api/executions/{execution_id}/stop"),
        ]
        assert trail[2]["target"] == execution_id
    finally:
        server.stop()


# -- the shipped playbook without AWS credentials (issue 13) ----------------------------------------------


NAME = "guardduty_crypto_mining"
CONTAINMENT = (
    "CollectForensics",
    "DetachFromAutoScaling",
    "DeregisterFromLoadBalancers",
    "IsolateInstance",
    "ProtectInstance",
    "SnapshotVolumes",
    "RevokeRoleSessions",
)


def test_a_dry_run_without_credentials_prints_what_each_step_would_do(cli, no_aws_credentials):
    """A new user's first try: no credentials, no settings, the shipped example finding. The dry run is
    over in seconds at the approval, each step's would-do line printed; approved, it reaches its end."""
    from reynard.respond.actions.base import NOT_READ
    from reynard.respond.playbooks import example_input

    began = time.monotonic()
    result = cli("run", "guardduty_crypto_mining", "--dry-run", "--input", json.dumps(example_input(NAME)))
    assert time.monotonic() - began < 10
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == "dry run: nothing was changed; what each step would do:"
    for state in CONTAINMENT:
        assert any(
            line.startswith(f"  {state}: dry run: would change i-0abc1234def567890: ")
            and line.endswith(NOT_READ)
            for line in lines
        ), state
    assert "waiting for approval at state 'RequestApproval'" in result.stderr
    assert " failed" not in result.stderr
    (token,) = [line.split()[4] for line in lines if line.startswith("  approve: reynard playbook approve ")]
    approved = cli("approve", token, "--output", '{"Decision": "stop"}')
    assert approved.exit_code == 0, approved.output
    assert (
        "  StopInstance: dry run: would change i-0abc1234def567890: lift its stop protection, then stop it "
        "and wait until it is stopped. " + NOT_READ
    ) in approved.stderr.splitlines()
    assert approved.stderr.rstrip().endswith("SUCCEEDED")


def test_a_run_without_credentials_fails_at_once_naming_the_step_and_the_cause(cli, no_aws_credentials):
    from reynard.respond.playbooks import example_input

    began = time.monotonic()
    result = cli("run", "guardduty_crypto_mining", "--input", json.dumps(example_input(NAME)))
    assert time.monotonic() - began < 10
    assert result.exit_code == 1
    assert "FAILED: Reynard.ContainmentFailed" in result.stderr
    assert (
        "  DetachFromAutoScaling failed: Reynard.AwsCredentials: ec2: no AWS credentials (looked in the "
        "environment, the shared credentials and config files, SSO, the container and instance roles)"
    ) in result.stderr.splitlines()
