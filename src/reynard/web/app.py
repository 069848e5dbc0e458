"""The FastAPI application: ingest (MozDef loginput compatible), the event API, and the routers of each
capability (search, runbooks, playbooks, incidents, indicators).

`create_app(runtime)` takes everything from the runtime (`reynard.runtime`), so tests build it around
real stores in a temporary folder. Errors are answered in one place (`errors.py`).
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from reynard import __version__
from reynard.errors import InvalidEvent, NotFound
from reynard.events import numbers
from reynard.events.event import finalize
from reynard.events.timestamps import TimestampError, isoformat, parse_timestamp
from reynard.identity.roles import Permission
from reynard.ingest.records import Rejected
from reynard.ingest.runner import Ingestor
from reynard.query import ast
from reynard.runtime import Runtime
from reynard.store.base import WriteResult
from reynard.store.service import WriterService
from reynard.web.audit import AuditMiddleware, audit_router
from reynard.web.auth import CanIngest, allow
from reynard.web.docs import docs_router
from reynard.web.errors import add_error_handlers
from reynard.web.hygiene import BodyTypes, add_http_hygiene
from reynard.web.incidents import incidents_router
from reynard.web.iocs import IMPORT_TYPES, iocs_router
from reynard.web.playbooks import playbooks_router
from reynard.web.runbooks import runbooks_router
from reynard.web.search import search_router
from reynard.web.sessions import sessions_router

SHOWN_ERRORS = 20

# `POST /events` takes JSON or NDJSON; MozDef's shippers post JSON as text/plain or without a content
# type, which it takes too from a client that is not a browser (`hygiene.BodyTypes`).
INGEST_TYPES = BodyTypes(("application/json", "application/x-ndjson"), from_shippers=("", "text/plain"))
# The hand-off from `reynard ingest`: NDJSON of finalized events.
HANDOFF_TYPES = BodyTypes(("application/x-ndjson", "application/json"))
INGEST_PATHS = ("/events", "/events/", "/api/ingest/normalized")
INGEST_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "object"}},
        "application/x-ndjson": {"schema": {"type": "string"}},
    },
}


class _ServiceSink:
    """An ingest sink on the writer service: each write returns once durable."""

    def __init__(self, writer: WriterService):
        self.writer = writer

    def write(self, events: list[dict]) -> WriteResult:
        return self.writer.write(list(events))

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def create_app(runtime: Runtime) -> FastAPI:
    """The app over `runtime`; it takes the event store's writer lock (through `runtime.writer`)."""
    app = FastAPI(
        title="Reynard",
        version=__version__,
        summary="SIEM and incident response",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    settings = runtime.settings
    writer = runtime.writer
    reader = runtime.events
    app.state.identity = runtime.identity
    app.state.local_secret = runtime.local_secret
    app.state.sessions = runtime.sessions
    app.add_middleware(AuditMiddleware, trail=runtime.audit)

    add_error_handlers(app)
    # The HTTP hygiene layers (web/hygiene.py) go around everything: a middleware added before this one
    # (the audit trail, above) runs inside them, after the Host check, and its answers carry the
    # security headers; authentication is each route's own dependency (`allow`, web/auth.py).
    add_http_hygiene(
        app,
        settings,
        body_types={
            "/events": INGEST_TYPES,
            "/events/": INGEST_TYPES,
            "/api/ingest/normalized": HANDOFF_TYPES,
            "/api/iocs/import": IMPORT_TYPES,
        },
        ingest_paths=INGEST_PATHS,
    )
    app.include_router(docs_router(app))
    app.include_router(audit_router(runtime.audit))
    app.include_router(sessions_router(runtime.identity, runtime.sessions, runtime.audit))
    app.include_router(search_router(reader))
    app.include_router(runbooks_router(runtime.runbooks))
    app.include_router(playbooks_router(runtime))
    app.include_router(incidents_router(runtime.cases))
    app.include_router(iocs_router(runtime.indicators))

    @app.get("/status")
    def status() -> dict:
        """Liveness, as MozDef's loginput answered it."""
        return {"status": "ok", "version": __version__}

    async def _body(request: Request) -> bytes:
        """The whole body; its route's `max_body_size` stops it at the limit while it streams (413)."""
        body = await request.body()
        if not body.strip():
            raise HTTPException(400, "empty body: send one JSON event or NDJSON")
        return body

    def _ingest(body: bytes, origin: str) -> dict:
        messages: list[str] = []

        def note(message: str) -> None:
            if len(messages) < SHOWN_ERRORS:
                messages.append(message)

        ingestor = Ingestor(_ServiceSink(writer), runtime.dead_letters, runtime.pipeline, on_reject=note)
        summary = ingestor.ingest_bytes(body, origin)
        return {**summary.as_dict(), "errors": messages}

    ingest = [allow(Permission.INGEST)]
    limit = settings.max_body_bytes
    hidden = {"include_in_schema": False, "dependencies": ingest, "max_body_size": limit}

    @app.post("/events", dependencies=ingest, max_body_size=limit, openapi_extra={"requestBody": INGEST_BODY})
    @app.put("/events", **hidden)  # MozDef's loginput took PUT too
    @app.api_route("/events/", methods=["POST", "PUT"], **hidden)
    async def post_events(request: Request) -> dict:
        """One JSON event or NDJSON in bulk (MozDef loginput format, or any log Reynard can parse).

        Answers once every accepted event is durable; rejected records are in the dead-letter store.
        """
        body = await _body(request)
        client = request.client.host if request.client else "unknown"
        return await run_in_threadpool(_ingest, body, f"http:{client}")

    @app.post("/api/ingest/normalized", max_body_size=limit, include_in_schema=False)
    async def post_normalized(request: Request, who: CanIngest) -> dict:
        """Finalized events from `reynard ingest` while this server holds the writer lock. Only the local
        process that can read the data directory may: a shipper's token cannot choose event ids."""
        if who.kind != "local":
            raise HTTPException(403, "only `reynard ingest` on this machine hands over normalized events")
        body = await _body(request)
        return await run_in_threadpool(_store_normalized, body)

    def _store_normalized(body: bytes) -> dict:
        events, failed = [], []
        received = isoformat(datetime.now(UTC))
        for number, line in enumerate(body.splitlines(), 1):
            try:
                event = numbers.loads(line)  # integers beyond 64 bits kept as text
                events.append(finalize(event, received=received, keep_received=True))
            except (orjson.JSONDecodeError, InvalidEvent) as e:
                reason = f"line {number}: {e}"
                runtime.dead_letters.add([Rejected("normalized", "http", number, reason, line)])
                failed.append({"id": None, "reason": reason})
        result = writer.write(events)
        for event_id, reason in result.failed:
            failed.append({"id": event_id, "reason": reason})
        return {"stored": result.stored, "duplicates": result.duplicates, "failed": failed}

    @app.get("/api/events/{event_id}", dependencies=[allow(Permission.READ)])
    def get_event(event_id: str) -> Response:
        reader.refresh()
        event = reader.get(event_id)
        if event is None:
            raise NotFound(f"no event with id {event_id}")
        return Response(orjson.dumps(event), media_type="application/json")

    @app.get("/api/events", dependencies=[allow(Permission.READ)])
    def list_events(
        since: str | None = Query(None, description="ISO 8601 or epoch; inclusive"),
        until: str | None = Query(None, description="ISO 8601 or epoch; exclusive"),
        limit: int = Query(100, ge=1, le=10_000),
    ) -> Response:
        """The newest events in a time range (the query language comes with `/api/search`)."""
        start, end = _moment(since, "since"), _moment(until, "until")
        reader.refresh()
        events = reader.search(ast.Search(window=ast.TimeWindow(start, end), limit=limit)).events
        return Response(orjson.dumps({"events": events, "count": len(events)}), media_type="application/json")

    @app.get("/api/stats", dependencies=[allow(Permission.READ)])
    def stats() -> dict:
        reader.refresh()
        days = reader.days()
        return {
            "events": reader.count(),
            "days": [d.day.isoformat() for d in days],
            "dead_letters": runtime.dead_letters.count(),
        }

    @app.get("/api/alerts", dependencies=[allow(Permission.READ)])
    def list_alerts(
        status: str | None = Query(None, description="new, acknowledged, escalated or closed"),
        limit: int = Query(100, ge=1, le=10_000),
    ) -> Response:
        """The newest alerts (with `status` when given)."""
        found = runtime.alerts.list(status=status or None, limit=limit)
        return Response(orjson.dumps({"alerts": found, "count": len(found)}), media_type="application/json")

    return app


def _moment(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_timestamp(value)[0]
    except TimestampError as e:
        raise HTTPException(400, f"{name}: {e}") from None
