"""One root exception, one subclass per area; each names the input and the place in it."""

from __future__ import annotations


class ReynardError(Exception):
    """An error a user can cause: printed as one line, never as a traceback."""

    def __init__(self, message: str, *, where: str | None = None):
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class ConfigError(ReynardError):
    """A setting that cannot be used."""


class InvalidEvent(ReynardError):
    """A record that cannot become a valid normalized event."""


class StoreError(ReynardError):
    """The event store cannot do what was asked (locked, corrupt, unreachable)."""


class WriterBusy(StoreError):
    """Another process holds the event store's writer lock."""
