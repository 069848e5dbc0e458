"""Retro-hunt: the stored events of a time range that touch an indicator active now.

The ingest plugin matches an event against the lists as they were when it arrived; an indicator added
later (today's threat report about last week's address) is found here. The store narrows the events
with one query that every match must satisfy (the address in `ip`, the domain somewhere in a domain
field, the key or principal in its field; hashes and terms, which may be in any string, scan the
range), and the same matcher as at ingest (`IndicatorSet`) decides, so a hunt finds what ingest would
have tagged. (`reynard.detect.hunt` raises the `indicator_match` alerts for what a hunt found.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from reynard.events.fields import ANY_IP
from reynard.intel.indicators import Indicator
from reynard.intel.match import (
    ACCESS_KEY_FIELDS,
    DOMAIN_FIELDS,
    PRINCIPAL_FIELDS,
    Hit,
    IndicatorSet,
)
from reynard.intel.store import IndicatorStore
from reynard.query import ast
from reynard.store.base import EventStore

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
    events: EventStore,
    indicators: IndicatorStore,
    start: datetime | None,
    end: datetime | None,
    report: HuntReport,
    now: datetime | None = None,
) -> Iterator[tuple[dict, list[Hit]]]:
    """The stored events in [start, end) that touch an indicator active at `now`, with what they touch."""
    now = now or datetime.now(UTC)
    items = indicators.list("active", now=now)
    report.indicators = len(items)
    if not items:
        return
    matcher = IndicatorSet(items)
    events.refresh()
    request = ast.Search(narrowing_query(items), ast.TimeWindow(start=start, end=end), limit=None)
    for event in events.stream(request):
        report.searched += 1
        hits = matcher.match(event)
        if hits:
            report.matched += 1
            yield event, hits
