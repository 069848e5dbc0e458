"""Amazon VPC flow logs: one line per network flow through an interface in an aggregation window.

A line is space-separated fields, `-` for a field with no value. The default (version 2) format is
`version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action
log-status` without a header, as CloudWatch Logs delivers it. Custom formats choose and order fields
freely; files delivered to S3 start with a header line naming them, so a first line made of field names
(and again any such line later, as when files are concatenated) sets the layout of the lines after it.

`NODATA` (no traffic in the window) and `SKIPDATA` (records lost) lines are events too: a gap in the
logs is itself worth seeing. Numbers become ints, `-` fields are left out, addresses stay text (IPv4 or
IPv6, not checked: a plugin enriches them). The key is the line itself, with an occurrence suffix for
identical lines in the same window start.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

from reynard.events.timestamps import zulu
from reynard.ingest.reader import Input, iter_lines
from reynard.ingest.records import Record, Rejected
from reynard.ingest.sources.base import ReadOptions
from reynard.ingest.sources.common import BOM, Occurrences, too_big

DEFAULT_FIELDS = (  # noqa: SIM905
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action "
    "log-status"
).split()
# Every field AWS documents (versions 2 to 8).
KNOWN_FIELDS = frozenset(
    DEFAULT_FIELDS
    + """vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id sublocation-type
    sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path ecs-cluster-arn
    ecs-cluster-name ecs-container-instance-arn ecs-container-instance-id ecs-container-id
    ecs-second-container-id ecs-service-name ecs-task-definition-arn ecs-task-arn ecs-task-id
    reject-reason""".split()  # noqa: SIM905
)
INT_FIELDS = frozenset(
    "version srcport dstport protocol packets bytes start end tcp-flags traffic-path".split()  # noqa: SIM905
)
RENAMED = {
    "srcaddr": "sourceipaddress",
    "dstaddr": "destinationipaddress",
    "srcport": "sourceport",
    "dstport": "destinationport",
    "log-status": "logstatus",
}
PROTOCOLS = {1: "icmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 51: "ah", 58: "icmpv6", 132: "sctp"}
_NAME = re.compile(r"[a-z][a-z0-9_-]*")


def header_fields(line: bytes) -> list[str] | None:
    """The field names of a header line (underscores read as dashes), or None when it is not one."""
    names = line.decode("utf-8", "replace").split()
    if not names or not all(_NAME.fullmatch(n) for n in names):
        return None
    names = [n.replace("_", "-") for n in names]
    known = sum(n in KNOWN_FIELDS for n in names)
    return names if known * 2 >= len(names) and known >= 2 else None


def _looks_default(line: bytes) -> bool:
    fields = line.split()
    return (
        len(fields) == 14
        and fields[0].isdigit()
        and (fields[2].startswith(b"eni-") or fields[2] == b"-")
        and fields[12] in (b"ACCEPT", b"REJECT", b"-")
    )


class Layout:
    """How to read a data line: per field, its detail name and whether it is a number."""

    def __init__(self, fields: list[str]):
        self.fields = fields
        self.plan = [
            (i, f, RENAMED.get(f) or f.replace("-", ""), f in INT_FIELDS) for i, f in enumerate(fields)
        ]


def _span(details: dict) -> str:
    parts = []
    for name in ("start", "end"):
        value = details.get(name)
        parts.append(zulu(datetime.fromtimestamp(value, UTC), "seconds") if isinstance(value, int) else "?")
    return f"from {parts[0]} to {parts[1]}"


def _endpoint(details: dict, address: str, port: str) -> str:
    host = details.get(address, "?")
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{details[port]}" if port in details else host


def summary(details: dict) -> str:
    status = details.get("logstatus")
    if status in ("NODATA", "SKIPDATA"):
        return f"{status} for {details.get('interfaceid', 'unknown interface')} {_span(details)}"
    number = details.get("protocol")
    protocol = PROTOCOLS.get(number, f"protocol {number}") if number is not None else "?"
    return (
        f"{_endpoint(details, 'sourceipaddress', 'sourceport')} -> "
        f"{_endpoint(details, 'destinationipaddress', 'destinationport')} {protocol} "
        f"{details.get('action', '?')} {details.get('packets', '?')} packets "
        f"{details.get('bytes', '?')} bytes"
    )


class VpcFlow:
    name = "vpcflow"

    def sniff(self, head: bytes) -> int:
        lines = [line for line in head.removeprefix(BOM).split(b"\n", 4)[:4] if line.strip()]
        if not lines:
            return 0
        if header_fields(lines[0]) is not None:
            return 95
        return 90 if _looks_default(lines[0]) else 0

    def read(self, inp: Input, options: ReadOptions) -> Iterator[Record | Rejected]:
        name = self.name
        origin = inp.origin
        limit = options.max_record_bytes
        layout = Layout(DEFAULT_FIELDS)
        occurrences = Occurrences()
        for position, line in iter_lines(inp, limit):
            if len(line) > limit:
                yield Rejected(name, origin, position, too_big(len(line), limit), line)
                continue
            if position == 1:
                line = line.removeprefix(BOM)
            if b"a" <= line[:1] <= b"z" and (fields := header_fields(line)) is not None:
                layout = Layout(fields)
                continue
            text = line.decode("utf-8", "replace")
            values = text.split()
            if len(values) != len(layout.fields):
                reason = (
                    f"expected {len(layout.fields)} fields ({' '.join(layout.fields)}), found {len(values)}"
                )
                yield Rejected(name, origin, position, reason, line)
                continue
            details: dict = {}
            reason = ""
            for index, field, detail, numeric in layout.plan:
                value = values[index]
                if value == "-":
                    continue
                if numeric:
                    try:
                        details[detail] = int(value)
                    except ValueError:
                        reason = f"field {field} is not a number: {value!r}"
                        break
                else:
                    details[detail] = value
            moment = details.get("start", details.get("end"))
            if not reason and moment is None:
                reason = "no start or end time"
            if reason:
                yield Rejected(name, origin, position, reason, line)
                continue
            number = details.get("protocol")
            if number in PROTOCOLS:
                details["protocolname"] = PROTOCOLS[number]
            status = details.get("logstatus")
            draft = {
                "utctimestamp": moment,
                "category": name,
                "source": name,
                "hostname": details.get("interfaceid", name),
                "processname": name,
                "severity": "INFO",
                "summary": summary(details),
                "tags": [status.lower()] if status in ("NODATA", "SKIPDATA") else [],
                "details": details,
            }
            yield Record(draft, name, origin, position, occurrences.key(text, moment), line)
