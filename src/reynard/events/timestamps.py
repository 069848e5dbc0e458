"""Timestamps: every form the sources use, always returned as an aware UTC datetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# Events outside this range are rejected: they are corrupt, not history or the future.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
LATEST_AHEAD = timedelta(days=2)


class TimestampError(ValueError):
    """A value that is not a usable timestamp."""


def parse_timestamp(value: object) -> tuple[datetime, bool]:
    """Parse an ISO 8601 string or an epoch number (s or ms) into UTC.

    Returns `(utc_datetime, assumed_utc)`: the flag is True when the value carried no time zone and was
    taken as UTC, so the caller can mark the event.
    """
    assumed = False
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, bool):
        raise TimestampError(f"not a timestamp: {value!r}")
    elif isinstance(value, (int, float)):
        seconds = value / 1000 if abs(value) > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC), False
        except (OverflowError, OSError, ValueError) as e:
            raise TimestampError(f"epoch out of range: {value!r}") from e
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise TimestampError("empty timestamp")
        if text.isascii() and text.isdigit():  # "²" is a digit to str.isdigit, not to int()
            return parse_timestamp(int(text))
        try:
            parsed = datetime.fromisoformat(text.replace(" UTC", "Z"))
        except ValueError as e:
            raise TimestampError(f"not an ISO 8601 timestamp: {value!r}") from e
    else:
        raise TimestampError(f"not a timestamp: {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
        assumed = True
    return parsed.astimezone(UTC), assumed


def check_range(moment: datetime, *, now: datetime | None = None) -> None:
    """Reject timestamps before 1990 or more than two days ahead of now."""
    now = now or datetime.now(UTC)
    if moment < EARLIEST or moment > now + LATEST_AHEAD:
        raise TimestampError(f"timestamp out of range: {moment.isoformat()}")


def isoformat(moment: datetime) -> str:
    """The one textual form of a stored timestamp: ISO 8601 with microseconds and +00:00."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
