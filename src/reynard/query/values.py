"""How values compare, defined once for every backend: term text, tokens, bounds."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from reynard.events.ips import as_ip
from reynard.events.timestamps import TimestampError, parse_timestamp

_TOKEN = re.compile(r"[^\W_]+")
MAX_TOKEN_BYTES = 40  # tantivy's default tokenizer drops tokens of 40 bytes and more


def term_text(value: Any) -> str | None:
    """The text a scalar compares as: `True` -> "true", `22.0` -> "22", "x" -> "x"; None for others (and
    for an integer of more than 4,300 digits)."""
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        try:
            return str(value)
        except ValueError:  # over 4,300 digits: Python refuses to write it out (no value can equal it)
            return None
    if kind is float:
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def tokens(text: str) -> list[str]:
    """`summary` tokens as tantivy's default tokenizer makes them: alphanumeric runs, lowercased."""
    # tantivy drops long tokens before it lowercases them, so the limit applies to the original bytes.
    return [m.lower() for m in _TOKEN.findall(text) if len(m.encode()) < MAX_TOKEN_BYTES]


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return value if value == value else None
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:  # beyond any float: compares with no numeric bound
            return None
    return None


def as_time(value: Any) -> datetime | None:
    """A string that is an ISO 8601 timestamp, as UTC; digits alone are a number, not a time."""
    if not isinstance(value, str) or value.strip().lstrip("+-").isdigit():
        return None
    try:
        return parse_timestamp(value)[0]
    except TimestampError:
        return None


def bound_kind(bound: Any) -> str:
    """Which kind of range a bound asks for: "number", "ip" or "time" (ValueError for none of them)."""
    if isinstance(bound, bool):
        raise ValueError(f"not a range bound: {bound!r}")
    if isinstance(bound, float) and (bound != bound or bound in (float("inf"), float("-inf"))):
        raise ValueError(f"not a usable number: {bound!r}")
    if isinstance(bound, int):
        try:
            float(bound)
        except OverflowError:
            raise ValueError(
                f"number out of range: {bound.bit_length()} bits, beyond a 64-bit float"
            ) from None
        return "number"
    if isinstance(bound, float):
        return "number"
    if isinstance(bound, datetime):
        return "time"
    if isinstance(bound, str):
        try:
            number = float(bound)
        except ValueError:
            number = None
        if number is not None:
            if number != number or number in (float("inf"), float("-inf")) or "_" in bound:
                raise ValueError(f"not a usable number: {bound!r}")
            return "number"
        if as_ip(bound) is not None:
            return "ip"
        if as_time(bound) is not None:
            return "time"
    raise ValueError(f"not a number, timestamp or IP address: {bound!r}")
