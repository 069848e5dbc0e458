"""The built-in rules (`reynard.detect.rules`), each with events that went through the real ingest path
(source parser, default plugins, finalize): hand-written log lines and records, and the real samples in
../shared/data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reynard.detect import MemorySource, RuleError
from reynard.detect.rules import BUILTIN_RULES
from reynard.events.event import finalize, stable_id
from reynard.ingest.pipeline import Pipeline
from reynard.ingest.plugins import default_plugins
from reynard.ingest.reader import open_bytes
from reynard.ingest.sources import SOURCES
from reynard.ingest.sources.base import ReadOptions
from reynard.settings import Settings

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RECEIVED = "2026-03-02T12:00:00+00:00"


def ingest(
    data: bytes, source: str, options: ReadOptions | None = None, received: str = RECEIVED
) -> list[dict]:
    """Finalized events from raw input, as `reynard ingest` makes them (see ingest/runner.py).

    MozDef's windows hold an event when its `utctimestamp` or its `receivedtimestamp` is inside, so
    events meant to be old are ingested with an old `received`."""
    pipeline = Pipeline(default_plugins(Settings()))
    events = []
    for item in SOURCES[source].read(open_bytes(data, "test"), options or ReadOptions(reference_time=NOW)):
        assert not hasattr(item, "reason"), item
        draft = item.draft
        draft["id"] = stable_id(item.source, item.key)
        event = pipeline.run(draft)
        if event is not None:
            finalize(event, received=received)
            events.append(event)
    return events


def ingest_files(paths: list[Path], source: str, options: ReadOptions | None = None) -> list[dict]:
    return [event for path in sorted(paths) for event in ingest(path.read_bytes(), source, options)]


def run(name: str, events: list[dict], now: datetime = NOW, config: dict | None = None) -> list[dict]:
    return BUILTIN_RULES[name](MemorySource(events), config=config).run(now=now)


def epoch(dt: datetime) -> int:
    return int(dt.timestamp())


def test_registry_names_classes():
    assert "ssh_from_outside" in BUILTIN_RULES
    for cls in BUILTIN_RULES.values():
        assert cls.__doc__ or __import__(cls.__module__).__doc__


def test_unknown_config_key_is_refused():
    with pytest.raises(RuleError, match="unknown config key 'treshold'"):
        BUILTIN_RULES["ssh_from_outside"](MemorySource([]), config={"treshold": 3})


# -- ssh_from_outside -------------------------------------------------------------------------------------
def flow(src: str, dst: str, dport: int, action: str = "ACCEPT", minutes_ago: int = 3) -> bytes:
    start = epoch(NOW - timedelta(minutes=minutes_ago))
    return (
        f"2 123456789010 eni-0a1b2c3d4e5f67890 {src} {dst} 49152 {dport} 6 20 4249 "
        f"{start - 60} {start} {action} OK\n"
    ).encode()


def test_ssh_from_outside_one_alert_per_source():
    data = b"".join(
        [
            flow("198.51.100.7", "10.0.1.5", 22),
            flow("198.51.100.7", "10.0.1.6", 22, minutes_ago=5),
            flow("203.0.113.9", "10.0.1.5", 22),
        ]
    )
    alerts = run("ssh_from_outside", ingest(data, "vpcflow"))
    assert sorted(a["summary"] for a in alerts) == [
        "SSH from outside: 198.51.100.7 reached SSH on 10.0.1.5, 10.0.1.6 (2 accepted flows)",
        "SSH from outside: 203.0.113.9 reached SSH on 10.0.1.5 (1 accepted flows)",
    ]
    assert {a["severity"] for a in alerts} == {"WARNING"}
    assert len(alerts[0]["events"]) == 2


def test_ssh_from_outside_ignores_internal_rejected_other_ports_and_old_flows():
    data = b"".join(
        [
            flow("10.0.2.9", "10.0.1.5", 22),  # internal
            flow("172.16.4.4", "10.0.1.5", 22),  # internal
            flow("198.51.100.7", "10.0.1.5", 22, action="REJECT"),  # blocked
            flow("198.51.100.7", "10.0.1.5", 443),  # not ssh
            b"2 123456789010 eni-0a1b2c3d4e5f67890 - - - - - - - 1431280876 1431280934 - NODATA\n",
        ]
    )
    events = ingest(data, "vpcflow")
    old = flow("198.51.100.8", "10.0.1.5", 22, minutes_ago=40)  # before the window
    events += ingest(old, "vpcflow", received=(NOW - timedelta(minutes=39)).isoformat())
    assert len(events) == 6
    assert run("ssh_from_outside", events) == []


def test_ssh_from_outside_config():
    data = flow("198.51.100.7", "10.0.1.5", 2222) + flow("198.51.100.8", "10.0.1.5", 22)
    alerts = run(
        "ssh_from_outside",
        ingest(data, "vpcflow"),
        config={"ports": [2222], "internal_cidrs": ["198.51.100.8/32"]},
    )
    assert [a["summary"].split(" ")[3] for a in alerts] == ["198.51.100.7"]
