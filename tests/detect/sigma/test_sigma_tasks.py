"""Sigma rules as AlertTasks: `DetectionTask` (streamed, an alert per event) and `CorrelationTask`
(scheduled, an alert per firing), on a list of events and through the runner over a real tantivy store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from reynard.detect import MemorySource
from reynard.detect.alerts import AlertStore
from reynard.detect.alerttask import AlertTask
from reynard.detect.errors import RuleError
from reynard.detect.registry import RuleRegistry
from reynard.detect.runner import run_rules
from reynard.detect.sigma.model import CorrelationRule, DetectionRule, RuleMeta, Threshold
from reynard.detect.sigma.tasks import CorrelationTask, DetectionTask
from reynard.detect.sources import EventSource
from reynard.detect.streaming import RecordingSource, StreamingMatcher, classify
from reynard.events.event import finalize
from reynard.query import ast
from reynard.state import open_state
from reynard.state.tables import rules
from reynard.store.tantivy.store import TantivyEventStore

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=30)
BOB = "arn:aws:iam::123456789012:user/bob"
ALICE = "arn:aws:iam::123456789012:user/alice"
CLOUDTRAIL = ("aws", "cloudtrail", None)


def call(n: int, seconds: float, eventname: str = "DescribeInstances", arn: str = BOB) -> dict:
    moment = (T0 + timedelta(seconds=seconds)).isoformat()
    draft = {
        "id": f"evt-{n:04d}",
        "utctimestamp": moment,
        "receivedtimestamp": moment,
        "source": "cloudtrail",
        "category": "AwsApiCall",
        "summary": f"{arn} called {eventname}",
        "details": {"eventname": eventname, "useridentity": {"arn": arn}},
    }
    return finalize(draft, received=moment, keep_received=True)


def calls(first: int, count: int, start: float, step: float = 5, **kw: str) -> list[dict]:
    return [call(first + i, start + i * step, **kw) for i in range(count)]


DESCRIBE = DetectionRule(
    RuleMeta(title="EC2 instances described", id="d-describe", level="low", tags=("attack.discovery",)),
    CLOUDTRAIL,
    ast.Term("details.eventname", "describeinstances", case_insensitive=True),
)
FAILED = DetectionRule(
    RuleMeta(title="Console login failed", id="d-failed", level="low"),
    CLOUDTRAIL,
    ast.Term("details.eventname", "ConsoleLoginFailure"),
)
LOGIN = DetectionRule(
    RuleMeta(title="Console login", id="d-login", level="low"),
    CLOUDTRAIL,
    ast.Term("details.eventname", "ConsoleLogin"),
)


def correlation(
    kind: str = "event_count",
    referenced: tuple[DetectionRule, ...] = (DESCRIBE,),
    condition: tuple = (("gte", 20.0),),
    title: str = "Describe burst",
    span: timedelta = timedelta(minutes=10),
) -> CorrelationRule:
    keys = tuple(r.meta.key for r in referenced)
    return CorrelationRule(
        meta=RuleMeta(title=title, id=f"c-{kind}", level="high", tags=("attack.t1580",)),
        type=kind,  # type: ignore[arg-type]
        rules=keys,
        timespan=span,
        threshold=Threshold(condition),
        group_by={key: ("details.useridentity.arn",) for key in keys},
    )


BURST = correlation()


# -- DetectionTask -----------------------------------------------------------------------------------------
def test_detection_task_alerts_on_each_matching_event():
    events = [*calls(0, 3, 0), call(3, 20, "ListBuckets")]
    task = DetectionTask(DESCRIBE, MemorySource(events))
    alerts = task.run(now=T0 + timedelta(minutes=15))  # its scheduled window: the last 15 minutes
    assert [a["summary"] for a in alerts] == [f"EC2 instances described: {BOB} called DescribeInstances"] * 3
    alert = alerts[0]
    assert (alert["category"], alert["severity"], alert["classname"]) == ("sigma", "NOTICE", "d-describe")
    assert alert["tags"] == ["attack.discovery", "sigma"]
    assert alert["sigma"] == {
        "id": "d-describe",
        "title": "EC2 instances described",
        "name": None,
        "level": "low",
        "type": "detection",
        "path": None,
    }
    assert [hits[0]["_id"] for hits in task.alerts_events] == ["evt-0002", "evt-0001", "evt-0000"]


def test_detection_task_is_streamed_and_alerts_once(tmp_path):
    assert classify(DetectionTask(DESCRIBE, RecordingSource())) is not None
    alert_store = AlertStore(open_state(f"sqlite:///{tmp_path / 'state.db'}"))
    matcher = StreamingMatcher({"sigma:describe": [DetectionTask(DESCRIBE)]}, alert_store)
    assert matcher.streaming_rules == {"sigma:describe"}
    event = call(0, 0)
    (alert_id,) = matcher.match([event, call(1, 1, "ListBuckets")])
    assert alert_store.get(alert_id)["summary"] == f"EC2 instances described: {BOB} called DescribeInstances"
    assert matcher.match([event]) == []


# -- CorrelationTask ---------------------------------------------------------------------------------------
def test_correlation_task_alerts_per_firing():
    events = calls(0, 25, 0) + calls(25, 3, 0, arn=ALICE) + calls(28, 30, 0, eventname="ListBuckets")
    task = CorrelationTask(BURST, [DESCRIBE], MemorySource(events))
    (alert,) = task.run(now=NOW)
    assert alert["summary"] == f"Describe burst: 20 events by {BOB} in 10m"
    assert (alert["category"], alert["severity"], alert["classname"]) == ("sigma", "ERROR", "c-event_count")
    assert alert["tags"] == ["attack.t1580", "sigma", "correlation"]
    assert alert["sigma"] == {
        "id": "c-event_count",
        "title": "Describe burst",
        "name": None,
        "level": "high",
        "type": "event_count",
        "path": None,
        "rules": ["d-describe"],
        "group": [BOB],
        "window": {"start": "2024-05-01T11:51:35+00:00", "end": "2024-05-01T12:01:35+00:00"},  # the 20th
        "value": 20,
    }
    (hits,) = task.alerts_events
    assert [h["_id"] for h in hits] == [f"evt-{i:04d}" for i in range(20)]  # every one, in time order
    shown = [e["documentid"] for e in alert["events"]]
    assert shown == [f"evt-{i:04d}" for i in (*range(5), *range(15, 20))]  # the first and the last
    assert task.aggregations[0]["value"] == BOB


def test_correlation_task_summaries():
    def summary(rule: CorrelationRule, referenced: list[DetectionRule], events: list[dict]) -> str:
        (alert,) = CorrelationTask(rule, referenced, MemorySource(events)).run(now=T0 + timedelta(hours=1))
        return alert["summary"]

    ordered = correlation("temporal_ordered", (FAILED, LOGIN), (("gte", 2.0),), "Login after failures")
    events = [*calls(0, 3, 0, eventname="ConsoleLoginFailure"), call(3, 60, "ConsoleLogin")]
    assert summary(ordered, [FAILED, LOGIN], events) == (
        f"Login after failures: Console login failed then Console login by {BOB} within 10m"
    )
    unordered = correlation(
        "temporal", (FAILED, LOGIN, DESCRIBE), (("gte", 2.0),), "Busy", timedelta(hours=1)
    )
    assert summary(unordered, [FAILED, LOGIN, DESCRIBE], events) == (
        f"Busy: 2 of 3 rules (Console login failed, Console login) by {BOB} within 1h"
    )
    any_call = DetectionRule(
        RuleMeta(title="Any call", id="d-any"), CLOUDTRAIL, ast.Exists("details.eventname")
    )
    distinct = CorrelationRule(
        meta=RuleMeta(title="Recon", id="c-recon"),
        type="value_count",
        rules=("d-any",),
        timespan=timedelta(minutes=10),
        threshold=Threshold((("gte", 3.0),)),
        group_by={"d-any": ("details.useridentity.arn",)},
        value_field={"d-any": "details.eventname"},
    )
    recon = [call(0, 0, "ListBuckets"), call(1, 1, "ListUsers"), call(2, 2, "ListRoles")]
    assert summary(distinct, [any_call], recon) == f"Recon: 3 distinct details.eventname by {BOB} in 10m"
    few = correlation(condition=(("lt", 5.0),), title="Rare describes", span=timedelta(hours=1))
    assert summary(few, [DESCRIBE], calls(0, 2, 0)) == f"Rare describes: 2 events by {BOB} in 1h"


def test_correlation_task_is_scheduled_not_streamed(tmp_path):
    alert_store = AlertStore(open_state(f"sqlite:///{tmp_path / 'state.db'}"))
    task = CorrelationTask(BURST, {"d-describe": DESCRIBE})
    assert classify(task) is None
    matcher = StreamingMatcher({"sigma:burst": [task]}, alert_store)
    assert list(matcher.scheduled) == ["sigma:burst"] and not matcher.streaming


def test_correlation_task_needs_every_referenced_rule():
    with pytest.raises(RuleError, match="d-describe"):
        CorrelationTask(BURST, [LOGIN])


# -- through the runner, over a real store -------------------------------------------------------------------
class SigmaRegistry(RuleRegistry):
    """The registry with Sigma rows (kind `sigma`), built by a function of the source: what the Sigma
    catalog does for loaded files, without the files."""

    def __init__(self, engine, rules_dir: Path):
        super().__init__(engine, rules_dir)
        self.builders: dict[str, Callable[[EventSource | None], AlertTask]] = {}

    def add_task(
        self, name: str, build: Callable[[EventSource | None], AlertTask], schedule: str = "5m"
    ) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                insert(rules).values(name=name, kind="sigma", enabled=True, schedule=schedule, config="{}")
            )
        self.builders[name] = build

    def tasks(self, name: str, source: EventSource | None = None) -> list[AlertTask]:
        if name in self.builders:
            return [self.builders[name](source)]
        return super().tasks(name, source)


class World:
    """A data directory: an event store, a state database, a registry with Sigma rules."""

    def __init__(self, root: Path):
        self.events = root / "events"
        engine = open_state(f"sqlite:///{root / 'state.db'}")
        self.registry = SigmaRegistry(engine, root / "rules")
        self.alerts = AlertStore(engine)
        self.registry.add_task("sigma:describe", lambda source: DetectionTask(DESCRIBE, source))
        self.registry.add_task("sigma:burst", lambda source: CorrelationTask(BURST, [DESCRIBE], source))
        rare = correlation(condition=(("lt", 3.0),), title="Rare describes", span=timedelta(hours=1))
        self.registry.add_task("sigma:rare", lambda source: CorrelationTask(rare, [DESCRIBE], source))

    def write(self, events: list[dict]) -> None:
        store = TantivyEventStore(self.events, writable=True)
        try:
            assert store.write(events, commit=True).stored == len(events)
        finally:
            store.close()

    def run(self, name: str, now: datetime, since: datetime | None = None) -> int:
        report = run_rules(
            self.registry, TantivyEventStore(self.events), self.alerts, now, since, names=[name]
        )
        assert not report.failed, report.lines()
        return report.alerts

    def stored(self, name: str) -> list[dict]:
        return [self.alerts.get(a["id"]) for a in reversed(self.alerts.list()) if a["rule"] == name]


@pytest.fixture
def world(tmp_path) -> World:
    world = World(tmp_path)
    world.write(calls(0, 25, 0) + calls(100, 2, 0, arn=ALICE))
    return world


def test_a_correlation_alerts_once_through_the_runner(world):
    assert world.run("sigma:burst", NOW) == 1
    (alert,) = world.stored("sigma:burst")
    assert alert["summary"] == f"Describe burst: 20 events by {BOB} in 10m"
    assert alert["group_key"] == BOB
    assert alert["event_ids"] == [f"evt-{i:04d}" for i in range(20)]  # every event it stands for
    assert len(alert["events"]) == 10
    firing = alert["sigma"]  # kept with the stored alert: which rule, group, value and window
    assert (firing["type"], firing["group"], firing["value"]) == ("event_count", [BOB], 20)
    assert set(firing["window"]) == {"start", "end"} and firing["id"] == BURST.meta.id
    assert world.run("sigma:burst", NOW) == 0  # the same events again: dedup
    assert world.run("sigma:burst", NOW + timedelta(minutes=5)) == 0  # 5 left over: not a burst
    world.write(calls(25, 15, 125))  # 15 more within 10 minutes of the 5 left over
    assert world.run("sigma:burst", NOW) == 1
    assert world.stored("sigma:burst")[1]["event_ids"] == [f"evt-{i:04d}" for i in range(20, 40)]
    assert world.run("sigma:burst", NOW) == 0


def test_a_detection_alerts_once_per_event_through_the_runner(world):
    assert world.run("sigma:describe", T0 + timedelta(minutes=5)) == 27
    assert world.run("sigma:describe", T0 + timedelta(minutes=5)) == 0


def test_a_closed_window_alerts_once_it_has_closed(world):
    assert world.run("sigma:rare", T0 + timedelta(minutes=59)) == 0  # the hour is not over
    assert world.run("sigma:rare", T0 + timedelta(minutes=61)) == 1  # alice: 2 calls in 12:00-13:00
    (alert,) = world.stored("sigma:rare")
    assert alert["summary"] == f"Rare describes: 2 events by {ALICE} in 1h"
    assert world.run("sigma:rare", T0 + timedelta(minutes=65)) == 0
    assert world.run("sigma:rare", T0 + timedelta(minutes=125)) == 0


def test_a_catch_up_run_sees_every_window(tmp_path):
    """Three bursts an hour apart: a run now judges the windows of the last hour (its lookback), so it
    sees the last burst only; `--since` steps through the schedule and raises all three, once each."""
    bursts = [calls(i * 100, 20, 3600 * i, step=10) for i in range(3)]
    now = T0 + timedelta(hours=3)
    late = World(tmp_path / "now")
    late.write([e for b in bursts for e in b])
    assert late.run("sigma:burst", now) == 1
    assert [a["event_ids"][0] for a in late.stored("sigma:burst")] == ["evt-0200"]
    caught_up = World(tmp_path / "since")
    caught_up.write([e for b in bursts for e in b])
    assert caught_up.run("sigma:burst", now, since=T0 - timedelta(hours=1)) == 3
    starts = sorted(a["event_ids"][0] for a in caught_up.stored("sigma:burst"))  # the runner starts at now
    assert starts == ["evt-0000", "evt-0100", "evt-0200"]
    assert caught_up.run("sigma:burst", now, since=T0 - timedelta(hours=1)) == 0
