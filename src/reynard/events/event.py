"""The normalized event: MozDef's format, checked once before it is stored.

A source parser builds a *draft* (a plain dict, MozDef-shaped), the pipeline's plugins enrich it, and
`finalize` turns it into the event the store keeps, or raises `InvalidEvent` with the reason. Nothing
half-made gets past `finalize`.

The stored event:

    id                 stable 32-hex id (blake2b of the source and the record's identity)
    utctimestamp       when it happened, ISO 8601 UTC with microseconds
    timestamp          the same moment as the source wrote it, in UTC when the source had no offset
    receivedtimestamp  when Reynard received it
    category source hostname processname processid severity summary type mozdefhostname
    tags               list of strings (`tz-assumed-utc` when the source timestamp had no zone)
    plugins            names of the pipeline plugins that ran, in order
    details            the source-specific body, keys lowercase
    errors             (optional) notes from plugins that failed on this event
    original           (optional) the record as the source wrote it, JSON text, where later stages need
                       its keys' own case (a GuardDuty finding as its EventBridge event); not indexed
"""

from __future__ import annotations

import hashlib
import socket
from datetime import UTC, datetime
from typing import Any

import orjson

from reynard.errors import InvalidEvent
from reynard.events import numbers
from reynard.events.timestamps import TimestampError, check_range, isoformat, parse_timestamp

SEVERITIES = ("EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG")

_SEVERITY_ALIASES = {
    **{name: name for name in SEVERITIES},
    **{str(level): name for level, name in enumerate(SEVERITIES)},
    "EMERG": "EMERGENCY",
    "PANIC": "EMERGENCY",
    "CRIT": "CRITICAL",
    "FATAL": "CRITICAL",
    "ERR": "ERROR",
    "WARN": "WARNING",
    "INFORMATIONAL": "INFO",
    "INFORMATION": "INFO",
    "LOW": "INFO",
    "MEDIUM": "WARNING",
    "HIGH": "ERROR",
    "TRACE": "DEBUG",
}

REQUIRED_FIELDS = (
    "id",
    "utctimestamp",
    "timestamp",
    "receivedtimestamp",
    "category",
    "source",
    "hostname",
    "processname",
    "processid",
    "severity",
    "summary",
    "tags",
    "type",
    "plugins",
    "mozdefhostname",
    "details",
)

TZ_ASSUMED_TAG = "tz-assumed-utc"
MAX_SUMMARY = 65_536
MOZDEF_HOSTNAME = socket.gethostname()


def stable_id(source: str, key: str) -> str:
    """The id of an event: the same record ingested twice gets the same id, so it is stored once."""
    return hashlib.blake2b(f"{source}\x1f{key}".encode(), digest_size=16).hexdigest()


def severity_name(value: Any) -> str | None:
    """RFC 5424 severity name for a name, an alias, or a syslog level number; None when unknown."""
    if value is None or isinstance(value, bool):
        return None
    return _SEVERITY_ALIASES.get(str(value).strip().upper())


def finalize(
    draft: dict,
    *,
    received: str,
    keep_received: bool = False,
    now: datetime | None = None,
) -> dict:
    """Check a draft and return the event to store (the draft itself, completed in place).

    Raises `InvalidEvent` naming the first problem. `keep_received` keeps a draft's own
    `receivedtimestamp` (an export from MozDef's Elasticsearch); otherwise it is `received` (ISO 8601,
    formatted once per batch by the caller with `timestamps.isoformat`).
    """
    if not isinstance(draft, dict):
        raise InvalidEvent(f"not an event object: {type(draft).__name__}")
    if not draft.get("id"):
        raise InvalidEvent("event has no id")

    raw_time = draft.get("utctimestamp")
    if raw_time is None or raw_time == "":
        raise InvalidEvent("event has no timestamp (utctimestamp)")
    try:
        moment, assumed = parse_timestamp(raw_time)
        check_range(moment, now=now)
    except TimestampError as e:
        raise InvalidEvent(f"utctimestamp: {e}") from None
    draft["utctimestamp"] = isoformat(moment)

    original = draft.get("timestamp")
    if original is None or original == "":
        draft["timestamp"] = draft["utctimestamp"]
    else:
        try:
            ts, ts_assumed = parse_timestamp(original)
        except TimestampError as e:
            raise InvalidEvent(f"timestamp: {e}") from None
        draft["timestamp"] = ts.isoformat() if isinstance(original, str) else isoformat(ts)
        assumed = assumed or ts_assumed

    own_received = draft.get("receivedtimestamp")
    if keep_received and own_received:
        try:
            got, _ = parse_timestamp(own_received)
        except TimestampError as e:
            raise InvalidEvent(f"receivedtimestamp: {e}") from None
        draft["receivedtimestamp"] = isoformat(got)
    else:
        draft["receivedtimestamp"] = received

    summary = draft.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise InvalidEvent("event has no summary")
    if len(summary) > MAX_SUMMARY:
        raise InvalidEvent(f"summary is {len(summary)} characters, more than {MAX_SUMMARY}")

    details = draft.get("details")
    if details is None:
        draft["details"] = details = {}
    elif not isinstance(details, dict):
        raise InvalidEvent(f"details must be an object, not {type(details).__name__}")
    else:
        draft["details"] = _storable(details)

    for name in ("category", "source", "hostname", "processname"):
        value = draft.get(name)
        if value is None or value == "":
            draft[name] = "UNKNOWN"
        elif not isinstance(value, str):
            draft[name] = str(value)
    pid = draft.get("processid")
    draft["processid"] = "UNKNOWN" if pid is None or pid == "" else str(pid)

    level = draft.get("severity")
    name = severity_name(level) if level is not None else "INFO"
    if name is None:
        draft.setdefault("errors", []).append(f"severity {level!r} is not an RFC 5424 name; set to INFO")
        name = "INFO"
    draft["severity"] = name

    tags = draft.get("tags")
    if tags is None:
        tags = []
    elif isinstance(tags, str):
        tags = [tags]
    elif not isinstance(tags, list):
        raise InvalidEvent(f"tags must be a list, not {type(tags).__name__}")
    tags = [str(t) for t in tags]
    if assumed and TZ_ASSUMED_TAG not in tags:
        tags.append(TZ_ASSUMED_TAG)
    draft["tags"] = tags

    kind = draft.get("type")
    draft["type"] = kind if isinstance(kind, str) and kind else "event"
    plugins = draft.get("plugins")
    draft["plugins"] = list(plugins) if isinstance(plugins, list) else []
    if not draft.get("mozdefhostname"):
        draft["mozdefhostname"] = MOZDEF_HOSTNAME
    return draft


def _storable(details: dict) -> dict:
    """`details` as JSON can hold it: integers beyond 64 bits as their decimal text (events/numbers.py);
    InvalidEvent for a value JSON has no form for. One `orjson.dumps` to check (under a microsecond for
    a CloudTrail record); the walk only when it fails."""
    try:
        orjson.dumps(details)
        return details
    except TypeError as e:
        if "64-bit" not in str(e):
            raise InvalidEvent(f"details: {e}") from None
    return numbers.as_text(details)


def now_utc() -> datetime:
    return datetime.now(UTC)
