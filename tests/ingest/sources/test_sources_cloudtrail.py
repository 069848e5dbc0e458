"""CloudTrail: S3 delivery files, JSON arrays, NDJSON and the Logstash envelope, on real data.

Data: invictus-ir/aws_dataset (MIT), DataDog/stratus-red-team detonation logs (Apache-2.0), OTRF
Security-Datasets (MIT); see ../shared/data/README.md.
"""

import gzip
import json

import orjson
import pytest

from reynard.ingest.reader import InputError, open_bytes, open_input
from reynard.ingest.records import Record, Rejected
from reynard.ingest.sources.base import ReadOptions
from reynard.ingest.sources.cloudtrail import CloudTrail

SOURCE = CloudTrail()


def read(data: bytes, **options) -> list[Record | Rejected]:
    return list(SOURCE.read(open_bytes(data, "test"), ReadOptions(**options)))


def record(**fields) -> dict:
    base = {
        "eventVersion": "1.08",
        "eventTime": "2023-07-10T11:42:36Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateUser",
        "sourceIPAddress": "198.51.100.7",
        "eventID": "11111111-2222-3333-4444-555555555555",
        "eventType": "AwsApiCall",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def check_against_raw(got: Record, raw: dict, position: int) -> None:
    draft = got.draft
    assert got.source == draft["source"] == "cloudtrail"
    assert got.position == position
    assert got.key == raw["eventID"]
    assert draft["utctimestamp"] == raw.get("eventTime", raw.get("@timestamp"))
    assert draft["category"] == raw["eventType"]
    assert draft["hostname"] == raw["eventSource"]
    assert draft["processname"] == "cloudtrail" and draft["severity"] == "INFO"
    assert (
        draft["summary"] == f"{raw['sourceIPAddress']} performed {raw['eventName']} in {raw['eventSource']}"
    )
    expected = {k: v for k, v in raw.items() if k not in ("@timestamp", "@version")}
    assert draft["details"] == expected


def test_invictus_s3_delivery_files(shared_data):
    files = sorted((shared_data / "cloudtrail/invictus/CloudTrail").glob("*.json"))
    assert len(files) == 55
    total = 0
    for path in files:
        raws = json.loads(path.read_bytes())["Records"]
        got = list(SOURCE.read(open_input(path), ReadOptions()))
        assert len(got) == len(raws)
        for position, (item, raw) in enumerate(zip(got, raws, strict=True), 1):
            assert isinstance(item, Record), item
            check_against_raw(item, raw, position)
        total += len(got)
    assert total == 2900


def test_stratus_json_arrays_with_anonymised_values(shared_data):
    files = sorted((shared_data / "cloudtrail/stratus").glob("*.json"))
    assert len(files) == 35
    total = 0
    for path in files:
        raws = json.loads(path.read_bytes())
        got = list(SOURCE.read(open_input(path), ReadOptions()))
        for position, (item, raw) in enumerate(zip(got, raws, strict=True), 1):
            assert isinstance(item, Record), item
            check_against_raw(item, raw, position)
        total += len(got)
    assert total == 310
    bedrock = list(
        SOURCE.read(
            open_input(shared_data / "cloudtrail/stratus/aws.impact.bedrock-invoke-model.json"), ReadOptions()
        )
    )
    assert bedrock[0].draft["summary"].startswith("035.249.253.232 performed")  # not an IP, kept as written
    assert bedrock[0].draft["details"]["awsRegion"] == "megov-northeast-1r"


def test_otrf_ndjson_in_a_logstash_envelope(shared_data):
    [path] = (shared_data / "cloudtrail/otrf").glob("*.json")
    lines = path.read_bytes().splitlines()
    got = list(SOURCE.read(open_input(path), ReadOptions()))
    assert len(got) == len(lines) == 103
    for number, (item, line) in enumerate(zip(got, lines, strict=True), 1):
        raw = json.loads(line)
        assert "eventTime" not in raw
        check_against_raw(item, raw, number)
        assert item.draft["utctimestamp"] == raw["@timestamp"]
        assert "@timestamp" not in item.draft["details"] and "@version" not in item.draft["details"]
        assert item.raw == line


def test_gzip_delivery_file_reads_like_the_plain_one(shared_data, tmp_path):
    path = next((shared_data / "cloudtrail/invictus/CloudTrail").glob("*.json"))
    zipped = tmp_path / "delivery.json.gz"
    zipped.write_bytes(gzip.compress(path.read_bytes()))
    plain = list(SOURCE.read(open_input(path), ReadOptions()))
    assert [r.draft for r in SOURCE.read(open_input(zipped), ReadOptions())] == [r.draft for r in plain]


def test_ndjson_lines_holding_records_containers_are_expanded():
    data = (
        orjson.dumps({"Records": [record(), record(eventID="b")]})
        + b"\n"
        + orjson.dumps({"Records": [record(eventID="c")]})
    )
    got = read(data)
    assert [r.key for r in got] == ["11111111-2222-3333-4444-555555555555", "b", "c"]
    assert [r.position for r in got] == [1, 1, 2]


def test_event_type_is_the_category_and_aws_api_call_the_default():
    got = read(orjson.dumps([record(eventType="AwsConsoleSignIn"), record(eventType=None, eventID="x")]))
    assert [r.draft["category"] for r in got] == ["AwsConsoleSignIn", "AwsApiCall"]


def test_record_without_event_id_is_keyed_by_its_canonical_json_stably():
    rec = record(eventID=None)
    data = orjson.dumps(rec) + b"\n" + orjson.dumps(record(eventID=None, eventName="DeleteUser"))
    first, second = read(data), read(data)
    assert first[0].key == orjson.dumps(rec, option=orjson.OPT_SORT_KEYS).decode()
    assert [r.key for r in first] == [r.key for r in second]
    assert first[0].key != first[1].key


def test_bad_records_are_rejected_with_a_reason_and_reading_goes_on():
    lines = [
        orjson.dumps(record(eventID="1")),
        b'{"eventName": "CreateUser", "eventSource": oops}',
        orjson.dumps(record(eventID="3", eventName=None)),
        b'["not", "a", "record"]',
        orjson.dumps(record(eventID="5", eventTime=None)),
        b'{"eventName": "\xff\xfe"}',
        orjson.dumps(record(eventID="7")),
    ]
    got = read(b"\n".join(lines))
    assert [type(r).__name__ for r in got] == ["Record", *["Rejected"] * 5, "Record"]
    reasons = [r.reason for r in got if isinstance(r, Rejected)]
    # orjson's wording varies between versions; the column is what matters.
    assert reasons[0].startswith("invalid JSON: unexpected character") and reasons[0].endswith(
        " at column 44"
    )
    assert reasons[1:] == [
        "not a CloudTrail record: no eventName",
        "not a CloudTrail record: a JSON array",
        "not a CloudTrail record: no eventTime",
        "not UTF-8 at byte 16",
    ]
    assert [r.position for r in got] == list(range(1, 8))
    assert got[1].raw == lines[1] and got[5].raw == lines[5]


def test_a_document_item_that_is_not_a_record_is_rejected_with_its_number():
    got = read(orjson.dumps({"Records": [record(), 42, {"eventVersion": "1.08"}]}))
    assert isinstance(got[0], Record)
    assert [(r.position, r.reason) for r in got[1:]] == [
        (2, "not a CloudTrail record: a JSON number"),
        (3, "not a CloudTrail record: no eventName"),
    ]
    assert got[1].raw == b"42"


def test_oversized_line_is_rejected_whole_with_its_size():
    big = orjson.dumps(record(eventID="big", requestParameters={"blob": "x" * 5000}))
    got = read(
        orjson.dumps(record(eventID="a")) + b"\n" + big + b"\n" + orjson.dumps(record(eventID="b")),
        max_record_bytes=4096,
    )
    assert isinstance(got[1], Rejected)
    assert got[1].reason == f"record is {len(big)} bytes, more than the 4096-byte limit"
    assert got[1].raw == big
    assert [r.key for r in (got[0], got[2])] == ["a", "b"]


def test_oversized_record_in_a_document_is_rejected():
    got = read(
        orjson.dumps([record(eventID="a"), record(eventID="big", blob="x" * 5000)]), max_record_bytes=4096
    )
    assert isinstance(got[0], Record) and isinstance(got[1], Rejected)
    assert got[1].reason.startswith("record is ") and got[1].reason.endswith("more than the 4096-byte limit")


def test_a_real_50_mb_line_is_rejected_under_the_default_limit():
    line = orjson.dumps(record(eventID="huge", requestParameters={"blob": "x" * (50 * 1024 * 1024)}))
    got = read(orjson.dumps(record(eventID="a")) + b"\n" + line + b"\n" + orjson.dumps(record(eventID="b")))
    assert [type(r).__name__ for r in got] == ["Record", "Rejected", "Record"]
    assert got[1].reason == f"record is {len(line)} bytes, more than the 16777216-byte limit"
    assert len(got[1].raw) == len(line)


def test_truncated_gzip_yields_the_records_before_the_damage_then_raises(tmp_path):
    lines = [
        orjson.dumps(record(eventID=f"id-{i}", requestParameters={"n": i, "pad": f"{i:x}" * 200}))
        for i in range(20_000)
    ]
    data = gzip.compress(b"\n".join(lines))
    path = tmp_path / "cut.json.gz"
    path.write_bytes(data[: len(data) // 2])
    got = []
    with pytest.raises(InputError) as error:
        for item in SOURCE.read(open_input(path), ReadOptions()):
            got.append(item)
    assert "truncated gzip" in error.value.reason
    assert 0 < len(got) < len(lines)
    assert all(isinstance(r, Record) for r in got)
    assert [r.key for r in got] == [f"id-{i}" for i in range(len(got))]


def test_broken_json_document_raises_input_error():
    with pytest.raises(InputError, match="invalid JSON"):
        read(b'{"Records": [' + orjson.dumps(record()) + b", {")
