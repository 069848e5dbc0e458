"""The `indicator_match` rule on events made by the real parsers and plugins (VPC flows, CloudTrail),
streamed by `reynard ingest`, and the retro-hunt for indicators added after the events came in."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from reynard.cli import main
from reynard.detect import MemorySource, RuleError
from reynard.detect.rules import BUILTIN_RULES
from reynard.detect.streaming import classify
from reynard.events.event import finalize, stable_id
from reynard.ingest.reader import open_bytes
from reynard.ingest.sources import SOURCES
from reynard.ingest.sources.base import ReadOptions
from reynard.intel.store import IndicatorStore, NewIndicator
from reynard.runtime import Runtime
from reynard.settings import Settings
from reynard.state import open_state

NOW = datetime.now(UTC).replace(microsecond=0)
STOLEN = "cloudtrail/stratus/aws.credential-access.ec2-steal-instance-credentials.json"


def flow(src: str, dst: str, dport: int = 443, action: str = "ACCEPT") -> bytes:
    start = int(NOW.timestamp()) - 120
    return (
        f"2 123456789010 eni-0f1e2d3c4b5a69788 {src} {dst} 49152 {dport} 6 20 4249 "
        f"{start} {start + 60} {action} OK\n"
    ).encode()


def ingest(settings: Settings, data: bytes, source: str) -> list[dict]:
    pipeline = Runtime(settings).pipeline
    events = []
    for item in SOURCES[source].read(open_bytes(data, "test"), ReadOptions(reference_time=NOW)):
        draft = item.draft
        draft["id"] = stable_id(item.source, item.key)
        events.append(finalize(pipeline.run(draft), received=NOW.isoformat()))
    return events


def run(events: list[dict], config: dict | None = None, now: datetime = NOW) -> list[dict]:
    return BUILTIN_RULES["indicator_match"](MemorySource(events), config=config).run(now=now)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", rules_reload_seconds=0)


@pytest.fixture
def store(settings) -> IndicatorStore:
    return IndicatorStore(open_state(settings.state_url))


def test_a_flow_to_a_listed_address_alerts_once_per_event(settings, store):
    store.add(NewIndicator("203.0.113.0/24", source="threat-feed"), by="tests")
    data = (
        flow("10.0.3.17", "203.0.113.50")
        + flow("10.0.3.17", "198.51.100.20")
        + flow("10.0.3.18", "203.0.113.7")
    )
    alerts = run(ingest(settings, data, "vpcflow"))
    assert sorted(a["summary"] for a in alerts) == [
        "Indicator match: ip 203.0.113.0/24 (threat-feed) in 10.0.3.17:49152 -> 203.0.113.50:443 tcp ACCEPT "
        "20 packets 4249 bytes",
        "Indicator match: ip 203.0.113.0/24 (threat-feed) in 10.0.3.18:49152 -> 203.0.113.7:443 tcp ACCEPT "
        "20 packets 4249 bytes",
    ]
    alert = alerts[0]
    assert (alert["severity"], alert["category"]) == ("WARNING", "indicator")
    assert alert["tags"] == ["ioc", "ip", "vpcflow"]
    assert len(alert["events"]) == 1


def test_no_indicator_no_alert(settings, store):
    store.add(NewIndicator("192.0.2.1"), by="tests")
    data = flow("10.0.3.17", "203.0.113.50") + flow("10.0.3.17", "198.51.100.20", action="REJECT")
    assert run(ingest(settings, data, "vpcflow")) == []


def test_stolen_credentials_in_cloudtrail(settings, store, shared_data):
    store.add(NewIndicator("ASIAP5CT9NN8EYVU1FXV", source="incident-12"), by="tests")
    events = ingest(settings, (shared_data / STOLEN).read_bytes(), "cloudtrail")
    # Built-in rules' windows are in event time: run as of the end of the recorded attack.
    alerts = run(events, now=max(datetime.fromisoformat(e["utctimestamp"]) for e in events))
    assert len(alerts) == 2
    assert all(
        a["summary"].startswith(
            "Indicator match: access_key ASIAP5CT9NN8EYVU1FXV (incident-12) in 18.236.253.47"
        )
        for a in alerts
    )


def test_config_severity_and_kinds(settings, store):
    store.add(NewIndicator("203.0.113.50"), by="tests")
    store.add(NewIndicator("eni", kind="term"), by="tests")
    events = ingest(settings, flow("10.0.3.17", "203.0.113.50"), "vpcflow")
    [alert] = run(events, config={"severity": "CRITICAL"})
    assert alert["severity"] == "CRITICAL" and alert["tags"] == ["ioc", "ip", "term", "vpcflow"]
    assert run(events, config={"kinds": ["domain"]}) == []
    with pytest.raises(RuleError, match="unknown config key 'severty'"):
        BUILTIN_RULES["indicator_match"](MemorySource([]), config={"severty": "INFO"})


def test_the_rule_is_streamed():
    task = BUILTIN_RULES["indicator_match"]()
    assert classify(task) is not None  # one search and walkEvents: the streaming matcher evaluates it


def cli(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def alerts_of(data) -> list[dict]:
    out = cli(
        "alerts", "list", "--data-dir", str(data), "--since", "2000-01-01T00:00:00Z", "--format", "json"
    )
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def test_reynard_ingest_tags_stores_and_alerts(tmp_path, shared_data):
    data = tmp_path / "data"
    flows = tmp_path / "flows.log"
    flows.write_bytes(flow("10.0.3.17", "203.0.113.50") + flow("10.0.3.17", "198.51.100.20"))
    assert cli("ioc", "add", "203.0.113.50", "--source", "feed", "--data-dir", str(data)).exit_code == 0
    assert cli("ioc", "add", "ASIAP5CT9NN8EYVU1FXV", "--data-dir", str(data)).exit_code == 0
    assert cli("ingest", "--data-dir", str(data), str(flows), str(shared_data / STOLEN)).exit_code == 0
    found = cli("search", "tags:ioc", "--data-dir", str(data), "--format", "json")
    events = json.loads(found.stdout)["events"]
    assert len(events) == 3
    assert {h["value"] for e in events for h in e["details"]["iocs"]} == {
        "203.0.113.50",
        "ASIAP5CT9NN8EYVU1FXV",
    }
    by_value = cli("search", "details.iocs.value:203.0.113.50", "--data-dir", str(data), "--count")
    assert by_value.stdout.strip() == "1"
    alerts = [a for a in alerts_of(data) if a["rule"] == "indicator_match"]
    assert len(alerts) == 3


def test_hunt_finds_stored_events_for_indicators_added_later(tmp_path, shared_data):
    data = tmp_path / "data"
    flows = tmp_path / "flows.log"
    flows.write_bytes(flow("10.0.3.17", "203.0.113.50") + flow("10.0.3.17", "198.51.100.20"))
    assert cli("ingest", "--data-dir", str(data), str(flows), str(shared_data / STOLEN)).exit_code == 0
    assert cli("search", "tags:ioc", "--data-dir", str(data), "--count").stdout.strip() == "0"
    cli("ioc", "add", "203.0.113.0/24", "--data-dir", str(data))
    cli(
        "ioc",
        "add",
        "arn:aws:iam::017622104382:role/stratus-red-team-ec2-steal-credentials-role",
        "--data-dir",
        str(data),
    )
    hunted = cli("ioc", "hunt", "--since", "3000d", "--format", "json", "--data-dir", str(data))
    rows = [json.loads(line) for line in hunted.stdout.splitlines()]
    assert len(rows) == 3
    assert {h["kind"] for r in rows for h in r["iocs"]} == {"ip", "principal"}
    assert "hunted 2 indicators: searched 3 events, 3 matched, 0 alerts" in hunted.stderr
    # With --alert, once per event: a second hunt finds the same events and raises nothing new.
    assert (
        "3 matched, 3 alerts"
        in cli("ioc", "hunt", "--since", "3000d", "--alert", "--data-dir", str(data)).stderr
    )
    assert (
        "3 matched, 0 alerts"
        in cli("ioc", "hunt", "--since", "3000d", "--alert", "--data-dir", str(data)).stderr
    )
    summaries = sorted(a["summary"] for a in alerts_of(data) if a["rule"] == "indicator_match")
    assert summaries[0].startswith(
        "Indicator match: ip 203.0.113.0/24 in 10.0.3.17:49152 -> 203.0.113.50:443"
    )
    # Events outside the range are not searched.
    recent = cli("ioc", "hunt", "--since", "1h", "--data-dir", str(data))
    assert "searched 1 events, 1 matched" in recent.stderr


def test_the_hunts_narrowing_query_keeps_every_event_the_matcher_matches(settings, store, shared_data):
    from reynard.intel.hunt import narrowing_query
    from reynard.intel.match import IndicatorSet
    from reynard.query.predicate import matches

    for value, kind in [
        ("203.0.113.0/24", None),
        ("18.236.253.47", None),
        ("AKIAAM80VXLJF8NPK4VC", None),
        ("arn:aws:iam::017622104382:role/stratus-red-team-ec2-steal-credentials-role", None),
        ("Christophe", "principal"),
        ("amazonaws.com", None),
    ]:
        store.add(NewIndicator(value, kind=kind), by="tests")
    events = ingest(settings, (shared_data / STOLEN).read_bytes(), "cloudtrail")
    events += ingest(
        settings, flow("10.0.3.17", "203.0.113.50") + flow("10.0.3.17", "198.51.100.2"), "vpcflow"
    )
    items = store.list()
    query, matcher = narrowing_query(items), IndicatorSet(items)
    for single in items:  # each indicator alone, and all of them together
        one_query, one = narrowing_query([single]), IndicatorSet([single])
        assert all(matches(one_query, e) for e in events if one.match(e)), single.value
    assert sum(1 for e in events if matcher.match(e)) == sum(1 for e in events if matches(query, e)) == 46
