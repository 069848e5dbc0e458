"""What the sources share: JSON documents versus NDJSON, reasons for rejections, keys for repeated lines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from reynard.events import numbers
from reynard.ingest.reader import Input, iter_json_document, iter_lines
from reynard.ingest.records import Rejected

BOM = b"\xef\xbb\xbf"
JSON_SPACE = b" \t\r\n"


def too_big(size: int, limit: int) -> str:
    return f"record is {size} bytes, more than the {limit}-byte limit"


def json_reason(raw: bytes, error: orjson.JSONDecodeError) -> str:
    """Why a line is not JSON: its first invalid UTF-8 byte, or orjson's message with the column."""
    try:
        raw.decode()
    except UnicodeDecodeError as e:
        return f"not UTF-8 at byte {e.start + 1}"
    return f"invalid JSON: {error.msg} at column {error.colno}"


def kind(value: Any) -> str:
    """How a JSON value is named in a rejection reason: "a JSON array"."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean"}
    return "JSON null" if value is None else f"a JSON {names.get(type(value), 'number')}"


def is_ndjson(head: bytes) -> bool:
    """Whether an input is one JSON object per line (True) or one JSON document (False).

    `[` starts a document. An input starting with `{` is NDJSON when its second non-blank line starts
    with `{` and either of its first two lines is a whole JSON value (a pretty-printed document's
    second line is `"key": value,`). Anything else is read as lines, so each bad line is rejected alone
    instead of the whole input failing as one broken document.
    """
    text = head.lstrip(BOM).lstrip(JSON_SPACE)
    if text.startswith(b"["):
        return False
    if not text.startswith(b"{"):
        return True
    lines = [line for line in text.split(b"\n", 4)[:4] if line.strip()]
    if len(lines) < 2 or not lines[1].startswith(b"{"):
        return False
    return _parses(lines[0]) or _parses(lines[1])


def _parses(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def json_records(
    inp: Input, source: str, containers: tuple[str, ...], max_bytes: int
) -> Iterator[tuple[int, Any, bytes | None] | Rejected]:
    """Yield `(position, value, raw)` per JSON record, or a `Rejected` for a line that is not one.

    NDJSON positions are line numbers and `raw` is the line; a line holding a container object
    (`{"Records": [...]}`) yields each of its records with `raw` None (use `raw_of`). Document positions
    are record numbers and `raw` is the record re-serialized, to check its size.
    """
    head = inp.head()
    if head.startswith(BOM):  # orjson refuses a byte order mark; it says nothing about the content
        inp.stream.read(len(BOM))
        head = head[len(BOM) :]
    if is_ndjson(head):
        for number, line in iter_lines(inp, max_bytes):
            if len(line) > max_bytes:
                yield Rejected(source, inp.origin, number, too_big(len(line), max_bytes), line)
                continue
            try:
                value = numbers.loads(line)
            except orjson.JSONDecodeError as e:
                yield Rejected(source, inp.origin, number, json_reason(line, e), line)
                continue
            if containers and isinstance(value, dict):
                items = next((value[k] for k in containers if isinstance(value.get(k), list)), None)
                if items is not None:
                    for item in items:
                        yield number, item, None
                    continue
            yield number, value, line
        return
    for number, value in iter_json_document(inp, containers):
        raw = numbers.dumps(value)
        if len(raw) > max_bytes:
            yield Rejected(source, inp.origin, number, too_big(len(raw), max_bytes), raw)
            continue
        yield number, value, raw


def raw_of(value: Any, raw: bytes | None) -> bytes:
    return raw if raw is not None else orjson.dumps(value)


def json_head_score(head: bytes) -> int:
    """Whether the head starts like a JSON object or an array of objects (the generic JSON signal)."""
    text = head.lstrip(BOM).lstrip(JSON_SPACE)
    if text[:1] == b"[":
        text = text[1:].lstrip(JSON_SPACE)
    return 1 if text[:1] == b"{" and text[1:].lstrip(JSON_SPACE)[:1] in (b'"', b"}") else 0


class Occurrences:
    """Keys for line records: the raw text, plus `#2`, `#3`... when the same text repeats within one
    timestamp (so identical lines stay distinct events while re-ingesting a file gives the same keys).

    Only the texts of the current timestamp are remembered, so memory is bounded by the lines per
    timestamp; past `LIMIT` distinct texts under one timestamp (events with no time at all) the memory is
    cleared, and a later repeat of an earlier text there is taken for the same event.
    """

    LIMIT = 100_000
    __slots__ = ("_seen", "_stamp")

    def __init__(self) -> None:
        self._stamp: object = object()
        self._seen: dict[str, int] = {}

    def key(self, text: str, stamp: object) -> str:
        if stamp != self._stamp:
            self._stamp = stamp
            self._seen = {text: 1}
            return text
        seen = self._seen
        count = seen.get(text, 0) + 1
        if count == 1 and len(seen) >= self.LIMIT:
            seen.clear()
        seen[text] = count
        return text if count == 1 else f"{text}#{count}"
