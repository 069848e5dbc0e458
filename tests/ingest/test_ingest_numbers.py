"""Integers beyond 64 bits in ingested logs are kept exactly, as their decimal text, on every path (an
NDJSON line, a JSON document, a streamed document, a source's own cast), stored so, searched by that
text and returned so; orjson alone would have rounded them silently."""

import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from reynard.cli import main
from reynard.ingest import reader
from reynard.ingest.reader import InputError, open_bytes
from reynard.ingest.sources import common
from reynard.ingest.sources.base import ReadOptions
from reynard.ingest.sources.cloudtrail import CloudTrail
from reynard.ingest.sources.mozdef import MozDef

HUGE = "123456789012345678901234567890"
EVENT = (
    b'{"summary": "big", "utctimestamp": "2026-11-20T10:00:00Z", "details": {"n": ' + HUGE.encode() + b","
    b' "m": -9223372036854775809, "u": 18446744073709551615, "f": 1.5, "l": [' + HUGE.encode() + b", 1]}}"
)


def details_of(data: bytes, source=None) -> list[dict]:
    return [r.draft["details"] for r in (source or MozDef()).read(open_bytes(data, "t"), ReadOptions())]


def test_an_ndjson_line_a_document_and_an_array_keep_them_as_text():
    expected = {"n": HUGE, "m": "-9223372036854775809", "u": 2**64 - 1, "f": 1.5, "l": [HUGE, 1]}
    assert details_of(EVENT + b"\n" + EVENT) == [expected, expected]
    assert details_of(EVENT) == [expected]
    assert details_of(b"[" + EVENT + b",\n" + EVENT + b"]") == [expected, expected]


def test_a_streamed_document_refuses_them_loudly_after_the_records_before(monkeypatch):
    # Documents over WHOLE_DOCUMENT_BYTES stream through ijson, whose parser holds signed 64-bit integers
    # only: the records before are kept, then the input is rejected naming the record (never rounded).
    monkeypatch.setattr(reader, "WHOLE_DOCUMENT_BYTES", 1_000)  # stream from 1 KB on
    monkeypatch.setattr(common, "WHOLE_DOCUMENT_BYTES", 1_000)
    record = {"eventVersion": "1.08", "eventTime": "2026-11-20T10:00:00Z", "eventSource": "s3.amazonaws.com",
              "eventName": "GetObject", "requestParameters": {"pad": "x" * 100_000}}  # fmt: skip
    records = [orjson.dumps({**record, "eventID": f"e{i}", "n": 2**62}) for i in range(3)]
    records.append(orjson.dumps({**record, "eventID": "e3"})[:-1] + b', "n": ' + HUGE.encode() + b"}")
    got = []
    with pytest.raises(InputError) as raised:
        data = open_bytes(b'{"Records": [' + b",".join(records) + b"]}", "t")
        for item in CloudTrail().read(data, ReadOptions(max_record_bytes=200_000)):
            got.append(item.draft["details"]["n"])
    assert got == [2**62] * 3
    assert raised.value.position == 4
    assert "record 4 holds an integer beyond 2**63" in raised.value.reason


def test_a_source_cast_beyond_64_bits_is_text_once_finalized(tmp_path):
    path = tmp_path / "cast.ndjson"
    path.write_bytes(
        b'{"summary": "cast", "utctimestamp": "2026-11-20T10:00:00Z", "details.port_int": "'
        + HUGE.encode()
        + b'"}\n'
    )
    data = tmp_path / "data"
    assert CliRunner().invoke(main, ["ingest", "--data-dir", str(data), str(path)]).exit_code == 0
    found = CliRunner().invoke(
        main, ["search", "--data-dir", str(data), "--format", "json", f"details.port_int:{HUGE}"]
    )
    assert [e["details"]["port_int"] for e in json.loads(found.stdout)["events"]] == [HUGE]


@pytest.mark.parametrize(
    "query", [f"details.n:{HUGE}", f'details.l:"{HUGE}"', "details.m:\\-9223372036854775809"]
)
def test_stored_searched_and_returned_as_text(tmp_path, query):
    path = tmp_path / "big.ndjson"
    path.write_bytes(EVENT + b"\n")
    data = tmp_path / "data"
    assert CliRunner().invoke(main, ["ingest", "--data-dir", str(data), str(path)]).exit_code == 0
    found = CliRunner().invoke(main, ["search", "--data-dir", str(data), "--format", "json", query])
    (event,) = json.loads(found.stdout)["events"]
    assert event["details"]["n"] == HUGE and event["details"]["u"] == 2**64 - 1


def test_the_numeric_range_does_not_see_them(tmp_path: Path):
    path = tmp_path / "big.ndjson"
    path.write_bytes(EVENT + b"\n")
    data = tmp_path / "data"
    CliRunner().invoke(main, ["ingest", "--data-dir", str(data), str(path)])
    count = CliRunner().invoke(main, ["search", "--data-dir", str(data), "--count", "details.n:>1000"])
    assert count.stdout.strip() == "0"
