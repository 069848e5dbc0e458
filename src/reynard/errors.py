"""One root exception, one subclass per area; each names the input and the place in it, and carries the
HTTP status the server answers it with (web/app.py maps them all in one handler)."""

from __future__ import annotations

from typing import Any, ClassVar


class ReynardError(Exception):
    """An error a user can cause: printed as one line, never as a traceback; 400 over HTTP."""

    http_status: ClassVar[int] = 400

    def __init__(self, message: str, *, where: str | None = None):
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)

    def payload(self) -> dict[str, Any]:
        """The JSON body of the HTTP answer."""
        return {"error": str(self)}


class NotFound(ReynardError):
    """Something asked for by id or name that does not exist (404)."""

    http_status = 404


class ConfigError(ReynardError):
    """A setting that cannot be used (500 over HTTP: the server's configuration, not the request)."""

    http_status = 500


class InvalidEvent(ReynardError):
    """A record that cannot become a valid normalized event."""


class StoreError(ReynardError):
    """The event store cannot do what was asked (locked, corrupt, unreachable)."""

    http_status = 500


class WriterBusy(StoreError):
    """Another process holds the event store's writer lock."""

    http_status = 503
