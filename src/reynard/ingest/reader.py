"""Opening inputs: files, gzip (by content, not name), stdin; lines and JSON documents, streamed.

Everything here reads in constant memory, except a JSON document smaller than `WHOLE_DOCUMENT_BYTES`,
which is parsed at once because orjson on a whole S3 delivery file is many times faster than a
streaming parser. Errors in the container itself (truncated gzip, broken JSON) propagate as
`InputError` from the iterator; records yielded before the error are whole and good.
"""

from __future__ import annotations

import gzip
import io
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ijson
import orjson

from reynard.events import numbers

GZIP_MAGIC = b"\x1f\x8b"
HEAD_BYTES = 64 * 1024
WHOLE_DOCUMENT_BYTES = 64 * 1024 * 1024
# read1 returns what one decompression step gives, so a cut gzip loses nothing before the cut.
READ_CHUNK = 64 * 1024
DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024


class InputError(Exception):
    """The input itself is damaged (truncated gzip, broken JSON container) at `position`; `partial`, the
    bytes read before the damage where a caller may salvage records from them."""

    def __init__(self, reason: str, position: int = 0, partial: bytes = b""):
        self.reason = reason
        self.position = position
        self.partial = partial
        super().__init__(reason)


@dataclass
class Input:
    """An opened input: a decompressed binary stream and its first bytes, for sniffing."""

    origin: str
    stream: IO[bytes]
    compressed: bool

    def head(self, size: int = HEAD_BYTES) -> bytes:
        """The first bytes of the (decompressed) content, without consuming them."""
        try:
            return self.stream.peek(size)[:size]  # type: ignore[attr-defined]
        except (EOFError, OSError, zlib.error) as e:
            raise InputError(f"cannot read: {describe(e, self.compressed)}") from None

    def close(self) -> None:
        self.stream.close()

    def chained(self, prefix: bytes) -> Input:
        """This input with `prefix` (bytes already read from it) put back in front of what remains."""
        stream = io.BufferedReader(_Chain(prefix, self.stream), READ_CHUNK)
        return Input(self.origin, stream, self.compressed)

    def read_line(self, limit: int) -> tuple[bytes, bool]:
        """The next line with its ending, at most `limit` bytes, and whether it is whole (it ends with
        its line break or the input ends); b"" at the end. Damage is an InputError whose `partial`
        holds the bytes of the line read before it (a cut gzip loses nothing before the cut)."""
        pieces: list[bytes] = []
        size = 0
        stream = self.stream
        try:
            while size < limit:
                buffered = stream.peek(1)  # type: ignore[attr-defined]
                if not buffered:
                    return b"".join(pieces), True
                end = buffered.find(b"\n", 0, limit - size)
                take = end + 1 if end >= 0 else min(len(buffered), limit - size)
                pieces.append(stream.read(take))
                size += take
                if end >= 0:
                    return b"".join(pieces), True
            return b"".join(pieces), not stream.peek(1)  # type: ignore[attr-defined]
        except (EOFError, OSError, zlib.error) as e:
            raise InputError(describe(e, self.compressed), partial=b"".join(pieces)) from None

    def rest_of_line(self) -> bytes:
        """The rest of the current line, with its ending (a line's end, after `read_line` cut it)."""
        pieces = []
        while True:
            piece, whole = self.read_line(READ_CHUNK)
            pieces.append(piece)
            if whole:
                return b"".join(pieces)


def open_input(path: str | Path) -> Input:
    """Open a path (or `-` for stdin) for reading, gunzipping when the content is gzip."""
    if str(path) == "-":
        raw: IO[bytes] = sys.stdin.buffer
        origin = "-"
    else:
        raw = open(path, "rb")  # noqa: SIM115 - closed by Input.close
        origin = str(path)
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type]
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        # GzipFile is buffered itself; a BufferedReader around it would lose what was decompressed
        # before a cut in the data (its read1 asks GzipFile for a whole buffer at once).
        return Input(origin, gzip.GzipFile(fileobj=buffered), True)
    return Input(origin, buffered, False)


def open_bytes(data: bytes, origin: str) -> Input:
    """An in-memory input (HTTP bodies, dead-letter replays)."""
    stream = io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]
    if data[:2] == GZIP_MAGIC:
        return Input(origin, gzip.GzipFile(fileobj=stream), True)
    return Input(origin, stream, False)


def describe(error: BaseException, compressed: bool) -> str:
    if isinstance(error, EOFError) and compressed:
        return "truncated gzip (the compressed stream ends before its end marker)"
    if isinstance(error, (gzip.BadGzipFile, zlib.error)):
        return f"corrupt gzip: {error}"
    return f"{type(error).__name__}: {error}"


def iter_lines(
    inp: Input, max_bytes: int = DEFAULT_MAX_RECORD_BYTES, after: int = 0
) -> Iterator[tuple[int, bytes]]:
    """Yield `(line number, line)` without the line ending; blank lines are skipped but counted, from
    `after + 1` (the lines a caller read itself).

    A line longer than `max_bytes` is still yielded whole (the caller rejects it with the reason and
    keeps it in the dead-letter store), so nothing is silently cut.
    """
    number = after
    stream = inp.stream
    while True:
        try:
            line = stream.readline()
        except (EOFError, OSError, zlib.error) as e:
            raise InputError(describe(e, inp.compressed), number + 1) from None
        if not line:
            return
        number += 1
        line = line.rstrip(b"\r\n")
        if line.strip():
            yield number, line


def iter_json_document(inp: Input, containers: tuple[str, ...] = ()) -> Iterator[tuple[int, Any]]:
    """Yield `(record number, item)` from one JSON document.

    The document is a top-level array (each item a record), an object whose key in `containers` holds
    the array of records (`{"Records": [...]}`), or any other object (one record). Small documents are
    parsed whole; large ones stream through ijson.
    """
    chunks: list[bytes] = []
    size = 0
    while size <= WHOLE_DOCUMENT_BYTES:
        try:
            chunk = inp.stream.read1(READ_CHUNK)  # type: ignore[attr-defined]
        except (EOFError, OSError, zlib.error) as e:
            yield from salvage(b"".join(chunks), containers, describe(e, inp.compressed))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    data = b"".join(chunks)
    if len(data) <= WHOLE_DOCUMENT_BYTES:
        yield from document_records(data, containers)
        return
    yield from stream_document(data, inp, containers)


def document_records(data: bytes, containers: tuple[str, ...] = ()) -> Iterator[tuple[int, Any]]:
    """`iter_json_document` for a whole document held in memory."""
    try:
        doc = numbers.loads(data)  # integers beyond 64 bits as text, never rounded
    except orjson.JSONDecodeError as e:
        raise InputError(f"invalid JSON: {e}", 1) from None
    yield from _records_of(doc, containers)


def salvage(data: bytes, containers: tuple[str, ...], damage: str) -> Iterator[tuple[int, Any]]:
    """A damaged document: the whole records before the `damage` (the beginning of the document that
    was read, `data`), then InputError naming the damage."""
    salvaged = yield from _salvage(data, containers)
    raise InputError(f"{damage}; the {salvaged} records before it were read", 0)


def _salvage(data: bytes, containers: tuple[str, ...]) -> Iterator[tuple[int, Any]]:
    """The complete records at the start of a cut document; returns how many there were."""
    start = data.lstrip()[:1]
    key = next((k for k in containers if f'"{k}"'.encode() in data[:HEAD_BYTES]), None)
    path = "item" if start == b"[" else f"{key}.item" if key else None
    count = 0
    if path is None:
        return count
    try:
        for count, item in enumerate(ijson.items(io.BytesIO(data), path, use_float=True), 1):
            yield count, numbers.as_text(item)
    except (ijson.JSONError, ijson.IncompleteJSONError):
        pass
    return count


def _records_of(doc: Any, containers: tuple[str, ...]) -> Iterator[tuple[int, Any]]:
    if isinstance(doc, list):
        yield from enumerate(doc, 1)
        return
    if isinstance(doc, dict):
        for key in containers:
            items = doc.get(key)
            if isinstance(items, list):
                yield from enumerate(items, 1)
                return
    yield 1, doc


class _Chain(io.RawIOBase):
    """A read-only stream of a prefix then the rest of another stream (for ijson after a peek)."""

    def __init__(self, prefix: bytes, rest: IO[bytes]):
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        chunk = self._rest.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def stream_document(prefix: bytes, inp: Input, containers: tuple[str, ...]) -> Iterator[tuple[int, Any]]:
    """`iter_json_document` streamed through ijson: `prefix` (already read) then the rest of `inp`."""
    start = prefix.lstrip()[:1]
    if start == b"[":
        path = "item"
    else:
        head = prefix[:HEAD_BYTES]
        key = next((k for k in containers if f'"{k}"'.encode() in head), None)
        if key is None:
            raise InputError(f"a single JSON object larger than {WHOLE_DOCUMENT_BYTES} bytes", 1)
        path = f"{key}.item"
    stream = io.BufferedReader(_Chain(prefix, inp.stream), 1 << 20)
    number = 0
    try:
        for number, item in enumerate(ijson.items(stream, path, use_float=True), 1):
            yield number, numbers.as_text(item)  # ijson's integers are exact: beyond 64 bits, as text
    except (ijson.JSONError, ijson.IncompleteJSONError) as e:
        if "integer overflow" in str(e):  # ijson's parser holds signed 64-bit integers only
            raise InputError(
                f"record {number + 1} holds an integer beyond 2**63, which Reynard reads exactly only in"
                f" documents of up to {WHOLE_DOCUMENT_BYTES} bytes and in NDJSON (write it so); the"
                f" {number} records before it were read",
                number + 1,
            ) from None
        raise InputError(f"invalid JSON after record {number}: {e}", number + 1) from None
    except (EOFError, OSError, zlib.error) as e:
        raise InputError(describe(e, inp.compressed), number + 1) from None
