"""The tantivy schema for events, and how a finalized event becomes a tantivy document.

Hot fields are schema fields: timestamps as integer microseconds since the epoch (tantivy's date
fields keep only whole seconds in their index and fast columns, which would make sub-second windows
and ordering inexact), the keyword fields as raw-tokenized fast text (exact,
case-sensitive, aggregatable), `summary` tokenized with positions (token and phrase matches), the
source and destination addresses as IP fields (so a CIDR is a range) plus `ip`, every address in the
event, for "anything that touched this IP". The long tail of `details` is one raw-tokenized JSON fast
field. Its texts that lowercasing changes are indexed a second time, lowercased (`details_ci`, neither
stored nor fast), so a case-insensitive match on any `details` path (what every Sigma rule asks) is two
term look-ups, not a scan: the lowercased text in `details_ci` (texts that had upper case) or in
`details` (texts that were lowercase already). Indexing only those texts twice, not the whole of
`details`, made storing CloudTrail events 15-25 % faster. The whole event is stored once, as orjson
bytes in `_doc`: that is what `get` returns.

Change anything here and bump SCHEMA_VERSION: an index made with another version is refused with a
clear message rather than read wrongly.
"""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import tantivy

from reynard.events import numbers
from reynard.events.fields import IP_KEYS as IP_KEY_NAMES
from reynard.events.ips import is_ip
from reynard.store.base import Prepared

SCHEMA_VERSION = 3
LOWERCASE = "raw_lower"  # the raw tokenizer, lowercased (Unicode lowercase, as Python's str.lower)
CI_DETAILS = "details_ci"

KEYWORD_FIELDS = (
    "category",
    "source",
    "hostname",
    "processname",
    "processid",
    "severity",
    "type",
    "mozdefhostname",
    "tags",
    "plugins",
)
DATE_FIELDS = ("utctimestamp", "receivedtimestamp")
# details keys whose value (one address, or a list) goes to an IP field of the same role.
IP_ROLES = {"sourceipaddress": "sourceip", "destinationipaddress": "destinationip"}
# The addresses of these details keys land in `ip` (the virtual field of every address).
IP_KEYS = frozenset(IP_KEY_NAMES)


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, fast=True, tokenizer_name="raw", index_option="basic")
    for name in DATE_FIELDS:
        sb.add_integer_field(name, indexed=True, fast=True)
    for name in KEYWORD_FIELDS:
        sb.add_text_field(name, fast=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("summary", tokenizer_name="default", index_option="position")
    sb.add_json_field("details", fast=True, tokenizer_name="raw", index_option="basic")
    sb.add_json_field(CI_DETAILS, tokenizer_name=LOWERCASE, index_option="basic")
    for name in (*IP_ROLES.values(), "ip"):
        sb.add_ip_addr_field(name, indexed=True, fast=True)
    sb.add_bytes_field("_doc", stored=True, indexed=False)
    return sb.build()


def register_tokenizers(index: tantivy.Index) -> None:
    """The tokenizers the schema names beyond tantivy's own (needed to write, on every open)."""
    lowercase = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw()).filter(tantivy.Filter.lowercase())
    index.register_tokenizer(LOWERCASE, lowercase.build())


def _addresses(value: object) -> list[str]:
    """The valid addresses in a value: a string, or the strings of a (nested) list."""
    if isinstance(value, str):
        return [value] if is_ip(value) else []
    if isinstance(value, list):
        return [a for item in value for a in _addresses(item)]
    return []


def prepare(event: dict) -> Prepared:
    """`EventStore.prepare` for tantivy: the document is the JSON text `to_document` makes."""
    # Finalized timestamps are ISO 8601 UTC, so the day is the first ten characters.
    return Prepared(event["id"], date.fromisoformat(event["utctimestamp"][:10]), to_document(event))


def original(prepared: Prepared) -> dict:
    """`EventStore.original` for tantivy: the event stored in the document's `_doc`."""
    return orjson.loads(base64.b64decode(orjson.loads(prepared.document)["_doc"]))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(iso: str) -> int:
    """Microseconds since the epoch of a finalized (ISO 8601 UTC) timestamp."""
    return (datetime.fromisoformat(iso) - _EPOCH) // _MICROSECOND


def with_case(value: Any) -> Any:
    """`value` keeping only its texts that lowercasing changes (what `details_ci` indexes), or None."""
    kind = type(value)
    if kind is str:
        return value if value != value.lower() else None
    if kind is dict:
        kept = {}
        for key, item in value.items():
            item = with_case(item)
            if item is not None:
                kept[key] = item
        return kept or None
    if kind is list:
        return [item for item in map(with_case, value) if item is not None] or None
    return None


def to_document(event: dict) -> str:
    """The JSON text tantivy's `add_json` indexes for one finalized event."""
    details = event["details"]
    doc = {name: event[name] for name in KEYWORD_FIELDS}
    doc["id"] = event["id"]
    doc["utctimestamp"] = micros(event["utctimestamp"])
    doc["receivedtimestamp"] = micros(event["receivedtimestamp"])
    doc["summary"] = event["summary"]
    doc["details"] = details
    cased = with_case(details)
    if cased is not None:
        doc[CI_DETAILS] = cased
    everywhere: list[str] = []
    for key in IP_KEYS.intersection(details):
        found = _addresses(details[key])
        if found:
            everywhere.extend(found)
            role = IP_ROLES.get(key)
            if role:
                doc[role] = found
    if everywhere:
        doc["ip"] = everywhere
    doc["_doc"] = base64.b64encode(numbers.dumps(event)).decode()
    return numbers.dumps(doc).decode()
