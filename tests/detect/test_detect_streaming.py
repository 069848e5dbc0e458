"""Streaming evaluation of simple rules: the matcher on its own, and in the server (POST -> alert)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from helpers import Server
from paths import ALERTS
from reynard.detect.alerts import AlertStore
from reynard.detect.alerttask import AlertTask
from reynard.detect.registry import RuleRegistry
from reynard.detect.rules import BUILTIN_RULES
from reynard.detect.scheduler import RuleScheduler
from reynard.detect.sources import StoreSource
from reynard.detect.streaming import LiveMatcher, RecordingSource, StreamingMatcher, streaming_matcher
from reynard.events.event import finalize
from reynard.query.mozdef import QueryStringMatch, SearchQuery, TermMatch
from reynard.settings import Settings
from reynard.state import open_state
from reynard.store.tantivy import TantivyEventStore

RECEIVED = "2026-11-27T10:00:00+00:00"


def stop_logging(i: int, eventname: str = "StopLogging", **details) -> dict:
    event = {
        "id": f"evt-{eventname}-{i}",
        "utctimestamp": RECEIVED,
        "source": "cloudtrail",
        "category": "cloudtrail",
        "summary": f"{eventname} {i}",
        "details": {
            "eventname": eventname,
            "requestparameters": {"name": f"trail-{i}"},
            "useridentity": {"arn": "arn:aws:iam::123456789012:user/mallory"},
            **details,
        },
    }
    return finalize(event, received=RECEIVED, keep_received=True)


@pytest.fixture
def alert_store(tmp_path) -> AlertStore:
    return AlertStore(open_state(f"sqlite:///{tmp_path / 'state.db'}"))


class Exploding(AlertTask):
    def main(self):
        query = SearchQuery(minutes=5)
        query.add_must(TermMatch("source", "cloudtrail"))
        self.filtersManual(query)
        self.searchEventsSimple()
        self.walkEvents()

    def onEvent(self, event):
        raise ValueError("boom")


class Grouping(AlertTask):
    def main(self):
        query = SearchQuery(minutes=5)
        query.add_must(TermMatch("source", "cloudtrail"))
        self.filtersManual(query)
        self.searchEventsAggregated("details.eventname")
        self.walkAggregations(threshold=1)


def test_classification(alert_store):
    matcher = StreamingMatcher(
        {
            "stopped": [BUILTIN_RULES["cloudtrail_logging_stopped"](RecordingSource())],
            "grouping": [Grouping(RecordingSource())],
        },
        alert_store,
    )
    assert [s.rule for s in matcher.streaming] == ["stopped"]
    assert list(matcher.scheduled) == ["grouping"]
    assert matcher.streaming_rules == {"stopped"}


def test_stop_logging_alerts_once(alert_store):
    notified = []
    rule = BUILTIN_RULES["cloudtrail_logging_stopped"]()
    matcher = StreamingMatcher({"cloudtrail_logging_stopped": [rule]}, alert_store, notify=notified.extend)
    event = stop_logging(1)
    (alert_id,) = matcher.match([event, stop_logging(2, "ListBuckets")])
    assert notified == [alert_id]
    stored = alert_store.get(alert_id)
    assert stored["rule"] == "cloudtrail_logging_stopped"
    assert stored["group_key"] == event["id"]
    assert stored["events"][0]["documentid"] == event["id"]
    assert stored["summary"].startswith("CloudTrail logging stopped: StopLogging of trail-1")
    assert stored["utctimestamp"].startswith("2026-11-27T10:00:00")
    assert matcher.match([event]) == []  # the same event again: dedup
    assert matcher.match([stop_logging(3, errorcode="AccessDenied")]) == []  # denied: no alert
    assert matcher.match([stop_logging(4, "DeleteTrail"), stop_logging(4, "DeleteTrail")]) != []
    assert len(alert_store.list()) == 2


def test_raising_task_is_isolated(alert_store):
    rule = BUILTIN_RULES["cloudtrail_logging_stopped"]()
    matcher = StreamingMatcher({"exploding": [Exploding()], "stopped": [rule]}, alert_store)
    assert len(matcher.match([stop_logging(1)])) == 1
    assert matcher.failures["exploding"] == 1
    assert matcher.failures["stopped"] == 0


def test_mozdef_alert_file(alert_store, tmp_path):

    registry = RuleRegistry(alert_store.engine, tmp_path / "rules")
    registry.add_mozdef(ALERTS / "cloudtrail_logging_disabled.py")
    tasks = {"cloudtrail_logging_disabled": registry.tasks("cloudtrail_logging_disabled")}
    matcher = StreamingMatcher(tasks, alert_store)
    assert matcher.streaming_rules == {"cloudtrail_logging_disabled"}
    (alert_id,) = matcher.match([stop_logging(1)])
    assert alert_store.get(alert_id)["summary"] == "Cloudtrail Logging Disabled: trail-1"


def test_scheduler_runs_and_stops(alert_store, tmp_path):
    registry = RuleRegistry(alert_store.engine, tmp_path / "rules")
    registry.ensure_builtins()
    from reynard.detect.sources import MemorySource

    class Store(MemorySource):
        def stream(self, request):
            return self.search(request)

    now = datetime(2026, 11, 27, 10, 5, tzinfo=UTC)
    scheduler = RuleScheduler(
        registry, Store([stop_logging(1)]), alert_store, interval=0.05, skip=lambda: {"ssh_bruteforce"}
    )
    report = scheduler.run_once(now)
    assert "ssh_bruteforce" not in {r.name for r in report.results}
    assert [a["rule"] for a in alert_store.list()] == ["cloudtrail_logging_stopped"]
    # Each rule runs on its own schedule (5 minutes by default): not due a minute later, due after five.
    assert scheduler.run_once(now + timedelta(minutes=1)) is None
    again = scheduler.run_once(now + timedelta(minutes=5))
    assert again is not None and "cloudtrail_logging_stopped" in {r.name for r in again.results}
    scheduler.start()
    time.sleep(0.3)
    scheduler.stop()
    assert scheduler.rounds >= 2
    assert len(alert_store.list()) == 1  # dedup across rounds


class OnEventName(AlertTask):
    """A simple rule on one event name (anchored), or on a query string (not anchored)."""

    def __init__(self, eventname: str, source=None, query: str | None = None):
        super().__init__(source)
        self.eventname, self.query = eventname, query

    def main(self):
        query = SearchQuery(minutes=5)
        query.add_must(
            QueryStringMatch(self.query) if self.query else TermMatch("details.eventname", self.eventname)
        )
        self.filtersManual(query)
        self.searchEventsSimple()
        self.walkEvents()

    def onEvent(self, event):
        return self.createAlertDict(f"{self.eventname} seen", "test", [], [event])


def test_events_run_only_the_rules_filed_under_their_values(alert_store):
    names = [f"Action{i}" for i in range(50)]
    tasks = {f"on-{n}": [OnEventName(n)] for n in names}
    tasks["wild"] = [OnEventName("wild", query="details.eventname:Action1*")]
    matcher = StreamingMatcher(tasks, alert_store)
    assert len(matcher.streaming) == 51
    candidates = {e.rule for e in matcher.index.candidates(stop_logging(1, "Action7"))}
    assert candidates == {"on-Action7", "wild"}
    assert {e.rule for e in matcher.index.candidates(stop_logging(1, "Other"))} == {"wild"}
    # The alerts are the ones evaluating every rule would give.
    events = [stop_logging(i, name) for i, name in enumerate(["Action1", "Action12", "Action7", "None"])]
    created = matcher.match(events)
    assert sorted(alert_store.get(i)["rule"] for i in created) == sorted(
        ["on-Action1", "wild", "on-Action12", "wild", "on-Action7"]
    )


def test_live_matcher_rebuilds_when_the_rules_change(alert_store, tmp_path):

    settings = Settings(data_dir=tmp_path / "data", rules_reload_seconds=0)
    registry = RuleRegistry(alert_store.engine, tmp_path / "rules")
    registry.ensure_builtins()
    source = StoreSource(TantivyEventStore(settings.events_dir))
    live = streaming_matcher(registry, alert_store, source, check_every=settings.rules_reload_seconds)
    assert isinstance(live, LiveMatcher)
    assert "cloudtrail_logging_disabled" not in live.streaming_rules
    assert not live.refresh()  # nothing changed
    registry.add_mozdef(ALERTS / "cloudtrail_logging_disabled.py")
    created = live.match([stop_logging(1)])
    assert live.rebuilds == 1
    assert {alert_store.get(i)["rule"] for i in created} == {
        "cloudtrail_logging_disabled",
        "cloudtrail_logging_stopped",
    }
    registry.disable("cloudtrail_logging_stopped")
    assert [alert_store.get(i)["rule"] for i in live.match([stop_logging(2)])] == [
        "cloudtrail_logging_disabled"
    ]
    assert "cloudtrail_logging_stopped" not in live.streaming_rules


def live_stop_logging(event_id: str) -> dict:
    """A CloudTrail StopLogging record happening now."""
    return {
        "eventVersion": "1.08",
        "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": "StopLogging",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory"},
        "requestParameters": {"name": "audit-trail"},
        "eventID": event_id,
        "recipientAccountId": "123456789012",
    }


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "data").start()
    yield s
    s.stop()


def test_server_alerts_on_posted_cloudtrail_event(server):
    record = live_stop_logging("3f1e2b9c-0000-4000-8000-000000000001")
    started = time.monotonic()
    response = server.post(f"{server.url}/events", content=json.dumps({"Records": [record]}))
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == 1, response.json()
    alerts = []
    while time.monotonic() - started < 5:
        alerts = server.get(f"{server.url}/api/alerts").json()["alerts"]
        if alerts:
            break
        time.sleep(0.01)
    latency = time.monotonic() - started
    print(f"POST -> alert latency: {latency * 1000:.1f} ms")
    assert len(alerts) == 1, "no alert within 5 s"
    assert alerts[0]["rule"] == "cloudtrail_logging_stopped"
    assert "audit-trail" in alerts[0]["summary"]
    assert server.get(f"{server.url}/api/alerts", params={"status": "closed"}).json()["count"] == 0
    assert server.get(f"{server.url}/api/alerts", params={"status": "bogus"}).status_code == 400
    # the same record again is a duplicate: no second alert
    server.post(f"{server.url}/events", content=json.dumps({"Records": [record]}))
    time.sleep(0.3)
    assert server.get(f"{server.url}/api/alerts").json()["count"] == 1


def test_a_rule_added_while_the_server_runs_is_streamed(server):
    """`reynard rules add` in another process: the server streams the new rule without a restart."""

    from click.testing import CliRunner

    from reynard.cli import main

    alert_file = ALERTS / "cloudtrail_logging_disabled.py"
    added = CliRunner().invoke(
        main, ["--data-dir", str(server.data_dir), "rules", "add", "--mozdef", str(alert_file)]
    )
    assert added.exit_code == 0, added.output
    time.sleep(1.2)  # the matcher looks for changed rules at most once a second
    record = live_stop_logging("3f1e2b9c-0000-4000-8000-000000000002")
    assert (
        server.post(f"{server.url}/events", content=json.dumps({"Records": [record]})).json()["stored"] == 1
    )
    deadline = time.monotonic() + 5
    rules = set()
    while time.monotonic() < deadline and len(rules) < 2:
        rules = {a["rule"] for a in server.get(f"{server.url}/api/alerts").json()["alerts"]}
        time.sleep(0.02)
    assert rules == {"cloudtrail_logging_stopped", "cloudtrail_logging_disabled"}
