"""Sigma rules as `AlertTask`s, so the scheduler, the streaming matcher and dedup treat them like any rule.

- `DetectionTask`: a detection rule. `main()` is one `searchEventsSimple()` + `walkEvents()`, so the
  streaming matcher classifies it as simple and alerts on each matching event as it arrives.
- `CorrelationTask`: a correlation rule. `main()` searches each referenced rule's query over
  `[now - timespan - lookback, now]` (so it judges the windows that closed in the last `lookback`; see
  `correlation.evaluate`'s `since`), evaluates the correlation and emits one alert per firing, with
  every contributing event in `alerts_events` (the runner records them all, so they never fire again).

Every alert has category `sigma`, the rule's tags plus `sigma` (and `correlation`), the severity of
the rule's level, and the rule's Sigma metadata under `sigma`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from reynard.detect.alerttask import AlertTask
from reynard.detect.errors import RuleError
from reynard.detect.sigma.correlation import Firing, closed_windows, evaluate
from reynard.detect.sigma.model import CorrelationRule, DetectionRule, RuleMeta
from reynard.detect.sources import EventSource, UnalertedSource
from reynard.query import ast
from reynard.query.mozdef import SearchQuery

CATEGORY = "sigma"
# How far back a scheduled run looks beyond the timespan: runs further apart than this miss windows.
DEFAULT_LOOKBACK = timedelta(hours=1)
# How far back a scheduled run of a detection rule looks (streaming normally alerts first).
DEFAULT_DETECTION_WINDOW = timedelta(minutes=15)
_MICROSECOND = timedelta(microseconds=1)


def sigma_metadata(meta: RuleMeta, kind: str) -> dict[str, Any]:
    """What an alert says of the Sigma rule that made it (`kind`: `detection` or the correlation type)."""
    return {
        "id": meta.id,
        "title": meta.title,
        "name": meta.name,
        "level": meta.level,
        "type": kind,
        "path": meta.path or None,
    }


def _tags(meta: RuleMeta, *extra: str) -> list[str]:
    return list(dict.fromkeys([*meta.tags, CATEGORY, *extra]))


def span_text(span: timedelta) -> str:
    """`10m`, `1h`, `1d`, `90s`: a timespan as Sigma writes it."""
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{span.total_seconds():g}s"


def number_text(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


class DetectionTask(AlertTask):
    """A Sigma detection rule: an alert per matching event, summary `<title>: <event summary>`."""

    def __init__(
        self,
        rule: DetectionRule,
        source: EventSource | None = None,
        *,
        now: datetime | None = None,
        window: timedelta = DEFAULT_DETECTION_WINDOW,
    ):
        super().__init__(source, now=now)
        self.rule = rule
        self.window = window
        self.custom_alert_name = rule.meta.key

    def main(self) -> None:
        query = SearchQuery(seconds=self.window.total_seconds())
        query.add_must(self.rule.query)
        self.filtersManual(query)
        self.searchEventsSimple()
        self.walkEvents()

    def onEvent(self, event: dict, *args: Any, **kwargs: Any) -> dict | None:
        meta = self.rule.meta
        summary = event["_source"].get("summary")
        alert = self.createAlertDict(
            f"{meta.title}: {summary}" if summary else meta.title,
            CATEGORY,
            _tags(meta),
            [event],
            severity=meta.severity,
        )
        alert["sigma"] = sigma_metadata(meta, "detection")
        return alert


class CorrelationTask(AlertTask):
    """A Sigma correlation rule over its referenced detection rules: an alert per firing.

    `lookback` must be at least the time between two scheduled runs (the rule's schedule): a run
    judges the windows that closed in the last `lookback`, and judging one twice changes nothing (its
    events are in an alert, or it did not fire and still does not)."""

    samples_limit: ClassVar[int] = 10  # events shown in the alert (the first and the last); all recorded

    def __init__(
        self,
        rule: CorrelationRule,
        detections: Mapping[str, DetectionRule] | Iterable[DetectionRule],
        source: EventSource | None = None,
        *,
        now: datetime | None = None,
        lookback: timedelta = DEFAULT_LOOKBACK,
    ):
        super().__init__(source, now=now)
        if not isinstance(detections, Mapping):
            detections = {d.meta.key: d for d in detections}
        missing = [key for key in rule.rules if key not in detections]
        if missing:
            names = ", ".join(missing)
            raise RuleError(f"references rules that were not given: {names}", where=rule.meta.key)
        self.rule = rule
        self.detections = {key: detections[key] for key in rule.rules}
        self.lookback = lookback
        self.custom_alert_name = rule.meta.key

    def main(self) -> None:
        now = self._now()
        start = now.astimezone(UTC) - self.rule.timespan - self.lookback
        window = ast.TimeWindow(start=start, end=now.astimezone(UTC) + _MICROSECOND)
        # What the runner reads: a catch-up (`rules run --since`) steps no wider than the lookback.
        self.main_query = SearchQuery(seconds=self.lookback.total_seconds())
        self.main_query.add_should([d.query for d in self.detections.values()])
        source, alerted = self._searched()
        matches = {
            key: source.search(ast.Search(query=d.query, window=window, limit=None))
            for key, d in self.detections.items()
        }
        ids = [str(e["id"]) for events in matches.values() for e in events if e.get("id") is not None]
        fired = alerted(ids) if alerted is not None and ids else set()
        self.aggregations = []
        for firing in evaluate(self.rule, matches, now=now, since=start, fired=fired):
            hits = [self._hit(event) for event in firing.events]
            aggregation = {
                "value": ", ".join(firing.group),
                "count": firing.value,
                "events": self.samples(hits),
                "allevents": hits,
                "firing": firing,
            }
            self.aggregations.append(aggregation)
            alert = self.onAggregation(aggregation)
            if alert:
                self._emit(alert, hits)  # the same list: the runner takes the group key from it

    def _searched(self) -> tuple[EventSource, Callable[[list[str]], set[str]] | None]:
        """Where to search, and how to ask which events already alerted.

        A reaching condition searches the runner's deduplicated source (alerted events left out: they
        are consumed). A closed window measures everything that happened in it, alerted or not, so it
        searches the source under the dedup and is told which events alerted."""
        source = self._source()
        if closed_windows(self.rule) and isinstance(source, UnalertedSource):
            return source.source, source.alerted
        return source, None

    def samples(self, hits: list[dict]) -> list[dict]:
        """The events an alert shows: the first and the last (a sequence's start and its end)."""
        limit = self.samples_limit
        if len(hits) <= limit:
            return hits
        return hits[: limit - limit // 2] + hits[len(hits) - limit // 2 :]

    def onAggregation(self, aggregation: dict) -> dict | None:
        firing: Firing = aggregation["firing"]
        meta = self.rule.meta
        alert = self.createAlertDict(
            self.summary(firing),
            CATEGORY,
            _tags(meta, "correlation"),
            aggregation["events"],
            severity=meta.severity,
        )
        alert["sigma"] = {
            **sigma_metadata(meta, self.rule.type),
            "rules": list(self.rule.rules),
            "group": list(firing.group),
            "window": {"start": firing.start.isoformat(), "end": firing.end.isoformat()},
            "value": firing.value,
        }
        return alert

    def summary(self, firing: Firing) -> str:
        """`Describe burst: 57 events by arn:aws:iam::1:user/bob in 10m`, and so on for each type."""
        rule = self.rule
        by = f" by {', '.join(firing.group)}" if firing.group else ""
        span = span_text(rule.timespan)
        value = number_text(firing.value)
        field = rule.value_field.get(rule.rules[0], "")
        titles = [self.detections[key].meta.title for key in firing.rules]
        what = {
            "event_count": f"{value} events",
            "value_count": f"{value} distinct {field}",
            "value_sum": f"{field} totals {value}",
            "value_avg": f"{field} averages {value}",
            "temporal": ", ".join(titles),
            "temporal_ordered": " then ".join(titles),
        }[rule.type]
        if rule.type.startswith("temporal"):
            if firing.value != len(rule.rules):
                what = f"{value} of {len(rule.rules)} rules ({', '.join(titles)})"
            return f"{rule.meta.title}: {what}{by} within {span}"
        return f"{rule.meta.title}: {what}{by} in {span}"


__all__ = ["DEFAULT_LOOKBACK", "CorrelationTask", "DetectionTask", "sigma_metadata"]
