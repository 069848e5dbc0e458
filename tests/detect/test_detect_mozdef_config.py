"""MozDef's alerts/lib/config.py as the source of a rule's schedule: `reynard rules add --mozdef FILE
--mozdef-config CONFIG.py`, and `config_schedule` reading the file without running it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from paths import ALERTS
from reynard.cli import main
from reynard.detect.errors import RuleError
from reynard.detect.mozdef_config import config_schedule
from reynard.detect.schedule import parse_schedule

# Our own configuration, in the shape of MozDef's alerts/lib/config.py. Running it would fail at once.
CONFIG = """\
from celery.schedules import crontab, timedelta
import os

raise RuntimeError("a configuration is read, never executed")

ALERTS = {
    # 'pythonfile.pythonclass': {'schedule': crontab(minute='*/10')},
    'bruteforce_ssh.AlertBruteforceSsh': {'schedule': crontab(minute='*/2', hour='8-18')},
    'cloudtrail_logging_disabled.AlertCloudtrailLoggingDisabled': {
        'schedule': timedelta(seconds=30, minutes=1),
        'kwargs': dict(trails=['main']),
    },
    'from_the_environment.AlertFromTheEnvironment': {'schedule': crontab(minute=os.getenv('MINUTE'))},
    'two_classes.AlertOne': {'schedule': crontab(minute='*/5')},
    'two_classes.AlertTwo': {'schedule': timedelta(minutes=10)},
    'same_twice.AlertOne': {'schedule': crontab(minute='*/5')},
    'same_twice.AlertTwo': {'schedule': crontab(minute = "*/5")},
    'no_schedule.AlertNoSchedule': {'kwargs': {}},
}

RABBITMQ = {'mqserver': os.getenv('MQSERVER', 'localhost'), 'mqport': 5672}
"""


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "config.py"
    path.write_text(CONFIG)
    return path


def line_of(text: str) -> int:
    return next(n for n, line in enumerate(CONFIG.splitlines(), 1) if text in line)


def run(data_dir: Path, *args):
    return CliRunner().invoke(main, ["--data-dir", str(data_dir), *map(str, args)], catch_exceptions=False)


def schedules(data_dir: Path) -> dict[str, str]:
    result = run(data_dir, "rules", "list", "--format", "json")
    return {row["name"]: row["schedule"] for row in map(json.loads, result.stdout.splitlines())}


# -- the command -----------------------------------------------------------------------------------------
BRUTEFORCE = "bruteforce_ssh.AlertBruteforceSsh"
CLOUDTRAIL = "cloudtrail_logging_disabled.AlertCloudtrailLoggingDisabled"


@pytest.mark.parametrize(
    ("alert_file", "key", "written", "schedule"),
    [
        (
            "bruteforce_ssh.py",
            BRUTEFORCE,
            "crontab(minute='*/2', hour='8-18')",
            "crontab(minute='*/2', hour='8-18')",
        ),
        ("cloudtrail_logging_disabled.py", CLOUDTRAIL, "timedelta(seconds=30, minutes=1)", "90s"),
    ],
)
def test_add_takes_the_schedule_of_its_module(tmp_path, config, alert_file, key, written, schedule):
    """The line given is the schedule's own."""
    data_dir = tmp_path / "data"
    result = run(data_dir, "rules", "add", "--mozdef", ALERTS / alert_file, "--mozdef-config", config)
    assert result.exit_code == 0, result.output
    name = Path(alert_file).stem
    assert result.stdout.strip().endswith(f"schedule {schedule} (from {config}:{line_of(written)}, {key})")
    assert schedules(data_dir)[name] == schedule


def test_a_module_the_config_does_not_name_keeps_the_default_and_says_so(tmp_path, config):
    data_dir = tmp_path / "data"
    result = run(
        data_dir, "rules", "add", "--mozdef", ALERTS / "deadman_heartbeat.py", "--mozdef-config", config
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(
        f"schedule 5m (the default: {config} has no ALERTS entry for module 'deadman_heartbeat')"
    )
    assert schedules(data_dir)["deadman_heartbeat"] == "5m"


def test_a_config_that_is_not_python_is_one_error_naming_the_file_and_line(tmp_path):
    data_dir = tmp_path / "data"
    broken = tmp_path / "config.py"
    broken.write_text(
        "ALERTS = {'bruteforce_ssh.A': {'schedule': crontab(minute='*/1')}}\n\nif True\n    pass\n"
    )
    result = run(
        data_dir, "rules", "add", "--mozdef", ALERTS / "bruteforce_ssh.py", "--mozdef-config", broken
    )
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line == f"reynard: {broken}:3: not valid Python: expected ':'"
    assert "Traceback" not in result.output
    assert "bruteforce_ssh" not in schedules(data_dir)
    assert not (data_dir / "rules" / "bruteforce_ssh.py").exists()


def test_schedule_and_config_together_are_a_usage_error(tmp_path, config):
    data_dir = tmp_path / "data"
    result = run(
        data_dir,
        "rules",
        "add",
        "--mozdef",
        ALERTS / "bruteforce_ssh.py",
        "--schedule",
        "1m",
        "--mozdef-config",
        config,
    )
    assert result.exit_code == 2
    assert "give --schedule or --mozdef-config, not both" in result.output


# -- reading the file ------------------------------------------------------------------------------------
def test_entries_are_read_without_running_the_file(config):
    found = config_schedule(config, "bruteforce_ssh")
    assert found is not None
    assert found.key == "bruteforce_ssh.AlertBruteforceSsh"
    assert found.schedule == parse_schedule("crontab(hour='8-18', minute='*/2')")
    assert found.line == line_of("bruteforce_ssh.AlertBruteforceSsh")
    assert config_schedule(config, "ssh") is None  # a module's whole name, not a part of it
    assert config_schedule(config, "AlertBruteforceSsh") is None


def test_classes_of_one_module_on_the_same_schedule_are_one_schedule(config):
    found = config_schedule(config, "same_twice")
    assert found is not None and found.key == "same_twice.AlertOne"


@pytest.mark.parametrize(
    ("module", "where", "message"),
    [
        (
            "from_the_environment",
            "from_the_environment.AlertFromTheEnvironment",
            "ALERTS['from_the_environment.AlertFromTheEnvironment']: "
            "schedule \"crontab(minute=os.getenv('MINUTE'))\": minute= is not a literal",
        ),
        (
            "no_schedule",
            "no_schedule.AlertNoSchedule",
            "ALERTS['no_schedule.AlertNoSchedule'] is not a {'schedule'",
        ),
    ],
)
def test_an_entry_that_cannot_be_read_names_its_line(config, module, where, message):
    with pytest.raises(RuleError) as raised:
        config_schedule(config, module)
    assert str(raised.value).startswith(f"{config}:{line_of(where)}: {message}")


def test_classes_of_one_module_on_different_schedules_are_an_error(config):
    with pytest.raises(RuleError) as raised:
        config_schedule(config, "two_classes")
    text = str(raised.value)
    assert text.startswith(f"{config}: the alerts of two_classes have different schedules: ")
    assert f"two_classes.AlertOne crontab(minute='*/5') (line {line_of('two_classes.AlertOne')})" in text
    assert f"two_classes.AlertTwo 10m (line {line_of('two_classes.AlertTwo')})" in text
    assert text.endswith("choose one with --schedule")


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("import os\n\nRABBITMQ = {}\n", "", "no ALERTS = {...}"),
        ("import os\n\nALERTS = build_alerts()\n", ":3", "ALERTS is not a {...} dict literal"),
        (
            "ALERTS = {\n    NAME: {'schedule': crontab()},\n}\n",
            ":2",
            "an ALERTS key is not a 'module.ClassName'",
        ),
        ("ALERTS = {\n  'a.B': {'schedule': crontab(\n", ":2", "not valid Python: "),
        ("ALERTS = {'bruteforce_ssh.A': {'schedule': crontab(minute='*/1')}}\nALERTS = {}\n", "", None),
    ],
)
def test_the_alerts_dict_must_be_a_literal(tmp_path, text, where, message):
    path = tmp_path / "config.py"
    path.write_text(text)
    if message is None:  # the last assignment is the one MozDef would have seen
        assert config_schedule(path, "bruteforce_ssh") is None
        return
    with pytest.raises(RuleError) as raised:
        config_schedule(path, "bruteforce_ssh")
    assert str(raised.value).startswith(f"{path}{where}: {message}")
