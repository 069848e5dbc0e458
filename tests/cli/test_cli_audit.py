"""The CLI's state changes in the audit trail: every command of `reynard` is either audited or declared
here as one that changes nothing; each audited command is run for real (CliRunner, on a data directory
with real events and alerts) and its entry read back with `reynard audit list --format json`."""

import json
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import click
import pytest
from click.testing import CliRunner, Result

from cases_support import stored_world
from paths import ALERTS
from reynard.cli import main
from reynard.cli.audited import audit_of
from reynard.cli.options import os_user
from reynard.simulate.sandbox import Sandbox

ME = os_user()  # the user the tests run as, by user id

# Commands that change nothing in the data directory, and why; anything else must be audited.
NOT_AUDITED = {
    "ingest": "events are counted in the stores, not audited (as POST /events is not)",
    "serve": "the server records its own API requests",
    "search": "reads",
    "store days": "reads",
    "sigma check": "reads files",
    "sigma test": "rules tried in memory; nothing stored",
    "alerts list": "reads",
    "rules test": "a rule tried in memory; nothing stored",
    "rules list": "reads",
    "runbook list": "reads",
    "runbook show": "reads",
    "runbook check": "reads files",
    "runbook suggest": "reads",
    "playbook validate": "reads a file",
    "playbook list": "reads",
    "playbook executions": "reads",
    "playbook show": "reads",
    "playbook export": "writes the definition to stdout",
    "incident list": "reads",
    "incident show": "reads",
    "incident report": "reads",
    "ioc list": "reads",
    "ioc show": "reads",
    "ioc export": "writes to stdout or a file, not to the data directory",
    "user list": "reads",
    "token list": "reads",
    "audit list": "reads",
    "sandbox status": "reads moto (and forgets a sandbox.json whose moto is gone)",
    "simulate list": "reads the shipped scenarios",
    "simulate answers": "reads a scenario",
    "simulate play": "writes log files to a new folder, or posts events as POST /events does (not audited)",
    "simulate check": "plays into a scratch data directory of its own, removed after",
}
# Commands that record a part of what they do with `recorded(...)` (not the whole command).
AUDITED_IN_PART = {"demo": "its setup (rules, sample, token), not the serving that follows"}


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(commands(command, (*prefix, name)))
        else:
            found[" ".join((*prefix, name))] = command
    return found


# -- running commands -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def template(shared_data, tmp_path_factory) -> Path:
    """A data directory with real events stored (one day) and two alerts, made once; each test copies it."""
    data = tmp_path_factory.mktemp("world") / "data"
    _, _, alerts = stored_world(shared_data, data)
    alerts.engine.dispose()
    return data


class Cli:
    def __init__(self, data: Path, tmp: Path):
        self.data, self.tmp = data, tmp
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int | None = 0, input: str | None = None) -> Result:
        result = self.runner.invoke(main, ["--data-dir", str(self.data), *args], input=input)
        if code is not None:
            assert result.exit_code == code, (args, result.output)
        return result

    def audit(self) -> list[dict[str, Any]]:
        listed = self("audit", "list", "--format", "json")
        return [json.loads(line) for line in listed.stdout.splitlines()]

    def file(self, name: str, text: str) -> str:
        path = self.tmp / name
        path.write_text(text)
        return str(path)


@pytest.fixture
def cli(template, tmp_path) -> Iterator[Cli]:
    data = tmp_path / "data"
    shutil.copytree(template, data)
    yield Cli(data, tmp_path)
    Sandbox(data).stop()  # `sandbox start` leaves moto running


# -- the playbooks the cases run --------------------------------------------------------------------------
HELLO = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"hi": "there"}, "End": True}}}
WAIT = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}}
APPROVAL = {
    "StartAt": "Ask",
    "States": {
        "Ask": {"Type": "Task", "Resource": "reynard:approval.waitForTaskToken", "End": True},
    },
}


def waiting(cli: Cli) -> dict[str, str]:
    """An execution waiting for approval: its id and its task token."""
    cli("playbook", "run", cli.file("approval.json", json.dumps(APPROVAL)))
    [execution] = [json.loads(line) for line in cli("playbook", "executions", "--json").stdout.splitlines()]
    return {"execution": execution["executionId"], "token": execution["waitingFor"][0]["token"]}


def parked(cli: Cli) -> dict[str, str]:
    cli("playbook", "run", cli.file("wait.json", json.dumps(WAIT)), "--max-sleep", "0")
    time.sleep(1.05)
    return {}


def an_incident(cli: Cli) -> dict[str, str]:
    cli("incident", "new", "Leaked key")
    return {}


def an_indicator(cli: Cli) -> dict[str, str]:
    cli("ioc", "add", "203.0.113.9")
    return {}


def the_day(cli: Cli) -> dict[str, str]:
    return {"day": cli("store", "days").stdout.split()[0]}


@dataclass(frozen=True)
class Case:
    """A run of an audited command: its arguments ({placeholders} from `setup`), the target and the
    detail (exact) its entry must have, and its exit code."""

    args: tuple[str, ...]
    target: str | None
    detail: dict[str, Any] | None
    setup: Callable[[Cli], dict[str, str]] | None = None
    code: int = 0
    files: dict[str, str] = field(default_factory=dict)  # name: text, written first, {name} in args


CASES: dict[str, Case] = {
    "demo": Case(("--no-serve", "--events", "50"), None, {"events": 50, "rules": ANY, "token": ANY}),
    "store drop": Case(("{day}",), "{day}", None, the_day),
    "alerts ack": Case(("1", "--comment", "looking"), "1", {"comment": "looking"}),
    "alerts close": Case(("2",), "2", None),
    "rules add": Case(
        ("--mozdef", str(ALERTS / "bruteforce_ssh.py")),
        "bruteforce_ssh",
        {"mozdef": str(ALERTS / "bruteforce_ssh.py"), "schedule": ANY},
    ),
    "rules enable": Case(("console_login_without_mfa",), "console_login_without_mfa", None),
    "rules disable": Case(("console_login_without_mfa",), "console_login_without_mfa", None),
    "rules schedule": Case(
        ("console_login_without_mfa", "10m"), "console_login_without_mfa", {"spec": "10m"}
    ),
    "rules run": Case(
        ("--rule", "console_login_without_mfa"),
        None,
        {"rule": ["console_login_without_mfa"], "rules": 1, "alerts": 0, "failed": 0},
    ),
    "playbook run": Case(
        ("{hello}", "--name", "first"),
        "{hello}",
        {"name": "first", "execution": ANY, "playbook": "hello", "status": "SUCCEEDED"},
        files={"hello": json.dumps(HELLO)},
    ),
    "playbook add": Case(("{hello}",), "{hello}", None, files={"hello": json.dumps(HELLO)}),
    "playbook approve": Case(("{token}",), "{execution}", None, waiting),
    "playbook reject": Case(
        ("{token}", "--cause", "not now"), "{execution}", {"error": "Rejected", "cause": "not now"}, waiting
    ),
    "playbook resume": Case((), None, {"executions": 1}, parked),
    "playbook stop": Case(
        ("{execution}", "--cause", "drill over"), "{execution}", {"cause": "drill over"}, waiting
    ),
    "incident new": Case(
        ("Leaked key", "--severity", "high", "--tag", "T1078.004"),
        "1",
        {"title": "Leaked key", "severity": "high", "tag": ["T1078.004"]},
    ),
    "incident phase": Case(("1", "containment"), "1", {"phase": "containment"}, an_incident),
    "incident note": Case(("1", "port 22 open"), "1", {"entry": ANY}, an_incident),
    "incident link": Case(("1", "--alert", "1"), "1", {"alert": [1]}, an_incident),
    "incident set": Case(
        ("1", "--owner", "alice", "--tag", "cryptomining"),
        "1",
        {"owner": "alice", "tag": ["cryptomining"]},
        an_incident,
    ),
    "incident close": Case(
        ("1", "--skip-lessons", "--force", "--reason", "a drill"),
        "1",
        {"skip-lessons": True, "force": True, "reason": "a drill"},
        an_incident,
    ),
    "incident postmortem": Case(
        ("1", "--section", "recommendations", "--text", "close port 22"),
        "1",
        {"section": "recommendations"},
        an_incident,
    ),
    "incident escalate": Case(("1",), "1", {"incident": 1, "opened": True}),
    "ioc add": Case(
        ("203.0.113.9", "--comment", "scanner"),
        "203.0.113.9",
        {"comment": "scanner", "id": 1, "created": True},
    ),
    "ioc import": Case(
        ("{iocs}",),
        "{iocs}",
        {"format": "auto", "added": 2, "updated": 0, "rejected": 0},
        files={"iocs": "198.51.100.1\nevil.example.com\n"},
    ),
    "ioc expire": Case(("203.0.113.9",), "203.0.113.9", None, an_indicator),
    "ioc remove": Case(
        ("203.0.113.9", "--reason", "a false positive"),
        "203.0.113.9",
        {"reason": "a false positive"},
        an_indicator,
    ),
    "ioc hunt": Case(("--alert", "--since", "3650d"), None, {"since": "3650d", "alerts": 0}),
    "user add": Case(
        ("alice", "--role", "analyst", "--generate"), "alice", {"role": "analyst", "generate": True}
    ),
    "user disable": Case(
        ("bob",), "bob", None, lambda cli: cli("user", "add", "bob", "--role", "viewer", "--generate") and {}
    ),
    "token create": Case(
        ("shipper-1", "--role", "ingest", "--expires", "90d"),
        "shipper-1",
        {"role": "ingest", "expires": "90d", "id": 1},
    ),
    "sandbox start": Case(
        ("{scenario}",),
        "{scenario}",
        {"endpoint": ANY, "pid": ANY},
        files={"scenario": "name: audit\nduration: 1h\nenvironment:\n  services: [{name: web, role: web}]\n"},
    ),
    "sandbox stop": Case((), None, None),
    "token revoke": Case(
        ("1",), "1", None, lambda cli: cli("token", "create", "t", "--role", "viewer") and {}
    ),
}


def test_every_command_is_audited_or_declared_to_change_nothing():
    found = commands(main)
    audited = {path for path, command in found.items() if audit_of(command) is not None}
    assert not audited & set(NOT_AUDITED), "an audited command is declared read-only"
    unclassified = set(found) - audited - set(NOT_AUDITED) - set(AUDITED_IN_PART)
    assert not unclassified, f"audit these commands or declare them read-only: {sorted(unclassified)}"
    assert set(NOT_AUDITED) | set(AUDITED_IN_PART) <= set(found), "a declared command no longer exists"
    assert set(CASES) == audited | set(AUDITED_IN_PART), "every audited command has a case below"
    for path in audited:  # what an audit declaration names is a parameter of its command
        spec, params = audit_of(found[path]), {p.name for p in found[path].params}
        assert spec is not None
        assert {spec.target, *spec.detail} - {None} <= params, path


@pytest.mark.parametrize("path", sorted(CASES))
def test_each_audited_command_is_recorded(cli, path):
    case = CASES[path]
    values = {name: cli.file(f"{name}.txt", text) for name, text in case.files.items()}
    if case.setup is not None:
        values |= case.setup(cli)
    before = len(cli.audit())
    cli(*path.split(), *(arg.format(**values) for arg in case.args), code=case.code)
    entries = cli.audit()
    assert len(entries) == before + 1
    entry = entries[-1]
    assert (entry["action"], entry["actor"], entry["actor_kind"], entry["source"], entry["result"]) == (
        path,
        ME,
        "cli",
        "cli",
        "ok",
    )
    assert entry["target"] == (None if case.target is None else case.target.format(**values))
    assert (None if entry["detail"] is None else json.loads(entry["detail"])) == case.detail
    for secret in ("token",):  # a task token is a capability: never in the trail
        if secret in values:
            assert values[secret] not in json.dumps(entries)


def last(cli: Cli) -> dict[str, Any]:
    return cli.audit()[-1]


def test_by_names_who_acts_and_the_source_who_ran_it(cli):
    someone = f"not-{ME}"
    cli("incident", "new", "Leaked key", "--by", someone)
    entry = last(cli)
    assert (entry["actor"], entry["source"]) == (someone, f"cli (os user: {ME})")
    cli("incident", "note", "1", "seen again", "--by", ME)  # naming oneself: plain `cli`
    assert (last(cli)["actor"], last(cli)["source"]) == (ME, "cli")
    assert [e["action"] for e in cli.audit()] == ["incident new", "incident note"]
    listed = cli("audit", "list", "--user", someone).stdout.splitlines()
    assert len(listed) == 1 and listed[0].endswith("incident new 1: ok") and f"os user: {ME}" in listed[0]


def test_the_environment_cannot_hide_who_ran_a_command(cli):
    """USER and LOGNAME name who acts by default, as `--by` does; the source still says who ran it."""
    someone = f"not-{ME}"
    result = cli.runner.invoke(
        main,
        ["--data-dir", str(cli.data), "incident", "new", "Leaked key"],
        env={"USER": someone, "LOGNAME": someone, "LNAME": someone, "USERNAME": someone},
    )
    assert result.exit_code == 0, result.output
    assert (last(cli)["actor"], last(cli)["source"]) == (someone, f"cli (os user: {ME})")


def test_a_failing_command_is_recorded_with_its_error_and_exits_as_before(cli):
    closed = cli("incident", "close", "99", "--skip-lessons", "--reason", "x", code=2)
    assert closed.output == "reynard: no incident with id 99\n"
    entry = last(cli)
    assert (entry["action"], entry["target"], entry["result"]) == ("incident close", "99", "error: NotFound")
    usage = cli("incident", "link", "1", code=2)  # a usage error the command itself finds
    assert "give --alert ID or --event ID" in usage.output
    assert (last(cli)["action"], last(cli)["result"]) == ("incident link", "error: UsageError")
    dropped = cli("store", "drop", "2001-01-01", code=2)
    assert dropped.output == "reynard: no events stored for 2001-01-01\n"
    assert (last(cli)["target"], last(cli)["result"]) == ("2001-01-01", "error: NotFound")
    # A click usage error (an unknown option) is refused before the command runs: nothing to record.
    before = len(cli.audit())
    cli("incident", "close", "1", "--no-such-option", code=2)
    assert len(cli.audit()) == before


def test_a_command_that_ends_with_its_own_status_is_recorded_with_it(cli):
    rows = cli.file("iocs.txt", "198.51.100.1\nnot a thing at all\n")
    cli("ioc", "import", rows, "--format", "text", code=1)
    entry = last(cli)
    assert entry["result"] == "exit 1"
    assert json.loads(entry["detail"]) == {"format": "text", "added": 1, "updated": 0, "rejected": 1}
    failing = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Bad", "Cause": "no"}}}
    cli("playbook", "run", cli.file("fail.json", json.dumps(failing)), code=1)
    entry = last(cli)
    assert (entry["action"], entry["result"]) == ("playbook run", "exit 1")
    assert json.loads(entry["detail"])["status"] == "FAILED"


def test_read_only_forms_are_not_recorded(cli):
    cli("incident", "new", "Leaked key")
    before = cli.audit()
    cli("incident", "postmortem", "1")  # printing it changes nothing; --section edits it (recorded)
    cli("ioc", "hunt", "--since", "3650d")  # --alert raises alerts (recorded)
    cli("incident", "list")
    cli("playbook", "run", cli.file("hello.json", json.dumps(HELLO)))
    cli("playbook", "executions")
    assert [e["action"] for e in cli.audit()] == [e["action"] for e in before] + ["playbook run"]


def test_no_password_and_no_secret_in_the_trail(cli):
    password = "correct horse battery staple"
    cli("user", "add", "ana", "--role", "analyst", "--password-stdin", input=password + "\n")
    generated = cli("user", "add", "bo", "--role", "viewer", "--generate").stdout.strip()
    secret = cli("token", "create", "shipper-1", "--role", "ingest").stdout.strip()
    demo = cli("demo", "--no-serve", "--events", "20").stdout
    demo_secret = demo.split("export TOKEN=")[1].split()[0]
    trail = cli("audit", "list", "--format", "json").stdout
    assert [e["action"] for e in cli.audit()] == ["user add", "user add", "token create", "demo"]
    for value in (password, generated, secret, demo_secret):
        assert value and value not in trail
    assert json.loads(cli.audit()[0]["detail"]) == {"role": "analyst", "password-stdin": True}


def test_a_failing_audit_write_is_said_and_does_not_fail_the_change(cli):
    """The audit table refuses writes (a trigger in the state database): the change is made, the command
    exits as it would have, and stderr says the entry was not recorded."""
    cli("incident", "list")  # the state database, migrated
    with sqlite3.connect(cli.data / "state.db") as db:
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'read-only'); END")
    made = cli("incident", "new", "Leaked key")
    assert made.stdout == "incident 1 opened: Leaked key\n"
    assert "reynard: warning: the audit trail did not record 'incident new' (ok): " in made.stderr
    assert "read-only" in made.stderr
    assert "Leaked key" in cli("incident", "show", "1").stdout
    failed = cli("incident", "close", "99", code=2)
    assert "no incident with id 99" in failed.stderr
    assert "did not record 'incident close' (error: NotFound)" in failed.stderr
    assert cli.audit() == []
