"""The audit trail of the HTTP API: every state-changing request an authenticated principal makes
(POST, PUT, PATCH, DELETE), with who, when, from where, the route and its parameters, and the status it
was answered with, refusals (403) and failures included. Ingest (`POST /events`, what shippers send
many times a second) is counted in the dead-letter store and the event store, not here.

A pure ASGI middleware: it reads the status as the answer goes out and records after it, so an answer
is never delayed by more than the one insert, and a failing audit write is logged, never turned into a
failed request after the fact.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reynard.identity.audit import AuditTrail
from reynard.identity.roles import Permission
from reynard.query.window import moment
from reynard.web.auth import allow

log = logging.getLogger("reynard.web.audit")
CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NOT_AUDITED = frozenset({"/events", "/events/", "/api/ingest/normalized"})


class AuditMiddleware:
    def __init__(self, app: ASGIApp, trail: AuditTrail):
        self.app = app
        self.trail = trail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in CHANGES or scope["path"] in NOT_AUDITED:
            await self.app(scope, receive, send)
            return
        status: dict[str, int] = {}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            await run_in_threadpool(self._record, scope, status.get("code", 500))

    def _record(self, scope: Scope, status: int) -> None:
        principal = scope.get("state", {}).get("principal")
        if principal is None:  # refused before anyone was known (401): nothing was changed by anyone
            return
        route = scope.get("route")
        action = f"{scope['method']} {getattr(route, 'path', scope['path'])}"
        params: dict[str, Any] = scope.get("path_params") or {}
        client = scope.get("client")
        try:
            self.trail.record(
                principal,
                source=client[0] if client else "unknown",
                action=action,
                result=str(status),
                target=json.dumps(params, sort_keys=True, default=str) if params else None,
            )
        except Exception:
            log.exception("the audit trail could not record %s by %s", action, principal.name)


def audit_router(trail: AuditTrail) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["audit"])

    @router.get("/audit", dependencies=[allow(Permission.ADMIN)])
    def list_audit(
        since: str | None = Query(None, description="24h, 7d or ISO 8601"),
        user: str | None = Query(None, description="only what this user or token name did"),
        limit: int = Query(1000, ge=1, le=100_000),
    ) -> dict:
        """The audit trail (admin): the newest entries, oldest first."""
        start = moment(since, datetime.now(UTC), "since") if since else None
        found = [entry.as_dict() for entry in trail.list(since=start, actor=user, limit=limit)]
        return {"entries": found, "count": len(found)}

    return router


__all__ = ["AuditMiddleware", "audit_router"]
