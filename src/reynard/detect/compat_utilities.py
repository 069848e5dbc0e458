"""Reynard's versions of the `mozdef_util.utilities` helpers MozDef alert files import."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from reynard.events.timestamps import TimestampError, parse_timestamp

logger = logging.getLogger("reynard.alerts")


def toUTC(suspectedDate: Any) -> datetime:
    """An aware UTC datetime from a datetime, an ISO 8601 string or an epoch number (s or ms).

    Unlike MozDef, a naive value is taken as UTC (as event timestamps are), not as the host's local time.
    """
    if isinstance(suspectedDate, datetime) and suspectedDate.tzinfo is None:
        return suspectedDate.replace(tzinfo=UTC)
    try:
        moment, _ = parse_timestamp(suspectedDate)
    except TimestampError as e:
        raise ValueError(f"toUTC: {e}") from None
    return moment.astimezone(UTC)


class DotDict(dict):
    """A dict whose keys read as attributes, nested dicts too (MozDef's `dot_dict.DotDict`)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for key, value in self.items():
            if isinstance(value, dict) and not isinstance(value, DotDict):
                self[key] = DotDict(value)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None


def initLogger(*args: Any, **kwargs: Any) -> None:
    """MozDef configured its logger here; Reynard's logging is configured by the application."""
