"""Scheduled runs: each enabled rule of the registry, over the stored events, once (or once per step).

Without `since`, each rule runs once with its own window ending at `now` (as MozDef's scheduler did).
With `since`, each rule runs at the moments its schedule would have run it between `since` and `now`
(an interval's steps, a cron expression's fire times) and at `now`, each step no wider than the rule's
own window, so a catch-up run sees every window.

Dedup, as MozDef did it: a rule's searches leave out the events already in one of its alerts
(`UnalertedSource`), so an event alerts once per rule and an aggregation counts only events that have
not alerted yet. Each alert records every event it stands for (an aggregation's whole group).

A rule that raises (a RuleError, or any exception from its code) is recorded in `last_error`, reported,
and retried next round; the other rules keep running.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from reynard.detect.alerts import AlertStore
from reynard.detect.alerttask import AlertTask
from reynard.detect.registry import RuleRegistry
from reynard.detect.schedule import Schedule, interval_times
from reynard.detect.sources import EventSource, StoreSource, UnalertedSource

if TYPE_CHECKING:
    from reynard.store.base import EventStore

log = logging.getLogger("reynard.detect.runner")

# A catch-up run does at most this many steps per rule (older windows are skipped, newest kept).
MAX_STEPS = 10_000


@dataclass
class RuleResult:
    name: str
    alerts: int = 0
    error: str | None = None
    undelivered: list[str] = field(default_factory=list)  # "alert N: <notifier's error>"

    def line(self) -> str:
        if self.error:
            return f"{self.name}: failed: {self.error}"
        line = f"{self.name}: {self.alerts} alerts"
        if self.undelivered:
            line += f" ({len(self.undelivered)} not delivered: {'; '.join(self.undelivered[:3])})"
        return line


@dataclass
class RunReport:
    results: list[RuleResult] = field(default_factory=list)

    @property
    def failed(self) -> list[RuleResult]:
        return [r for r in self.results if r.error]

    @property
    def alerts(self) -> int:
        return sum(r.alerts for r in self.results)

    def lines(self) -> list[str]:
        return [r.line() for r in self.results]


def _moments(now: datetime, since: datetime | None, step: Schedule | timedelta) -> list[datetime]:
    """The moments a run from `since` to `now` runs at: the schedule's fire times after `since` (or
    since + step, since + 2 * step, ...), then `now`; the latest MAX_STEPS."""
    if since is None or since >= now:
        return [now]
    if isinstance(step, timedelta):
        moments = interval_times(since, now, step, MAX_STEPS)
    else:
        moments = step.fire_times(since, now, MAX_STEPS)
    return [*(m for m in moments if m < now), now][-MAX_STEPS:]


def _group_key(task: AlertTask, events: list[dict]) -> str | None:
    for aggregation in task.aggregations or []:
        if aggregation.get("allevents") is events:
            return str(aggregation["value"])
    if events:
        return None if events[0].get("_id") is None else str(events[0]["_id"])
    return None


def _event_ids(alert: dict, events: Iterable[dict]) -> list[str]:
    """Every event the alert stands for: the hits it was made from, else the events it shows."""
    ids = [str(hit["_id"]) for hit in events if hit.get("_id") is not None]
    return ids or [str(r["documentid"]) for r in alert.get("events") or [] if r.get("documentid") is not None]


def _describe(error: BaseException) -> str:
    text = str(error)
    if not text or not isinstance(error, Exception) or type(error).__module__.startswith("reynard"):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}"


def run_rule(
    registry: RuleRegistry,
    source: EventSource,
    alert_store: AlertStore,
    name: str,
    moments: list[datetime],
) -> int:
    """Run one rule at each moment; store its new alerts. Returns how many were stored; raises on error.

    A catch-up (several moments) steps no wider than each task's own window, so a 2-minute window slid
    over an hour of old logs sees every event: the first run tells the window, the steps follow it."""
    stored = 0
    source = UnalertedSource(source, lambda ids: alert_store.already_alerted(name, ids))
    for task in registry.tasks(name, source):
        stored += _store_new(task.run(now=moments[-1]), task, alert_store, name)
        window = getattr(task.main_query, "delta", None)
        steps = moments[:-1]
        if steps and window and window < moments[1] - moments[0]:
            steps = _moments(moments[-1], moments[0] - (moments[1] - moments[0]), window)[:-1]
        for moment in steps:
            stored += _store_new(task.run(now=moment), task, alert_store, name)
    return stored


def _store_new(alerts: list[dict], task: AlertTask, alert_store: AlertStore, name: str) -> int:
    for alert, events in zip(alerts, task.alerts_events, strict=False):
        alert_store.add(alert, name, group_key=_group_key(task, events), event_ids=_event_ids(alert, events))
    return len(alerts)


def run_rules(
    registry: RuleRegistry,
    store: EventStore,
    alert_store: AlertStore,
    now: datetime,
    since: datetime | None = None,
    names: Iterable[str] | None = None,
) -> RunReport:
    """Run the enabled rules (or only `names`, enabled or not) once over `store`; see the module doc."""
    source = StoreSource(store)
    wanted = list(names) if names else None
    infos = {info.name: info for info in registry.list()}
    if wanted is not None:
        selected = [registry.get(n) for n in wanted]  # RuleError for an unknown name
    else:
        selected = [info for info in infos.values() if info.enabled]
    report = RunReport()
    for info in selected:
        result = RuleResult(info.name)
        undelivered = len(alert_store.undelivered)
        try:
            result.alerts = run_rule(
                registry, source, alert_store, info.name, _moments(now, since, info.schedule)
            )
        except Exception as e:  # a rule's own code may raise anything: isolate it
            result.error = _describe(e)
            log.warning("rule %s failed: %s", info.name, result.error, exc_info=True)
        result.undelivered = [f"alert {i}: {e}" for _r, i, e in alert_store.undelivered[undelivered:]]
        registry.record_run(info.name, now, None if result.error else result.alerts, result.error)
        report.results.append(result)
    return report


__all__ = ["RuleResult", "RunReport", "run_rule", "run_rules"]
