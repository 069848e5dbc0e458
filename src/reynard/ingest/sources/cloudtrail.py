"""AWS CloudTrail: one event per AWS API call, console sign-in or service event.

Accepted layouts: S3 delivery files (`{"Records": [...]}`, plain or gzip), JSON arrays of records, and
NDJSON (one record per line, as CloudWatch Logs subscriptions, Firehose and Logstash write them, including
lines that each hold a `{"Records": [...]}` object). The Logstash envelope (`@timestamp`, `@version`, no
`eventTime`) is unwrapped: `@timestamp` is the time and both envelope keys are dropped from details.

The raw record goes under `details` unchanged (the `lower_keys` plugin lowercases it), so nothing an
analyst might search for is lost here; the summary is a first draft that a plugin may improve. The key is
the record's `eventID`, which CloudTrail makes unique; a record without one is keyed by its canonical
JSON, so re-ingesting a file still yields the same events.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from reynard.ingest.reader import Input
from reynard.ingest.records import Record, Rejected
from reynard.ingest.sources.base import ReadOptions
from reynard.ingest.sources.common import json_head_score, json_records, kind, raw_of

CONTAINERS = ("Records",)


class CloudTrail:
    name = "cloudtrail"

    def sniff(self, head: bytes) -> int:
        if not json_head_score(head) or b'"eventName"' not in head:
            return 0
        if b'"eventSource"' in head or b'"eventVersion"' in head or b'"Records"' in head:
            return 90
        return 30

    def read(self, inp: Input, options: ReadOptions) -> Iterator[Record | Rejected]:
        name = self.name
        origin = inp.origin
        for item in json_records(inp, name, CONTAINERS, options.max_record_bytes):
            if isinstance(item, Rejected):
                yield item
                continue
            position, rec, raw = item
            if not isinstance(rec, dict):
                reason = f"not a CloudTrail record: {kind(rec)}"
                yield Rejected(name, origin, position, reason, raw_of(rec, raw))
                continue
            event_name = rec.get("eventName")
            event_source = rec.get("eventSource")
            moment = rec.get("eventTime") or rec.get("@timestamp")
            if not (event_name and event_source and moment):
                missing = (
                    "eventName" if not event_name else "eventSource" if not event_source else "eventTime"
                )
                reason = f"not a CloudTrail record: no {missing}"
                yield Rejected(name, origin, position, reason, raw_of(rec, raw))
                continue
            key = rec.get("eventID") or orjson.dumps(rec, option=orjson.OPT_SORT_KEYS).decode()
            if "@timestamp" in rec:
                rec.pop("@timestamp")
                rec.pop("@version", None)
            source_ip = rec.get("sourceIPAddress")
            draft = {
                "utctimestamp": moment,
                "category": rec.get("eventType") or "AwsApiCall",
                "source": name,
                "hostname": event_source,
                "processname": name,
                "severity": "INFO",
                "summary": f"{source_ip or 'unknown'} performed {event_name} in {event_source}",
                "tags": [],
                "details": rec,
            }
            yield Record(draft, name, origin, position, str(key), raw or b"")
