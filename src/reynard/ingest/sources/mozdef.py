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
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from reynard.ingest.reader import Input
from reynard.ingest.records import Record, Rejected
from reynard.ingest.sources.base import ReadOptions
from reynard.ingest.sources.common import Occurrences, json_head_score, json_records, kind, raw_of

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
                details.update(part)  # nested keys: the lower_keys plugin, which loses no value
            elif part is not None:
                details[name] = part
        for k, v in event.items():
            if k in _CONSUMED:
                continue
            if k.startswith("details."):
                name = k[8:]
                details[name] = _cast(name, v)
            else:
                details[k] = v

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
