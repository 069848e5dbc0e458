"""The in-memory event store: the reference backend, answering with the reference semantics themselves.

Every answer is `reynard.query.reference` (and so `reynard.query.predicate`) over the committed events,
so this store is right by construction and slow by design: each query reads every event. It is a real
backend for tests and for one process that writes and reads its own events (`event_store = "memory"`,
a server: nothing outlives the process), and the model the conformance suite (tests/store/) describes
where the reference functions say nothing: commits, dedup, days, retention.

Like the tantivy store, reads see committed events only, and an id is looked up within its event's
UTC day. A commit publishes a new view of the committed events that is never changed afterwards, so
readers on other threads neither wait for the writer nor see half a commit. Events are kept as the JSON
text they were written as and handed out as new dicts: a caller that changes a result changes nothing
stored.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import NamedTuple

import orjson

from reynard.events import numbers
from reynard.query import ast
from reynard.query.reference import after_key, aggregate_events, matching, search_events, sort_key
from reynard.query.render import project
from reynard.store import base
from reynard.store.base import DayCount, Prepared, SearchResult, StoreStats, WriteResult
from reynard.store.budget import Deadline


def prepare(event: dict) -> Prepared:
    """`EventStore.prepare` for memory: the document is the event's JSON text."""
    # Finalized timestamps are ISO 8601 UTC, so the day is the first ten characters.
    return Prepared(event["id"], date.fromisoformat(event["utctimestamp"][:10]), numbers.dumps(event))


def original(prepared: Prepared) -> dict:
    """`EventStore.original` for memory."""
    return orjson.loads(prepared.document)


class _Held(NamedTuple):
    """One stored event: its place in the order, its day, the parsed event (read by the predicate,
    never handed out) and its JSON text (what readers get a copy of)."""

    key: tuple[datetime, str]
    day: date
    event: dict
    text: bytes


def _order(held: _Held) -> tuple[datetime, str]:
    return held.key


class _View:
    """The committed events, newest first; published whole by a commit and never changed after."""

    def __init__(self, ordered: list[_Held]):
        self.ordered = ordered
        self.slots = {(held.day, held.event["id"]): held for held in ordered}  # dedup: (day, id)
        self.by_event = {id(held.event): held for held in ordered}  # the held of a matching event
        self.newest: dict[str, _Held] = {}  # get: an id's event on its newest day
        for held in reversed(ordered):
            self.newest[held.event["id"]] = held

    def events(self) -> Iterator[dict]:
        return (held.event for held in self.ordered)

    def copy(self, event: dict) -> dict:
        """A new dict of a committed event (one this view holds)."""
        return orjson.loads(self.by_event[id(event)].text)


class MemoryEventStore:
    """`EventStore` in this process's memory (see the module docstring). Thread-safe: one lock orders
    writes, commits and drops; reads take the published view and never wait."""

    name = "memory"
    prepare = staticmethod(prepare)
    original = staticmethod(original)

    def __init__(self, query_timeout: float | None = None) -> None:
        self.query_timeout = query_timeout  # seconds a query may take (store/budget.py); None: no limit
        self._lock = threading.Lock()
        self._view = _View([])
        self._pending: dict[tuple[date, str], _Held] = {}

    # -- writing --------------------------------------------------------------------------------------
    def write(self, events: Sequence[dict], *, commit: bool = False) -> WriteResult:
        return self.write_prepared([prepare(e) for e in events], commit=commit)

    def write_prepared(self, items: Sequence[Prepared], *, commit: bool = False) -> WriteResult:
        result = WriteResult()
        with self._lock:
            committed = self._view.slots
            for item in items:
                slot = (item.day, item.id)
                if slot in committed or slot in self._pending:
                    result.duplicates += 1
                    continue
                try:
                    event = orjson.loads(item.document)
                except orjson.JSONDecodeError as e:
                    result.failed.append((item.id, f"the event store refused it: {e}"))
                    continue
                self._pending[slot] = _Held(sort_key(event), item.day, event, bytes(item.document))
                result.stored += 1
            if commit:
                self._commit()
        return result

    def commit(self) -> None:
        with self._lock:
            self._commit()

    def _commit(self) -> None:
        if self._pending:
            fresh = sorted(self._pending.values(), key=_order, reverse=True)
            self._view = _View(list(heapq.merge(self._view.ordered, fresh, key=_order, reverse=True)))
            self._pending = {}

    # -- reading --------------------------------------------------------------------------------------
    def get(self, event_id: str) -> dict | None:
        held = self._view.newest.get(event_id)
        return orjson.loads(held.text) if held is not None else None

    def search(self, request: ast.Search) -> SearchResult:
        view = self._view
        found = search_events(Deadline(self.query_timeout).every(view.events()), request)
        full = request.limit is not None and request.limit > 0 and len(found) == request.limit
        after = (found[-1]["utctimestamp"], found[-1]["id"]) if full else None
        return SearchResult([project(view.copy(e), request.fields) for e in found], after)

    def stream(self, request: ast.Search) -> Iterator[dict]:
        view = self._view
        below = after_key(request.after) if request.after is not None else None
        deadline = Deadline(self.query_timeout)  # the budget bounds the work between two events
        for event in matching(deadline.every(view.events()), request.query, request.window):
            if below is None or sort_key(event) < below:
                yield project(view.copy(event), request.fields)
                deadline.restart()

    def count(self, query: ast.Node = base.EVERYTHING, window: ast.TimeWindow = base.ALL_TIME) -> int:
        return sum(
            1 for _ in matching(Deadline(self.query_timeout).every(self._view.events()), query, window)
        )

    def aggregate(self, request: ast.Aggregate) -> dict:
        view = self._view
        events = Deadline(self.query_timeout).every(view.events())
        found = [view.copy(e) for e in matching(events, request.query, request.window)]
        return aggregate_events(found, request)

    def days(self) -> list[DayCount]:
        counts: dict[date, int] = {}
        for held in self._view.ordered:
            counts[held.day] = counts.get(held.day, 0) + 1
        return [DayCount(day, counts[day]) for day in sorted(counts)]

    def stats(self) -> StoreStats:
        return StoreStats(len(self._view.ordered), len(self.days()), None, self.name)

    # -- looking after it -----------------------------------------------------------------------------
    def drop_day(self, day: date) -> bool:
        with self._lock:
            kept = [held for held in self._view.ordered if held.day != day]
            pending = {slot: held for slot, held in self._pending.items() if held.day != day}
            dropped = len(kept) < len(self._view.ordered) or len(pending) < len(self._pending)
            if dropped:
                self._view = _View(kept)
                self._pending = pending
        return dropped

    def refresh(self) -> None:
        """Nothing to do: reads always see the latest commit."""

    def close(self) -> None:
        """Commit what was written. The events stay as long as the store does: `open_event_store` keeps
        one per events directory for the life of the process."""
        self.commit()
