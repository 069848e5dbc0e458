"""Authentication and authorization: every route declares the one permission it needs, next to it.

    @router.get("/incidents", dependencies=[allow(Permission.READ)])
    def create_incident(body: IncidentCreate, who: Principal = allow(Permission.TRIAGE)): ...

`allow(p)` is a FastAPI `Security` dependency on `authenticate`, a security scheme, so the permission is
in the OpenAPI description (`security: [{"reynard": ["triage"]}]`) and tests walk it. A request shows
who it is with `Authorization: Bearer <token>`: an API token (`reynard token create`), or the server's
own local secret, which only a process that can read the data directory has (`reynard ingest` handing
its events to the server; it acts as `local`, with the ingest role). The console signs in instead
(`web/sessions.py`): its session cookie, with the session's CSRF token in `X-CSRF-Token` on every state
change, since a browser attaches the cookie to any request, whoever's page made it. No credentials:
401; a state change with the cookie but not its CSRF token, or a role without the permission: 403.
The principal is kept on the request (`request.state.principal`) for the audit trail, and is the only
actor any route records: no request body names who acts.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.exceptions import HTTPException

from reynard.identity.principal import Principal
from reynard.identity.roles import Permission, Role

SCHEME = "reynard"
LOCAL = Principal("local", Role.INGEST, "local")
SESSION_COOKIE = "reynard_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Authenticate(SecurityBase):
    """The security scheme every route depends on; the app's `state` holds the identity store
    (`identity`) and the local secret (`local_secret`)."""

    def __init__(self) -> None:
        self.model = HTTPBearerModel(bearerFormat="Reynard API token", description="reynard token create")
        self.scheme_name = SCHEME

    def __call__(self, request: Request, security_scopes: SecurityScopes) -> Principal:
        principal = self._principal(request)
        if principal is None and "authorization" not in request.headers:  # a header sent wins, valid or not
            principal = self._session(request)
        if principal is None:
            raise HTTPException(401, "authentication required", headers={"WWW-Authenticate": "Bearer"})
        request.state.principal = principal
        needed = [Permission(scope) for scope in security_scopes.scopes]
        missing = [p for p in needed if not principal.may(p)]
        if missing:
            raise HTTPException(403, f"{principal.name} ({principal.role}) may not {missing[0]}")
        return principal

    def _principal(self, request: Request) -> Principal | None:
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret:
            return None
        secret = secret.strip()
        local = getattr(request.app.state, "local_secret", None)
        if local and hmac.compare_digest(secret.encode(), local.encode()):
            return LOCAL
        return request.app.state.identity.authenticate(secret)

    def _session(self, request: Request) -> Principal | None:
        """The signed-in user of the session cookie; a state change also needs the session's CSRF token
        (403 without it: the cookie alone proves only that the request came from this browser)."""
        secret = request.cookies.get(SESSION_COOKIE)
        sessions = getattr(request.app.state, "sessions", None)
        if not secret or sessions is None:
            return None
        session = sessions.find(secret)
        if session is None:
            return None
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
                request.state.principal = session.principal  # refused, and audited as theirs
                raise HTTPException(403, f"a state change needs the session's CSRF token in {CSRF_HEADER}")
        request.state.session = session
        return session.principal


authenticate = Authenticate()


def allow(permission: Permission) -> Any:
    """The dependency a route declares: an authenticated principal whose role grants `permission`."""
    return Security(authenticate, scopes=[str(permission)])


# A route that records who acts takes the principal as a parameter of one of these types, e.g.
# `def close(incident_id: int, body: CloseIn, who: CanTriage)`; the others declare
# `dependencies=[allow(...)]`.
CanRead = Annotated[Principal, allow(Permission.READ)]
CanTriage = Annotated[Principal, allow(Permission.TRIAGE)]
CanRespond = Annotated[Principal, allow(Permission.RESPOND)]
CanAdmin = Annotated[Principal, allow(Permission.ADMIN)]
CanIngest = Annotated[Principal, allow(Permission.INGEST)]


def principal_of(request: Request) -> Principal | None:
    return getattr(request.state, "principal", None)


__all__ = [
    "CSRF_HEADER",
    "LOCAL",
    "SCHEME",
    "SESSION_COOKIE",
    "Authenticate",
    "CanAdmin",
    "CanIngest",
    "CanRead",
    "CanRespond",
    "CanTriage",
    "allow",
    "authenticate",
    "principal_of",
]
