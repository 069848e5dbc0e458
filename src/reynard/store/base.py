"""The contract between Reynard and wherever events are kept: `EventStore` and the values it passes.

Backends: `tantivy` (embedded, one index per UTC day, the default; `store/tantivy/`), `memory` (the
reference, in one process; `store/memory.py`) and, when one machine is not enough, OpenSearch (daily
indices). `store/backends.py` opens the one the settings name. Every backend passes the same
conformance suite (`tests/store/`); docs/store.md is the guide to adding one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple, Protocol

from reynard.query import ast

# The defaults of `EventStore.count`: every event, all time (both frozen, so safe to share).
EVERYTHING = ast.MatchAll()
ALL_TIME = ast.TimeWindow()


class Prepared(NamedTuple):
    """A finalized event made ready for one backend (`EventStore.prepare`): built where the CPU is (an
    ingest worker process), written by the process that holds the store. `document` is the backend's
    own form of the event and must pickle."""

    id: str
    day: date  # the UTC day of utctimestamp
    document: Any


@dataclass
class WriteResult:
    """What a write did: events stored, events already present (same id), and the ids the store refused
    with the reason."""

    stored: int = 0
    duplicates: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def add(self, other: WriteResult) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.failed.extend(other.failed)


class SearchResult(NamedTuple):
    """One page of a search: the events, and the `after` of the next page (None when this page was not
    full: there is no next page)."""

    events: list[dict]
    next_after: tuple[str, str] | None


@dataclass(frozen=True)
class DayCount:
    """A UTC day that holds events, and how many."""

    day: date
    events: int


@dataclass(frozen=True)
class StoreStats:
    """The size of a store: events, UTC days holding them, bytes on disk (None where it has no disk of
    its own), and the backend's name (`event_store` setting)."""

    events: int
    days: int
    disk_bytes: int | None
    backend: str


class EventStore(Protocol):
    """Where finalized events are kept, and every question asked of them.

    Guarantees every backend keeps (tests/store/ holds them to it):

    - **Durability and visibility.** What `commit()` (or a write with `commit=True`) covered is durable
      when it returns (a crash afterwards loses none of it) and seen by every read (`get`, `search`,
      `stream`, `count`, `aggregate`, `days`, `stats`), in this object and in every other reader of
      the same store after its `refresh()`. Events not yet committed may be seen or not: the memory
      store shows none, tantivy commits a day early when a write opens a third day, OpenSearch
      refreshes on its own every second. Nothing may rely on them being hidden.
    - **Exact answers.** Every answer equals the reference semantics of the query AST
      (`reynard.query.predicate`, `reynard.query.reference`) over the committed events: no sampling, no
      approximate counts, no cap on buckets. A backend that cannot decide a query in its index checks
      candidates with the predicate.
    - **Order.** Newest first by `utctimestamp` (as an instant), ties by `id`, both descending.
    - **Dedup by id.** An event whose id the store already holds (committed, or written and not yet
      committed, or twice in one batch) is not stored again: it counts in `WriteResult.duplicates`, and
      the first one written is what reads return. Ids are looked up within the event's UTC day (a
      stable id names one record, so one time): the same id on two days is two events, and `get`
      returns the newer.
    - **Pagination.** Walking pages with `Search.after = previous.next_after` gives every matching event
      exactly once, in order, even while newer events are being committed.

    Events come back as they were written (a JSON round trip: what `orjson` gives back), as new dicts
    the caller may change.

    Adding a backend: implement every method below (docs/store.md, "Adding a backend"), give it a
    `name`, register it in `store/backends.py`, and add it to `tests/store_backends.py` so the
    conformance suite and the property tests run on it.
    """

    name: str  # the `event_store` setting that opens this backend

    # -- writing ------------------------------------------------------------------------------------------
    @staticmethod
    def prepare(event: dict) -> Prepared:
        """The backend's form of a finalized event. A pure function of the event, picklable as a plain
        module-level function, so ingest worker processes run it (`prepare = staticmethod(...)`)."""
        ...

    @staticmethod
    def original(prepared: Prepared) -> dict:
        """The event a `Prepared` was made from (to dead-letter one the store refused)."""
        ...

    def write_prepared(self, items: Sequence[Prepared], *, commit: bool = False) -> WriteResult:
        """Store prepared events (dedup by id, as `write`); with `commit`, as `write` then `commit()`."""
        ...

    def write(self, events: Sequence[dict], *, commit: bool = False) -> WriteResult:
        """Store finalized events; visible to reads after the next commit (with `commit`, durable and
        visible when this returns). An event the backend cannot take is in `failed` with the reason and
        does not stop the others."""
        ...

    def commit(self) -> None:
        """Make everything written so far durable and visible to readers."""
        ...

    # -- reading ------------------------------------------------------------------------------------------
    def get(self, event_id: str) -> dict | None:
        """The committed event with this id, as it was written; None when there is none."""
        ...

    def search(self, request: ast.Search) -> SearchResult:
        """One page of the events matching `request.query` in `request.window`, in order, strictly after
        `request.after` (an `(utctimestamp, id)` a previous page gave), at most `request.limit` (None:
        all). With `request.fields`, each event holds only those dotted fields (as keys, absent ones
        None: `reynard.query.render.project`); `next_after` is the `(utctimestamp, id)` of the page's
        last event, given when the page is full."""
        ...

    def stream(self, request: ast.Search) -> Iterator[dict]:
        """Every event matching the request, in order, after `request.after`, projected on
        `request.fields`: the pages of `search` end to end, read as they are consumed (constant memory).
        `request.limit` does not cap a stream (a backend may use it to size its reads)."""
        ...

    def count(self, query: ast.Node = EVERYTHING, window: ast.TimeWindow = ALL_TIME) -> int:
        """How many committed events match `query` in `window`."""
        ...

    def aggregate(self, request: ast.Aggregate) -> dict:
        """Each named aggregation of `request` over the matching events, exactly, in the shapes
        `reynard.query.reference.aggregate_events` gives (terms, distinct counts, date histograms,
        stats)."""
        ...

    def days(self) -> list[DayCount]:
        """The UTC days (of utctimestamp) that hold committed events, with their counts, oldest first."""
        ...

    def stats(self) -> StoreStats:
        """Events, days, disk bytes, backend name."""
        ...

    # -- looking after it -----------------------------------------------------------------------------
    def drop_day(self, day: date) -> bool:
        """Retention: remove every event of one UTC day, committed or not, durably. False when the store
        had nothing for that day."""
        ...

    def refresh(self) -> None:
        """See what other processes have committed since the last look (a no-op where reads always see
        the latest commit)."""
        ...

    def close(self) -> None:
        """Commit what was written, then release what the store holds (files, locks, connections)."""
        ...
