"""The `EventStore` contract (store/base.py), held against every backend of tests/store_backends.py.

A backend is done when this file and test_properties.py pass on it. Each test states one guarantee a
user of the store relies on; the expected answers are written out, not only compared with the
reference functions, so a backend and the reference cannot agree on a wrong answer.
"""

import pickle
import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from reynard.errors import ConfigError
from reynard.events.event import finalize
from reynard.query import ast
from reynard.query.errors import QueryError
from reynard.query.reference import aggregate_events, search_events
from reynard.settings import EVENT_STORES, Settings, load_settings
from reynard.store.backends import open_event_store
from reynard.store.base import DayCount, StoreStats
from store_backends import BACKENDS, ids

RECEIVED = "2026-11-28T10:00:00.000000+00:00"
BASE = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
DAY2_START = datetime(2026, 11, 21, tzinfo=UTC)
DAY3_LAST = datetime(2026, 11, 22, 23, 59, 59, 999999, tzinfo=UTC)
DAY1, DAY2, DAY3 = date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)


def event(
    n: int, at: datetime = BASE, *, event_id: str | None = None, received: datetime | None = None, **top
):
    """Event number `n` at `at` (its id the number in hex unless given), finalized as ingest would."""
    draft = {
        "id": event_id or f"{n:032x}",
        "utctimestamp": at.isoformat(),
        "summary": f"event {n}",
        "source": "test",
        "hostname": "web1",
        "details": {"n": n, "sourceipaddress": f"10.0.0.{n % 250}"},
        **top,
    }
    if received is not None:
        draft["receivedtimestamp"] = received.isoformat()
    return finalize(draft, received=RECEIVED, keep_received=received is not None)


def spaced(count: int, start: datetime = BASE, step: timedelta = timedelta(minutes=1), first: int = 0):
    return [event(first + i, start + i * step) for i in range(count)]


@pytest.fixture(params=list(BACKENDS.values()), ids=list(BACKENDS))
def backend(request):
    return request.param


@pytest.fixture
def store(backend, tmp_path):
    opened = backend.open(tmp_path, True)
    yield opened
    opened.close()


# -- writing, commits, durability -------------------------------------------------------------------------
def test_written_events_are_seen_once_committed(store):
    events = spaced(5)
    assert store.write(events).stored == 5
    store.commit()
    assert store.count() == 5
    assert store.get(events[0]["id"]) == events[0]
    assert store.days() == [DayCount(DAY1, 5)]
    more = spaced(3, first=5, start=BASE + timedelta(hours=1))
    assert store.write(more, commit=True).stored == 3  # with commit: visible when it returns
    assert store.count() == 8


def test_a_reader_sees_commits_after_refresh(backend, store, tmp_path):
    reader = backend.open(tmp_path, False)
    try:
        store.write(spaced(4), commit=True)
        reader.refresh()
        assert reader.count() == 4
        store.write(spaced(2, first=10, start=DAY2_START))
        store.commit()
        reader.refresh()
        assert reader.count() == 6 and reader.days() == [DayCount(DAY1, 4), DayCount(DAY2, 2)]
        assert reader.get(f"{10:032x}")["details"]["n"] == 10
    finally:
        reader.close()


PERSISTENT = [b for b in BACKENDS.values() if b.persistent]


@pytest.mark.parametrize("backend", PERSISTENT, ids=[b.name for b in PERSISTENT])
def test_committed_events_survive_close_and_reopen(backend, tmp_path):
    events = spaced(6) + spaced(2, start=DAY2_START, first=6)
    writer = backend.open(tmp_path, True)
    writer.write(events, commit=True)
    writer.close()
    reader = backend.open(tmp_path, False)
    assert reader.count() == 8
    assert reader.get(events[7]["id"]) == events[7]
    assert reader.days() == [DayCount(DAY1, 6), DayCount(DAY2, 2)]
    reader.close()
    writer = backend.open(tmp_path, True)
    try:
        again = writer.write(events, commit=True)  # dedup holds across processes' lifetimes too
        assert (again.stored, again.duplicates) == (0, 8)
    finally:
        writer.close()


def test_close_commits_what_was_written(backend, tmp_path):
    writer = backend.open(tmp_path, True)
    writer.write(spaced(3))
    writer.close()
    reader = backend.open(tmp_path, False)
    try:
        reader.refresh()
        assert reader.count() == 3
    finally:
        reader.close()


def test_prepare_runs_anywhere_and_original_gives_the_event_back(store):
    events = spaced(3)
    prepare = pickle.loads(pickle.dumps(type(store).prepare))  # what a worker process receives
    items = [pickle.loads(pickle.dumps(prepare(e))) for e in events]
    assert [item.id for item in items] == [e["id"] for e in events]
    assert {item.day for item in items} == {DAY1}
    assert [store.original(item) for item in items] == events
    assert store.write_prepared(items, commit=True).stored == 3
    assert store.get(events[2]["id"]) == events[2]
    assert store.write(events).duplicates == 3


# -- dedup ------------------------------------------------------------------------------------------------
def test_the_same_id_twice_in_one_batch_is_stored_once(store):
    first = event(1)
    result = store.write([first, event(1, summary="again"), event(2)], commit=True)
    assert (result.stored, result.duplicates) == (2, 1)
    assert store.count() == 2
    assert store.get(first["id"])["summary"] == "event 1"  # the first written is the one kept


def test_the_same_id_across_batches_and_commits_is_stored_once(store):
    events = spaced(10)
    first = store.write(events[:6])  # pending, not yet committed
    second = store.write(events, commit=True)
    third = store.write(events, commit=True)
    assert (first.stored, first.duplicates) == (6, 0)
    assert (second.stored, second.duplicates) == (4, 6)
    assert (third.stored, third.duplicates) == (0, 10)
    assert store.count() == 10
    assert store.search(ast.Search(limit=None)).events == sorted(events, key=_order, reverse=True)


def test_ids_are_looked_up_within_their_utc_day(store):
    # A stable id names one record, so one time; a daily-partitioned store looks an id up in its day.
    older, newer = event(1, BASE, summary="older"), event(1, DAY2_START, summary="newer")
    result = store.write([older, newer], commit=True)
    assert (result.stored, result.duplicates) == (2, 0)
    assert store.get(older["id"])["summary"] == "newer"
    assert [e["summary"] for e in store.search(ast.Search(ast.Term("details.n", 1))).events] == [
        "newer",
        "older",
    ]


def _order(e: dict) -> tuple[str, str]:
    return e["utctimestamp"], e["id"]


# -- get --------------------------------------------------------------------------------------------------
def test_get_returns_the_event_as_written_and_a_copy_of_it(store):
    written = event(
        7,
        tags=["a", "b"],
        details={"nested": {"list": [1, 2.5, None, "x"], "flag": True}, "text": "été ✓", "big": 2**62},
    )
    store.write([written, event(8)], commit=True)
    found = store.get(written["id"])
    assert found == written
    found["details"]["nested"]["list"].append("changed")
    assert store.get(written["id"]) == written
    assert store.get("0" * 31 + "f") is None


# -- search: order, pagination, fields, stream ------------------------------------------------------------
def test_search_is_newest_first_and_ties_go_by_id_descending(store):
    same = BASE + timedelta(seconds=30)
    events = [
        event(1, BASE, event_id="0a" * 16),
        event(2, same, event_id="0b" * 16),
        event(3, same, event_id="0c" * 16),
        event(4, same, event_id="01" * 16),
        event(5, same + timedelta(microseconds=1), event_id="00" * 16),
        event(6, DAY2_START, event_id="ff" * 16),
        event(7, BASE - timedelta(days=1), event_id="ee" * 16),
    ]
    store.write(events, commit=True)
    found = [e["details"]["n"] for e in store.search(ast.Search(limit=None)).events]
    assert found == [6, 5, 3, 2, 4, 1, 7]


def test_pages_cover_every_event_exactly_once_whatever_the_page_size(store):
    # Runs of equal timestamps, so that pages end inside them, across three days.
    events = [
        event(i, BASE + timedelta(hours=20 * (i % 3), seconds=i // 4), event_id=f"{(i * 7919) % 1000:032x}")
        for i in range(30)
    ]
    store.write(events, commit=True)
    query = ast.Range("details.n", gte=3)
    expected = ids(search_events(events, ast.Search(query, limit=None)))
    assert len(expected) == 27
    for size in (1, 2, 3, 7, 26, 27, 28):
        walked, after, pages = [], None, 0
        while True:
            page = store.search(ast.Search(query, limit=size, after=after))
            pages += 1
            walked.extend(ids(page.events))
            if page.events:
                assert page.next_after == (
                    (page.events[-1]["utctimestamp"], page.events[-1]["id"])
                    if len(page.events) == size
                    else None
                )
            after = page.next_after
            if after is None:
                break
        assert walked == expected, size
        assert pages == len(expected) // size + 1


def test_pages_neither_skip_nor_repeat_while_newer_events_arrive(store):
    events = spaced(20)
    store.write(events, commit=True)
    walked, after = [], None
    for round_ in range(20):
        page = store.search(ast.Search(limit=3, after=after))
        walked.extend(ids(page.events))
        newer = spaced(2, start=BASE + timedelta(days=1, minutes=round_), first=100 + 2 * round_)
        store.write(newer, commit=True)  # newer than every page's cursor: never in a later page
        after = page.next_after
        if after is None:
            break
    assert walked == ids(sorted(events, key=_order, reverse=True))


def test_empty_and_bad_pages(store):
    store.write(spaced(5), commit=True)
    assert store.search(ast.Search(limit=0)) == ([], None)
    assert store.search(ast.Search(limit=5)).next_after is not None  # full: a next page may exist
    last = store.search(ast.Search(limit=5))
    assert store.search(ast.Search(limit=5, after=last.next_after)) == ([], None)
    with pytest.raises(QueryError, match="limit"):
        store.search(ast.Search(limit=-1))
    with pytest.raises(QueryError, match="not a timestamp"):
        store.search(ast.Search(after=("yesterday", "0" * 32)))


def test_field_selection_keeps_only_the_fields_asked_for(store):
    events = spaced(4)
    store.write(events, commit=True)
    fields = ("details.n", "source", "details.nothing")
    page = store.search(ast.Search(limit=2, fields=fields))
    assert page.events == [
        {"details.n": 3, "source": "test", "details.nothing": None},
        {"details.n": 2, "source": "test", "details.nothing": None},
    ]
    assert (
        page.next_after
        == store.search(ast.Search(limit=2)).next_after
        == (
            events[2]["utctimestamp"],
            events[2]["id"],
        )
    )
    streamed = list(store.stream(ast.Search(after=page.next_after, fields=("id",))))
    assert streamed == [{"id": events[1]["id"]}, {"id": events[0]["id"]}]


def test_stream_gives_every_match_in_order_read_as_consumed(store):
    events = spaced(250) + spaced(50, start=DAY2_START, first=250)
    store.write(events, commit=True)
    query = ast.Range("details.n", lt=290)
    request = ast.Search(query, limit=2)  # the limit does not cap a stream
    expected = ids(search_events(events, ast.Search(query, limit=None)))
    stream = store.stream(request)
    assert iter(stream) is stream
    assert next(stream)["id"] == expected[0]
    assert [expected[0], *ids(stream)] == expected
    after = (events[100]["utctimestamp"], events[100]["id"])
    assert ids(store.stream(ast.Search(query, after=after))) == ids(events[:100][::-1])


# -- count ------------------------------------------------------------------------------------------------
def test_count_with_a_query_and_a_window(store):
    events = spaced(10, step=timedelta(hours=6))  # 2026-11-20 10:00 to 2026-11-22 16:00
    late = event(50, BASE, received=DAY2_START + timedelta(hours=9))  # received a day late
    store.write([*events, late], commit=True)
    assert store.count() == 11
    assert store.count(ast.Range("details.n", lt=4)) == 4
    day2 = ast.TimeWindow(DAY2_START, DAY2_START + timedelta(days=1))
    assert store.count(window=day2) == 4  # 04:00, 10:00, 16:00, 22:00
    assert store.count(window=ast.TimeWindow(start=BASE + timedelta(hours=6))) == 9  # start inclusive
    assert store.count(window=ast.TimeWindow(end=BASE + timedelta(hours=6))) == 2  # end exclusive
    either = ast.TimeWindow(DAY2_START, DAY2_START + timedelta(days=1), either_timestamp=True)
    assert store.count(window=either) == 5  # `late`, by its receivedtimestamp
    assert store.count(ast.Term("details.n", 50), either) == 1
    assert store.count(ast.Term("details.n", 50), day2) == 0
    assert ids(store.search(ast.Search(window=either, limit=None)).events) == ids(
        search_events([*events, late], ast.Search(window=either, limit=None))
    )


def test_patterns_on_a_keyword_run_over_line_breaks_as_the_predicate_does(store):
    """A keyword value may hold a line break (a hostname from a hostile log line): `*`, `?`, prefixes,
    suffixes and substrings match across it on every backend, as in the reference."""
    odd = [event(1, hostname="web\n1"), event(2, hostname="web1"), event(3, hostname="db\nweb\n2")]
    store.write(odd, commit=True)
    for query, expected in [
        (ast.Wildcard("hostname", "web*1"), 2),
        (ast.Wildcard("hostname", "web?1"), 1),
        (ast.Wildcard("hostname", "WEB*", case_insensitive=True), 2),
        (ast.Prefix("hostname", "db"), 1),
        (ast.Suffix("hostname", "\n2"), 1),
        (ast.Contains("hostname", "b\nw"), 1),
        (ast.Regex("hostname", "web.1"), 0),  # a regex's `.` is not a line break without dotall
        (ast.Regex("hostname", "web.1", dotall=True), 1),
    ]:
        assert store.count(query) == expected == len(search_events(odd, ast.Search(query, limit=None))), query


# -- aggregations -----------------------------------------------------------------------------------------
HOSTS = ["web1", "web1", "web2", "web1", "db1", "web2", "web1", "db1", "web3"]


def _fleet() -> list[dict]:
    return [
        event(
            i,
            BASE + timedelta(minutes=20 * i),
            hostname=host,
            details={"n": i, "bytes": 100 * i, "user": "root" if i % 2 else "alice"},
        )
        for i, host in enumerate(HOSTS)
    ]


def test_terms_count_every_event_with_size_min_count_samples_and_sub(store):
    events = _fleet()
    store.write(events, commit=True)
    request = ast.Aggregate(
        aggs={
            "hosts": ast.TermsAgg("hostname", size=None),
            "top2": ast.TermsAgg("hostname", size=2),
            "common": ast.TermsAgg("hostname", min_count=2, samples=2),
            "users": ast.TermsAgg("details.user", sub=ast.TermsAgg("hostname", size=1)),
        }
    )
    found = store.aggregate(request)
    assert found == aggregate_events(events, request)
    assert [(b["value"], b["count"]) for b in found["hosts"]] == [
        ("web1", 4),
        ("db1", 2),
        ("web2", 2),
        ("web3", 1),
    ]
    assert [b["value"] for b in found["top2"]] == ["web1", "db1"]
    assert [b["value"] for b in found["common"]] == ["web1", "db1", "web2"]
    assert [e["details"]["n"] for e in found["common"][0]["samples"]] == [6, 3]
    assert found["common"][0]["samples"][0] == events[6]
    assert [
        (b["value"], b["count"], [(s["value"], s["count"]) for s in b["sub"]]) for b in found["users"]
    ] == [
        ("alice", 5, [("web1", 2)]),
        ("root", 4, [("web1", 2)]),
    ]


def test_distinct_histogram_and_stats(store):
    events = _fleet()
    store.write(events, commit=True)
    request = ast.Aggregate(
        ast.Range("details.n", gte=1),
        ast.TimeWindow(end=BASE + timedelta(minutes=160)),  # n 1..7
        {
            "hosts": ast.DistinctCount("hostname"),
            "hourly": ast.DateHistogram(3600),
            "bytes": ast.Stats("details.bytes"),
            "none": ast.Stats("details.user"),
        },
    )
    found = store.aggregate(request)
    assert found == aggregate_events(events, request)
    assert found["hosts"] == 3
    assert found["hourly"] == [
        {"start": "2026-11-20T10:00:00.000000+00:00", "count": 2},
        {"start": "2026-11-20T11:00:00.000000+00:00", "count": 3},
        {"start": "2026-11-20T12:00:00.000000+00:00", "count": 2},
    ]
    assert found["bytes"] == {"count": 7, "min": 100, "max": 700, "sum": 2800, "avg": 400}
    assert found["none"] == {"count": 0, "min": None, "max": None, "sum": None, "avg": None}


# -- days, retention, stats -------------------------------------------------------------------------------
def test_days_count_the_committed_events_of_each_utc_day_oldest_first(store):
    store.write(spaced(3, start=DAY2_START) + spaced(2, first=3) + spaced(1, start=DAY3_LAST, first=5))
    store.commit()
    assert store.days() == [DayCount(DAY1, 2), DayCount(DAY2, 3), DayCount(DAY3, 1)]


def test_drop_day_removes_one_day_and_says_whether_there_was_one(store):
    first = spaced(5)
    store.write(first + spaced(4, start=DAY2_START, first=5), commit=True)
    assert store.drop_day(DAY1) is True
    assert store.days() == [DayCount(DAY2, 4)]
    assert store.count() == 4
    assert store.get(first[0]["id"]) is None
    assert store.search(ast.Search(window=ast.TimeWindow(end=DAY2_START))).events == []
    assert store.drop_day(DAY1) is False
    assert store.drop_day(date(2020, 1, 1)) is False
    again = store.write(first, commit=True)  # gone, so new again
    assert (again.stored, again.duplicates) == (5, 0)
    assert store.days() == [DayCount(DAY1, 5), DayCount(DAY2, 4)]


def test_drop_day_removes_events_not_yet_committed_too(store):
    store.write(spaced(3), commit=True)
    store.write(spaced(2, first=3, start=BASE + timedelta(hours=1)))
    assert store.drop_day(DAY1) is True
    store.commit()
    assert store.count() == 0 and store.days() == []


def test_stats(backend, store):
    assert store.stats() == StoreStats(0, 0, store.stats().disk_bytes, backend.name)
    store.write(spaced(3) + spaced(2, start=DAY2_START, first=3), commit=True)
    stats = store.stats()
    assert (stats.events, stats.days, stats.backend) == (5, 2, backend.name)
    assert stats.disk_bytes is None or stats.disk_bytes > 0
    if backend.persistent:
        assert stats.disk_bytes is not None


# -- one process, many threads ----------------------------------------------------------------------------
def test_a_reader_on_another_thread_sees_whole_commits(backend, store, tmp_path):
    """Each commit adds 10 events of one day; a reader never sees a count between two commits."""
    other = backend.open(tmp_path, False)
    stop = threading.Event()
    seen: list[int] = []

    def read() -> None:
        while not stop.is_set():
            other.refresh()
            seen.append(other.count())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for batch in range(20):
            store.write(spaced(10, start=BASE + timedelta(hours=batch), first=10 * batch), commit=True)
    finally:
        stop.set()
        reader.join()
    other.refresh()
    assert other.count() == 200
    other.close()
    assert all(n % 10 == 0 for n in seen) and seen == sorted(seen)


# -- numbers ----------------------------------------------------------------------------------------------
HUGE = 123456789012345678901234567890
HUGE_TEXT = str(HUGE)


def test_integers_beyond_64_bits_are_kept_exactly_as_text_and_found_by_it(store):
    # Written as numbers (finalize makes them text already: the store must not depend on it), stored
    # and returned as their decimal text.
    edges = [HUGE, -(2**63) - 1, 2**64, 10**5000]
    events = [event(i, BASE + timedelta(minutes=i)) for i in range(len(edges))]
    for written, n in zip(events, edges, strict=True):
        written["details"]["n"] = n
    inside = [event(10 + i, BASE, details={"n": n}) for i, n in enumerate([-(2**63), 2**64 - 1, 2**63])]
    assert store.write(events + inside, commit=True).stored == 7
    assert store.get(events[0]["id"])["details"]["n"] == "123456789012345678901234567890"
    assert store.get(events[3]["id"])["details"]["n"] == "1" + "0" * 5000
    assert [store.get(e["id"])["details"]["n"] for e in inside] == [-(2**63), 2**64 - 1, 2**63]
    for n, stored in zip(edges[:3], events[:3], strict=True):
        assert ids(store.search(ast.Search(ast.Term("details.n", str(n)))).events) == [stored["id"]]
        assert ids(store.search(ast.Search(ast.Term("details.n", n))).events) == [stored["id"]]
    assert store.count(ast.Range("details.n", gte=2**65)) == 0  # as text, HUGE and 2**64 are in no range
    assert store.count(ast.Range("details.n", gte=2**62)) == 2  # 2**64 - 1 and 2**63, as numbers


NUMBERS = [0, 7, 22, 1000, 22.5, 0.1, 1000.0, -0.0, 2**53, 2**53 + 1, float(2**53), 2**63 - 1, 2**63,
           2**64 - 1, -(2**63), 1e19, 1e20, 1.2345678901234568e29, "22", "1e3", HUGE_TEXT, True,
           1.5e300]  # fmt: skip
TEXTS = ["22", "22.0", "22.50", "007", "+5", "-0", "0", "1e3", "1E3", "1000", "0.1", "0.10", ".5", "22.5",
         "9007199254740992", "9007199254740993", "9223372036854775807", "9223372036854775808",
         "18446744073709551615", "1e20", "100000000000000000000", "123456789012345678901234567890",
         "1.2345678901234568e+29", "true", "1.5e+300"]  # fmt: skip


def test_a_number_is_found_by_its_term_text_only_on_every_backend(store):
    # The predicate compares term texts (22 is "22", 22.5 is "22.5", 1e20 is "100000000000000000000"):
    # the index must neither add numbers a text only resembles ("22.0", "007", "1e3") nor miss any.
    events = [event(i, BASE, details={"n": n}) for i, n in enumerate(NUMBERS)]
    store.write(events, commit=True)
    for ci in (False, True):
        for text in TEXTS:
            query = ast.Term("details.n", text, ci)
            assert ids(store.search(ast.Search(query)).events) == ids(
                search_events(events, ast.Search(query))
            )


# -- choosing a backend -----------------------------------------------------------------------------------
def test_every_known_backend_is_under_this_suite(tmp_path):
    assert set(EVENT_STORES) <= set(BACKENDS)
    for name in EVENT_STORES:
        opened = open_event_store(Settings(data_dir=tmp_path / name, event_store=name), writable=True)
        try:
            assert opened.name == name == opened.stats().backend
        finally:
            opened.close()


def test_an_unknown_backend_is_refused_naming_the_known_ones(tmp_path):
    with pytest.raises(
        ConfigError, match=r"event_store: unknown event store 'elastic' \(known: tantivy, memory\)"
    ):
        load_settings(env={"REYNARD_EVENT_STORE": "elastic", "REYNARD_DATA_DIR": str(tmp_path)})
    with pytest.raises(ConfigError, match="known: tantivy, memory"):
        open_event_store(Settings(data_dir=tmp_path, event_store="elastic"), writable=False)
    assert load_settings(env={"REYNARD_EVENT_STORE": "memory"}).event_store == "memory"
    assert Settings().event_store == "tantivy"
