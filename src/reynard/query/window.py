"""Time windows as people write them: `15m`, `24h`, `7d`, `30s`, `2w` ago, or an ISO 8601 moment."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from reynard.events.timestamps import TimestampError, parse_timestamp
from reynard.query.ast import TimeWindow
from reynard.query.errors import QueryError

_AGO = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def moment(text: str, now: datetime, name: str) -> datetime:
    """`24h` (that long before now) or an ISO 8601 timestamp / epoch, as an aware UTC datetime."""
    found = _AGO.match(text)
    if found:
        return now - timedelta(**{_UNITS[found[2]]: int(found[1])})
    try:
        return parse_timestamp(text)[0]
    except TimestampError:
        raise QueryError(f"{name}: {text!r} is neither a duration like 24h nor an ISO 8601 time") from None


def window(since: str | None, until: str | None, now: datetime | None = None) -> TimeWindow:
    now = now or datetime.now(UTC)
    start = moment(since, now, "since") if since else None
    end = moment(until, now, "until") if until else None
    return TimeWindow(start=start, end=end)


def interval_seconds(text: str) -> int:
    """A histogram interval: `1h`, `15m`, `1d`..."""
    found = _AGO.match(text)
    if not found or int(found[1]) == 0:
        raise QueryError(f"interval: {text!r} is not a duration like 1h, 15m or 1d")
    return int(timedelta(**{_UNITS[found[2]]: int(found[1])}).total_seconds())
