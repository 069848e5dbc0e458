"""The rule registry (`reynard rules list|add|enable|disable`) and scheduled runs (`reynard rules run`)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from reynard.cli import main
from reynard.detect.alerts import AlertStore
from reynard.detect.commands import load_events
from reynard.detect.registry import RuleRegistry, parse_schedule
from reynard.detect.rules import BUILTIN_RULES
from reynard.detect.runner import run_rules
from reynard.errors import ReynardError
from reynard.settings import Settings
from reynard.state import open_state
from reynard.store.tantivy_store import TantivyEventStore

ALERTS = Path(__file__).parent / "alerts"
NOW = "2024-02-05T17:32:00Z"
IP = "203.0.113.7"

RAISING_RULE = """\
from lib.alerttask import AlertTask


class AlertThatRaises(AlertTask):
    def main(self):
        raise ValueError("boom")
"""


def run(data_dir: Path, *args):
    return CliRunner().invoke(main, ["--data-dir", str(data_dir), *map(str, args)], catch_exceptions=False)


def failed_logins(path: Path, ip: str = IP, n: int = 10) -> Path:
    """`n` failed sshd logins from `ip`, 10 seconds apart, from 17:30:00 (within 2 minutes of NOW)."""
    lines = [
        f"Feb  5 17:{30 + i // 6:02d}:{(i * 10) % 60:02d} bastion sshd[{1000 + i}]: "
        f"Failed password for invalid user admin{i} from {ip} port {40000 + i} ssh2"
        for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A data directory whose event store holds 10 finalized sshd failures from one address."""
    settings = Settings(data_dir=tmp_path / "data")
    log = failed_logins(tmp_path / "auth.log")
    events, rejected = load_events(settings, [str(log)], datetime(2024, 2, 5, 18, tzinfo=UTC))
    assert not rejected and len(events) == 10
    store = TantivyEventStore(settings.events_dir, writable=True)
    try:
        assert store.write(events, commit=True).stored == 10
    finally:
        store.close()
    return settings.data_dir


def registry_for(data_dir: Path) -> RuleRegistry:
    settings = Settings(data_dir=data_dir)
    return RuleRegistry(open_state(settings.state_url), data_dir / "rules")


def without_builtins(data_dir: Path) -> None:
    """Disable every built-in rule (some of them would alert on the same events too)."""
    registry = registry_for(data_dir)
    registry.ensure_builtins()
    for name in BUILTIN_RULES:
        registry.disable(name)


def listed(data_dir: Path) -> dict[str, dict]:
    result = run(data_dir, "rules", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in map(json.loads, result.stdout.splitlines())}


# -- registry ---------------------------------------------------------------------------------------------
def test_builtins_are_registered_once_and_enabled(tmp_path):
    data_dir = tmp_path / "data"
    first = listed(data_dir)
    assert set(first) == set(BUILTIN_RULES)
    assert all(r["enabled"] and r["kind"] == "builtin" and r["schedule"] == "5m" for r in first.values())
    again = listed(data_dir)
    assert list(again) == list(first)
    registry = registry_for(data_dir)
    assert registry.ensure_builtins() == []
    assert len(registry.list()) == len(BUILTIN_RULES)
    table = run(data_dir, "rules", "list")
    assert table.exit_code == 0 and f"{len(BUILTIN_RULES)} rules" in table.stdout


def test_add_mozdef_file_copies_it_and_its_conf(tmp_path):
    data_dir = tmp_path / "data"
    result = run(data_dir, "rules", "add", "--mozdef", ALERTS / "bruteforce_ssh.py")
    assert result.exit_code == 0, result.output
    assert (data_dir / "rules" / "bruteforce_ssh.py").is_file()
    assert (data_dir / "rules" / "bruteforce_ssh.conf").is_file()
    row = listed(data_dir)["bruteforce_ssh"]
    assert row["kind"] == "mozdef" and row["enabled"]
    assert row["path"] == str(data_dir / "rules" / "bruteforce_ssh.py")
    tasks = registry_for(data_dir).tasks("bruteforce_ssh")
    assert [type(t).__name__ for t in tasks] == ["AlertBruteforceSsh"]


def test_broken_file_exits_2_and_registers_nothing(tmp_path):
    data_dir = tmp_path / "data"
    broken = tmp_path / "broken_rule.py"
    broken.write_text("from lib.alerttask import AlertTask\n\nclass Broken(AlertTask)\n    pass\n")
    result = run(data_dir, "rules", "add", "--mozdef", broken)
    assert result.exit_code == 2
    assert str(broken) in result.stderr and "syntax error" in result.stderr
    assert "broken_rule" not in listed(data_dir)
    assert not (data_dir / "rules" / "broken_rule.py").exists()


def test_enable_disable(tmp_path):
    data_dir = tmp_path / "data"
    assert run(data_dir, "rules", "disable", "ssh_from_outside").exit_code == 0
    assert listed(data_dir)["ssh_from_outside"]["enabled"] is False
    assert run(data_dir, "rules", "enable", "ssh_from_outside").exit_code == 0
    assert listed(data_dir)["ssh_from_outside"]["enabled"] is True
    unknown = run(data_dir, "rules", "enable", "no_such_rule")
    assert unknown.exit_code == 2 and "no_such_rule" in unknown.stderr


def test_parse_schedule():
    assert parse_schedule("5m").total_seconds() == 300
    assert parse_schedule("1h").total_seconds() == 3600
    for bad in ("", "5", "0m", "five minutes"):
        with pytest.raises(ReynardError):
            parse_schedule(bad)


# -- scheduled runs ---------------------------------------------------------------------------------------
def test_run_alerts_once_then_dedups(data_dir):
    without_builtins(data_dir)
    assert run(data_dir, "rules", "add", "--mozdef", ALERTS / "bruteforce_ssh.py").exit_code == 0
    first = run(data_dir, "rules", "run", "--now", NOW)
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == ["bruteforce_ssh: 1 alerts"]
    alerts = AlertStore(registry_for(data_dir).engine).list()
    assert len(alerts) == 1
    (alert,) = alerts
    assert alert["rule"] == "bruteforce_ssh"
    assert alert["group_key"] == IP
    assert alert["summary"].startswith(f"10 ssh bruteforce attempts by {IP}")

    second = run(data_dir, "rules", "run", "--now", NOW)
    assert second.exit_code == 0, second.output
    assert second.stdout.splitlines() == ["bruteforce_ssh: 0 alerts"]
    assert len(AlertStore(registry_for(data_dir).engine).list()) == 1
    row = listed(data_dir)["bruteforce_ssh"]
    assert row["last_alerts"] == 0 and row["last_error"] is None and row["last_run"]


def test_run_since_steps_through_the_windows_and_dedups(data_dir):
    assert run(data_dir, "rules", "add", "--mozdef", ALERTS / "bruteforce_ssh.py").exit_code == 0
    result = run(
        data_dir,
        "rules",
        "run",
        "--since",
        "2024-02-05T17:00:00Z",
        "--now",
        "2024-02-05T18:00:00Z",
        "--rule",
        "bruteforce_ssh",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["bruteforce_ssh: 1 alerts"]


def test_disabled_rule_does_not_run(data_dir):
    assert run(data_dir, "rules", "add", "--mozdef", ALERTS / "bruteforce_ssh.py").exit_code == 0
    assert run(data_dir, "rules", "disable", "bruteforce_ssh").exit_code == 0
    result = run(data_dir, "rules", "run", "--now", NOW)
    assert result.exit_code == 0
    assert not any(line.startswith("bruteforce_ssh") for line in result.stdout.splitlines())


def test_a_rule_that_raises_is_isolated(data_dir, tmp_path):
    without_builtins(data_dir)
    raising = tmp_path / "raising_rule.py"
    raising.write_text(RAISING_RULE)
    assert run(data_dir, "rules", "add", "--mozdef", raising).exit_code == 0
    assert run(data_dir, "rules", "add", "--mozdef", ALERTS / "bruteforce_ssh.py").exit_code == 0
    result = run(data_dir, "rules", "run", "--now", NOW)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    (failed,) = [line for line in lines if line.startswith("raising_rule:")]
    assert failed.startswith("raising_rule: failed:")
    assert "ValueError: boom" in failed and "AlertThatRaises" in failed
    assert "bruteforce_ssh: 1 alerts" in lines
    assert len(lines) == 2
    row = listed(data_dir)["raising_rule"]
    assert "ValueError: boom" in row["last_error"]
    assert "Traceback" not in result.output


def test_run_rules_api_retries_a_failed_rule_next_round(data_dir, tmp_path):
    raising = tmp_path / "raising_rule.py"
    raising.write_text(RAISING_RULE)
    registry = registry_for(data_dir)
    registry.add_mozdef(raising)
    store = TantivyEventStore(data_dir / "events")
    alert_store = AlertStore(registry.engine)
    now = datetime(2024, 2, 5, 17, 32, tzinfo=UTC)
    report = run_rules(registry, store, alert_store, now, names=["raising_rule"])
    assert [r.name for r in report.failed] == ["raising_rule"]
    # fixed on disk (the registry's copy): the next round runs it again, and the error is cleared
    shutil.copyfile(ALERTS / "bruteforce_ssh.py", data_dir / "rules" / "raising_rule.py")
    shutil.copyfile(ALERTS / "bruteforce_ssh.conf", data_dir / "rules" / "bruteforce_ssh.conf")
    report = run_rules(registry, store, alert_store, now, names=["raising_rule"])
    assert not report.failed and report.alerts == 1
    assert registry.get("raising_rule").last_error is None


def test_a_rule_schedule_can_be_changed(data_dir):
    changed = run(data_dir, "rules", "schedule", "ssh_bruteforce", "1m")
    assert changed.exit_code == 0 and "ssh_bruteforce runs every 1m" in changed.stdout
    listed = run(data_dir, "rules", "list", "--format", "json")
    rows = [json.loads(line) for line in listed.stdout.splitlines() if line.startswith("{")]
    assert next(r for r in rows if r["name"] == "ssh_bruteforce")["schedule"] == "1m"
    bad = run(data_dir, "rules", "schedule", "ssh_bruteforce", "often")
    assert bad.exit_code == 2 and "often" in bad.stderr
    unknown = run(data_dir, "rules", "schedule", "no_such_rule", "1m")
    assert unknown.exit_code == 2


# -- aggregation dedup over the whole group ---------------------------------------------------------------
def store_failures(data_dir: Path, path: Path, ip: str, n: int, minute: int) -> None:
    """`n` more sshd failures from `ip`, 5 seconds apart from 17:`minute`:00, into the store."""
    lines = [
        f"Feb  5 17:{minute:02d}:{i * 5:02d} bastion sshd[{2000 + minute * 100 + i}]: "
        f"Failed password for invalid user u{minute}x{i} from {ip} port {50000 + i} ssh2"
        for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n")
    settings = Settings(data_dir=data_dir)
    events, rejected = load_events(settings, [str(path)], datetime(2024, 2, 5, 18, tzinfo=UTC))
    assert not rejected and len(events) == n
    store = TantivyEventStore(settings.events_dir, writable=True)
    try:
        assert store.write(events, commit=True).stored == n
    finally:
        store.close()


def test_an_aggregation_counts_only_events_that_have_not_alerted(data_dir, tmp_path):
    """MozDef's dedup: the ten failures alert once (all ten recorded, not only the samples); five more
    in the same window are a group of five, under the threshold; ten more after them alert again, for
    those ten only."""
    without_builtins(data_dir)
    assert run(data_dir, "rules", "add", "--mozdef", ALERTS / "bruteforce_ssh.py").exit_code == 0
    store_failures(data_dir, tmp_path / "more.log", IP, 5, minute=31)  # 15 failures from IP by 17:31:20
    assert (
        run(data_dir, "rules", "run", "--now", "2024-02-05T17:32:00Z").stdout == "bruteforce_ssh: 1 alerts\n"
    )
    alerts = AlertStore(registry_for(data_dir).engine)
    (first,) = alerts.list()
    assert first["summary"].startswith(f"15 ssh bruteforce attempts by {IP}")
    whole = alerts.get(first["id"])
    assert len(whole["events"]) == 10  # samplesLimit
    assert len(whole["event_ids"]) == 15 == len(set(whole["event_ids"]))  # the whole group

    store_failures(data_dir, tmp_path / "five.log", IP, 5, minute=32)
    assert (
        run(data_dir, "rules", "run", "--now", "2024-02-05T17:33:00Z").stdout == "bruteforce_ssh: 0 alerts\n"
    )

    store_failures(data_dir, tmp_path / "ten.log", IP, 10, minute=33)
    assert (
        run(data_dir, "rules", "run", "--now", "2024-02-05T17:34:00Z").stdout == "bruteforce_ssh: 1 alerts\n"
    )
    newest = alerts.list()[0]
    assert newest["summary"].startswith(f"15 ssh bruteforce attempts by {IP}")  # the 5 + 10 not alerted yet
    assert set(alerts.get(newest["id"])["event_ids"]).isdisjoint(whole["event_ids"])
