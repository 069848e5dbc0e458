"""Answering `Search` and `Aggregate` requests on the daily tantivy indices, exactly.

The compiler says whether the index alone decides the query. When it does not, each day first answers
the pattern leaves it can from its dictionary (`for_day`, dictionary.py), and the candidates that
are still undecided are checked with the in-memory predicate, each event read and parsed when its turn
comes. Results come newest first, ties broken by id (both descending), across days; `after` continues
from the last event of a page. Aggregations run inside tantivy per day and are merged here; when the
query is not exact, or the index cannot aggregate a field exactly (too many buckets, a field it has no
column for, a value it may not give back exactly), they are computed from the matching events instead.
Every loop checks the query's deadline (store/budget.py): between days and documents read back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple, Protocol

import orjson
import tantivy

from reynard.events.timestamps import isoformat
from reynard.query import ast
from reynard.query.errors import QueryError
from reynard.query.predicate import compile_predicate
from reynard.query.reference import after_key, aggregate_events
from reynard.store.base import SearchResult
from reynard.store.budget import NO_DEADLINE, Deadline
from reynard.store.tantivy.compiler import Compiled, TantivyCompiler, micros
from reynard.store.tantivy.dictionary import answer_from_dictionary, bucket_text, is_panic
from reynard.store.tantivy.schema import KEYWORD_FIELDS

Occur = tantivy.Occur
DESC = tantivy.Order.Desc
BATCH = 10_000
MAX_BUCKETS = 60_000
_AGGREGATABLE = frozenset(KEYWORD_FIELDS)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Indices(Protocol):
    """What answering needs of the store (`TantivyEventStore`): its schema and one searcher per day."""

    schema: tantivy.Schema

    def index_days(self) -> list[date]: ...

    def searcher(self, day: date) -> tantivy.Searcher: ...


class _Plan(NamedTuple):
    node: ast.Node
    query: tantivy.Query  # the candidates: the compiled query and the window
    predicate: Any  # Callable[[dict], bool] | None: None when the index alone is exact
    days: list
    compiler: TantivyCompiler
    deadline: Deadline  # checked between days and between the documents read back


def _and(*queries: tantivy.Query | None) -> tantivy.Query:
    present = [q for q in queries if q is not None]
    if not present:
        return tantivy.Query.all_query()
    if len(present) == 1:
        return present[0]
    return tantivy.Query.boolean_query([(Occur.Must, q) for q in present])


def _window(store: Indices, window: ast.TimeWindow) -> tuple[tantivy.Query | None, list]:
    if window.start is None and window.end is None:
        return None, store.index_days()

    def span(field: str) -> tantivy.Query:
        return tantivy.Query.range_query(
            store.schema,
            field,
            tantivy.FieldType.Integer,
            micros(window.start) if window.start else None,
            micros(window.end) if window.end else None,
            include_upper=window.end is None,
        )

    if window.either_timestamp:
        query = tantivy.Query.boolean_query(
            [(Occur.Should, span("utctimestamp")), (Occur.Should, span("receivedtimestamp"))]
        )
        return query, store.index_days()
    first = window.start.astimezone(UTC).date() if window.start else None
    last = window.end.astimezone(UTC).date() if window.end else None
    days = [d for d in store.index_days() if (first is None or d >= first) and (last is None or d <= last)]
    return span("utctimestamp"), days


def plan(store: Indices, query: ast.Node, window: ast.TimeWindow, deadline: Deadline = NO_DEADLINE) -> _Plan:
    # The predicate first, even when the index alone decides: the store then refuses exactly the queries
    # the predicate refuses, with the same message (a Term of None, an integer of 5,000 digits...).
    predicate = compile_predicate(query)
    compiler = TantivyCompiler(store.schema)
    compiled: Compiled = compiler.compile(query)
    window_query, days = _window(store, window)
    if compiled.exact:
        predicate = None
    return _Plan(query, _and(compiled.query, window_query), predicate, days, compiler, deadline)


def for_day(plan_: _Plan, searcher: tantivy.Searcher) -> _Plan:
    """The plan for one day's searcher. When the index cannot decide the query, its pattern leaves on
    `details` paths are answered from that day's dictionary (store/tantivy/dictionary.py), searched within
    the same candidates; the predicate is kept for whatever the dictionary could not make exact. The
    dictionary and the search must use the same searcher: a commit in between could add a value."""
    if plan_.predicate is None:
        return plan_
    node = answer_from_dictionary(plan_.node, searcher, plan_.query, plan_.compiler)
    if node is plan_.node:
        return plan_
    compiled = plan_.compiler.compile(node)
    return plan_._replace(
        query=_and(compiled.query, plan_.query), predicate=None if compiled.exact else plan_.predicate
    )


def _ordered(
    store: Indices,
    searcher: tantivy.Searcher,
    plan_: _Plan,
    upper: tuple[int, str] | None,
    want: int | None,
) -> Iterator[tuple[int, str, dict]]:
    """Matching events of one day as `(micros, id, event)`, by (time, id) descending, below `upper`.

    Reads in batches that start at what the caller wants (a few samples need a few documents) and
    double up to `BATCH`. `plan_` is the day's (`for_day`)."""
    if not searcher.num_docs:
        return
    bound = upper[0] if upper else None
    batch = min(BATCH, want + 1) if want else BATCH
    while True:
        plan_.deadline.check()
        query = plan_.query if bound is None else _and(plan_.query, _at_most(store, bound))
        hits = searcher.search(query, limit=batch, order_by_field="utctimestamp", order=DESC).hits
        if not hits:
            return
        last_time = hits[-1][0]
        full = len(hits) == batch
        if full:  # the events at the last timestamp may go on past the batch: take them all
            hits = [h for h in hits if h[0] > last_time]
            same = _and(plan_.query, _exactly(store, last_time))
            count = searcher.search(same, limit=1, count=True).count
            hits.extend(
                (last_time, address) for _, address in searcher.search(same, limit=max(count, 1)).hits
            )
        yield from _in_order(searcher, hits, upper, plan_.predicate, plan_.deadline)
        if not full:
            return
        bound = last_time - 1
        batch = min(BATCH, batch * 2)


def _in_order(
    searcher: tantivy.Searcher, hits: list, upper: tuple[int, str] | None, predicate: Any, deadline: Deadline
) -> Iterator[tuple[int, str, dict]]:
    """The events of `hits` (`(micros, address)`, by time descending, as the search sorts them) by
    (time, id) descending, below `upper`, that pass `predicate`.

    Each document is read and parsed when its turn comes, not a batch ahead: the caller may stop
    early, and an event that is dropped at once costs a third of one held among thousands (memory
    reused while still in cache, no garbage collection over the batch). Ids are read ahead only where
    they decide: to order equal timestamps and to compare with `upper`."""
    check = deadline.check
    for time, group in groupby(hits, key=itemgetter(0)):
        check()
        moment = int(time)
        addresses = [address for _, address in group]
        if len(addresses) == 1 and (upper is None or moment < upper[0]):
            event = orjson.loads(searcher.doc(addresses[0]).get_first("_doc"))
            if predicate is None or predicate(event):
                yield moment, event["id"], event
            continue
        documents = [(doc.get_first("id"), doc) for doc in map(searcher.doc, addresses)]
        if upper is not None:
            documents = [(i, doc) for i, doc in documents if (moment, i) < upper]
        documents.sort(key=itemgetter(0), reverse=True)
        for event_id, doc in documents:
            check()
            event = orjson.loads(doc.get_first("_doc"))
            if predicate is None or predicate(event):
                yield moment, event_id, event


def _at_most(store: Indices, value: int) -> tantivy.Query:
    return tantivy.Query.range_query(store.schema, "utctimestamp", tantivy.FieldType.Integer, None, value)


def _exactly(store: Indices, value: int) -> tantivy.Query:
    return tantivy.Query.range_query(store.schema, "utctimestamp", tantivy.FieldType.Integer, value, value)


def iter_matches(store: Indices, search: ast.Search, deadline: Deadline = NO_DEADLINE) -> Iterator[dict]:
    """Every matching event, newest first, streaming (`search.limit` only sizes the reads); QueryTimeout
    past the deadline."""
    plan_ = plan(store, search.query, search.window, deadline)
    upper = None
    if search.after is not None:
        moment, last_id = after_key(search.after)
        upper = (micros(moment), last_id)
    for day in sorted(plan_.days, reverse=True):
        deadline.check()
        searcher = store.searcher(day)
        if not searcher.num_docs:
            continue
        for _, _, event in _ordered(store, searcher, for_day(plan_, searcher), upper, search.limit):
            yield event


def run_search(store: Indices, search: ast.Search, deadline: Deadline = NO_DEADLINE) -> SearchResult:
    if search.limit is not None and search.limit <= 0:
        if search.limit < 0:
            raise QueryError(f"limit must not be negative: {search.limit}")
        return SearchResult([], None)
    events = []
    for event in iter_matches(store, search, deadline):
        events.append(event)
        if search.limit is not None and len(events) >= search.limit:
            break
    full = search.limit is not None and len(events) == search.limit
    after = (events[-1]["utctimestamp"], events[-1]["id"]) if full else None
    return SearchResult(events, after)


def run_count(
    store: Indices, query: ast.Node, window: ast.TimeWindow, deadline: Deadline = NO_DEADLINE
) -> int:
    plan_ = plan(store, query, window, deadline)
    total = 0
    for day in plan_.days:
        deadline.check()
        searcher = store.searcher(day)
        if not searcher.num_docs:
            continue
        daily = for_day(plan_, searcher)
        if daily.predicate is None:
            total += searcher.search(daily.query, limit=1, count=True).count
        else:
            total += sum(1 for _ in _ordered(store, searcher, daily, None, None))
    return total


# -- aggregations -----------------------------------------------------------------------------------------
class _Inexact(Exception):
    """The index cannot give this aggregation exactly: compute it from the events."""


def run_aggregate(store: Indices, request: ast.Aggregate, deadline: Deadline = NO_DEADLINE) -> dict[str, Any]:
    plan_ = plan(store, request.query, request.window, deadline)
    results: dict[str, Any] = {}
    for name, agg in request.aggs.items():
        try:
            results[name] = _indexed(store, plan_, request, agg)
        except _Inexact:
            events = iter_matches(store, ast.Search(request.query, request.window, limit=None), deadline)
            results[name] = aggregate_events(
                events, ast.Aggregate(request.query, request.window, {name: agg})
            )[name]
    return results


def _request(agg: ast.Agg) -> dict:
    match agg:
        case ast.TermsAgg(field, _, _, samples, sub):
            if not (field in _AGGREGATABLE or field.startswith("details.")):
                raise _Inexact
            body: dict = {"terms": {"field": field, "size": MAX_BUCKETS, "min_doc_count": 1}}
            inner: dict = {}
            if sub is not None:
                inner["sub"] = _request(sub)
            if samples:  # one more than needed, to see whether a tie straddles the cut
                fields = ["id", "utctimestamp"]
                order = [{"utctimestamp": "desc"}]
                inner["top"] = {"top_hits": {"size": samples + 1, "sort": order, "docvalue_fields": fields}}
            if inner:
                body["aggs"] = inner
            return body
        case ast.DistinctCount(field):
            return _request(ast.TermsAgg(field, size=None))
        case ast.DateHistogram(seconds):
            return {"histogram": {"field": "utctimestamp", "interval": seconds * 1_000_000}}
        case ast.Stats(field):
            if not field.startswith("details."):
                raise _Inexact
            return {"stats": {"field": field}}
    raise TypeError(f"unknown aggregation {type(agg).__name__}")


def _indexed(store: Indices, plan_: _Plan, request: ast.Aggregate, agg: ast.Agg) -> Any:
    body = {"a": _request(agg)}
    partials = []
    for day in plan_.days:
        plan_.deadline.check()
        searcher = store.searcher(day)
        if not searcher.num_docs:
            continue
        daily = for_day(plan_, searcher)
        if daily.predicate is not None:
            raise _Inexact
        try:
            partials.append(searcher.aggregate(daily.query, body)["a"])
        except ValueError as e:  # too many buckets, or a field with no column
            raise _Inexact from e
        except BaseException as e:
            if not is_panic(e):  # tantivy 0.27 panics on a long text cut inside a UTF-8 sequence
                raise
            raise _Inexact from None
    return _merge(store, request, agg, partials, plan_.deadline)


def _merge(
    store: Indices, request: ast.Aggregate, agg: ast.Agg, partials: list[dict], deadline: Deadline
) -> Any:
    match agg:
        case ast.TermsAgg():
            return _merge_terms(store, request, agg, partials, deadline)
        case ast.DistinctCount():
            texts = {bucket_text(b) for p in partials for b in p.get("buckets", [])}
            if None in texts:
                raise _Inexact
            return len(texts)
        case ast.DateHistogram():
            counts: dict[int, int] = {}
            for p in partials:
                for b in p.get("buckets", []):
                    if b["doc_count"]:
                        key = int(b["key"])
                        counts[key] = counts.get(key, 0) + b["doc_count"]
            step = timedelta(microseconds=1)
            return [{"start": isoformat(_EPOCH + step * key), "count": counts[key]} for key in sorted(counts)]
        case ast.Stats():
            present = [p for p in partials if p.get("count")]
            count = sum(p["count"] for p in present)
            if not count:
                return {"count": 0, "min": None, "max": None, "sum": None, "avg": None}
            total = sum(p["sum"] for p in present)
            return {
                "count": count,
                "min": min(p["min"] for p in present),
                "max": max(p["max"] for p in present),
                "sum": total,
                "avg": total / count,
            }
    raise TypeError(f"unknown aggregation {type(agg).__name__}")


def _merge_terms(
    store: Indices, request: ast.Aggregate, agg: ast.TermsAgg, partials: list, deadline: Deadline
) -> list:
    counts: dict[str, int] = {}
    subs: dict[str, list] = {}
    tops: dict[str, list[tuple[int, str]]] = {}
    for p in partials:
        if p.get("sum_other_doc_count"):
            raise _Inexact
        for b in p.get("buckets", []):
            value = bucket_text(b)
            if value is None:
                raise _Inexact
            counts[value] = counts.get(value, 0) + b["doc_count"]
            if agg.sub is not None:
                subs.setdefault(value, []).append(b["sub"])
            if agg.samples:
                hits = b["top"]["hits"]
                tops.setdefault(value, []).extend(
                    (h["docvalue_fields"]["utctimestamp"][0], h["docvalue_fields"]["id"][0]) for h in hits
                )
    ordered = sorted((v for v in counts if counts[v] >= agg.min_count), key=lambda v: (-counts[v], v))
    if agg.size is not None:
        ordered = ordered[: agg.size]
    samples = (
        _samples(store, request, agg, {v: tops.get(v, []) for v in ordered}, deadline) if agg.samples else {}
    )
    buckets = []
    for value in ordered:
        bucket: dict[str, Any] = {"value": value, "count": counts[value], "samples": samples.get(value, [])}
        if agg.sub is not None:
            narrowed = ast.Bool(must=(request.query, ast.Term(agg.field, value)))
            sub_request = ast.Aggregate(narrowed, request.window)
            bucket["sub"] = _merge(store, sub_request, agg.sub, subs[value], deadline)
        buckets.append(bucket)
    return buckets


def _samples(
    store: Indices,
    request: ast.Aggregate,
    agg: ast.TermsAgg,
    tops: dict[str, list[tuple[int, str]]],
    deadline: Deadline,
) -> dict[str, list[dict]]:
    """The newest events of each bucket, from the top hits the aggregation brought back; a bucket whose
    cut falls inside a run of equal timestamps is searched exactly instead (ties go by id)."""
    wanted: dict[str, list[str]] = {}
    found: dict[str, list[dict]] = {}
    for value, hits in tops.items():
        hits.sort(reverse=True)
        cut = agg.samples
        if len(hits) > cut and hits[cut - 1][0] == hits[cut][0]:
            narrowed = ast.Bool(must=(request.query, ast.Term(agg.field, value)))
            found[value] = run_search(store, ast.Search(narrowed, request.window, limit=cut), deadline).events
        else:
            wanted[value] = [event_id for _, event_id in hits[:cut]]
    events = _by_id(store, [i for ids in wanted.values() for i in ids], deadline)
    for value, ids in wanted.items():
        found[value] = [events[i] for i in ids if i in events]
    return found


def _by_id(store: Indices, ids: list[str], deadline: Deadline) -> dict[str, dict]:
    """Stored events by id, one term-set search per day."""
    events: dict[str, dict] = {}
    if not ids:
        return events
    query = tantivy.Query.term_set_query(store.schema, "id", ids)
    for day in store.index_days():
        deadline.check()
        searcher = store.searcher(day)
        if not searcher.num_docs:
            continue
        for _, address in searcher.search(query, limit=len(ids)).hits:
            event = orjson.loads(searcher.doc(address).get_first("_doc"))
            events[event["id"]] = event
    return events
