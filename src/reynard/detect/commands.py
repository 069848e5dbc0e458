"""What `reynard alerts` and `reynard rules` do, apart from parsing their arguments."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click
import orjson

from reynard.detect.alerts import AlertError, AlertStore
from reynard.detect.errors import RuleError
from reynard.detect.sources import MemorySource
from reynard.ingest.deadletter import CollectedDeadLetters
from reynard.ingest.pipeline import Pipeline
from reynard.ingest.plugins import default_plugins
from reynard.ingest.records import Rejected
from reynard.ingest.runner import Ingestor
from reynard.ingest.sources.base import ReadOptions
from reynard.settings import Settings
from reynard.state import open_state
from reynard.store.base import WriteResult


def default_user() -> str:
    """Who changes an alert's status when `--by` is not given: the OS user name."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment nor in the password database
        return "unknown"


# -- alerts -----------------------------------------------------------------------------------------------
def _store(settings: Settings) -> AlertStore:
    return AlertStore(open_state(settings.state_url))


def list_alerts(
    settings: Settings, *, since: datetime | None, status: str | None, fmt: str, limit: int | None = None
) -> None:
    alerts = _store(settings).list(since=since, status=status, limit=limit)
    if fmt == "json":
        out = sys.stdout
        for alert in alerts:
            out.write(orjson.dumps(alert).decode() + "\n")
        out.flush()
        return
    for alert in alerts:
        created = (alert["created"] or "")[:19]
        click.echo(
            f"{alert['id']:>6}  {created}  {alert['status']:<12} {alert['severity'] or '':<8} "
            f"{alert['rule']}: {alert['summary']}"
        )
    click.echo(f"{len(alerts)} alerts")


def change_status(settings: Settings, alert_id: int, status: str, by: str | None, comment: str | None) -> str:
    """Set the status; the line to print. An unknown id raises AlertError."""
    who = by or default_user()
    _store(settings).set_status(alert_id, status, who, comment)
    return f"alert {alert_id} {status} by {who}"


# -- rules test -------------------------------------------------------------------------------------------
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
    settings: Settings, paths: Sequence[str], reference: datetime
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
        Pipeline(default_plugins(settings)),
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


def run_rule_test(settings: Settings, rule: str, paths: Sequence[str], now: datetime | None) -> int:
    """Run RULE over the events of `paths` at `now`; print each alert as a JSON line. Returns the count."""
    classes = rule_classes(rule)
    moment = now or datetime.now(UTC)
    events, rejected = load_events(settings, paths, moment)
    for item in rejected:
        where = f"{item.origin}:{item.position}" if item.position else item.origin
        click.echo(f"reynard: rejected {where}: {item.reason}", err=True)
    fired = 0
    for name, cls in classes:
        for alert in cls(MemorySource(events)).run(now=moment):
            fired += 1
            sys.stdout.write(orjson.dumps({"rule": name, **alert}, default=str).decode() + "\n")
    sys.stdout.flush()
    click.echo(f"{len(events)} events, {fired} alerts", err=True)
    return fired


__all__ = [
    "AlertError",
    "MemorySink",
    "change_status",
    "default_user",
    "list_alerts",
    "load_events",
    "rule_classes",
    "run_rule_test",
]
