"""Streaming evaluation of simple rules: each committed event is matched as it arrives.

A rule is *simple* when its `main()` does one `searchEventsSimple()` + `walkEvents()` (an alert per
matching event) and has no `onNoEvent` (a dead-man switch needs the scheduler). That is found out once,
at build time, by running `main()` against a source that records the query and answers nothing. A
simple task's query (without its window: a streamed event is new) is compiled to a predicate; each
event that matches is handed to the task's `onEvent` as a MozDef hit and the alert it returns is stored,
unless the event already alerted for that rule (an event alerts once per rule, as in the scheduler).

Aggregation rules (and anything else) are left to the scheduler. A task that raises is logged with its
rule's name and counted in `failures`; the other tasks go on.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from reynard.detect.alerts import AlertStore
from reynard.detect.alerttask import EVENT_INDEX, AlertTask
from reynard.events.timestamps import parse_timestamp
from reynard.query import ast
from reynard.query.mozdef import SearchQuery
from reynard.query.predicate import compile_predicate
from reynard.settings import Settings

if TYPE_CHECKING:
    from reynard.detect.registry import RuleRegistry

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
                    predicate = None if query is None else compile_predicate(query.to_search(now).query)
                except Exception:  # a rule that cannot even build its query: the scheduler reports it
                    log.warning("rule %s: cannot classify for streaming", rule, exc_info=True)
                    self.failures[rule] += 1
                    query, predicate = None, None
                if predicate is None:
                    self.scheduled.setdefault(rule, []).append(task)
                else:
                    self.streaming.append(StreamingTask(rule, task, predicate))

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
        for event in events:
            for entry in self.streaming:
                try:
                    if entry.predicate(event):
                        hits.append((entry, event))
                except Exception:
                    self._failed(entry.rule)
        if not hits:
            return []
        # Dedup: one look-up per rule, and an event seen twice in this batch alerts once.
        seen: dict[str, set[str]] = {}
        for rule in {entry.rule for entry, _ in hits}:
            ids = [str(ev["id"]) for h, ev in hits if h.rule == rule and ev.get("id") is not None]
            seen[rule] = self.alert_store.already_alerted(rule, ids)
        created: list[int] = []
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
                created.append(self.alert_store.add(alert, rule=entry.rule, group_key=event_id))
            except Exception:
                self._failed(entry.rule)
                continue
            if event_id is not None:
                done.add(event_id)
        return created

    def _failed(self, rule: str) -> None:
        self.failures[rule] += 1
        log.warning("rule %s failed on a streamed event", rule, exc_info=True)


__all__ = ["RecordingSource", "StreamingMatcher", "StreamingTask", "classify"]


def build_matcher(
    settings: Settings, registry: RuleRegistry | None = None, alert_store: AlertStore | None = None
) -> StreamingMatcher:
    """The streaming matcher of a data directory: its enabled rules, its alert store and notifiers.

    Used by the server (on each committed batch) and by `reynard ingest` writing directly (on each
    batch it stores), so ingesting an old file raises the alerts a live stream would have.
    """
    from reynard.detect.notifications import Notifications
    from reynard.detect.registry import RuleRegistry
    from reynard.detect.sources import StoreSource
    from reynard.state import open_state
    from reynard.store.tantivy_store import TantivyEventStore

    if registry is None:
        registry = RuleRegistry(open_state(settings.state_url), settings.data_dir / "rules")
        registry.ensure_builtins()
    if alert_store is None:
        alert_store = AlertStore(
            registry.engine, notify=Notifications.from_settings(settings, registry.engine)
        )
    source = StoreSource(TantivyEventStore(settings.events_dir))
    tasks: dict[str, list[AlertTask]] = {}
    for info in registry.list():
        if not info.enabled:
            continue
        try:
            tasks[info.name] = registry.tasks(info.name, source)
        except Exception:  # a broken rule is reported by the scheduler and `rules run`
            log.warning("rule %s cannot be built for streaming", info.name, exc_info=True)
    return StreamingMatcher(tasks, alert_store)
