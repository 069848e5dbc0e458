"""`reynard rules test` (a rule over log files, in memory) and `reynard alerts list/ack/close`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from paths import ALERTS
from reynard.cli import main
from reynard.detect.alerts import AlertStore
from reynard.state import open_state

NOW = "2024-02-05T17:32:00Z"


def failed_logins(path: Path, ip: str = "203.0.113.7", n: int = 10) -> Path:
    """`n` failed sshd logins from `ip`, 10 seconds apart, from 17:30:00 (within 2 minutes of NOW)."""
    lines = [
        f"Feb  5 17:{30 + i // 6:02d}:{(i * 10) % 60:02d} bastion sshd[{1000 + i}]: "
        f"Failed password for invalid user admin{i} from {ip} port {40000 + i} ssh2"
        for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def mozdef_failed_logins(path: Path, ip: str = "203.0.113.7", n: int = 10) -> Path:
    """The same as MozDef stored them (rsyslog put the program in details.program)."""
    events = [
        {
            "utctimestamp": f"2024-02-05T17:30:{i * 5:02d}+00:00",
            "summary": f"Failed password for invalid user admin{i} from {ip} port 4000{i} ssh2",
            "hostname": "bastion",
            "category": "syslog",
            "details": {"program": "sshd", "sourceipaddress": ip},
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def processname_rule(tmp_path: Path) -> Path:
    """bruteforce_ssh.py as MozDef wrote it: syslog events carry the program in details.program too."""
    return ALERTS / "bruteforce_ssh.py"


def run(*args, data_dir=None):
    prefix = ["--data-dir", str(data_dir)] if data_dir else []
    return CliRunner().invoke(main, [*prefix, *map(str, args)], catch_exceptions=False)


def alert_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


# -- rules test -------------------------------------------------------------------------------------------
def test_the_unmodified_mozdef_rule_fires_on_syslog_failed_logins(tmp_path):
    rule = processname_rule(tmp_path)
    log = failed_logins(tmp_path / "auth.log")
    data_dir = tmp_path / "data"
    result = run("--data-dir", data_dir, "rules", "test", rule, "--events", log, "--now", NOW)
    assert result.exit_code == 0, result.output
    (alert,) = alert_lines(result.stdout)
    assert alert["rule"] == "bruteforce_ssh:AlertBruteforceSsh"
    assert "203.0.113.7" in alert["summary"]
    assert alert["summary"].startswith("10 ssh bruteforce attempts by 203.0.113.7")
    assert len(alert["events"]) == 10
    assert alert["events"][0]["documentsource"]["details"]["action"] == "failed"
    assert not data_dir.exists()  # nothing stored, not even a state database


def test_mozdef_rule_file_unmodified_on_mozdef_events(tmp_path):
    log = mozdef_failed_logins(tmp_path / "events.json")
    result = run(
        "rules", "test", ALERTS / "bruteforce_ssh.py", "--events", log, "--now", "2024-02-05T17:31:00Z"
    )
    assert result.exit_code == 0, result.output
    (alert,) = alert_lines(result.stdout)
    assert alert["rule"] == "bruteforce_ssh:AlertBruteforceSsh"
    assert "203.0.113.7" in alert["summary"]


def test_rule_that_does_not_fire_exits_zero(tmp_path):
    rule = processname_rule(tmp_path)
    log = failed_logins(tmp_path / "auth.log", n=9)
    result = run("rules", "test", rule, "--events", log, "--now", NOW)
    assert result.exit_code == 0
    assert alert_lines(result.stdout) == []


def test_outside_the_window_does_not_fire(tmp_path):
    rule = processname_rule(tmp_path)
    log = failed_logins(tmp_path / "auth.log")
    result = run("rules", "test", rule, "--events", log, "--now", "2024-02-05T18:00:00Z")
    assert result.exit_code == 0
    assert alert_lines(result.stdout) == []


def test_syntax_error_exits_2_naming_the_file(tmp_path):
    broken = tmp_path / "broken_rule.py"
    broken.write_text("from lib.alerttask import AlertTask\n\nclass Broken(AlertTask)\n    pass\n")
    log = failed_logins(tmp_path / "auth.log")
    result = run("rules", "test", broken, "--events", log)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert str(broken) in lines[0] and "syntax error" in lines[0]
    assert "Traceback" not in result.output


def test_unknown_rule_exits_2(tmp_path):
    log = failed_logins(tmp_path / "auth.log")
    result = run("rules", "test", tmp_path / "nope.py", "--events", log)
    assert result.exit_code == 2
    assert "nope.py" in result.stderr


def test_bad_now_is_a_usage_error(tmp_path):
    log = failed_logins(tmp_path / "auth.log")
    result = run("rules", "test", ALERTS / "bruteforce_ssh.py", "--events", log, "--now", "yesterday-ish")
    assert result.exit_code == 2
    assert "--now" in result.output


def test_builtin_rule_by_name(tmp_path):
    rules = pytest.importorskip("reynard.detect.rules")
    name = next(iter(rules.BUILTIN_RULES))
    log = failed_logins(tmp_path / "auth.log")
    result = run("rules", "test", name, "--events", log, "--now", NOW)
    assert result.exit_code == 0, result.output
    assert all(alert["rule"] == name for alert in alert_lines(result.stdout))


# -- alerts list / ack / close ----------------------------------------------------------------------------
@pytest.fixture
def stored(tmp_path):
    data_dir = tmp_path / "data"
    store = AlertStore(open_state(f"sqlite:///{data_dir / 'state.db'}"))
    base = {"severity": "NOTICE", "category": "bruteforce", "tags": ["ssh"], "events": []}
    first = store.add({**base, "summary": "first alert", "classname": "A"}, "r:A", group_key="1.2.3.4")
    second = store.add({**base, "summary": "second alert", "classname": "B"}, "r:B")
    return data_dir, store, first, second


def test_alerts_list_json_and_table(stored):
    data_dir, _, first, second = stored
    result = run("alerts", "list", "--format", "json", data_dir=data_dir)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == [second, first]
    assert rows[1]["group_key"] == "1.2.3.4"
    table = run("alerts", "list", data_dir=data_dir)
    assert table.exit_code == 0
    assert "first alert" in table.stdout and "second alert" in table.stdout
    assert (
        run("alerts", "list", "--since", "24h", "--format", "json", data_dir=data_dir).stdout.count("\n") == 2
    )
    later = run("alerts", "list", "--since", "2999-01-01T00:00:00Z", "--format", "json", data_dir=data_dir)
    assert later.stdout == ""


def test_alerts_ack_and_close(stored):
    data_dir, store, first, second = stored
    result = run("alerts", "ack", first, "--by", "alice", data_dir=data_dir)
    assert result.exit_code == 0, result.output
    assert store.get(first)["status"] == "acknowledged"
    result = run(
        "alerts", "close", first, "--by", "bob", "--comment", "blocked at the edge", data_dir=data_dir
    )
    assert result.exit_code == 0, result.output
    history = store.get(first)["history"]
    assert [(h["status"], h["by"], h["comment"]) for h in history] == [
        ("acknowledged", "alice", None),
        ("closed", "bob", "blocked at the edge"),
    ]
    news = run("alerts", "list", "--status", "new", "--format", "json", data_dir=data_dir)
    assert [json.loads(line)["id"] for line in news.stdout.splitlines()] == [second]


def test_alerts_close_defaults_to_the_os_user(stored, monkeypatch):
    data_dir, store, first, _ = stored
    monkeypatch.setattr("getpass.getuser", lambda: "osuser")
    assert run("alerts", "close", first, data_dir=data_dir).exit_code == 0
    assert store.get(first)["status_by"] == "osuser"


def test_alerts_unknown_id_exits_2_with_one_line(stored):
    data_dir, *_ = stored
    result = run("alerts", "ack", 999, data_dir=data_dir)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == ["reynard: no alert with id 999"]
