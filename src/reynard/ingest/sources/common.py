"""What the sources share: JSON documents versus NDJSON, reasons for rejections, keys for repeated lines."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any, NamedTuple

import orjson

from reynard.events import numbers
from reynard.ingest.reader import (
    WHOLE_DOCUMENT_BYTES,
    Input,
    InputError,
    document_records,
    iter_json_document,
    iter_lines,
    salvage,
    stream_document,
)
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
    """Whether an input is one JSON object per line (True) or one JSON document (False), judging from
    its first bytes only (`json_records` reads whole lines instead, whatever their length).

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


class _Line(NamedTuple):
    number: int
    text: bytes  # without its line ending; only the first `limit` bytes when not whole
    whole: bool


def _first_lines(inp: Input, limit: int) -> tuple[list[_Line], bytes]:
    """The first two non-blank lines (fewer at the end of the input; one when it is cut at `limit`
    bytes), and the bytes read, to put back when the input is a document. InputError for damage, its
    `partial` all that was read before it."""
    taken: list[_Line] = []
    read: list[bytes] = []
    number = 0
    while len(taken) < 2:
        try:
            raw, whole = inp.read_line(limit)
        except InputError as e:
            e.partial = b"".join(read) + e.partial
            e.position = number + 1
            raise
        if not raw:
            return taken, b"".join(read)
        number += 1
        read.append(raw)
        text = raw.rstrip(b"\r\n") if whole else raw
        if text.strip():
            taken.append(_Line(number, text, whole))
            if not whole:
                break
    return taken, b"".join(read)


def json_records(
    inp: Input, source: str, containers: tuple[str, ...], max_bytes: int
) -> Iterator[tuple[int, Any, bytes | None] | Rejected]:
    """Yield `(position, value, raw)` per JSON record, or a `Rejected` for a line that is not one.

    NDJSON positions are line numbers and `raw` is the line; a line holding a container object
    (`{"Records": [...]}`) yields each of its records with `raw` None (use `raw_of`). Document positions
    are record numbers and `raw` is the record re-serialized, to check its size.

    NDJSON or one document is decided on whole lines, however long (not on the first bytes): an input
    starting with `[` is a document; one starting with anything but `{` is lines. One starting with `{`
    is NDJSON when its second non-blank line starts with `{` and either of its first two lines is a
    whole JSON value (a pretty-printed document's second line is `"key": value,`), or when its first
    line is longer than `max_bytes` and names no container (that line alone is rejected, too big);
    otherwise it is a document: a single line, pretty-printed JSON, or a first line holding a
    container (`{"Records": [...]}` on one line, up to `WHOLE_DOCUMENT_BYTES`, then streamed).
    """
    head = inp.head()
    if head.startswith(BOM):  # orjson refuses a byte order mark; it says nothing about the content
        inp.stream.read(len(BOM))
        head = head[len(BOM) :]
    text = head.lstrip(JSON_SPACE)
    if text.startswith(b"["):
        yield from _document(inp, source, containers, max_bytes)
        return
    if not text.startswith(b"{"):
        yield from _lines(inp, source, containers, max_bytes, [], 0)
        return
    container = any(f'"{key}"'.encode() in head for key in containers)
    limit = (max(max_bytes, WHOLE_DOCUMENT_BYTES) if container else max_bytes) + 1
    try:
        taken, read = _first_lines(inp, limit)
    except InputError as e:
        if not container:
            raise
        # A cut S3 delivery file (one line, cut before its end): the whole records before the cut.
        records = salvage(e.partial, containers, e.reason)
        yield from _documented(records, inp.origin, source, max_bytes)
        return
    if not taken:
        return
    first = taken[0]
    if not first.whole:
        if container:  # a container too long to hold: stream the document
            yield from _documented(stream_document(read, inp, containers), inp.origin, source, max_bytes)
            return
        # NDJSON whose first line is too long: that line alone is rejected, whole, as later ones are.
        first = first._replace(text=(first.text + inp.rest_of_line()).rstrip(b"\r\n"), whole=True)
        yield from _lines(inp, source, containers, max_bytes, [first], first.number)
        return
    if len(taken) == 1:  # one line, the whole input: a document (one object, or a container)
        yield from _documented(document_records(first.text, containers), inp.origin, source, max_bytes)
        return
    second = taken[1]
    if not (second.text.startswith(b"{") and (_parses(first.text) or _parses(second.text))):
        yield from _document(inp.chained(read), source, containers, max_bytes)
        return
    if not second.whole:
        taken[1] = second._replace(text=(second.text + inp.rest_of_line()).rstrip(b"\r\n"), whole=True)
    yield from _lines(inp, source, containers, max_bytes, taken, second.number)


def _lines(
    inp: Input, source: str, containers: tuple[str, ...], max_bytes: int, taken: list[_Line], after: int
) -> Iterator[tuple[int, Any, bytes | None] | Rejected]:
    """NDJSON: the lines already `taken`, then every line after line `after`."""
    read = ((line.number, line.text) for line in taken)
    for number, line in itertools.chain(read, iter_lines(inp, max_bytes, after)):
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


def _document(
    inp: Input, source: str, containers: tuple[str, ...], max_bytes: int
) -> Iterator[tuple[int, Any, bytes | None] | Rejected]:
    yield from _documented(iter_json_document(inp, containers), inp.origin, source, max_bytes)


def _documented(
    records: Iterator[tuple[int, Any]], origin: str, source: str, max_bytes: int
) -> Iterator[tuple[int, Any, bytes | None] | Rejected]:
    for number, value in records:
        raw = numbers.dumps(value)
        if len(raw) > max_bytes:
            yield Rejected(source, origin, number, too_big(len(raw), max_bytes), raw)
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
