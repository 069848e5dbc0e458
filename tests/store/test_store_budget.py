"""Every query answers under a time budget (`query_timeout_seconds`): the stores stop a query past it,
while answering, with a `QueryTimeout` (503) naming the budget; a stream's budget bounds the work
between two events it hands out, so a long export that keeps finding events is not cut."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from reynard.errors import ConfigError
from reynard.events.event import finalize
from reynard.query import ast
from reynard.query.lucene import parse_query
from reynard.settings import Settings, load_settings
from reynard.store.backends import open_event_store
from reynard.store.budget import QueryTimeout

BASE = datetime(2026, 11, 20, tzinfo=UTC)
RECEIVED = "2026-11-28T00:00:00.000000+00:00"
# A regex on the summary: no index answers it, so every event is read back and tested.
SLOW = parse_query("summary:/.*(x|y)z.*/")


def events(count: int) -> list[dict]:
    return [
        finalize(
            {
                "id": f"{n:032x}",
                "utctimestamp": (BASE + timedelta(seconds=n)).isoformat(),
                "summary": f"user {'a' * 40} number {n} logged in",
            },
            received=RECEIVED,
        )
        for n in range(count)
    ]


@pytest.fixture(params=[("memory", 100_000), ("tantivy", 20_000)], ids=["memory", "tantivy"])
def loaded(request, tmp_path):
    """A store of each backend holding enough events that SLOW takes well over 50 ms."""
    name, count = request.param
    settings = Settings(data_dir=tmp_path / name, event_store=name, query_timeout_seconds=0)
    writer = open_event_store(settings, writable=True)
    writer.write(events(count), commit=True)
    writer.close()
    return settings, count


def timed(call):
    started = time.perf_counter()
    try:
        call()
    except QueryTimeout as e:
        return time.perf_counter() - started, e
    return time.perf_counter() - started, None


def test_a_query_past_its_budget_stops_with_a_clear_error(loaded):
    settings, count = loaded
    unlimited = open_event_store(settings, writable=False)
    took, error = timed(lambda: unlimited.count(SLOW))
    assert error is None and took > 0.1, "the query is not slow enough to test a budget of 0.05 s"

    store = open_event_store(Settings(**{**vars(settings), "query_timeout_seconds": 0.05}), writable=False)
    for call in (
        lambda: store.search(ast.Search(SLOW, limit=10)),
        lambda: store.count(SLOW),
        lambda: store.aggregate(ast.Aggregate(SLOW, aggs={"a": ast.TermsAgg("hostname")})),
        lambda: list(store.stream(ast.Search(SLOW))),
    ):
        took, error = timed(call)
        assert error is not None, "no QueryTimeout"
        assert took < 1.0  # stopped while answering, not at the end
        assert error.http_status == 503
        assert str(error).startswith(
            "the query ran past its time budget of 0.05 s (setting query_timeout_seconds)"
        )
    if settings.event_store == "tantivy":  # the index answers a term: well within the budget
        assert store.count(ast.Term("summary", "number")) == count


def test_a_stream_may_run_long_while_it_keeps_finding_events(loaded):
    settings, _ = loaded
    store = open_event_store(Settings(**{**vars(settings), "query_timeout_seconds": 0.2}), writable=False)
    started, seen = time.perf_counter(), 0
    for _ in store.stream(ast.Search(ast.Term("summary", "number"))):
        seen += 1
        if seen <= 5:
            time.sleep(0.1)  # a slow reader: 0.5 s in all, more than the budget
    assert seen > 5 and time.perf_counter() - started > 0.4


def test_the_setting_is_checked_and_0_means_no_budget(tmp_path):
    assert Settings().query_timeout_seconds == 10
    assert load_settings(env={"REYNARD_QUERY_TIMEOUT_SECONDS": "2.5"}).query_timeout_seconds == 2.5
    for bad in ("-1", "nan", "inf", "soon"):
        with pytest.raises(ConfigError, match="query_timeout_seconds") as raised:
            load_settings(env={"REYNARD_QUERY_TIMEOUT_SECONDS": bad})
        assert raised.value.where == "REYNARD_QUERY_TIMEOUT_SECONDS"
    for name in ("memory", "tantivy"):
        store = open_event_store(
            Settings(data_dir=tmp_path, event_store=name, query_timeout_seconds=0), writable=True
        )
        assert store.query_timeout is None
        store.close()
