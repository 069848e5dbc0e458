"""Amazon GuardDuty findings: threats GuardDuty detected in an account (port probes, credential misuse...).

Three shapes, each as one JSON document, a JSON array or NDJSON: the EventBridge event that delivers a
finding (`"detail-type": "GuardDuty Finding"`, the finding in `detail`), a raw finding (`schemaVersion`,
`type`, `resource`, `service`), and GetFindings output (`{"findings": [...]}`).

The finding goes under `details` as GuardDuty wrote it (the `lower_keys` plugin lowercases it); the
EventBridge envelope's account, region and time are kept under `details.eventbridge`. The finding is also
kept as GuardDuty wrote it, keys in their case, as the EventBridge event that delivers it (JSON text in
the event's top-level `original`, stored but not indexed): what playbook triggers match and playbooks
get as input, as they would from EventBridge. GuardDuty updates a
finding in place (its `count` grows, `updatedAt` moves), so the key is `id|updatedAt`: each update is its
own event and re-ingesting the same update is not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from reynard.ingest.plugins.guardduty import severity_for
from reynard.ingest.reader import Input
from reynard.ingest.records import Record, Rejected
from reynard.ingest.sources.base import ReadOptions
from reynard.ingest.sources.common import json_head_score, json_records, kind, raw_of

CONTAINERS = ("findings",)
DETAIL_TYPE = "GuardDuty Finding"


def _finding(value: Any) -> tuple[dict | None, dict | None, str]:
    """(finding, EventBridge envelope, reason): the finding inside any accepted shape, or why not."""
    if not isinstance(value, dict):
        return None, None, f"not a GuardDuty finding: {kind(value)}"
    envelope = None
    if "detail-type" in value:
        if value["detail-type"] != DETAIL_TYPE or not isinstance(value.get("detail"), dict):
            return None, None, f"not a GuardDuty finding: an EventBridge {value['detail-type']!r} event"
        envelope, value = value, value["detail"]
    for field in ("id", "type"):
        if not value.get(field):
            return None, None, f"not a GuardDuty finding: no {field}"
    return value, envelope, ""


def eventbridge_event(finding: dict) -> dict:
    """The EventBridge event GuardDuty would have sent for a raw finding."""
    return {
        "version": "0",
        "id": finding.get("id"),
        "detail-type": DETAIL_TYPE,
        "source": "aws.guardduty",
        "account": finding.get("accountId"),
        "time": finding.get("updatedAt") or finding.get("createdAt"),
        "region": finding.get("region"),
        "resources": [],
        "detail": finding,
    }


class GuardDuty:
    name = "guardduty"

    def sniff(self, head: bytes) -> int:
        if not json_head_score(head):
            return 0
        if b'"detail-type"' in head and DETAIL_TYPE.encode() in head:
            return 95
        finding = b'"schemaVersion"' in head and b'"service"' in head and b'"resource"' in head
        if b'"findings"' in head:
            return 90 if finding or b"arn:aws:guardduty:" in head else 50
        return 90 if finding else 0

    def read(self, inp: Input, options: ReadOptions) -> Iterator[Record | Rejected]:
        name = self.name
        origin = inp.origin
        for item in json_records(inp, name, CONTAINERS, options.max_record_bytes):
            if isinstance(item, Rejected):
                yield item
                continue
            position, value, raw = item
            finding, envelope, reason = _finding(value)
            updated = None
            if finding is not None:
                updated = finding.get("updatedAt") or finding.get("createdAt")
                if not updated and envelope is not None:
                    updated = envelope.get("time")
                if not updated:
                    reason = "not a GuardDuty finding: no updatedAt, createdAt or time"
            if finding is None or not updated:
                yield Rejected(name, origin, position, reason, raw_of(value, raw))
                continue
            original = orjson.dumps(envelope if envelope is not None else eventbridge_event(finding)).decode()
            if envelope is not None:
                finding["eventbridge"] = {k: envelope.get(k) for k in ("account", "region", "time")}
            draft = {
                "utctimestamp": updated,
                "category": name,
                "source": name,
                "hostname": "guardduty.amazonaws.com",
                "processname": name,
                "severity": severity_for(finding.get("severity")) or "INFO",
                "summary": finding.get("title") or f"GuardDuty finding {finding['type']}",
                "tags": [],
                "details": finding,
                "original": original,
            }
            yield Record(draft, name, origin, position, f"{finding['id']}|{updated}", raw or b"")
