"""GuardDuty: EventBridge events, raw findings and GetFindings output, as documents, arrays or NDJSON.

Real data: one EventBridge-wrapped finding from Netflix security_monkey's tests (Apache-2.0).
"""

import json

import orjson

from reynard.ingest.reader import open_bytes, open_input
from reynard.ingest.records import Record, Rejected
from reynard.ingest.sources.base import ReadOptions
from reynard.ingest.sources.guardduty import GuardDuty

SOURCE = GuardDuty()


def read(data: bytes) -> list[Record | Rejected]:
    return list(SOURCE.read(open_bytes(data, "test"), ReadOptions()))


def finding(number: int = 1, severity: float = 8.0, **fields) -> dict:
    base = {
        "schemaVersion": "2.0",
        "accountId": "123456789012",
        "region": "us-east-1",
        "partition": "aws",
        "id": f"f{number:031d}",
        "arn": f"arn:aws:guardduty:us-east-1:123456789012:detector/d/finding/f{number}",
        "type": "UnauthorizedAccess:EC2/SSHBruteForce",
        "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0123456789abcdef0"}},
        "service": {
            "serviceName": "guardduty",
            "count": number,
            "action": {"actionType": "NETWORK_CONNECTION"},
        },
        "severity": severity,
        "createdAt": "2024-05-01T10:00:00.000Z",
        "updatedAt": f"2024-05-01T10:{number:02d}:00.000Z",
        "title": f"203.0.113.{number} is performing SSH brute force attacks against i-0123456789abcdef0.",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def eventbridge(detail: dict, detail_type: str = "GuardDuty Finding") -> dict:
    return {
        "version": "0",
        "id": "c8c4daa7-a20c-2f03-0070-b7393dd542ad",
        "detail-type": detail_type,
        "source": "aws.guardduty",
        "account": "123456789012",
        "time": "2024-05-01T10:05:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def test_real_eventbridge_finding(shared_data):
    path = shared_data / "guardduty/guardduty_portprobe_ssh_event.json"
    raw = json.loads(path.read_bytes())
    [got] = SOURCE.read(open_input(path), ReadOptions())
    assert isinstance(got, Record)
    draft, detail = got.draft, raw["detail"]
    assert got.key == f"{detail['id']}|{detail['updatedAt']}"
    assert draft["utctimestamp"] == detail["updatedAt"]
    assert (
        draft["summary"]
        == detail["title"]
        == "Unprotected port on EC2 instance i-036cb01d26bb09166 is being probed."
    )
    assert draft["severity"] == "INFO"  # score 2: GuardDuty Low
    assert draft["source"] == draft["category"] == draft["processname"] == "guardduty"
    assert draft["details"]["type"] == "Recon:EC2/PortProbeUnprotectedPort"
    assert draft["details"]["severity"] == 2
    assert draft["details"]["eventbridge"] == {
        "account": "123",
        "region": "us-east-1",
        "time": "1970-01-01T00:00:00Z",
    }
    probe = draft["details"]["service"]["action"]["portProbeAction"]["portProbeDetails"][0]
    assert probe["remoteIpDetails"]["ipAddressV4"] == "221.132.75.236"


def test_raw_finding_document():
    [got] = read(orjson.dumps(finding()))
    assert got.draft["details"] == finding()
    assert got.draft["severity"] == "ERROR"
    assert got.key == f"{finding()['id']}|2024-05-01T10:01:00.000Z"


def test_get_findings_output_with_two_findings():
    got = read(orjson.dumps({"findings": [finding(1, 3.0), finding(2, 9.5)]}))
    assert [r.position for r in got] == [1, 2]
    assert [r.draft["severity"] for r in got] == ["INFO", "CRITICAL"]
    assert [r.draft["summary"][:11] for r in got] == ["203.0.113.1", "203.0.113.2"]


def test_json_array_of_findings():
    got = read(orjson.dumps([finding(1), finding(2)]))
    assert [r.key.split("|")[0] for r in got] == [finding(1)["id"], finding(2)["id"]]


def test_ndjson_of_eventbridge_events_and_updates_of_one_finding():
    lines = [
        orjson.dumps(eventbridge(finding(1))),
        orjson.dumps(eventbridge(finding(1, updatedAt="2024-05-01T11:00:00Z"))),
    ]
    lines.append(orjson.dumps(eventbridge(finding(3, 5.0))))
    got = read(b"\n".join(lines) + b"\n")
    assert all(isinstance(r, Record) for r in got)
    assert [r.position for r in got] == [1, 2, 3]
    assert got[0].key != got[1].key and got[0].key.split("|")[0] == got[1].key.split("|")[0]
    assert got[2].draft["severity"] == "WARNING"
    assert got[0].draft["details"]["eventbridge"]["account"] == "123456789012"
    assert got[0].raw == lines[0]


def test_time_falls_back_to_created_at_then_the_eventbridge_time():
    got = read(
        b"\n".join(
            [
                orjson.dumps(finding(1, updatedAt=None)),
                orjson.dumps(eventbridge(finding(2, updatedAt=None, createdAt=None))),
            ]
        )
    )
    assert [r.draft["utctimestamp"] for r in got] == ["2024-05-01T10:00:00.000Z", "2024-05-01T10:05:00Z"]


def test_not_findings_are_rejected_and_reading_goes_on():
    lines = [
        orjson.dumps(eventbridge({"instance-id": "i-1"}, "EC2 Instance State-change Notification")),
        orjson.dumps(finding(2, id=None)),
        orjson.dumps(finding(3, updatedAt=None, createdAt=None)),
        b"{not json",
        b"17",
        orjson.dumps(finding(6)),
    ]
    got = read(b"\n".join(lines))
    rejected = [(r.position, r.reason) for r in got if isinstance(r, Rejected)]
    # orjson's wording varies between versions; the column is what matters.
    assert rejected[3][1].startswith("invalid JSON: unexpected character") and rejected[3][1].endswith(
        " at column 2"
    )
    assert rejected[:3] + rejected[4:] == [
        (1, "not a GuardDuty finding: an EventBridge 'EC2 Instance State-change Notification' event"),
        (2, "not a GuardDuty finding: no id"),
        (3, "not a GuardDuty finding: no updatedAt, createdAt or time"),
        (5, "not a GuardDuty finding: a JSON number"),
    ]
    assert isinstance(got[-1], Record) and got[-1].position == 6
