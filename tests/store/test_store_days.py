"""Open day indices are bounded: events on 3,000 distinct days keep at most MAX_OPEN_DAYS indices open
and the process's threads bounded (each open tantivy index holds a thread; they used to pile up: 3,772
indices and 7,565 threads), and every day is still found, exactly."""

import os
import random
import shutil
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reynard.events.event import finalize
from reynard.query import ast
from reynard.store.tantivy import store as tantivy_store
from reynard.store.tantivy.store import MAX_CLOSING, MAX_OPEN_DAYS, TantivyEventStore

DAYS = 3_000
FIRST = datetime(2015, 1, 1, 12, tzinfo=UTC)
RECEIVED = "2026-11-28T00:00:00.000000+00:00"
# Besides the open indices and those closing: two open writers (a few threads each) and the test's own.
OTHER_THREADS = 40


def tasks() -> int:
    """The threads of this process, Rust's included (threading.active_count sees Python's only)."""
    return len(os.listdir("/proc/self/task"))


class Peak:
    """The most threads this process had while the block ran, sampled every 10 ms."""

    def __init__(self) -> None:
        self.value = tasks()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.value = max(self.value, tasks())

    def __enter__(self) -> "Peak":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def folder(tmp_path):
    # 3,000 commits (one a day) on tmpfs when there is one: the disk's flushes are not what is tested.
    if Path("/dev/shm").is_dir():
        path = Path(tempfile.mkdtemp(prefix="reynard-days-", dir="/dev/shm"))
        yield path
        shutil.rmtree(path, ignore_errors=True)
    else:
        yield tmp_path


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_events_on_3000_days_keep_indices_and_threads_bounded_and_every_day_found(folder):
    events = [
        finalize(
            {
                "id": f"{n:032x}",
                "utctimestamp": (FIRST + timedelta(days=n)).isoformat(),
                "summary": f"day {n}",
            },
            received=RECEIVED,
        )
        for n in range(DAYS)
    ]
    before = tasks()
    bound = before + MAX_OPEN_DAYS + MAX_CLOSING + OTHER_THREADS
    store = TantivyEventStore(folder / "events", writable=True, heap_bytes=15_000_000)
    try:
        with Peak() as writing:
            assert store.write(events, commit=True).stored == DAYS
        assert writing.value <= bound
        assert store.open_days() <= MAX_OPEN_DAYS
        assert threading.active_count() < 10

        with Peak() as reading:
            days = [(d.day.isoformat(), d.events) for d in store.days()]
            assert days == [(e["utctimestamp"][:10], 1) for e in events]
            assert store.count(ast.Match("summary", "day")) == DAYS  # a sweep over every day
            for n in random.Random(7).sample(range(DAYS), 100):
                start = FIRST.replace(hour=0) + timedelta(days=n)
                window = ast.TimeWindow(start, start + timedelta(days=1))
                assert [e["id"] for e in store.search(ast.Search(window=window)).events] == [events[n]["id"]]
            assert store.get(events[-1]["id"]) == events[-1]
        assert reading.value <= bound
        assert store.open_days() <= MAX_OPEN_DAYS
    finally:
        store.close()
    time.sleep(tantivy_store.LINGER)
    assert tasks() <= before + OTHER_THREADS
    reader = TantivyEventStore(folder / "events")  # another process's view: opens days as it needs them
    assert reader.open_days() == 0 and len(reader.days()) == DAYS
    last = FIRST.replace(hour=0) + timedelta(days=DAYS - 1)
    found = reader.search(
        ast.Search(window=ast.TimeWindow(last - timedelta(days=99), last + timedelta(days=1)))
    )
    assert [e["id"] for e in found.events] == [e["id"] for e in events[-100:][::-1]]
    assert reader.open_days() == MAX_OPEN_DAYS
