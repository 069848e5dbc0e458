"""MozDef JSON: events posted to MozDef's loginput, or exported from its Elasticsearch.

The format is MozDef's own: one JSON object per line (NDJSON), a JSON array of objects, or one object.
Keys are mapped as MozDef's `esworker` did (`keyMapping`): lowercased, a leading `@` removed, aliases
folded (`message`/`payload` -> summary, `eventtime`/`date`/`timestamp` -> utctimestamp, `host` ->
hostname, `program` -> processname, `pid` -> processid, `level`/`priority` -> severity, `type`/`eventtype`
-> category when there is no `category`), `fields` and flat `details.x` keys merged into details
(`_int`/`_float` suffixes cast the value), and every other key kept under details. Exports from MozDef's
Elasticsearch (a hit's `_source`, or plain documents with `receivedtimestamp`) go through the same mapping
and keep `receivedtimestamp`, so `finalize(keep_received=True)` can keep it. An explicit `utctimestamp`
wins over the aliases because it is the only one that is UTC by definition. An event without any
timestamp gets the read's reference time ("now"), as MozDef used the receive time, and the tag
`timestamp-missing`.

This module also holds the JSON and line helpers the other sources share (MozDef JSON is the generic
JSON reader): choosing between a JSON document and NDJSON from the head, rejecting oversized, non-UTF-8
and malformed records with a reason, and the occurrence keys that keep identical lines apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from reynard.ingest.reader import Input, iter_json_document, iter_lines
from reynard.ingest.records import Record, Rejected
from reynard.ingest.sources.base import ReadOptions

BOM = b"\xef\xbb\xbf"
JSON_SPACE = b" \t\r\n"

# ------------------------------------------------------------------------------------------------------
# Shared helpers


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
                value = orjson.loads(line)
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
        raw = orjson.dumps(value)
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


# ------------------------------------------------------------------------------------------------------
# MozDef events

_SUMMARY = ("summary", "message")
_TIME = ("utctimestamp", "eventtime", "date", "timestamp")
_HOST = ("hostname", "host", "source_host")
_PROCESS = ("processname", "process_name", "program")
_PID = ("processid", "process_id", "pid")
_SEVERITY = ("severity", "severity_label", "level", "priority")
_CATEGORY = ("category", "type", "eventtype")
_CONSUMED = frozenset(
    (*_SUMMARY, "payload", *_TIME, *_HOST, *_PROCESS, *_PID, *_SEVERITY, *_CATEGORY, "source", "tags")
) | {"details", "fields", "id", "_id", "receivedtimestamp", "mozdefhostname", "plugins", "version"}
MISSING_TIME_TAG = "timestamp-missing"


def lower_keys(value: Any) -> Any:
    """A copy of a JSON value with every object key lowercased, at every depth."""
    if isinstance(value, dict):
        return {(k.lower() if isinstance(k, str) else k): lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lower_keys(v) for v in value]
    return value


def _cast(name: str, value: Any) -> Any:
    try:
        if name.endswith("_int"):
            return int(value)
        if name.endswith("_float"):
            return float(value)
    except (TypeError, ValueError):
        pass
    return value


def _first(event: dict, names: tuple[str, ...]) -> Any:
    for name in names:
        value = event.get(name)
        if value is not None and value != "":
            return value
    return None


class MozDef:
    name = "mozdef"

    def sniff(self, head: bytes) -> int:
        if not json_head_score(head):
            return 0
        window = head[:4096]
        if any(k in window for k in (b'"summary"', b'"details"', b'"_source"', b'"utctimestamp"')):
            return 40
        return 20

    def read(self, inp: Input, options: ReadOptions) -> Iterator[Record | Rejected]:
        origin = inp.origin
        occurrences = Occurrences()
        for item in json_records(inp, self.name, (), options.max_record_bytes):
            if isinstance(item, Rejected):
                yield item
                continue
            position, value, raw = item
            draft, key = self._draft(value, options, occurrences)
            if isinstance(draft, str):
                yield Rejected(self.name, origin, position, draft, raw_of(value, raw))
            else:
                yield Record(draft, self.name, origin, position, key, raw or b"")

    def _draft(self, value: Any, options: ReadOptions, occurrences: Occurrences) -> tuple[dict | str, str]:
        """The draft and key of one event, or the rejection reason in place of the draft."""
        if not isinstance(value, dict):
            return f"not an event: {kind(value)}", ""
        own_id = value.get("_id")
        if isinstance(value.get("_source"), dict):
            value = value["_source"]
        event: dict[str, Any] = {}
        for k, v in value.items():
            event[k.lower().lstrip("@")] = v
        own_id = event.get("id", own_id)

        details: dict[str, Any] = {}
        for name in ("fields", "details"):
            part = event.get(name)
            if isinstance(part, dict):
                details.update(lower_keys(part))
            elif part is not None:
                details[name] = part
        for k, v in event.items():
            if k in _CONSUMED:
                continue
            if k.startswith("details."):
                name = k[8:]
                details[name] = _cast(name, v)
            else:
                details[k] = lower_keys(v)

        summary = _first(event, _SUMMARY)
        if summary is None:
            summary = event.get("payload")
        if summary is None and not details:
            return "not an event: no summary, message, payload or details", ""

        draft: dict[str, Any] = {"source": event.get("source") or "UNKNOWN", "details": details}
        if summary is not None:
            draft["summary"] = summary if isinstance(summary, str) else str(summary)
        tags = event.get("tags")
        draft["tags"] = [tags] if isinstance(tags, str) else list(tags) if isinstance(tags, list) else []
        moment = _first(event, _TIME)
        if moment is None:
            draft["utctimestamp"] = options.reference_time
            draft["tags"].append(MISSING_TIME_TAG)
        else:
            draft["utctimestamp"] = moment
            original = event.get("timestamp")
            if original is not None and original != "":
                draft["timestamp"] = original
        for field, names in (
            ("hostname", _HOST),
            ("processname", _PROCESS),
            ("processid", _PID),
            ("severity", _SEVERITY),
        ):
            found = _first(event, names)
            if found is not None:
                draft[field] = found
        category = event.get("category")
        if category:
            draft["category"] = category
            if isinstance(event.get("type"), str):
                draft["type"] = event["type"]
        else:
            draft["category"] = _first(event, _CATEGORY[1:])
        for name in ("receivedtimestamp", "mozdefhostname"):
            if event.get(name):
                draft[name] = event[name]

        if own_id is not None and own_id != "":
            return draft, str(own_id)
        canonical = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        return draft, occurrences.key(canonical, moment)
