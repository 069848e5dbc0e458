"""Integers beyond 64 bits in events: kept exactly, as their decimal text, never rounded.

JSON allows integers of any size; orjson reads those beyond 64 bits as floats (silently rounded:
123456789012345678901234567890 becomes 1.2345678901234568e+29), refuses to write them, and tantivy
indexes 64-bit integers only. So an integer outside [-2**63, 2**64 - 1] becomes a JSON string of its
digits, the same on every path and in every store:

- `loads` reads JSON as orjson does, except those integers, which it keeps as text (the inputs every
  source parses, `ingest/sources/common.py` and `ingest/reader.py`);
- `finalize` (events/event.py) turns such integers of a draft into text (a number read by ijson, cast by
  a source, or set by a plugin), and refuses a value JSON cannot hold;
- `dumps` writes them as text whatever the caller gives (the stores' `prepare`, the server sink).

One exception, refused loudly: a JSON document over 64 MiB is streamed through ijson, whose parser
holds signed 64-bit integers only, so it stops at the record holding a larger one (the records before
it are kept, the input is rejected naming that record; ingest/reader.py).

A query then finds such a value by its text (`details.n:123456789012345678901234567890`); as text, it is
in no numeric range. Integers within 64 bits stay numbers. docs/ingest.md says the same to users.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

INT_MIN = -(2**63)  # the smallest integer an event keeps as a number (tantivy's i64)
INT_MAX = 2**64 - 1  # the largest (tantivy's u64)
# Only a run of 19 digits or more can be a number beyond 64 bits (fewer digits are below 10**19). Found
# as "1" * 19 in the text with digits as "1" and the rest as "0": ten times faster than a regex.
_DIGITS_AS_ONES = bytes(0x31 if 0x30 <= byte <= 0x39 else 0x30 for byte in range(256))
_LONG_RUN = b"1" * 19


def _exact_int(text: str) -> int | str:
    if len(text) > 20:  # beyond 64 bits; JSON writes integers one way only (no "+", no leading zeros)
        return text
    value = int(text)
    return value if INT_MIN <= value <= INT_MAX else text


def _has_long_run(raw: bytes) -> bool:
    """Whether `raw` holds 19 digits in a row; large texts in 1 MiB pieces (overlapping by 18 bytes),
    so a 64 MiB document is not copied whole."""
    step = 1 << 20
    if len(raw) <= step:
        return _LONG_RUN in raw.translate(_DIGITS_AS_ONES)
    view = memoryview(raw)
    return any(
        _LONG_RUN in bytes(view[start : start + step + 18]).translate(_DIGITS_AS_ONES)
        for start in range(0, len(raw), step)
    )


def loads(data: bytes | str) -> Any:
    """JSON as `orjson.loads` reads it (and refuses it: `orjson.JSONDecodeError`), except that integers
    beyond 64 bits are their decimal text. Only a document with a run of 19 digits is read twice."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        if "infinity" not in e.msg:
            raise
        # orjson refuses an integer of more than 308 digits (its float would be infinite): Python's
        # reader takes it, and refuses as orjson does a float that is infinite (1e400).
        try:
            return json.loads(raw, parse_int=_exact_int, parse_float=_finite, parse_constant=_refused)
        except (ValueError, RecursionError):
            raise e from None
    if not _has_long_run(raw):
        return value
    # Python's reader gives integers exactly; orjson has validated the document already.
    try:
        return json.loads(raw, parse_int=_exact_int)
    except RecursionError:  # Python's reader nests less deeply than orjson's 1,024 levels
        raise orjson.JSONDecodeError("nested too deeply to read its numbers exactly", "", 0) from None


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number is infinity when parsed as double: {text}")
    return value


def _refused(text: str) -> float:
    raise ValueError(f"not JSON: {text}")


def as_text(value: Any) -> Any:
    """`value` with every integer beyond 64 bits (at any depth) as its decimal text; the same object
    when there is none, else new containers where something changed."""
    kind = type(value)
    if kind is int:
        return value if INT_MIN <= value <= INT_MAX else _int_text(value)
    if kind is dict:
        changed = None
        for key, item in value.items():
            new = as_text(item)
            if new is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = new
        return value if changed is None else changed
    if kind is list:
        items = [as_text(item) for item in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def _int_text(value: int) -> str:
    try:
        return str(value)
    except ValueError:  # more than 4,300 digits: Python will not write it out without being told to
        return _long_int_text(value)


def _long_int_text(value: int) -> str:
    sign, value = ("-", -value) if value < 0 else ("", value)
    chunks = []
    while value:
        value, chunk = divmod(value, 10**1000)
        chunks.append(chunk)
    head, *rest = reversed(chunks)
    return sign + str(head) + "".join(str(c).zfill(1000) for c in rest)


def dumps(value: Any) -> bytes:
    """`orjson.dumps`, with integers beyond 64 bits written as their decimal text (JSON strings)."""
    try:
        return orjson.dumps(value)
    except TypeError as e:
        if "64-bit" not in str(e):
            raise
    return orjson.dumps(as_text(value))
