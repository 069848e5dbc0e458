"""The embedded event store (tantivy): daily indices, dedup, readers in other processes, retention.

What every backend must do is in test_conformance.py; this is what only the tantivy store does."""

import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime

import pytest

from reynard.errors import StoreError, WriterBusy
from reynard.events.event import finalize, stable_id
from reynard.query import ast
from reynard.store.base import DayCount
from reynard.store.tantivy.store import TantivyEventStore

RECEIVED = "2026-11-28T10:00:00.000000+00:00"


def make_events(n, day="2026-11-20", **details):
    return [
        finalize(
            {
                "id": stable_id("test", f"{day}-{i}"),
                "utctimestamp": f"{day}T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
                "summary": f"event {i}",
                "source": "test",
                "details": {"n": i, "sourceipaddress": f"10.0.0.{i % 250}", **details},
            },
            received=RECEIVED,
        )
        for i in range(n)
    ]


@pytest.fixture
def store(tmp_path):
    s = TantivyEventStore(tmp_path / "events", writable=True)
    yield s
    s.close()


def test_events_go_to_the_index_of_their_utc_day(store):
    store.write(make_events(5, "2026-11-20") + make_events(3, "2026-11-21"), commit=True)
    assert store.days() == [DayCount(date(2026, 11, 20), 5), DayCount(date(2026, 11, 21), 3)]
    assert (store.directory / "2026-11-20" / "meta.json").exists()
    assert store.count() == 8
    day = ast.TimeWindow(datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC))
    assert store.count(window=day) == 3


def test_get_returns_the_event_exactly_as_written(store):
    events = make_events(3)
    store.write(events, commit=True)
    assert store.get(events[1]["id"]) == events[1]
    assert store.get("0" * 32) is None


def test_the_same_event_twice_is_stored_once(store):
    events = make_events(10)
    first = store.write(events[:6])  # pending, not yet committed
    second = store.write(events, commit=True)
    third = store.write(events, commit=True)
    assert (first.stored, second.stored, second.duplicates) == (6, 4, 6)
    assert (third.stored, third.duplicates) == (0, 10)
    assert store.count() == 10


def test_events_newest_first_within_a_range(store):
    store.write(make_events(100), commit=True)
    newest = store.search(ast.Search(limit=3)).events
    assert [e["details"]["n"] for e in newest] == [99, 98, 97]
    span = ast.TimeWindow(
        datetime(2026, 11, 20, 10, 0, 10, tzinfo=UTC), datetime(2026, 11, 20, 10, 0, 20, tzinfo=UTC)
    )
    window = store.search(ast.Search(window=span, limit=50)).events
    assert sorted(e["details"]["n"] for e in window) == list(range(10, 20))


def test_one_writer_at_a_time(store):
    with pytest.raises(WriterBusy):
        TantivyEventStore(store.directory, writable=True)


def test_read_only_store_refuses_writes(store):
    reader = TantivyEventStore(store.directory)
    with pytest.raises(StoreError, match="read-only"):
        reader.write(make_events(1))
    with pytest.raises(StoreError, match="read-only"):
        reader.drop_day(date(2026, 11, 20))


def test_a_reader_in_another_process_sees_commits(store, tmp_path):
    store.write(make_events(7), commit=True)
    script = textwrap.dedent(
        f"""
        from reynard.store.tantivy.store import TantivyEventStore
        print(TantivyEventStore({str(store.directory)!r}).count())
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "7"


def test_a_reader_sees_new_days_after_refresh(store):
    reader = TantivyEventStore(store.directory)
    assert reader.count() == 0
    store.write(make_events(4, "2026-11-22"), commit=True)
    assert reader.count() == 0
    reader.refresh()
    assert reader.count() == 4


def test_retention_deletes_one_day(store):
    store.write(make_events(5, "2026-11-20") + make_events(5, "2026-11-21"), commit=True)
    assert store.drop_day(date(2026, 11, 20))
    assert store.days() == [DayCount(date(2026, 11, 21), 5)]
    assert not (store.directory / "2026-11-20").exists()
    assert store.count() == 5


def test_many_days_with_few_open_writers(store):
    events = [e for d in range(1, 10) for e in make_events(3, f"2026-11-{d:02d}")]
    result = store.write(events, commit=True)
    assert result.stored == 27 and store.count() == 27 and len(store.days()) == 9


def test_an_index_of_another_schema_version_is_refused(tmp_path):
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "schema-version").write_text("999\n")
    with pytest.raises(StoreError, match="schema version 999"):
        TantivyEventStore(tmp_path / "events")


def test_an_unusable_address_does_not_break_the_batch(store):
    events = make_events(3)
    events[1]["details"]["sourceipaddress"] = "253.252.51.07"
    result = store.write(events, commit=True)
    assert result.stored == 3 and not result.failed


def test_a_value_too_long_to_be_a_term_is_still_found(store):
    # The index leaves tokens of about 65,530 bytes and more out; such a value is checked, not looked up.
    long = "x" * 70_000
    events = make_events(3, command=long)
    events[0]["hostname"] = long
    store.write(events, commit=True)
    for query, found in [
        (ast.Term("details.command", long), 3),
        (ast.Term("details.command", long.upper(), case_insensitive=True), 3),
        (ast.Terms("details.command", (long, "other")), 3),
        (ast.Term("hostname", long), 1),
    ]:
        assert len(store.search(ast.Search(query, limit=None)).events) == found, query.field
        assert store.count(query) == found


def test_case_insensitive_terms_find_lowercase_uppercase_and_list_values(store):
    # Only texts that lowercasing changes are indexed a second time (schema.with_case); a lowercase text
    # is found on `details` itself.
    from reynard.store.tantivy.schema import with_case

    events = make_events(4)
    events[0]["details"]["name"] = "PutBucketPolicy"
    events[1]["details"]["name"] = "putbucketpolicy"
    events[2]["details"]["name"] = ["other", "PUTBUCKETPOLICY"]
    events[3]["details"]["name"] = "PutBucketAcl"
    store.write(events, commit=True)
    for value, found in [("putBucketPolicy", 3), ("PUTBUCKETACL", 1), ("OTHER", 1), ("nothing", 0)]:
        query = ast.Term("details.name", value, case_insensitive=True)
        assert len(store.search(ast.Search(query, limit=None)).events) == found, value
        assert store.count(query) == found
    assert store.count(ast.Term("details.name", "putBucketPolicy")) == 0
    assert with_case({"a": "x", "b": ["y", "Z"], "c": {"d": 1, "e": "É"}, "f": True}) == {
        "b": ["Z"],
        "c": {"e": "É"},
    }
    assert with_case({"a": "lower", "n": 3}) is None
