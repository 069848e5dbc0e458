"""Rules tried on log files, in memory: the events parsed as `reynard ingest` would, nothing stored
(`reynard rules test`, `reynard sigma test`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from reynard.detect.errors import RuleError
from reynard.detect.sources import MemorySource
from reynard.ingest.deadletter import CollectedDeadLetters
from reynard.ingest.pipeline import Pipeline
from reynard.ingest.plugins import default_plugins
from reynard.ingest.records import Rejected
from reynard.ingest.runner import Ingestor
from reynard.ingest.sources.base import ReadOptions
from reynard.settings import Settings
from reynard.store.base import WriteResult


class MemorySink:
    """An ingest sink that keeps the finalized events in a list (nothing touches the event store)."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self._ids: set[str] = set()

    def write(self, events: list[dict]) -> WriteResult:
        stored = duplicates = 0
        for event in events:
            if event["id"] in self._ids:
                duplicates += 1
                continue
            self._ids.add(event["id"])
            self.events.append(event)
            stored += 1
        return WriteResult(stored=stored, duplicates=duplicates, failed=[])

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def load_events(
    settings: Settings, paths: Sequence[str], reference: datetime, pipeline: Pipeline | None = None
) -> tuple[list[dict], list[Rejected]]:
    """The finalized events of `paths`, parsed as `reynard ingest` would, in memory; and the rejections.

    Each event counts as received when it happened: a rule's window holds an event by either timestamp,
    so the time of this replay as `receivedtimestamp` would put every event in every window.
    """
    sink = MemorySink()
    collected = CollectedDeadLetters()
    options = ReadOptions(reference_time=reference, max_record_bytes=settings.max_record_bytes)
    ingestor = Ingestor(
        sink,
        collected,  # type: ignore[arg-type]
        pipeline or Pipeline(default_plugins(settings)),
        options=options,
    )
    ingestor.ingest_paths(paths)
    for event in sink.events:
        event["receivedtimestamp"] = event["utctimestamp"]
    return sink.events, collected.items


def rule_classes(rule: str) -> list[tuple[str, type]]:
    """(rule name, AlertTask class) for RULE: a MozDef-style alert file, or a built-in rule's name."""
    path = Path(rule)
    if not path.exists():
        builtins = _builtin_rules()
        if rule in builtins:
            return [(rule, builtins[rule])]
        known = ", ".join(sorted(builtins))
        hint = f" nor a built-in rule (built-in: {known})" if known else ""
        raise RuleError(f"no such alert file{hint}", where=rule)
    from reynard.detect.mozdef_compat import load_alert_file

    return [(f"{path.stem}:{cls.__name__}", cls) for cls in load_alert_file(path)]


def _builtin_rules() -> dict[str, type]:
    try:
        from reynard.detect.rules import BUILTIN_RULES
    except ImportError:
        return {}
    return dict(BUILTIN_RULES)


def run_rule_test(rule: str, events: list[dict], now: datetime | None) -> Iterator[tuple[str, dict]]:
    """`(rule name, alert)` for each alert RULE (a file or a built-in name) raises over `events` at `now`."""
    moment = now or datetime.now(UTC)
    for name, cls in rule_classes(rule):
        for alert in cls(MemorySource(events)).run(now=moment):
            yield name, alert


__all__ = ["MemorySink", "load_events", "rule_classes", "run_rule_test"]
