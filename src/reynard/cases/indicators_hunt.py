"""Retro-hunt: the stored events of a time range that touch an indicator active now.

The ingest plugin matches an event against the lists as they were when it arrived; an indicator added
later (today's threat report about last week's address) is found here. The store narrows the events
with one query that every match must satisfy (the address in `ip`, the domain somewhere in a domain
field, the key or principal in its field; hashes and terms, which may be in any string, scan the
range), and the same matcher as at ingest (`IndicatorSet`) decides, so a hunt finds what ingest would
have tagged. With `alert`, each event found raises the `indicator_match` rule's alert (configured as
the registry has it), once per event: an event that already alerted for that rule is not alerted again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from reynard.cases.indicators import Indicator
from reynard.cases.indicators_match import (
    ACCESS_KEY_FIELDS,
    DOMAIN_FIELDS,
    PRINCIPAL_FIELDS,
    Hit,
    IndicatorSet,
)
from reynard.cases.indicators_store import IndicatorStore
from reynard.events.fields import ANY_IP
from reynard.query import ast
from reynard.settings import Settings

RULE = "indicator_match"
MAX_CLAUSES = 2048  # beyond this the narrowing query costs more than reading the range


def narrowing_query(items: list[Indicator]) -> ast.Node:
    """A query every event an indicator of `items` matches satisfies (a superset: the matcher decides)."""
    by_kind: dict[str, list[str]] = {}
    for item in items:
        by_kind.setdefault(item.kind, []).append(item.key)
    if by_kind.get("hash") or by_kind.get("term"):
        return ast.MatchAll()
    clauses: list[ast.Node] = [ast.Cidr(ANY_IP, key) for key in by_kind.get("ip", [])]
    for name in by_kind.get("domain", []):
        clauses.extend(ast.Contains(f, name, case_insensitive=True) for f in DOMAIN_FIELDS)
    for kind, fields in (("access_key", ACCESS_KEY_FIELDS), ("principal", PRINCIPAL_FIELDS)):
        keys = tuple(by_kind.get(kind, []))
        if keys:
            clauses.extend(ast.Terms(f, keys, case_insensitive=True) for f in fields)
    if not clauses:
        return ast.Bool(must_not=(ast.MatchAll(),))
    if len(clauses) > MAX_CLAUSES:
        return ast.MatchAll()
    return ast.Bool(should=tuple(clauses), minimum_should_match=1)


@dataclass
class HuntReport:
    indicators: int = 0
    searched: int = 0
    matched: int = 0
    alerts: list[int] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"hunted {self.indicators} indicators: searched {self.searched} events, "
            f"{self.matched} matched, {len(self.alerts)} alerts"
        )


def hunt(
    settings: Settings,
    start: datetime | None,
    end: datetime | None,
    report: HuntReport,
    now: datetime | None = None,
) -> Iterator[tuple[dict, list[Hit]]]:
    """The stored events in [start, end) that touch an indicator active at `now`, with what they touch."""
    from reynard.state import open_state
    from reynard.store.tantivy_store import TantivyEventStore

    now = now or datetime.now(UTC)
    items = IndicatorStore(open_state(settings.state_url)).list("active", now=now)
    report.indicators = len(items)
    if not items:
        return
    matcher = IndicatorSet(items)
    reader = TantivyEventStore(settings.events_dir)
    request = ast.Search(narrowing_query(items), ast.TimeWindow(start=start, end=end), limit=None)
    for event in reader.stream(request):
        report.searched += 1
        hits = matcher.match(event)
        if hits:
            report.matched += 1
            yield event, hits


def raise_alerts(settings: Settings, found: list[tuple[dict, list[Hit]]]) -> list[int]:
    """The `indicator_match` alerts for hunted events that have not alerted for it yet; their ids."""
    from reynard.detect.alerts import AlertStore, NewAlert
    from reynard.detect.alerttask import EVENT_INDEX
    from reynard.detect.notifications import Notifications
    from reynard.detect.registry import RuleRegistry
    from reynard.state import open_state

    if not found:
        return []
    engine = open_state(settings.state_url)
    registry = RuleRegistry(engine, settings.data_dir / "rules")
    registry.ensure_builtins()
    task = registry.tasks(RULE)[0]
    alerts = AlertStore(engine, notify=Notifications.from_settings(settings, engine))
    done = alerts.already_alerted(RULE, [str(event["id"]) for event, _ in found])
    new = []
    for event, hits in found:
        event_id = str(event["id"])
        if event_id in done:
            continue
        done.add(event_id)
        tags = [t for t in event.get("tags") or [] if t != "ioc"]
        tagged = {**event, "tags": [*tags, "ioc"], "details": dict(event.get("details") or {})}
        tagged["details"]["iocs"] = [hit.as_dict() for hit in hits]
        task.now = datetime.now(UTC)
        alert = task.onEvent({"_id": event_id, "_index": EVENT_INDEX, "_source": tagged})
        if alert:
            new.append(NewAlert(task.tagBotNotify(alert), RULE, event_id))
    return alerts.add_many(new)
