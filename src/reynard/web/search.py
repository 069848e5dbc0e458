"""`/api/search` and `/api/aggregate`: the query engine over HTTP, JSON in and out.

Queries run in their own bounded pool of threads (`QueryPool`), not in the thread pool that Starlette
gives synchronous routes (where `POST /events` acknowledges ingest and `/status` answers): however slow
the queries, and however many arrive, ingest and liveness keep their threads. Each query is also under
the store's time budget (`query_timeout_seconds`, store/budget.py): past it, a 503 naming the budget.
Past `QUERY_WORKERS` running and `QUERY_WAITING` waiting, a query is refused at once with a 503
(`QueryBusy`) rather than queued without end.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from reynard.errors import ReynardError
from reynard.identity.roles import Permission
from reynard.query import ast, render
from reynard.query.errors import QueryError
from reynard.query.lucene import parse_query
from reynard.query.window import interval_seconds, window
from reynard.store.base import EventStore
from reynard.web.auth import allow


class SearchBody(BaseModel):
    query: str = Field("*", description="Kibana/Lucene query string")
    since: str | None = Field(None, description="15m, 24h, 7d or ISO 8601 (inclusive)")
    until: str | None = Field(None, description="15m, 24h, 7d or ISO 8601 (exclusive)")
    limit: int = Field(100, ge=1, le=10_000)
    after: tuple[str, str] | None = Field(None, description="next_after of the previous page")
    fields: list[str] | None = None


class AggregateBody(BaseModel):
    query: str = "*"
    since: str | None = None
    until: str | None = None
    aggs: dict[str, dict[str, Any]] = Field(
        ...,
        description='{"name": {"terms": {"field", "size", "min_count", "samples", "sub"}} | '
        '{"distinct": {"field"}} | {"date_histogram": {"interval": "1h"}} | {"stats": {"field"}}}',
    )


T = TypeVar("T")
# Queries are CPU-bound Python (reading events back, the predicate) sharing one interpreter lock: more
# threads add no speed, and four let a slow query run beside quick ones.
QUERY_WORKERS = 4
QUERY_WAITING = 64  # queries that may wait for a worker; beyond them, QueryBusy


class QueryBusy(ReynardError):
    """Too many queries at once: refused at once rather than queued without end (503)."""

    http_status = 503


class QueryPool:
    """A bounded pool of threads for queries: `workers` run, `waiting` more wait, the rest are refused.

    A slot is held until the query's thread has finished (not only until its request is answered), so
    queries whose clients went away still count while they run."""

    def __init__(self, workers: int = QUERY_WORKERS, waiting: int = QUERY_WAITING):
        self.workers, self.waiting = workers, waiting
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reynard-query")
        self._slots = threading.BoundedSemaphore(workers + waiting)

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        if not self._slots.acquire(blocking=False):
            busy = f"{self.workers} running, {self.waiting} waiting"
            raise QueryBusy(f"too many queries at once ({busy}): try again shortly")
        try:
            future = self._executor.submit(work, *args)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        return await asyncio.wrap_future(future)


def parse_agg(spec: dict[str, Any], where: str) -> ast.Agg:
    """One aggregation from its JSON form (see AggregateBody)."""
    if not isinstance(spec, dict) or len(spec) != 1:
        raise QueryError(
            "an aggregation is an object with one key: terms, distinct, date_histogram or stats", where
        )
    kind, args = next(iter(spec.items()))
    if not isinstance(args, dict):
        raise QueryError(f"{kind}: expected an object of arguments", where)
    try:
        if kind == "terms":
            sub = args.get("sub")
            return ast.TermsAgg(
                field=str(args["field"]).lower(),
                size=None if args.get("size") is None and "size" in args else int(args.get("size", 20)),
                min_count=int(args.get("min_count", 1)),
                samples=int(args.get("samples", 0)),
                sub=parse_agg(sub, f"{where}.sub") if sub is not None else None,
            )
        if kind == "distinct":
            return ast.DistinctCount(str(args["field"]).lower())
        if kind == "date_histogram":
            return ast.DateHistogram(interval_seconds(str(args.get("interval", "1h"))))
        if kind == "stats":
            return ast.Stats(str(args["field"]).lower())
    except KeyError as e:
        raise QueryError(f"{kind}: missing {e.args[0]!r}", where) from None
    except (TypeError, ValueError) as e:
        raise QueryError(f"{kind}: {e}", where) from None
    raise QueryError(f"unknown aggregation {kind!r}", where)


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def search_router(reader: EventStore, pool: QueryPool | None = None) -> APIRouter:
    """The routes over `reader`, their queries run in `pool` (one of their own by default)."""
    router = APIRouter(prefix="/api", tags=["search"])
    queries = pool or QueryPool()

    def do_search(body: SearchBody) -> Response:
        request = ast.Search(parse_query(body.query), window(body.since, body.until), body.limit, body.after)
        reader.refresh()
        result = reader.search(request)
        events = [render.project(e, body.fields) for e in result.events]
        return _json({"events": events, "count": len(events), "next_after": result.next_after})

    @router.get("/search", dependencies=[allow(Permission.READ)])
    async def search_get(
        q: str = Query("*", description="Kibana/Lucene query string"),
        since: str | None = None,
        until: str | None = None,
        limit: int = Query(100, ge=1, le=10_000),
        fields: str | None = Query(None, description="comma-separated dotted fields"),
    ) -> Response:
        columns = [f for f in fields.split(",") if f] if fields else None
        body = SearchBody(query=q, since=since, until=until, limit=limit, fields=columns)
        return await queries.run(do_search, body)

    @router.post("/search", dependencies=[allow(Permission.READ)])
    async def search_post(body: SearchBody) -> Response:
        return await queries.run(do_search, body)

    def do_aggregate(body: AggregateBody) -> Response:
        aggs = {name: parse_agg(spec, f"aggs.{name}") for name, spec in body.aggs.items()}
        request = ast.Aggregate(parse_query(body.query), window(body.since, body.until), aggs)
        reader.refresh()
        return _json({"aggregations": reader.aggregate(request)})

    @router.get("/aggregate", dependencies=[allow(Permission.READ)])
    async def aggregate_get(
        field: str,
        q: str = "*",
        since: str | None = None,
        until: str | None = None,
        size: int = Query(20, ge=1, le=10_000),
    ) -> Response:
        spec = {field: {"terms": {"field": field, "size": size}}}
        body = AggregateBody(query=q, since=since, until=until, aggs=spec)
        return await queries.run(do_aggregate, body)

    @router.post("/aggregate", dependencies=[allow(Permission.READ)])
    async def aggregate_post(body: AggregateBody) -> Response:
        return await queries.run(do_aggregate, body)

    return router
