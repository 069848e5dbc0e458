"""Where an alert's searches go: an `EventSource` answers the query AST with plain lists and dicts.

Alerts never talk to a store directly, so the same alert runs against the embedded tantivy store in
production and against a list of events built in a test (MozDef needed a real Elasticsearch for both).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from reynard.query import ast
from reynard.query.reference import aggregate_events, search_events

if TYPE_CHECKING:
    from reynard.store.base import EventStore


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
    """An event store. A search without a limit streams every match (no 1,000-hit cap)."""

    def __init__(self, store: EventStore):
        self.store = store

    def search(self, request: ast.Search) -> list[dict]:
        if request.limit is None:
            return list(self.store.stream(request))
        return self.store.search(request).events

    def aggregate(self, request: ast.Aggregate) -> dict:
        return self.store.aggregate(request)


class UnalertedSource:
    """`source` without the events already in an alert of one rule: MozDef's dedup, which excluded the
    events tagged with the alert's name, asked of the alert store instead of re-saving tagged events.

    So an aggregation counts only events that have not alerted yet: ten failures alert, the eleventh
    is a group of one. A search with a limit pages on until it has `limit` unalerted events.
    """

    def __init__(self, source: EventSource, alerted: Callable[[list[str]], set[str]]):
        self.source = source
        self.alerted = alerted

    def _fresh(self, events: list[dict]) -> list[dict]:
        done = self.alerted([str(e["id"]) for e in events if e.get("id") is not None])
        return [e for e in events if str(e.get("id")) not in done] if done else events

    def search(self, request: ast.Search) -> list[dict]:
        events = self.source.search(request)
        fresh = self._fresh(events)
        if request.limit is None:
            return fresh
        while len(fresh) < request.limit and len(events) == request.limit:
            last = events[-1]
            events = self.source.search(replace(request, after=(last["utctimestamp"], str(last["id"]))))
            fresh.extend(self._fresh(events))
        return fresh[: request.limit]

    def aggregate(self, request: ast.Aggregate) -> dict:
        return self.source.aggregate(request)
