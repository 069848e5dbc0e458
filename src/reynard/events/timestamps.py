"""Timestamps: every form the sources use, always returned as an aware UTC datetime; and the few text
forms Reynard writes, each written here once:

- `isoformat`: an event's stored timestamps (`utctimestamp`, ...): ISO 8601, always microseconds,
  `+00:00` (`2026-01-02T03:04:05.000000+00:00`); sorting the text sorts the times.
- `iso_or_none`: times of the state database (alerts, incidents, executions, indicators) in the API's
  JSON: Python's ISO 8601 (`2026-01-02T03:04:05+00:00`, microseconds only when there are some); None
  stays None.
- `display`: a time in a terminal's column, to the second and without the offset
  (`2026-01-02T03:04:05`; every time Reynard shows is UTC).
- `zulu`: the form AWS writes, UTC with `Z`: whole seconds (CloudTrail's `eventTime`), always
  milliseconds (Step Functions' `2026-01-02T03:04:05.000Z`, byte for byte), or milliseconds only when the
  time has a fraction (the AWS SDK's times as JSON).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

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


def iso_or_none(moment: datetime | None) -> str | None:
    """A state-database time (aware, UTC) as the API prints it: `moment.isoformat()`; None for None."""
    return moment.isoformat() if moment else None


def display(moment: datetime) -> str:
    """A time (UTC) in a terminal's column: `2026-01-02T03:04:05`."""
    return moment.isoformat()[:19]


def zulu(moment: datetime, timespec: Literal["seconds", "milliseconds", "auto"] = "auto") -> str:
    """`moment` in UTC with a `Z`, as AWS writes times: `seconds` (`2026-01-02T03:04:05Z`),
    `milliseconds` (`2026-01-02T03:04:05.120Z`, what Step Functions prints), or `auto`: milliseconds
    when the time has a fraction of a second, else seconds. Digits beyond are cut, not rounded. A naive
    time is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if timespec == "auto":
        timespec = "milliseconds" if moment.microsecond else "seconds"
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
