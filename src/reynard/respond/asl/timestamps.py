"""ASL timestamps: RFC 3339 with an explicit offset (`2026-01-02T03:04:05Z`, `...+01:00`, fractions).
The form Step Functions writes is `reynard.events.timestamps.zulu(moment, "milliseconds")`."""

from __future__ import annotations

import re
from datetime import datetime

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
)


def parse_timestamp(value: object) -> datetime | None:
    """The aware datetime of an RFC 3339 timestamp string, or None when it is not one."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        return None
    text = value.upper().replace("Z", "+00:00")
    if "." in text:  # Python takes at most 6 fraction digits
        head, rest = text.split(".", 1)
        digits = re.match(r"\d+", rest).group()  # type: ignore[union-attr]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits) :]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
