"""Authentication and authorization: every route declares the one permission it needs, next to it.

    @router.get("/incidents", dependencies=[allow(Permission.READ)])
    def create_incident(body: IncidentCreate, who: Principal = allow(Permission.TRIAGE)): ...

`allow(p)` is a FastAPI `Security` dependency on `authenticate`, a security scheme, so the permission is
in the OpenAPI description (`security: [{"reynard": ["triage"]}]`) and tests walk it. A request shows
who it is with `Authorization: Bearer <token>`: an API token (`reynard token create`), or the server's
own local secret, which only a process that can read the data directory has (`reynard ingest` handing
its events to the server; it acts as `local`, with the ingest role). No credentials: 401; a role
without the permission: 403. The principal is kept on the request (`request.state.principal`) for the
audit trail, and is the only actor any route records: no request body names who acts.
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


class Authenticate(SecurityBase):
    """The security scheme every route depends on; the app's `state` holds the identity store
    (`identity`) and the local secret (`local_secret`)."""

    def __init__(self) -> None:
        self.model = HTTPBearerModel(bearerFormat="Reynard API token", description="reynard token create")
        self.scheme_name = SCHEME

    def __call__(self, request: Request, security_scopes: SecurityScopes) -> Principal:
        principal = self._principal(request)
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
    "LOCAL",
    "SCHEME",
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
