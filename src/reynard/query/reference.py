"""Reference answers to `Search` and `Aggregate` over a plain iterable of events.

The store's answers are tested against these, and a store may fall back to them on candidates it cannot
filter exactly. They are written for being obviously right, not for speed: everything is in memory.

Shapes of `aggregate_events` results, by aggregation:

- `TermsAgg`: `[{"value": str, "count": int, "samples": [event, ...], "sub": result}]`, by count
  descending then value ascending (plain string order, so "10" before "9"); `sub` only when asked.
  A value counts once per event even when the event holds it twice; 22 and "22" are one bucket "22".
- `DistinctCount`: int, the number of distinct term texts.
- `DateHistogram`: `[{"start": "2026-11-20T10:00:00.000000+00:00", "count": int}]`, non-empty buckets
  only, ascending; buckets start at multiples of the interval since the epoch.
- `Stats`: `{"count", "min", "max", "sum", "avg"}` over the numeric values (int and float, not bool, not
  numeric strings; every element of a list counts), floats, None when there are none.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from reynard.events.fields import values_at
from reynard.events.timestamps import isoformat
from reynard.query.ast import (
    Agg,
    Aggregate,
    DateHistogram,
    DistinctCount,
    Search,
    Stats,
    TermsAgg,
    TimeWindow,
)
from reynard.query.errors import QueryError
from reynard.query.predicate import compile_predicate
from reynard.query.values import as_number, as_time, term_text

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_OLDEST = datetime.min.replace(tzinfo=UTC)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _window_test(window: TimeWindow) -> Callable[[dict], bool]:
    """`start <= t < end` on utctimestamp (or either timestamp); an open window lets everything in."""
    start, end = _utc(window.start), _utc(window.end)
    if start is None and end is None:
        return lambda event: True

    def inside(value: Any) -> bool:
        moment = as_time(value)
        return moment is not None and (start is None or moment >= start) and (end is None or moment < end)

    if window.either_timestamp:
        return lambda event: inside(event.get("utctimestamp")) or inside(event.get("receivedtimestamp"))
    return lambda event: inside(event.get("utctimestamp"))


def sort_key(event: dict) -> tuple[datetime, str]:
    """The order of results, used descending: utctimestamp, then id. Times compare as instants, not as
    text; an event without a readable utctimestamp sorts as the oldest."""
    return as_time(event.get("utctimestamp")) or _OLDEST, str(event.get("id", ""))


def matching(events: Iterable[dict], query: Any, window: TimeWindow) -> Iterator[dict]:
    """The events matching query and window, in the order given, one at a time."""
    test, in_window = compile_predicate(query), _window_test(window)
    return (event for event in events if in_window(event) and test(event))


def _selected(events: Iterable[dict], query: Any, window: TimeWindow) -> list[dict]:
    """The events matching query and window, newest first."""
    found = list(matching(events, query, window))
    found.sort(key=sort_key, reverse=True)
    return found


def after_key(after: tuple[str, str]) -> tuple[datetime, str]:
    """`Search.after` as a `sort_key`: the results are those whose key is below it."""
    when, last_id = after
    moment = as_time(when)
    if moment is None:
        raise QueryError(f"search after: not a timestamp: {when!r}")
    return moment, str(last_id)


def search_events(events: Iterable[dict], search: Search) -> list[dict]:
    """The page of events `search` asks for: newest first, ties by id descending, strictly after
    `search.after` in that order, at most `search.limit` (None: all)."""
    found = _selected(events, search.query, search.window)
    if search.after is not None:
        after = after_key(search.after)
        found = [event for event in found if sort_key(event) < after]
    if search.limit is not None:
        if search.limit < 0:
            raise QueryError(f"limit must not be negative: {search.limit}")
        found = found[: search.limit]
    return found


def aggregate_events(events: Iterable[dict], aggregate: Aggregate) -> dict[str, Any]:
    """Each named aggregation of `aggregate` over the events matching its query and window."""
    found = _selected(events, aggregate.query, aggregate.window)
    return {name: _aggregate(agg, found) for name, agg in aggregate.aggs.items()}


def _texts(event: dict, field: str) -> set[str]:
    return {text for text in map(term_text, values_at(event, field)) if text is not None}


def _aggregate(agg: Agg, events: list[dict]) -> Any:
    """One aggregation over events already sorted newest first."""
    match agg:
        case TermsAgg():
            return _terms(agg, events)
        case DistinctCount(field=field):
            distinct: set[str] = set()
            for event in events:
                distinct |= _texts(event, field)
            return len(distinct)
        case DateHistogram(interval_seconds=interval):
            return _histogram(interval, events)
        case Stats(field=field):
            numbers = [
                number
                for event in events
                for number in map(as_number, values_at(event, field))
                if number is not None
            ]
            if not numbers:
                return {"count": 0, "min": None, "max": None, "sum": None, "avg": None}
            total = math.fsum(numbers)
            return {
                "count": len(numbers),
                "min": min(numbers),
                "max": max(numbers),
                "sum": total,
                "avg": total / len(numbers),
            }
        case _:
            raise TypeError(f"not an aggregation: {agg!r}")


def _terms(agg: TermsAgg, events: list[dict]) -> list[dict]:
    if agg.size is not None and agg.size < 0:
        raise QueryError(f"terms {agg.field}: size must not be negative: {agg.size}")
    buckets: dict[str, list[dict]] = {}
    for event in events:
        for text in _texts(event, agg.field):
            buckets.setdefault(text, []).append(event)
    ordered = sorted(
        ((value, members) for value, members in buckets.items() if len(members) >= agg.min_count),
        key=lambda item: (-len(item[1]), item[0]),
    )
    if agg.size is not None:
        ordered = ordered[: agg.size]
    out = []
    for value, members in ordered:
        bucket: dict[str, Any] = {"value": value, "count": len(members), "samples": members[: agg.samples]}
        if agg.sub is not None:
            bucket["sub"] = _aggregate(agg.sub, members)
        out.append(bucket)
    return out


def _histogram(interval: int, events: list[dict]) -> list[dict]:
    if not isinstance(interval, int) or isinstance(interval, bool) or interval <= 0:
        raise QueryError(f"date histogram interval must be a positive number of seconds: {interval!r}")
    width = interval * 1_000_000  # microseconds: exact integer arithmetic, no float rounding at edges
    counts: dict[int, int] = {}
    for event in events:
        moment = as_time(event.get("utctimestamp"))
        if moment is None:
            continue
        micros = (moment - EPOCH) // timedelta(microseconds=1)
        start = micros // width * width
        counts[start] = counts.get(start, 0) + 1
    return [
        {"start": isoformat(EPOCH + timedelta(microseconds=start)), "count": count}
        for start, count in sorted(counts.items())
    ]
