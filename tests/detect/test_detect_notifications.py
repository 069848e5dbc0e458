"""New alerts go to the notifiers of the settings file; every delivery is recorded."""

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from loopback import Recorder, recording
from reynard.cli import main
from reynard.detect.alerts import AlertStore
from reynard.detect.notifications import Notifications
from reynard.settings import load_settings
from reynard.state import open_state

NOW = "2026-11-20T10:05:00Z"
STOP_LOGGING = {
    "eventVersion": "1.08",
    "eventTime": "2026-11-20T10:04:00Z",
    "eventSource": "cloudtrail.amazonaws.com",
    "eventName": "StopLogging",
    "eventType": "AwsApiCall",
    "eventID": "0f3a-stop",
    "sourceIPAddress": "203.0.113.50",
    "userIdentity": {
        "type": "IAMUser",
        "arn": "arn:aws:iam::123456789012:user/mallory",
        "userName": "mallory",
    },
    "requestParameters": {"name": "org-trail"},
}


@pytest.fixture
def hook() -> Iterator[Recorder]:
    with recording() as server:
        yield server


def test_new_alerts_notify_the_configured_webhook_and_each_delivery_is_recorded(tmp_path, hook):
    url = hook.url()
    config = tmp_path / "reynard.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        f'[[notifiers]]\ntype = "webhook"\nurl = "{url}"\n'
        '[[notifiers]]\ntype = "webhook"\nurl = "http://127.0.0.1:9/nobody-listens"\ntimeout = 0.5\n'
    )
    trail = tmp_path / "trail.ndjson"
    trail.write_text(json.dumps(STOP_LOGGING) + "\n")
    runner = CliRunner()
    # Ingest streams the event through the simple rules: the alert is raised and sent at once.
    assert runner.invoke(main, ["--config", str(config), "ingest", str(trail)]).exit_code == 0
    assert len(hook.requests) == 1
    # A scheduled pass over the same events finds nothing new, so nothing is sent twice.
    result = runner.invoke(
        main, ["--config", str(config), "rules", "run", "--rule", "cloudtrail_logging_stopped", "--now", NOW]
    )
    assert result.exit_code == 0, result.output
    assert "cloudtrail_logging_stopped: 0 alerts" in result.stdout

    [sent] = hook.bodies
    assert sent["severity"] == "CRITICAL" and "org-trail" in sent["summary"] and sent["id"]
    settings = load_settings(config)
    notifications = Notifications.from_settings(settings, open_state(settings.state_url))
    recorded = notifications.recorded(sent["id"])
    assert len(recorded) == 2 and (recorded[0]["ok"], recorded[0]["attempts"]) == (True, 1)
    assert recorded[1]["ok"] is False and "nobody-listens" in recorded[1]["error"]


def test_without_notifiers_alerts_are_stored_and_nothing_is_sent(tmp_path):
    engine = open_state(f"sqlite:///{tmp_path / 'state.db'}")
    store = AlertStore(engine, notify=Notifications(engine, []))
    alert_id = store.add({"summary": "x", "severity": "INFO", "events": []}, "rule")
    assert store.get(alert_id)["summary"] == "x"
    assert Notifications(engine, []).recorded(alert_id) == []


def test_a_bad_notifier_entry_names_itself(tmp_path):
    config = tmp_path / "reynard.toml"
    config.write_text('[[notifiers]]\ntype = "pager"\n')
    result = CliRunner().invoke(
        main, ["--config", str(config), "--data-dir", str(tmp_path / "d"), "rules", "run", "--now", NOW]
    )
    assert result.exit_code == 2
    assert result.stderr.strip().endswith(
        f"{config}:2: notifiers[0]: unknown notifier type 'pager'; known: webhook, slack, sns, email"
    )


def test_a_notifier_that_times_out_is_reported_with_the_rule_and_the_others_go_on(tmp_path, hook):
    """A webhook that accepts the connection and never answers: `rules run` says which alert of which
    rule was not delivered and why; the alert is stored, the other notifier still gets it."""
    import socket

    url = hook.url()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts, never reads or answers
    try:
        config = tmp_path / "reynard.toml"
        config.write_text(
            f'data_dir = "{tmp_path / "data"}"\n'
            f'[[notifiers]]\ntype = "webhook"\nurl = "http://127.0.0.1:{silent.getsockname()[1]}/x"\n'
            "timeout = 0.3\n"
            f'[[notifiers]]\ntype = "webhook"\nurl = "{url}"\n'
        )
        trail = tmp_path / "trail.ndjson"
        trail.write_text(json.dumps(STOP_LOGGING) + "\n")
        runner = CliRunner()
        ingested = runner.invoke(main, ["--config", str(config), "ingest", "--no-detect", str(trail)])
        assert ingested.exit_code == 0, ingested.output
        result = runner.invoke(
            main,
            ["--config", str(config), "rules", "run", "--rule", "cloudtrail_logging_stopped", "--now", NOW],
        )
    finally:
        silent.close()
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    assert line.startswith("cloudtrail_logging_stopped: 1 alerts (1 not delivered: alert 1: ")
    assert "timed out" in line
    assert len(hook.requests) == 1
