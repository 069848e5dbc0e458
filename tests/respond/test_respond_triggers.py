"""Triggers start a playbook once per document: on stored events, on alerts, on GuardDuty findings in
their EventBridge shape (deduplicated on id and updatedAt, samples skipped unless asked for)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reynard.detect.replay import load_events
from reynard.errors import ConfigError
from reynard.respond.triggers import Trigger, TriggerRunner, finding_document, load_triggers
from reynard.settings import IN_CODE, Settings, TriggerSpec, load_settings
from reynard.state import open_state

CRYPTO = {
    "name": "crypto-mining",
    "on": "findings",
    "playbook": "guardduty_crypto_mining",
    "pattern": {
        "source": ["aws.guardduty"],
        "detail-type": ["GuardDuty Finding"],
        "detail": {
            "type": ["CryptoCurrency:EC2/BitcoinTool.B!DNS"],
            "resource": {"resourceType": ["Instance"]},
            "severity": [{"numeric": [">=", 7]}],
        },
    },
}


def finding_file(tmp_path: Path, shared_data: Path, name: str, **changes) -> Path:
    """The shared GuardDuty sample (an EventBridge event) as a crypto-mining finding, with changes."""
    event = json.loads((shared_data / "guardduty/guardduty_portprobe_ssh_event.json").read_text())
    detail = event["detail"]
    detail.update(
        {"type": "CryptoCurrency:EC2/BitcoinTool.B!DNS", "severity": 8, **changes.pop("detail", {})}
    )
    event.update(changes)
    path = tmp_path / name
    path.write_text(json.dumps(event))
    return path


def stored(paths: list[Path]) -> list[dict]:
    events, rejected = load_events(Settings(), [str(p) for p in paths], datetime.now(UTC))
    assert not rejected
    return events


class Started:
    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, trigger: Trigger, document: dict) -> str:
        self.calls.append((trigger.name, document))
        return f"exec-{len(self.calls)}"


@pytest.fixture
def engine(tmp_path):
    return open_state(f"sqlite:///{tmp_path / 'state.db'}")


def test_a_finding_starts_the_playbook_once_per_update_with_its_eventbridge_event(
    tmp_path, shared_data, engine
):
    start = Started()
    runner = TriggerRunner([trigger(CRYPTO)], engine, start)
    first = stored([finding_file(tmp_path, shared_data, "a.json")])
    assert runner.on_events(first) == ["exec-1"]
    ((name, document),) = start.calls
    assert name == "crypto-mining"
    assert document["detail-type"] == "GuardDuty Finding"  # keys in GuardDuty's own case
    assert document["detail"]["resource"]["instanceDetails"]["instanceId"] == "i-036cb01d26bb09166"
    assert runner.on_events(first) == []  # the same finding again
    updated = stored(
        [finding_file(tmp_path, shared_data, "b.json", detail={"updatedAt": "2018-01-08T02:00:00Z"})]
    )
    assert runner.on_events(updated) == ["exec-2"]
    assert [f["execution"] for f in runner.firings()] == ["exec-1", "exec-2"]


def test_other_findings_and_samples_do_not_start_it(tmp_path, shared_data, engine):
    start = Started()
    runner = TriggerRunner([trigger(CRYPTO)], engine, start)
    low = finding_file(tmp_path, shared_data, "low.json", detail={"severity": 5, "id": "low"})
    other = finding_file(
        tmp_path, shared_data, "other.json", detail={"type": "Recon:EC2/PortProbeUnprotectedPort", "id": "o"}
    )
    sample_info = {"service": {"additionalInfo": {"sample": True}, "count": 1}, "id": "sample"}
    sample = finding_file(tmp_path, shared_data, "sample.json", detail=sample_info)
    assert runner.on_events(stored([low, other, sample])) == []
    with_samples = TriggerRunner([trigger({**CRYPTO, "include_samples": True})], engine, start)
    assert with_samples.on_events(stored([sample])) == ["exec-1"]


def test_events_and_alerts_triggers(tmp_path, engine):
    trail = tmp_path / "trail.json"
    record = {
        "eventVersion": "1.08",
        "eventTime": "2026-11-20T10:04:00Z",
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": "StopLogging",
        "eventID": "0f3a-stop",
        "sourceIPAddress": "203.0.113.50",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory"},
        "requestParameters": {"name": "org-trail"},
    }
    trail.write_text(json.dumps({"Records": [record]}))
    start = Started()
    events_trigger = {
        "name": "stop",
        "on": "events",
        "playbook": "p",
        "pattern": {"details": {"eventname": ["StopLogging"]}},
    }
    alerts_trigger = {
        "name": "critical",
        "on": "alerts",
        "playbook": "p",
        "pattern": {"severity": ["CRITICAL"]},
    }
    runner = TriggerRunner([trigger(events_trigger), trigger(alerts_trigger)], engine, start)
    assert runner.on_events(stored([trail])) == ["exec-1"]
    assert runner.on_alert(7, {"severity": "CRITICAL", "summary": "x"}) == ["exec-2"]
    assert runner.on_alert(7, {"severity": "CRITICAL", "summary": "x"}) == []
    assert runner.on_alert(8, {"severity": "NOTICE"}) == []
    assert start.calls[1][1]["id"] == 7


def test_a_playbook_that_cannot_start_is_recorded_and_the_others_go_on(tmp_path, shared_data, engine):
    def broken(trigger, document):
        raise RuntimeError("no such playbook")

    runner = TriggerRunner([trigger(CRYPTO)], engine, broken)
    assert runner.on_events(stored([finding_file(tmp_path, shared_data, "a.json")])) == []
    (firing,) = runner.firings()
    assert firing["execution"] is None and firing["error"] == "RuntimeError: no such playbook"


def trigger(table: dict) -> Trigger:
    return Trigger.from_spec(TriggerSpec.parse(table, IN_CODE.at("triggers", 0)))


def settings_file(tmp_path: Path, text: str) -> Settings:
    config = tmp_path / "reynard.toml"
    config.write_text(text)
    return load_settings(config, env={})


CRYPTO_TOML = """\
[[triggers]]
name = "crypto-mining"
on = "findings"
playbook = "guardduty_crypto_mining"
[triggers.pattern]
source = ["aws.guardduty"]
detail-type = ["GuardDuty Finding"]
[triggers.pattern.detail]
type = ["CryptoCurrency:EC2/BitcoinTool.B!DNS"]
resource = { resourceType = ["Instance"] }
severity = [{ numeric = [">=", 7] }]
"""


def test_triggers_from_settings_and_files(tmp_path):
    folder = tmp_path / "triggers"
    folder.mkdir()
    (folder / "stop.json").write_text(json.dumps({**CRYPTO, "name": "file-one"}))
    settings = settings_file(tmp_path, CRYPTO_TOML)
    found = load_triggers(settings, folder)
    assert [t.name for t in found] == ["crypto-mining", "file-one"]
    assert found[0].pattern.source == found[1].pattern.source == CRYPTO["pattern"]
    assert load_triggers(Settings(), folder)[0].name == "file-one"


def test_a_pattern_eventbridge_would_refuse_is_reported_at_its_line(tmp_path):
    # The settings check a trigger's keys when loaded; its pattern is compiled here, and points back.
    settings = settings_file(tmp_path, CRYPTO_TOML.replace('numeric = [">="', 'numeric = [">>"'))
    with pytest.raises(ConfigError) as caught:
        load_triggers(settings)
    assert str(caught.value) == (
        f"{tmp_path / 'reynard.toml'}:11: triggers[0]: pattern: detail.severity[0].numeric: "
        "numeric operator '>>' is not one of =, <, <=, >, >="
    )


TRIGGER_FILE = """\
{
  "name": "from-a-file",
  "on": "findings",
  "playbook": "guardduty_crypto_mining",
  "pattern": {
    "source": ["aws.guardduty"],
    "detail": {
      "severity": [{"numeric": [">=", 7]}]
    }
  }
}
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('"on":', '"patern": {},\n  "on":'),
            "bad.json:3: unknown key 'patern'; known: name, on, pattern, playbook, include_samples",
        ),
        (('"findings"', '"logs"'), "bad.json:3: key 'on' must be one of events, alerts, findings, not 'logs"),
        (('"name": "from-a-file",', ""), "bad.json:1: missing key 'name'"),
        (('">="', '">>"'), "bad.json:8: pattern: detail.severity[0].numeric: numeric operator '>>' is not"),
        (('["aws.guardduty"]', '"aws.guardduty"'), "bad.json:6: pattern: source: a field's conditions are"),
        (('"findings",', '"findings"'), "bad.json:4: not a JSON trigger: unexpected character"),
        (('"from-a-file"', '"crypto-mining"'), "bad.json:2: two triggers named 'crypto-mining' (the other: "),
    ],
)
def test_a_bad_trigger_file_is_reported_at_its_line(tmp_path, change: tuple[str, str], message: str):
    folder = tmp_path / "triggers"
    folder.mkdir()
    assert load_triggers(Settings(), folder) == []
    (folder / "bad.json").write_text(TRIGGER_FILE.replace(*change))
    with pytest.raises(ConfigError) as caught:
        load_triggers(settings_file(tmp_path, CRYPTO_TOML), folder)
    assert str(caught.value).startswith(f"{folder}/{message}"), str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_trigger_file_that_is_not_a_table_is_refused(tmp_path):
    folder = tmp_path / "triggers"
    folder.mkdir()
    (folder / "list.json").write_text(json.dumps([CRYPTO]))
    with pytest.raises(ConfigError, match=r"list\.json:1: must be a table, not an array$"):
        load_triggers(Settings(), folder)


def test_finding_document_of_other_events_is_none():
    assert finding_document({"source": "cloudtrail", "original": "{}"}) is None
    assert finding_document({"source": "guardduty"}) is None


# -- in the server -----------------------------------------------------------------------------------------
def test_the_server_starts_the_playbook_of_a_posted_finding(tmp_path, shared_data):
    """A trigger file and a playbook in the data directory; a GuardDuty finding posted to the server runs
    the playbook with the finding's EventBridge event as input, once."""
    import time

    from click.testing import CliRunner

    from helpers import Server
    from reynard.cli import main

    data_dir = tmp_path / "data"
    playbook = tmp_path / "crypto_triage.asl.json"
    playbook.write_text(
        json.dumps(
            {
                "StartAt": "Pick",
                "States": {
                    "Pick": {
                        "Type": "Pass",
                        "Parameters": {
                            "instance.$": "$.detail.resource.instanceDetails.instanceId",
                            "type.$": "$.detail.type",
                        },
                        "End": True,
                    }
                },
            }
        )
    )
    added = CliRunner().invoke(main, ["--data-dir", str(data_dir), "playbook", "add", str(playbook)])
    assert added.exit_code == 0, added.output
    (data_dir / "triggers").mkdir()
    (data_dir / "triggers" / "crypto.json").write_text(json.dumps({**CRYPTO, "playbook": "crypto_triage"}))
    server = Server(data_dir).start()
    try:
        body = finding_file(tmp_path, shared_data, "finding.json").read_bytes()
        assert server.post(f"{server.url}/events", content=body).json()["stored"] == 1
        deadline, executions = time.monotonic() + 10, []
        while time.monotonic() < deadline and not (executions and executions[0]["status"] == "SUCCEEDED"):
            executions = server.get(f"{server.url}/api/executions").json()["executions"]
            time.sleep(0.05)
        (execution,) = executions
        assert execution["playbook"] == "crypto_triage" and execution["status"] == "SUCCEEDED"
        assert execution["startedBy"] == "trigger:crypto-mining"  # which trigger started it
        assert execution["output"] == {
            "instance": "i-036cb01d26bb09166",
            "type": CRYPTO["pattern"]["detail"]["type"][0],
        }
        server.post(f"{server.url}/events", content=body)  # the same finding again: a duplicate
        time.sleep(0.5)
        assert server.get(f"{server.url}/api/executions").json()["count"] == 1
    finally:
        server.stop()
