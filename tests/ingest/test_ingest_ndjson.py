"""NDJSON is told from one JSON document on whole lines, whatever the first line's length: a long first
line is read as the record it is, a too-long or bad one is one dead letter with its line number, and
the other lines are stored (a first line over the first bytes used to make the whole input one broken
"document", every good record lost)."""

import gzip
import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from reynard.cli import main
from reynard.ingest.reader import open_bytes, open_input
from reynard.ingest.records import Record, Rejected
from reynard.ingest.sources.base import ReadOptions
from reynard.ingest.sources.cloudtrail import CloudTrail
from reynard.ingest.sources.mozdef import MozDef
from reynard.query import ast
from reynard.store.tantivy.store import TantivyEventStore


def line(n: int, pad: int = 0) -> bytes:
    event = {"summary": f"event {n}", "utctimestamp": f"2026-11-20T10:00:{n:02d}Z", "details": {"n": n}}
    if pad:
        event["details"]["pad"] = "x" * pad
    return orjson.dumps(event)


def ingest(data_dir: Path, *paths: Path, env: dict | None = None) -> dict:
    result = CliRunner().invoke(
        main, ["ingest", "--data-dir", str(data_dir), "--json", *map(str, paths)], env=env
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def dead_letters(data_dir: Path) -> list[dict]:
    listed = CliRunner().invoke(main, ["ingest", "--data-dir", str(data_dir), "--dead-letters", "--json"])
    return [json.loads(text) for text in listed.stdout.splitlines()]


def stored(data_dir: Path) -> list[int]:
    store = TantivyEventStore(data_dir / "events")
    return sorted(e["details"]["n"] for e in store.stream(ast.Search(limit=None)))


@pytest.mark.parametrize("pad", [5_000, 70_000, 1_000_000])
@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_a_long_first_line_is_one_record_among_the_others(tmp_path, pad, compressed):
    data = b"\n".join([line(1, pad), line(2), line(3), line(4)]) + b"\n"
    path = tmp_path / "events.ndjson"
    path.write_bytes(gzip.compress(data) if compressed else data)
    assert ingest(tmp_path / "data", path)["stored"] == 4
    assert stored(tmp_path / "data") == [1, 2, 3, 4]


def test_a_first_line_over_the_record_limit_is_one_dead_letter_with_its_line_number(tmp_path):
    path = tmp_path / "events.ndjson"
    first = line(1, 300_000)
    path.write_bytes(b"\n".join([first, b"", line(2), line(3)]) + b"\n")
    summary = ingest(tmp_path / "data", path, env={"REYNARD_MAX_RECORD_BYTES": "100000"})
    assert (summary["stored"], summary["rejected"]) == (2, 1)
    assert stored(tmp_path / "data") == [2, 3]
    (letter,) = dead_letters(tmp_path / "data")
    assert letter["position"] == 1
    assert letter["reason"] == f"record is {len(first)} bytes, more than the 100000-byte limit"
    assert letter["bytes"] == len(first)  # kept whole


def test_a_long_bad_first_line_is_one_dead_letter_and_the_rest_is_stored(tmp_path):
    path = tmp_path / "events.ndjson"
    bad = b'{"summary": "cut short", "details": {"pad": "' + b"x" * 100_000
    path.write_bytes(b"\n".join([bad, line(2), line(3)]) + b"\n")
    summary = ingest(tmp_path / "data", path)
    assert (summary["stored"], summary["rejected"]) == (2, 1)
    (letter,) = dead_letters(tmp_path / "data")
    assert letter["position"] == 1 and letter["reason"].startswith("invalid JSON")


def read(source, data: bytes) -> list[Record | Rejected]:
    return list(source.read(open_bytes(data, "http"), ReadOptions()))


def test_http_bodies_are_read_the_same_way():
    got = read(MozDef(), line(1, 70_000) + b"\n" + line(2) + b"\n{broken\n" + line(4))
    assert [(type(r).__name__, r.position) for r in got] == [
        ("Record", 1),
        ("Record", 2),
        ("Rejected", 3),
        ("Record", 4),
    ]


def test_a_long_second_line_does_not_make_the_input_a_document():
    got = read(MozDef(), b"{broken\n" + line(2, 70_000) + b"\n" + line(3))
    assert [(type(r).__name__, r.position) for r in got] == [("Rejected", 1), ("Record", 2), ("Record", 3)]


def test_documents_are_still_documents(tmp_path):
    records = [
        {"eventVersion": "1.08", "eventTime": "2026-11-20T10:00:00Z", "eventSource": "ec2.amazonaws.com",
         "eventName": "RunInstances", "eventID": f"id-{i}", "requestParameters": {"pad": "x" * 30_000}}
        for i in range(5)
    ]  # fmt: skip
    one_line = orjson.dumps({"Records": records})  # an S3 delivery file: one line of 150 KB
    got = read(CloudTrail(), one_line + b"\n")
    assert [(type(r).__name__, r.position) for r in got] == [("Record", i) for i in range(1, 6)]
    pretty = json.dumps({"Records": records}, indent=2).encode()
    path = tmp_path / "pretty.json"
    path.write_bytes(pretty)
    got = list(CloudTrail().read(open_input(path), ReadOptions()))
    assert [(type(r).__name__, r.position) for r in got] == [("Record", i) for i in range(1, 6)]
    single = line(1, 70_000)  # one object on one line, no line break: one record
    assert [type(r).__name__ for r in read(MozDef(), single)] == ["Record"]
