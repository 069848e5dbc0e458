"""Streaming evaluation of simple rules: each committed event is matched as it arrives.

A rule is *simple* when its `main()` does one `searchEventsSimple()` + `walkEvents()` (an alert per
matching event) and has no `onNoEvent` (a dead-man switch needs the scheduler). That is found out once,
at build time, by running `main()` against a source that records the query and answers nothing. A
simple task's query (without its window: a streamed event is new) is compiled to a predicate; each
event that matches is handed to the task's `onEvent` as a MozDef hit and the alert it returns is stored,
unless the event already alerted for that rule (an event alerts once per rule, as in the scheduler).

Rules are filed by their query's anchor (`reynard.query.anchors`: the values an event must hold at one
field), so each event is tested only against the rules filed under its own values, plus the rules
that have no anchor: with a hundred rules on `details.eventname`, an event runs one or two predicates.

Aggregation rules (and anything else) are left to the scheduler. A task that raises is logged with its
rule's name and counted in `failures`; the other tasks go on.

`LiveMatcher` (what `streaming_matcher` returns) rebuilds the matcher when the registry changes, so a rule
added, enabled or disabled while the server runs is streamed from the next batch on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from reynard.detect.alerts import AlertStore, NewAlert
from reynard.detect.alerttask import EVENT_INDEX, AlertTask
from reynard.events.fields import leaf_getter
from reynard.events.timestamps import parse_timestamp
from reynard.query import ast
from reynard.query.anchors import Anchor, anchors
from reynard.query.mozdef import SearchQuery
from reynard.query.predicate import compile_predicate
from reynard.query.values import term_text

if TYPE_CHECKING:
    from reynard.detect.registry import RuleRegistry
    from reynard.detect.sources import EventSource

log = logging.getLogger("reynard.detect.streaming")


class RecordingSource:
    """An EventSource that answers nothing and remembers what it was asked."""

    def __init__(self) -> None:
        self.searches: list[ast.Search] = []
        self.aggregates: list[ast.Aggregate] = []

    def search(self, request: ast.Search) -> list[dict]:
        self.searches.append(request)
        return []

    def aggregate(self, request: ast.Aggregate) -> dict:
        self.aggregates.append(request)
        return {}


@dataclass
class StreamingTask:
    rule: str
    task: AlertTask
    predicate: Callable[[dict], bool]
    anchors: tuple[Anchor, ...] = ()


def _keys(a: Anchor) -> list[tuple[str, bool, str]]:
    return [(a.field, a.case_insensitive, value) for value in a.values]


class RuleIndex:
    """The streaming tasks filed by anchor: `candidates(event)` are the tasks that could match it, in
    their original order.

    A task with several anchors (`source:cloudtrail AND details.eventname:StopLogging`) is filed under
    the one the fewest other tasks share: with a hundred CloudTrail rules, under its event name."""

    def __init__(self, entries: list[StreamingTask]):
        self.entries = entries
        shared = Counter(key for e in entries for key in {k for a in e.anchors for k in _keys(a)})
        self.unanchored: list[int] = []
        tables: dict[tuple[str, bool], dict[str, list[int]]] = {}
        for i, entry in enumerate(entries):
            if not entry.anchors:
                self.unanchored.append(i)
                continue
            best = min(
                entry.anchors,
                key=lambda a: (sum(shared[k] for k in _keys(a)), not a.field.startswith("details.")),
            )
            table = tables.setdefault((best.field, best.case_insensitive), {})
            for value in best.values:
                table.setdefault(value, []).append(i)
        by_field: dict[str, list[tuple[bool, dict[str, list[int]]]]] = {}
        for (field, ci), table in tables.items():
            by_field.setdefault(field, []).append((ci, table))
        # One look-up of each field per event, whatever the number of rules filed under it.
        self.fields = [(leaf_getter(field), kinds) for field, kinds in by_field.items()]

    def candidates(self, event: dict) -> list[StreamingTask]:
        found: set[int] = set(self.unanchored)
        for get, kinds in self.fields:
            for leaf in get(event):
                text = leaf if type(leaf) is str else term_text(leaf)
                if text is None:
                    continue
                for ci, table in kinds:
                    hit = table.get(text.lower() if ci else text)
                    if hit:
                        found.update(hit)
        return [self.entries[i] for i in sorted(found)]


def classify(task: AlertTask, now: datetime | None = None) -> SearchQuery | None:
    """The task's query when it is a simple rule (one search, walked event by event), else None."""
    now = now or datetime.now(UTC)
    recorder = RecordingSource()
    original = task.source
    task.source = recorder
    try:
        task.run(now=now)
    finally:
        task.source = original
        task.alerts, task.alerts_events = [], []
    if type(task).onNoEvent is not AlertTask.onNoEvent:
        return None  # a dead-man switch: only the scheduler can see that nothing arrived
    simple = (
        task.main_query is not None
        and task.events is not None
        and task.aggregations is None
        and len(recorder.searches) == 1
        and not recorder.aggregates
    )
    return task.main_query if simple else None


def _moment(event: dict) -> datetime:
    value = event.get("receivedtimestamp")
    if value:
        try:
            return parse_timestamp(value)[0]
        except Exception:
            pass
    return datetime.now(UTC)


class StreamingMatcher:
    """Matches committed events against the simple rules' tasks and stores their alerts."""

    def __init__(
        self,
        tasks_by_rule: dict[str, list[AlertTask]],
        alert_store: AlertStore,
        notify: Callable[[list[int]], None] | None = None,
    ):
        self.alert_store = alert_store
        self.notify = notify
        self.failures: Counter[str] = Counter()
        self.streaming: list[StreamingTask] = []
        self.scheduled: dict[str, list[AlertTask]] = {}
        self._lock = threading.Lock()
        now = datetime.now(UTC)
        for rule, tasks in tasks_by_rule.items():
            for task in tasks:
                try:
                    query = classify(task, now)
                    node = None if query is None else query.to_search(now).query
                    predicate = None if node is None else compile_predicate(node)
                except Exception:  # a rule that cannot even build its query: the scheduler reports it
                    log.warning("rule %s: cannot classify for streaming", rule, exc_info=True)
                    self.failures[rule] += 1
                    node, predicate = None, None
                if node is None or predicate is None:
                    self.scheduled.setdefault(rule, []).append(task)
                else:
                    self.streaming.append(StreamingTask(rule, task, predicate, anchors(node)))
        self.index = RuleIndex(self.streaming)

    @property
    def streaming_rules(self) -> set[str]:
        """The rules every task of which is evaluated here (the scheduler can leave them out)."""
        return {s.rule for s in self.streaming} - set(self.scheduled)

    def match(self, events: list[dict]) -> list[int]:
        """Evaluate the simple tasks on `events`; store and return the ids of the new alerts."""
        with self._lock:
            created = self._match(events)
        if created and self.notify is not None:
            try:
                self.notify(created)
            except Exception:
                log.warning("alert notification failed", exc_info=True)
        return created

    def _match(self, events: list[dict]) -> list[int]:
        hits: list[tuple[StreamingTask, dict]] = []
        candidates = self.index.candidates
        for event in events:
            for entry in candidates(event):
                try:
                    if entry.predicate(event):
                        hits.append((entry, event))
                except Exception:
                    self._failed(entry.rule)
        if not hits:
            return []
        # Dedup: one look-up per rule (over one connection), and an event seen twice in this batch
        # alerts once.
        ids_by_rule: dict[str, list[str]] = {}
        for entry, event in hits:
            ids = ids_by_rule.setdefault(entry.rule, [])
            if event.get("id") is not None:
                ids.append(str(event["id"]))
        seen = self.alert_store.already_alerted_by_rule(ids_by_rule)
        new: list[NewAlert] = []
        for entry, event in hits:
            event_id = None if event.get("id") is None else str(event["id"])
            done = seen[entry.rule]
            if event_id is not None and event_id in done:
                continue
            try:
                task = entry.task
                task.now = _moment(event)
                alert = task.onEvent({"_id": event_id, "_index": EVENT_INDEX, "_source": event})
                if not alert:
                    continue
                alert = task.tagBotNotify(alert)
                task.hookAfterInsertion(alert)
                new.append(NewAlert(alert, entry.rule, event_id))
            except Exception:
                self._failed(entry.rule)
                continue
            if event_id is not None:
                done.add(event_id)
        return self.alert_store.add_many(new)  # one transaction for the batch's alerts

    def _failed(self, rule: str) -> None:
        self.failures[rule] += 1
        log.warning("rule %s failed on a streamed event", rule, exc_info=True)


class LiveMatcher:
    """A `StreamingMatcher` rebuilt whenever `fingerprint()` changes, checked at most every
    `check_every` seconds (on the batch that follows), so rules added, enabled, disabled or replaced
    while the server runs are streamed without a restart. A rebuild that fails keeps the old matcher."""

    def __init__(
        self,
        build: Callable[[], StreamingMatcher],
        fingerprint: Callable[[], object],
        check_every: float = 1.0,
    ):
        self._build = build
        self._fingerprint = fingerprint
        self.check_every = check_every
        self._mark = fingerprint()
        self._checked = time.monotonic()
        self.matcher = build()
        self.rebuilds = 0

    @property
    def streaming_rules(self) -> set[str]:
        return self.matcher.streaming_rules

    @property
    def failures(self) -> Counter[str]:
        return self.matcher.failures

    def refresh(self, force: bool = False) -> bool:
        """Rebuild if the rules changed (or `force`); whether it did."""
        now = time.monotonic()
        if not force and now - self._checked < self.check_every:
            return False
        self._checked = now
        try:
            mark = self._fingerprint()
            if mark == self._mark and not force:
                return False
            self.matcher = self._build()
        except Exception:
            log.warning("streaming rules could not be reloaded; keeping the previous ones", exc_info=True)
            return False
        self._mark = mark
        self.rebuilds += 1
        return True

    def match(self, events: list[dict]) -> list[int]:
        self.refresh()
        return self.matcher.match(events)


__all__ = [
    "LiveMatcher",
    "RecordingSource",
    "RuleIndex",
    "StreamingMatcher",
    "StreamingTask",
    "classify",
    "streaming_matcher",
]


def streaming_matcher(
    registry: RuleRegistry, alert_store: AlertStore, source: EventSource, check_every: float = 1.0
) -> LiveMatcher:
    """The streaming matcher of a registry's enabled rules, storing into `alert_store` (its rules search
    `source` when they look back), rebuilt when the rules change.

    The server runs it on each committed batch and `reynard ingest` writing directly on each batch it
    stores, so ingesting an old file raises the alerts a live stream would have.
    """

    def build() -> StreamingMatcher:
        tasks: dict[str, list[AlertTask]] = {}
        for info in registry.list():
            if not info.enabled:
                continue
            try:
                tasks[info.name] = registry.tasks(info.name, source)
            except Exception:  # a broken rule is reported by the scheduler and `rules run`
                log.warning("rule %s cannot be built for streaming", info.name, exc_info=True)
        return StreamingMatcher(tasks, alert_store)

    return LiveMatcher(build, registry.fingerprint, check_every=check_every)
