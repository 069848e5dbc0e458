"""The rule registry (`reynard rules list|add|enable|disable`) and scheduled runs (`reynard rules run`)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from paths import ALERTS
from reynard.cli import main
from reynard.detect.alerts import AlertStore
from reynard.detect.registry import RuleRegistry
from reynard.detect.replay import load_events
from reynard.detect.rules import BUILTIN_RULES
from reynard.detect.runner import run_rules
from reynard.detect.scheduler import RuleScheduler
from reynard.settings import Settings
from reynard.state import open_state
from reynard.store.tantivy.store import TantivyEventStore

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


# -- schedules: every form, the server's scheduler, catch-up runs ----------------------------------------
SCHEDULES = [
    ("1m", "1m", "every 1m"),
    ("timedelta(seconds=30, minutes=1)", "90s", "every 90s"),
    ("*/5 * * * *", "*/5 * * * *", "on */5 * * * * (UTC; at most every 5m)"),
    ("0 9-17 * * MON-FRI", "0 9-17 * * mon-fri", "on 0 9-17 * * mon-fri (UTC; at most every 1h)"),
    ("@hourly", "@hourly", "on @hourly (UTC; at most every 1h)"),
    ("crontab(minute='*/1')", "crontab(minute='*/1')", "on crontab(minute='*/1') (UTC; at most every 1m)"),
    (
        "crontab(minute=0, hour='*/2', day_of_week='mon-fri')",
        "crontab(minute='0', hour='*/2', day_of_week='mon-fri')",
        "on crontab(minute='0', hour='*/2', day_of_week='mon-fri') (UTC; at most every 2h)",
    ),
]


@pytest.mark.parametrize(("spec", "stored", "described"), SCHEDULES)
def test_rules_schedule_takes_every_form(tmp_path, spec, stored, described):
    data_dir = tmp_path / "data"
    changed = run(data_dir, "rules", "schedule", "ssh_bruteforce", spec)
    assert changed.exit_code == 0, changed.output
    assert changed.stdout == f"ssh_bruteforce runs {described}\n"
    assert listed(data_dir)["ssh_bruteforce"]["schedule"] == stored
    assert registry_for(data_dir).get("ssh_bruteforce").schedule.text == stored


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("crontab(minutes='*/5')", "unknown crontab keyword 'minutes'"),
        ("crontab(day_of_week=7)", "Celery counts 0 (Sunday) to 6"),
        ("timedelta(minutes=0)", "a zero interval"),
        ("*/61 * * 13 *", "croniter refuses it"),
        ("__import__('os').system('true')", "not an interval"),
    ],
)
def test_a_bad_schedule_is_one_line_and_changes_nothing(tmp_path, spec, message):
    data_dir = tmp_path / "data"
    result = run(data_dir, "rules", "schedule", "ssh_bruteforce", spec)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"reynard: schedule {spec!r}: ") and message in line
    assert listed(data_dir)["ssh_bruteforce"]["schedule"] == "5m"


def test_rules_list_fits_long_schedules(tmp_path):
    """A crontab(...) text is longer than the 32 characters the column was made for: stored and shown
    whole, in a column as wide as the longest."""
    data_dir = tmp_path / "data"
    long = "crontab(minute='0,15,30,45', hour='8-18', day_of_week='mon-fri', month_of_year='jan-nov')"
    assert len(long) > 32
    assert run(data_dir, "rules", "schedule", "ssh_bruteforce", long).exit_code == 0
    assert registry_for(data_dir).get("ssh_bruteforce").schedule.text == long
    table = run(data_dir, "rules", "list")
    assert table.exit_code == 0, table.output
    header, *lines = table.stdout.splitlines()
    column = header.index("SCHEDULE")
    assert header.index("LAST RUN") > column + len(long)
    rows = {line.split()[0]: line for line in lines[:-1]}
    assert rows["ssh_bruteforce"][column:].startswith(long + "  ")
    assert rows["ssh_from_outside"][column:].startswith("5m ")


def test_the_scheduler_runs_a_cron_rule_only_once_a_fire_time_has_passed(data_dir):
    without_builtins(data_dir)
    registry = registry_for(data_dir)
    registry.add_mozdef(ALERTS / "bruteforce_ssh.py", schedule="*/10 * * * *")
    store = TantivyEventStore(data_dir / "events")
    scheduler = RuleScheduler(registry, store, AlertStore(registry.engine))

    def ran(*when: int) -> list[str] | None:
        report = scheduler.run_once(datetime(2024, 2, 5, *when, tzinfo=UTC))
        return None if report is None else [r.line() for r in report.results]

    assert ran(17, 32) == ["bruteforce_ssh: 1 alerts"]  # never run: due at once
    assert ran(17, 39, 59) is None
    assert ran(17, 40) == ["bruteforce_ssh: 0 alerts"]  # 17:40 has come: on the clock, not 10 min later
    assert ran(17, 40, 30) is None
    assert ran(17, 49, 59) is None
    assert ran(17, 55) == ["bruteforce_ssh: 0 alerts"]  # 17:50 passed while the server was away
    assert ran(17, 59, 59) is None
    assert ran(18, 0) == ["bruteforce_ssh: 0 alerts"]  # five minutes after the last run
    assert registry.get("bruteforce_ssh").last_run == datetime(2024, 2, 5, 18, tzinfo=UTC)
    assert len(AlertStore(registry.engine).list()) == 1


@pytest.mark.parametrize(
    ("spec", "minutes"),
    [
        ("crontab(minute='5-50/15')", [5, 20, 35, 50, 60]),  # Celery's range with a step: 5, 20, 35, 50
        ("5,20,35,50 * * * *", [5, 20, 35, 50, 60]),
        ("15m", [15, 30, 45, 60]),  # an interval steps from --since
    ],
)
def test_run_since_steps_through_the_fire_times(data_dir, spec, minutes):
    """A dead-man rule (15-minute window, no heartbeats stored) alerts at every step: the alerts' times
    are the moments the catch-up ran at, the schedule's fire times and then --now."""
    without_builtins(data_dir)
    added = run(data_dir, "rules", "add", "--mozdef", ALERTS / "deadman_heartbeat.py", "--schedule", spec)
    assert added.exit_code == 0, added.output
    result = run(data_dir, "rules", "run", "--since", "2024-02-05T17:00:00Z", "--now", "2024-02-05T18:00:00Z")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"deadman_heartbeat: {len(minutes)} alerts"]
    start = datetime(2024, 2, 5, 17, tzinfo=UTC)
    times = sorted(
        datetime.fromisoformat(a["utctimestamp"]) for a in AlertStore(registry_for(data_dir).engine).list()
    )
    assert times == [start + timedelta(minutes=m) for m in minutes]


def test_add_with_a_schedule(tmp_path):
    data_dir = tmp_path / "data"
    added = run(data_dir, "rules", "add", "--mozdef", ALERTS / "bruteforce_ssh.py", "--schedule", "@hourly")
    assert added.exit_code == 0, added.output
    assert added.stdout.strip().endswith("schedule @hourly")
    assert listed(data_dir)["bruteforce_ssh"]["schedule"] == "@hourly"
    default = run(data_dir, "rules", "add", "--mozdef", ALERTS / "cloudtrail_logging_disabled.py")
    assert default.stdout.strip().endswith("schedule 5m (the default)")


def test_add_with_a_bad_schedule_registers_and_copies_nothing(tmp_path):
    data_dir = tmp_path / "data"
    bad = run(data_dir, "rules", "add", "--mozdef", ALERTS / "bruteforce_ssh.py", "--schedule", "0 0 30 2 *")
    assert bad.exit_code == 2
    assert bad.stderr == "reynard: schedule '0 0 30 2 *': it never fires (no date matches it)\n"
    assert "bruteforce_ssh" not in listed(data_dir)
    assert not (data_dir / "rules" / "bruteforce_ssh.py").exists()


def test_a_schedule_edited_by_hand_in_the_database_names_its_rule(tmp_path):
    from sqlalchemy import update

    from reynard.state.tables import rules

    data_dir = tmp_path / "data"
    registry = registry_for(data_dir)
    registry.ensure_builtins()
    with registry.engine.begin() as connection:
        connection.execute(update(rules).where(rules.c.name == "ssh_bruteforce").values(schedule="often"))
    result = run(data_dir, "rules", "list")
    assert result.exit_code == 2
    assert result.stderr == "reynard: rule ssh_bruteforce: schedule 'often': not an interval" + (
        " (30s, 5m, 1h, 1d), a 5-field cron expression (*/5 * * * *), crontab(...) or timedelta(...)\n"
    )


def test_received_time_windows_for_alerts_on_late_events(tmp_path):
    """MozDef's windows also held events *received* in them; an alert on late events needs that, so
    `rules add --received-time-windows` gives it to one rule."""
    from reynard.events.event import finalize
    from reynard.events.timestamps import isoformat

    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir)
    now = datetime.now(UTC)
    late = [
        finalize(
            {
                "id": f"late-{i}",
                "summary": f"late {i}",
                "hostname": "web-1",
                "utctimestamp": isoformat(now - timedelta(days=3)),
            },
            received=isoformat(now),
        )
        for i in range(2)
    ]
    store = TantivyEventStore(settings.events_dir, writable=True)
    try:
        assert store.write(late, commit=True).stored == 2
    finally:
        store.close()
    without_builtins(data_dir)
    assert run(data_dir, "rules", "add", "--mozdef", ALERTS / "late_events.py").exit_code == 0
    assert run(data_dir, "rules", "run").stdout == "late_events: 0 alerts\n"  # event time: 3 days ago

    added = run(data_dir, "rules", "add", "--mozdef", ALERTS / "late_events.py", "--received-time-windows")
    assert added.exit_code == 0 and "windows by received time too" in added.stdout
    assert run(data_dir, "rules", "run").stdout == "late_events: 1 alerts\n"
    (alert,) = AlertStore(registry_for(data_dir).engine).list()
    assert alert["summary"] == "2 late events from web-1"
