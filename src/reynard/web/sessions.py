"""Signing in and out of the console: `POST /api/session` (the one open route beside `/status`),
`GET /api/session` (who am I, and the CSRF token the page must send back), `DELETE /api/session`.

The session's secret travels only in a cookie the page's scripts cannot read (`HttpOnly`), that no
other site's page makes the browser send (`SameSite=Strict`), and, over TLS, only over TLS (`Secure`).
Password checks are expensive on purpose (argon2id: 64 MiB and tens of milliseconds each), so they are
bounded: a few at once (then 503), and a name tried from one address fails fast after a few wrong
passwords (429 with `Retry-After`), as does an address trying many names.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict, deque
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from reynard.identity.audit import AuditTrail
from reynard.identity.roles import Permission
from reynard.identity.sessions import SessionStore
from reynard.identity.store import IdentityStore
from reynard.web.auth import SESSION_COOKIE, CanRead, allow

# At most this many password checks at once; a sign-in waits this long for its turn, then 503.
PASSWORD_CHECKS = 2
TURN_SECONDS = 5.0
# Wrong passwords remembered this long: this many for one name from one address, or this many for any
# names from one address, and the next attempt is refused without a check.
FAILURE_WINDOW = 15 * 60.0
PER_NAME_AND_ADDRESS = 5
PER_ADDRESS = 20
REMEMBERED_KEYS = 10_000


class SignIn(BaseModel):
    name: str = Field(max_length=128)
    password: str = Field(max_length=1024)


class Failures:
    """Recent wrong passwords by key, in memory (forgotten at restart: a bound on guessing speed, not a
    record; the audit trail is the record)."""

    def __init__(self, window: float = FAILURE_WINDOW, clock: Any = time.monotonic) -> None:
        self.window, self.clock = window, clock
        self._seen: OrderedDict[tuple[str, ...], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, key: tuple[str, ...], limit: int) -> float:
        """Seconds until `key` may try again (0: now)."""
        with self._lock:
            times = self._recent(key)
            return times[0] + self.window - self.clock() if len(times) >= limit else 0.0

    def add(self, key: tuple[str, ...]) -> None:
        with self._lock:
            self._recent(key).append(self.clock())
            self._seen.move_to_end(key)
            while len(self._seen) > REMEMBERED_KEYS:
                self._seen.popitem(last=False)

    def _recent(self, key: tuple[str, ...]) -> deque[float]:
        times = self._seen.setdefault(key, deque())
        while times and times[0] <= self.clock() - self.window:
            times.popleft()
        return times


def sessions_router(identity: IdentityStore, sessions: SessionStore, audit: AuditTrail) -> APIRouter:
    router = APIRouter(prefix="/api/session", tags=["session"])
    failures = Failures()
    turns = asyncio.Semaphore(PASSWORD_CHECKS)

    @router.post("")
    async def sign_in(body: SignIn, request: Request, response: Response) -> dict:
        """Sign in to the console with a user's name and password: a session cookie, and the CSRF token
        every state change made with it must carry in `X-CSRF-Token`."""
        source = request.client.host if request.client else "unknown"
        wait = max(
            failures.wait(("name", body.name, source), PER_NAME_AND_ADDRESS),
            failures.wait(("address", source), PER_ADDRESS),
        )
        if wait > 0:
            raise HTTPException(
                429, "too many wrong passwords: try again later", headers={"Retry-After": str(int(wait) + 1)}
            )
        try:
            await asyncio.wait_for(turns.acquire(), TURN_SECONDS)
        except TimeoutError:
            raise HTTPException(503, "too many sign-ins at once", headers={"Retry-After": "1"}) from None
        try:
            principal = await run_in_threadpool(identity.sign_in, body.name, body.password)
        finally:
            turns.release()
        if principal is None:
            failures.add(("name", body.name, source))
            failures.add(("address", source))
            await run_in_threadpool(audit.record_attempt, body.name, source, "POST /api/session", "401")
            raise HTTPException(401, "wrong name or password")
        previous = request.cookies.get(SESSION_COOKIE)
        if previous:  # signing in again replaces the browser's session: the old one ends now
            ended = await run_in_threadpool(sessions.find, previous)
            if ended is not None:
                await run_in_threadpool(sessions.end, ended.id)
        session, secret = await run_in_threadpool(sessions.open, principal, source)
        request.state.principal = principal  # the audit trail records the sign-in as theirs
        response.set_cookie(
            SESSION_COOKIE,
            secret,
            max_age=int(sessions.max_age.total_seconds()),
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return session.as_dict()

    @router.get("")
    def who_am_i(request: Request, who: CanRead) -> dict:
        """Who the credentials are; for a console session, also its CSRF token and when it ends."""
        session = getattr(request.state, "session", None)
        if session is not None:
            return {**session.as_dict(), "kind": who.kind}
        return {"name": who.name, "role": str(who.role), "kind": who.kind}

    @router.delete("", status_code=204, dependencies=[allow(Permission.READ)])
    def sign_out(request: Request, response: Response) -> None:
        """End the console session: its cookie opens nothing any more, wherever it was copied to."""
        session = getattr(request.state, "session", None)
        if session is None:
            raise HTTPException(400, "these credentials are an API token, not a console session")
        sessions.end(session.id)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")

    return router


__all__ = ["Failures", "SignIn", "sessions_router"]
