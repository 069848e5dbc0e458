"""The OpenAPI description, for readers only (FastAPI's own `/openapi.json` and `/docs` are switched off:
they would be open to anyone, and its `/docs` page loads its scripts from a CDN)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from reynard.identity.roles import Permission
from reynard.web.auth import allow


def docs_router(app: FastAPI) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/openapi.json", dependencies=[allow(Permission.READ)])
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    return router
