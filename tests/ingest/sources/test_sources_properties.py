"""Property: whatever bytes arrive, every source yields records or rejections, and never crashes."""

import gzip

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reynard.errors import InvalidEvent
from reynard.events.event import finalize, stable_id
from reynard.ingest.pipeline import Pipeline
from reynard.ingest.plugins import default_plugins
from reynard.ingest.reader import InputError, open_bytes
from reynard.ingest.records import Record, Rejected
from reynard.ingest.sources import SOURCES, detect_source
from reynard.ingest.sources.base import ReadOptions
from reynard.settings import Settings
from reynard.store.tantivy.schema import prepare

OPTIONS = ReadOptions(max_record_bytes=4096)

# Fragments of real formats, so the generated inputs reach deep into the parsers, not just the first check.
FRAGMENTS = [
    b'{"Records": [',
    b'{"eventName": "CreateUser", "eventSource": "iam.amazonaws.com", "eventTime": "2026-11-20T10:00:00Z"}',
    b'{"detail-type": "GuardDuty Finding", "detail": {"id": "x", "type": "t",',
    b'"updatedAt": "2026-11-20T10:00:00Z"}}',
    b"2 123456789012 eni-0a1b2c3d 10.0.0.1 203.0.113.9 443 22 6 10 840 1795856400 1795856460 ACCEPT OK",
    b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end",
    b" action log-status",
    b"Nov 20 10:00:01 host sshd[12]: Failed password for invalid user x from 203.0.113.9 port 22 ssh2",
    b'<34>1 2026-11-20T10:00:00Z host app 1 ID [a b="c"] message',
    b'{"summary": "s", "details": {"a": 1}, "utctimestamp": "2026-11-20T10:00:00Z"}',
    b"\n",
    b"]",
    b"}",
    b",",
    b"\xff\xfe",
    b"\x00",
    b'"',
    b"[",
]

chunks = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=40)), max_size=12).map(b"".join)

# Structured records with hostile values, so that plugins, finalize and the index see odd shapes too.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
addresses = st.sampled_from(
    ["203.0.113.9", "10.0.0.1", "::1", "2001:db8::1", "253.252.51.07", "AWS Internal", ""]
)
addresses = addresses | json_values
moments = (
    st.datetimes().map(lambda d: d.isoformat()) | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=12)
)
cloudtrail = st.fixed_dictionaries(
    {"eventName": st.text(max_size=20), "eventSource": st.text(max_size=20), "eventTime": moments},
    optional={
        "eventID": st.text(max_size=10),
        "sourceIPAddress": addresses,
        "userIdentity": json_values,
        "requestParameters": json_values,
        "responseElements": json_values,
        "errorCode": json_values,
        "eventType": json_values,
    },
)
mozdef = st.fixed_dictionaries(
    {"summary": st.text(max_size=20) | json_values},
    optional={
        "utctimestamp": moments,
        "severity": json_values,
        "tags": json_values,
        "hostname": json_values,
        "details": st.dictionaries(
            st.sampled_from(["sourceipaddress", "destinationipaddress", "src", "dst", "Mixed", "@at"]),
            addresses,
        )
        | json_values,
    },
)
ndjson = st.lists(cloudtrail | mozdef, min_size=1, max_size=5).map(
    lambda items: b"\n".join(orjson.dumps(i) for i in items)
)


def check(data: bytes, name: str | None) -> None:
    inp = open_bytes(data, "prop")
    try:
        source = SOURCES[name] if name else detect_source(inp.head())
        if source is None:
            return
        for item in source.read(inp, OPTIONS):
            assert isinstance(item, (Record, Rejected))
            if isinstance(item, Rejected):
                assert item.reason and item.position >= 0
            else:
                assert isinstance(item.draft, dict) and isinstance(item.key, str)
                becomes_a_stored_document_or_a_reason(item)
    except InputError as e:
        assert e.reason


PIPELINE = Pipeline(default_plugins(Settings()))


def becomes_a_stored_document_or_a_reason(record: Record) -> None:
    """The rest of ingest: plugins, finalize, the index document; only InvalidEvent may stop it."""
    record.draft["id"] = stable_id(record.source, record.key)
    event = PIPELINE.run(record.draft)
    if event is None:
        return
    try:
        finalize(event, received="2026-11-28T00:00:00.000000+00:00")
    except InvalidEvent as e:
        assert e.message
        return
    prepared = prepare(event)
    assert orjson.loads(prepared.document)["id"] == event["id"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=chunks, name=st.sampled_from([None, *SOURCES]))
def test_any_bytes_yield_records_or_reasons(data, name):
    check(data, name)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=ndjson)
def test_hostile_json_records_are_stored_or_rejected_with_a_reason(data):
    check(data, None)


@settings(max_examples=100, deadline=None)
@given(data=chunks, cut=st.integers(min_value=0, max_value=200))
def test_any_cut_gzip_is_an_input_error_or_records(data, cut):
    compressed = gzip.compress(data)
    check(compressed[: max(2, len(compressed) - cut)], None)
