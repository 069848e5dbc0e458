"""HTTP hygiene: what every request must be before a route sees it, and what every answer carries.

`add_http_hygiene(app, settings, ...)` wraps the app in these layers (pure ASGI; outermost first):

    SecurityHeaders             every answer: nosniff, no framing, no referrer, no-store, a restrictive
                                Content-Security-Policy (HSTS over TLS); a 408 or 413 also closes the
                                connection
    TrustedHostMiddleware       (Starlette) a `Host` the server is not known by is a 400: DNS rebinding
    CORSMiddleware              (Starlette) only when `cors_origins` is set; otherwise no CORS header at
                                all, and a preflight finds no OPTIONS route (405)
    IngestLimit                 at most `max_ingest_requests` ingest requests at once; over it 503 with
                                `Retry-After`, answered at once
    ContentTypeGuard            a state change (POST, PUT, PATCH, DELETE) only with a content type a browser
                                cannot send cross-site without a preflight: 415 otherwise (CSRF)
    BodyTimeout                 a body must arrive within `body_timeout_seconds`: 408 otherwise
    RequestBodyLimitMiddleware  (Starlette) every body counted while it streams, chunked included: 413 at
                                MAX_JSON_BODY_BYTES; a route that takes more says so with `max_body_size`

Starlette's own plain-text refusals (the Host check, a declared Content-Length over the limit) go out as
`{"error": ...}` like every other (`SecurityHeaders` rewrites them).

A middleware added to the app before `add_http_hygiene` runs inside all of these (the audit trail's:
it sees only what they let through, and its answers carry the headers). Authentication is each route's
own dependency (`web/auth.py`), so it comes after them all: a refused content type is a 415, with or
without a token.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY, RequestBodyLimitMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reynard.settings import Settings

# A JSON body of any other route: a search, an incident edit, a playbook's input (ingest and imports
# declare their own, larger, limits on their routes).
MAX_JSON_BODY_BYTES = 1024 * 1024
# How long a client refused for too many ingest requests at once is told to wait (seconds).
RETRY_AFTER_SECONDS = 1

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The content types a page on any site may send without asking the server first (a CORS "simple
# request": a form, or fetch without a preflight); no content type at all is the fourth.
SAFELISTED_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})

_FRAMING_AND_FORMS = "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# JSON, CSV, Markdown, text: nothing in them may run or load anything.
CSP_DATA = f"default-src 'none'; {_FRAMING_AND_FORMS}"
# The HTML Reynard writes (a postmortem): its style is inline; no script, no image, nothing else.
CSP_HTML = f"default-src 'none'; style-src 'unsafe-inline'; {_FRAMING_AND_FORMS}"
HSTS = "max-age=31536000"


@dataclass(frozen=True)
class BodyTypes:
    """The content types a route's state changes take. `from_shippers`: also taken from a client that is
    not a browser (it sends neither `Origin` nor `Sec-Fetch-*`), "" meaning no content type: MozDef's
    shippers post JSON without one (mozdef_client, the demo scripts) or as text/plain (nxlog)."""

    accepted: tuple[str, ...] = ("application/json",)
    from_shippers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        assert not SAFELISTED_TYPES & set(self.accepted), "a browser sends these cross-site unasked"


JSON_ONLY = BodyTypes()


def security_headers(scope: Scope, content_type: str | None) -> list[tuple[str, str]]:
    """The headers every answer carries (the ones it does not set itself)."""
    media = (content_type or "").split(";")[0].strip().lower()
    csp = CSP_HTML if media == "text/html" else CSP_DATA
    headers = [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-resource-policy", "same-origin"),
        ("cache-control", "no-store"),
        ("content-security-policy", csp),
    ]
    if scope.get("scheme") == "https":
        headers.append(("strict-transport-security", HSTS))
    return headers


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal: list[Message] = []  # a text/plain refusal from Starlette's layers, being rewritten
        chunks: list[bytes] = []

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", ()))
                headers = MutableHeaders(scope=message)
                if message["status"] >= 400 and headers.get("content-type", "").startswith("text/plain"):
                    refusal.append(message)
                    return
                _secure(scope, message)
            elif refusal:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                start = refusal[0]
                body = _as_json(scope, start, b"".join(chunks))
                _secure(scope, start)
                await send(start)
                message = {"type": "http.response.body", "body": body}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# Starlette's own refusals (the Host check, a declared Content-Length over the limit) are plain text;
# every refusal Reynard gives is `{"error": ...}`, so these are rewritten, said better.
def plain_error(scope: Scope, text: str) -> str:
    """What to say for one of Starlette's plain-text refusals."""
    if text == "Invalid host header":
        return (
            "the Host header names a host this server does not answer to: use a loopback name or the "
            "address it binds, or add the name to allowed_hosts"
        )
    if text == "Content Too Large":
        limit = scope.get(MAX_BODY_SIZE_SCOPE_KEY)
        return f"the request body is over the {limit:,} bytes this route takes" if limit else text
    return text


def _as_json(scope: Scope, start: Message, text: bytes) -> bytes:
    """The refusal's text as `{"error": ...}`; `start`'s headers are changed to say so."""
    body = json.dumps({"error": plain_error(scope, text.decode("utf-8", "replace"))}).encode()
    headers = MutableHeaders(scope=start)
    headers["content-type"] = "application/json"
    headers["content-length"] = str(len(body))
    return body


def _secure(scope: Scope, start: Message) -> None:
    headers = MutableHeaders(scope=start)
    for name, value in security_headers(scope, headers.get("content-type")):
        headers.setdefault(name, value)
    if start["status"] in (408, 413):
        # The rest of the body is not wanted: closing stops the server reading it.
        headers["connection"] = "close"


class BodyTimeout:
    """A request's whole body must arrive within `seconds` of its first byte being asked for; then 408
    and the connection closed. Without it, a client sending a byte a minute would hold its place (an
    ingest place among `max_ingest_requests`, a worker thread) for as long as it likes."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in STATE_CHANGING:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline: list[float] = []
        done = False

        async def receive_in_time() -> Message:
            nonlocal done
            if done:  # the body is in: what comes now is the disconnect, whenever it comes
                return await receive()
            if not deadline:
                deadline.append(loop.time() + self.seconds)
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline[0] - loop.time()))
            except TimeoutError:
                raise HTTPException(
                    408, f"the request body did not arrive within {self.seconds:g} s (body_timeout_seconds)"
                ) from None
            done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, receive_in_time, send)


class IngestLimit:
    """At most `limit` requests to `paths` at once (from their first byte to their answer); the next is
    a 503 with `Retry-After`, at once, instead of a queue without bound."""

    def __init__(self, app: ASGIApp, paths: Iterable[str], limit: int) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.limit = limit
        self.active = 0  # one event loop: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] not in self.paths
            or scope["method"] not in STATE_CHANGING
        ):
            await self.app(scope, receive, send)
            return
        if self.active >= self.limit:
            message = (
                f"the server is busy: {self.limit} ingest requests are already being served"
                f" (max_ingest_requests); retry after {RETRY_AFTER_SECONDS} s"
            )
            answer = JSONResponse(
                {"error": message}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
            )
            await answer(scope, receive, send)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1


class ContentTypeGuard:
    """Refuses (415) a state change whose content type a browser could send from another site without a
    preflight, so that a cross-site form or `fetch` can change nothing. Each path takes JSON unless
    `body_types` says otherwise; a DELETE without a body needs no content type (a browser always asks
    before a cross-site DELETE, and no CORS is allowed unless configured)."""

    def __init__(self, app: ASGIApp, body_types: Mapping[str, BodyTypes]) -> None:
        self.app = app
        self.body_types = dict(body_types)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in STATE_CHANGING:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        types = self.body_types.get(scope["path"], JSON_ONLY)
        if _accepts(types, media, headers) or (
            scope["method"] == "DELETE" and not media and _no_body(headers)
        ):
            await self.app(scope, receive, send)
            return
        sent = f"content type {media!r}" if media else "a request without a content type"
        message = (
            f"{scope['method']} {scope['path']}: {sent} is not accepted;"
            f" send {' or '.join(types.accepted)} (Content-Type header)"
        )
        await JSONResponse({"error": message}, status_code=415)(scope, receive, send)


def _accepts(types: BodyTypes, media: str, headers: Headers) -> bool:
    if media in types.accepted:
        return True
    if media.endswith("+json") and "application/json" in types.accepted:
        return True  # application/merge-patch+json and the like: never sent cross-site unasked
    return media in types.from_shippers and not _from_a_browser(headers)


def _from_a_browser(headers: Headers) -> bool:
    """Browsers send `Origin` with every cross-origin POST and the `Sec-Fetch-*` headers with every
    request (Chrome 76+, Firefox 90+, Safari 16.4+); a log shipper sends neither."""
    return "origin" in headers or any(name.startswith("sec-fetch-") for name in headers)


def _no_body(headers: Headers) -> bool:
    return headers.get("content-length", "0").strip() == "0" and "transfer-encoding" not in headers


def allowed_host_names(settings: Settings) -> list[str]:
    """The `Host` names the server answers to: the loopback names, the address it binds, and
    `allowed_hosts` ("*" for any)."""
    host = settings.host.strip("[]")
    bound = f"[{host}]" if ":" in host else host
    return list(dict.fromkeys(name.lower() for name in (*LOOPBACK_NAMES, bound, *settings.allowed_hosts)))


def add_http_hygiene(
    app: FastAPI, settings: Settings, body_types: Mapping[str, BodyTypes], ingest_paths: Iterable[str]
) -> None:
    """Wrap `app` in the layers of this module (see its docstring), innermost added first."""
    app.add_middleware(RequestBodyLimitMiddleware, max_body_size=MAX_JSON_BODY_BYTES)
    app.add_middleware(BodyTimeout, seconds=settings.body_timeout_seconds)
    app.add_middleware(ContentTypeGuard, body_types=body_types)
    app.add_middleware(IngestLimit, paths=ingest_paths, limit=settings.max_ingest_requests)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=sorted(STATE_CHANGING | {"GET", "HEAD"}),
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Retry-After"],
        )
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_host_names(settings), www_redirect=False)
    app.add_middleware(SecurityHeaders)
