"""The one place errors become HTTP answers: a `ReynardError` with its own `http_status` and `payload()`,
an `HTTPException` (a transport problem: a body too large, an empty body) with the same `{"error": ...}`
shape, and anything else (a bug) a 500 of the same shape. Routes raise domain errors and never map them
themselves."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from reynard.errors import ReynardError
from reynard.web.hygiene import plain_error, security_headers


async def _reynard_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ReynardError)
    return JSONResponse(error.payload(), status_code=error.http_status)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    message = plain_error(request.scope, error.detail) if isinstance(error.detail, str) else error.detail
    return JSONResponse({"error": message}, status_code=error.status_code, headers=error.headers)


async def _unexpected(request: Request, _: Exception) -> JSONResponse:
    """A bug: the same shape, never a traceback. Starlette sends this answer from outside every
    middleware (and logs the exception), so it carries the security headers itself."""
    headers = dict(security_headers(request.scope, "application/json"))
    return JSONResponse({"error": "internal server error"}, status_code=500, headers=headers)


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ReynardError, _reynard_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
