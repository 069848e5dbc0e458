"""The in-memory store beyond the contract: one per events directory in a process, nothing seen before
a commit, results that are the caller's own, and a server's concurrent writers and readers."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from reynard.events.event import finalize
from reynard.query import ast
from reynard.settings import Settings
from reynard.store.backends import open_event_store
from reynard.store.memory import MemoryEventStore
from reynard.store.service import WriterService

BASE = datetime(2026, 11, 20, 10, tzinfo=UTC)


def events(count: int, first: int = 0) -> list[dict]:
    return [
        finalize(
            {
                "id": f"{first + i:032x}",
                "utctimestamp": (BASE + timedelta(seconds=first + i)).isoformat(),
                "summary": f"event {first + i}",
                "hostname": "web1",
                "details": {"n": first + i},
            },
            received="2026-11-28T10:00:00+00:00",
        )
        for i in range(count)
    ]


def test_a_writer_and_a_reader_of_one_directory_share_one_store(tmp_path):
    settings = Settings(data_dir=tmp_path, event_store="memory")
    writer = open_event_store(settings, writable=True)
    reader = open_event_store(settings, writable=False)
    assert reader is writer
    writer.write(events(3), commit=True)
    writer.close()
    assert open_event_store(settings, writable=False).count() == 3  # as long as the process lives
    other = open_event_store(Settings(data_dir=tmp_path / "other", event_store="memory"), writable=False)
    assert other.count() == 0
    assert not (tmp_path / "events").exists()  # nothing on disk


def test_nothing_is_seen_before_commit():
    store = MemoryEventStore()
    written = events(4)
    store.write(written)
    request = ast.Aggregate(aggs={"hosts": ast.TermsAgg("hostname"), "n": ast.DistinctCount("hostname")})
    assert store.count() == 0
    assert store.get(written[0]["id"]) is None
    assert store.search(ast.Search()).events == []
    assert list(store.stream(ast.Search())) == []
    assert store.aggregate(request) == {"hosts": [], "n": 0}
    assert store.days() == [] and store.stats().events == 0
    store.commit()
    assert store.count() == 4
    assert store.aggregate(request)["n"] == 1


def test_results_are_the_callers_to_change():
    store = MemoryEventStore()
    written = events(2)
    store.write(written, commit=True)
    for found in (
        store.search(ast.Search()).events[0],
        next(store.stream(ast.Search())),
        store.aggregate(ast.Aggregate(aggs={"h": ast.TermsAgg("hostname", samples=1)}))["h"][0]["samples"][0],
    ):
        found["details"]["n"] = "changed"
    written[1]["details"]["n"] = "changed too"
    assert store.search(ast.Search(fields=("details.n",))).events == [{"details.n": 1}, {"details.n": 0}]


def test_a_server_s_concurrent_writers_and_readers():
    """What the server does: request threads write through a WriterService while others read."""
    store = MemoryEventStore()
    service = WriterService(store)
    stop = threading.Event()
    seen: list[int] = []

    def write(part: int) -> None:
        for batch in range(10):
            first = 1000 * part + 10 * batch
            assert service.write(events(10, first)).stored == 10
            assert store.get(f"{first:032x}") is not None  # acknowledged: committed, visible

    def read() -> None:
        while not stop.is_set():
            seen.append(len(store.search(ast.Search(limit=None)).events))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            for done in [pool.submit(write, part) for part in range(4)]:
                done.result()  # a failed assertion in a writer fails the test
    finally:
        stop.set()
        for thread in readers:
            thread.join()
        service.close()
    assert store.count() == 400
    assert all(n % 10 == 0 for n in seen)
