"""Where an alert's searches go: an `EventSource` answers the query AST with plain lists and dicts.

Alerts never talk to a store directly, so the same alert runs against the embedded tantivy store in
production and against a list of events built in a test (MozDef needed a real Elasticsearch for both).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from reynard.query import ast
from reynard.query.reference import aggregate_events, search_events

if TYPE_CHECKING:
    from reynard.store.tantivy_store import TantivyEventStore


@runtime_checkable
class EventSource(Protocol):
    """What an alert needs: matching events (newest first, `limit=None`: all) and aggregations."""

    def search(self, request: ast.Search) -> list[dict]: ...

    def aggregate(self, request: ast.Aggregate) -> dict: ...


class MemorySource:
    """Events held in a list, answered by the reference implementation (tests, small replays)."""

    def __init__(self, events: Iterable[dict]):
        self.events = list(events)

    def search(self, request: ast.Search) -> list[dict]:
        return search_events(self.events, request)

    def aggregate(self, request: ast.Aggregate) -> dict:
        return aggregate_events(self.events, request)


class StoreSource:
    """The embedded event store. A search without a limit streams every match (no 1,000-hit cap)."""

    def __init__(self, store: TantivyEventStore):
        self.store = store

    def search(self, request: ast.Search) -> list[dict]:
        if request.limit is None:
            return list(self.store.stream(request))
        return self.store.search(request).events

    def aggregate(self, request: ast.Aggregate) -> dict:
        return self.store.aggregate(request)
