"""MozDef JSON: loginput events (MozDef's key mapping), exports from MozDef's Elasticsearch, bad input."""

from datetime import UTC, datetime

import orjson

from reynard.ingest.reader import open_bytes
from reynard.ingest.records import Record, Rejected
from reynard.ingest.sources.base import ReadOptions
from reynard.ingest.sources.common import is_ndjson
from reynard.ingest.sources.mozdef import MISSING_TIME_TAG, MozDef

SOURCE = MozDef()
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def read(data: bytes, **options) -> list[Record | Rejected]:
    options.setdefault("reference_time", NOW)
    return list(SOURCE.read(open_bytes(data, "test"), ReadOptions(**options)))


def ndjson(*events) -> bytes:
    return b"\n".join(e if isinstance(e, bytes) else orjson.dumps(e) for e in events)


def test_loginput_event_with_mozdef_aliases():
    event = {
        "@Timestamp": "2024-02-29T10:00:00+00:00",
        "Message": "user bob logged in",
        "host": "web1",
        "program": "auditd",
        "pid": 812,
        "level": "warning",
        "type": "authentication",
        "tags": "audit",
        "source": "auditd",
        "fields": {"UserName": "bob", "Nested": {"Key": 1}},
        "details.sourceport_int": "4242",
        "details.ratio_float": "0.5",
        "details.note": "x",
        "Extra": "kept",
    }
    [got] = read(ndjson(event))
    assert got.source == "mozdef"
    assert got.draft == {
        "source": "auditd",
        "summary": "user bob logged in",
        "details": {
            "UserName": "bob",  # nested keys: left to the lower_keys plugin
            "Nested": {"Key": 1},
            "sourceport_int": 4242,
            "ratio_float": 0.5,
            "note": "x",
            "extra": "kept",
        },
        "tags": ["audit"],
        "utctimestamp": "2024-02-29T10:00:00+00:00",
        "timestamp": "2024-02-29T10:00:00+00:00",
        "hostname": "web1",
        "processname": "auditd",
        "processid": 812,
        "severity": "warning",
        "category": "authentication",
    }


def test_type_stays_the_event_type_when_category_is_given():
    [with_category, without] = read(
        ndjson(
            {"summary": "a", "category": "proxy", "type": "event", "utctimestamp": "2024-01-01T00:00:00Z"},
            {"summary": "b", "eventtype": "dns", "utctimestamp": "2024-01-01T00:00:00Z"},
        )
    )
    assert (with_category.draft["category"], with_category.draft["type"]) == ("proxy", "event")
    assert without.draft["category"] == "dns" and "type" not in without.draft


def test_payload_is_the_summary_only_without_summary_or_message():
    [a, b] = read(
        ndjson({"payload": "p", "date": "2024-01-01"}, {"payload": "p", "summary": "s", "date": "2024-01-01"})
    )
    assert (a.draft["summary"], b.draft["summary"]) == ("p", "s")
    assert b.draft["details"] == {}


def test_elasticsearch_hits_and_normalized_documents():
    hit = {
        "_index": "events-20190501",
        "_id": "AWqXyz",
        "_source": {
            "utctimestamp": "2019-05-01T10:00:00+00:00",
            "receivedtimestamp": "2019-05-01T10:00:02+00:00",
            "mozdefhostname": "mozdef1",
            "summary": "Failed password for root",
            "category": "authentication",
            "source": "syslog",
            "plugins": ["parse_sshd"],
            "details": {"sourceipaddress": "203.0.113.1"},
        },
    }
    plain = {**hit["_source"], "summary": "another", "utctimestamp": "2019-05-01T11:00:00+00:00"}
    got = read(orjson.dumps([hit, plain]))
    assert [r.position for r in got] == [1, 2]
    assert got[0].key == "AWqXyz"
    draft = got[0].draft
    assert draft["receivedtimestamp"] == "2019-05-01T10:00:02+00:00" and draft["mozdefhostname"] == "mozdef1"
    assert draft["details"] == {"sourceipaddress": "203.0.113.1"}
    assert "plugins" not in draft and draft["source"] == "syslog"
    assert got[1].key == orjson.dumps(plain, option=orjson.OPT_SORT_KEYS).decode()


def test_single_object_document_and_own_id():
    [got] = read(b'{\n  "id": 17,\n  "summary": "pretty printed",\n  "timestamp": 1700000000000\n}\n')
    assert got.key == "17" and got.draft["utctimestamp"] == 1700000000000 and got.draft["source"] == "UNKNOWN"


def test_missing_timestamp_takes_the_reference_time_and_a_tag():
    [got] = read(ndjson({"summary": "no time here"}))
    assert got.draft["utctimestamp"] == NOW
    assert got.draft["tags"] == [MISSING_TIME_TAG]


def test_identical_events_without_id_get_occurrence_keys():
    event = {"summary": "same", "utctimestamp": "2024-01-01T00:00:00Z"}
    data = ndjson(event, event, {**event, "utctimestamp": "2024-01-01T00:00:01Z"}, event)
    keys = [r.key for r in read(data)]
    canonical = orjson.dumps(event, option=orjson.OPT_SORT_KEYS).decode()
    assert keys[:2] == [canonical, f"{canonical}#2"] and keys[3] == canonical
    assert [r.key for r in read(data)] == keys


def test_not_events_are_rejected_and_reading_goes_on():
    data = ndjson(
        {"summary": "ok", "utctimestamp": "2024-01-01T00:00:00Z"},
        b'{"summary": "broken" "x": 1}',
        b'"just a string"',
        {"hostname": "h", "tags": ["t"]},
        b'{"summary": "caf\xe9"}',
        b"[1, 2]",
        {"details": {"a": 1}},
    )
    got = read(data)
    reasons = [(r.position, r.reason) for r in got if isinstance(r, Rejected)]
    assert (
        reasons[0][0] == 2
        and reasons[0][1].startswith("invalid JSON:")
        and reasons[0][1].endswith("at column 22")
    )
    assert reasons[1:] == [
        (3, "not an event: a JSON string"),
        (4, "not an event: no summary, message, payload or details"),
        (5, "not UTF-8 at byte 17"),
        (6, "not an event: a JSON array"),
    ]
    assert [r.position for r in got if isinstance(r, Record)] == [1, 7]


def test_document_items_that_are_not_events():
    got = read(b'[{"summary": "ok"}, null, 3]')
    assert [r.reason for r in got[1:]] == ["not an event: JSON null", "not an event: a JSON number"]


def test_oversized_line():
    got = read(ndjson({"summary": "a"}, {"summary": "x" * 1000}, {"summary": "b"}), max_record_bytes=500)
    assert got[1].reason == "record is 1014 bytes, more than the 500-byte limit"
    assert [r.draft["summary"] for r in (got[0], got[2])] == ["a", "b"]


def test_ndjson_or_document_from_the_head():
    assert is_ndjson(b'{"a": 1}\n{"b": 2}\n')
    assert is_ndjson(b'{"broken\n{"b": 2}\n')
    assert is_ndjson(b"garbage\n")
    assert not is_ndjson(b'[{"a": 1},\n{"b": 2}]')
    assert not is_ndjson(b'{"a": 1}\n')
    assert not is_ndjson(b'{\n  "a": 1,\n  "tags": [{"k": 1}]\n}')
    assert not is_ndjson(b'{"Records": [{"a": 1}]}')
