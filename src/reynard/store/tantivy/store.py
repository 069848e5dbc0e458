"""The embedded event store: one tantivy index per UTC day under `<data>/events/YYYY-MM-DD/`.

Retention is deleting a day's folder, and a query opens only the days in its range. One process
writes (it holds `WriterLock`); any number read, and see new events after `refresh()` once the writer
has committed. Ingesting the same event twice stores it once: before adding a batch, the writer looks
its ids up (one term-set query per day and batch) and skips those already stored or pending. The
guarantees are `EventStore`'s (store/base.py); search.py answers queries.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import orjson
import tantivy

from reynard.errors import StoreError
from reynard.query import ast
from reynard.query.render import project
from reynard.store import base
from reynard.store.base import DayCount, Prepared, SearchResult, StoreStats, WriteResult
from reynard.store.budget import Deadline
from reynard.store.tantivy import schema
from reynard.store.tantivy.lock import WriterLock
from reynard.store.tantivy.schema import SCHEMA_VERSION, build_schema, register_tokenizers
from reynard.store.tantivy.search import iter_matches, run_aggregate, run_count, run_search

# Time-ordered input needs two (a day and the next); each open writer holds its indexing heap.
MAX_OPEN_WRITERS = 2
# Day indices kept open at once, least recently used closed first. Each open index holds one thread of
# tantivy's (its meta.json watcher) and its files' maps; opening one again costs about a tenth of a
# millisecond. 64 keeps two months of daily queries warm, whatever the spread of the timestamps.
MAX_OPEN_DAYS = 64
# A closed index's watcher thread ends within half a second (it wakes twice a second), so a sweep over
# thousands of days would still pile up threads: at most this many indices are closed per LINGER
# seconds, and an open beyond it waits. Threads of day indices stay under MAX_OPEN_DAYS + MAX_CLOSING;
# a query over 3,000 days not open opens about 256 a second.
MAX_CLOSING = 128
LINGER = 0.6
VERSION_FILE = "schema-version"


class _Day:
    """One day's index, its reader, and (in the writer) its IndexWriter and pending ids."""

    def __init__(self, path: Path, schema: tantivy.Schema, create: bool):
        self.path = path
        if create:
            path.mkdir(parents=True, exist_ok=True)
            self.index = tantivy.Index(schema, path=str(path), reuse=True)
        else:
            self.index = tantivy.Index.open(str(path))
        register_tokenizers(self.index)
        self.writer: tantivy.IndexWriter | None = None
        self.pending: set[str] = set()

    def searcher(self) -> tantivy.Searcher:
        return self.index.searcher()


class _Empty:
    """A day with no index (deleted by retention since it was listed): an empty one, in memory."""

    def __init__(self, schema: tantivy.Schema):
        self.index = tantivy.Index(schema)

    def searcher(self) -> tantivy.Searcher:
        return self.index.searcher()


class TantivyEventStore:
    """`EventStore` on daily tantivy indices. `writable=True` takes the writer lock or raises WriterBusy."""

    name = "tantivy"
    prepare = staticmethod(schema.prepare)
    original = staticmethod(schema.original)

    def __init__(
        self,
        directory: Path,
        *,
        writable: bool = False,
        heap_bytes: int = 256_000_000,
        query_timeout: float | None = None,
    ):
        self.directory = Path(directory)
        self.query_timeout = query_timeout  # seconds a query may take (store/budget.py); None: no limit
        self.schema = build_schema()
        self.writable = writable
        self.heap_bytes = heap_bytes
        self._days: set[date] = set()  # the days that have an index, open or not
        self._open: OrderedDict[date, _Day] = OrderedDict()  # least recently used first
        self._writers: OrderedDict[date, _Day] = OrderedDict()
        self._guard = threading.Lock()  # `_days` and `_open`: readers on several threads open days
        self._gone = _Empty(self.schema)  # what a day deleted since it was listed reads as
        self._closed: deque[float] = deque()  # when the day indices closed lately were closed
        self._lock = WriterLock(self.directory)
        if writable:
            self._lock.acquire()
        self._check_version()
        self.refresh()

    # -- layout ---------------------------------------------------------------------------------------
    def _check_version(self) -> None:
        marker = self.directory / VERSION_FILE
        if marker.exists():
            found = marker.read_text().strip()
            if found != str(SCHEMA_VERSION):
                raise StoreError(
                    f"event store schema version {found}, this Reynard reads version {SCHEMA_VERSION}: "
                    "re-ingest into a new data directory",
                    where=str(self.directory),
                )
        elif self.writable:
            self.directory.mkdir(parents=True, exist_ok=True)
            marker.write_text(f"{SCHEMA_VERSION}\n")

    def searcher(self, day: date) -> tantivy.Searcher:
        """The searcher of one day's index (as of the last `refresh` or commit; a day opened again
        after being closed shows its last commit)."""
        return self._handle(day).searcher()

    def _handle(self, day: date, create: bool = False) -> _Day | _Empty:
        """One day's open index: opened (or, with `create`, made) when it is not, and the least recently
        used day closed when more than MAX_OPEN_DAYS are open (never a day whose writer is open), at
        the pace MAX_CLOSING allows. A searcher taken from a day that is then closed stays usable: it
        holds what it reads."""
        while True:
            with self._guard:
                handle = self._open.get(day)
                if handle is not None:
                    self._open.move_to_end(day)
                    return handle
                if day not in self._days and not create:
                    return self._gone
                wait = self._closing_wait()
                if wait <= 0:
                    return self._open_day(day, create)
            time.sleep(wait)  # outside the guard: other threads use the open days meanwhile

    def _closing_wait(self) -> float:
        """Seconds to wait before opening one more day, so that closed indices' threads stay bounded."""
        if len(self._open) < MAX_OPEN_DAYS:
            return 0.0
        now = time.monotonic()
        closed = self._closed
        while closed and now - closed[0] >= LINGER:
            closed.popleft()
        return 0.0 if len(closed) < MAX_CLOSING else LINGER - (now - closed[0])

    def _open_day(self, day: date, create: bool) -> _Day | _Empty:
        try:
            handle = _Day(self.directory / day.isoformat(), self.schema, create=day not in self._days)
        except (ValueError, OSError):
            if create:
                raise
            self._days.discard(day)  # deleted since it was listed (retention, by the writer)
            return self._gone
        self._days.add(day)
        self._open[day] = handle
        excess = len(self._open) - MAX_OPEN_DAYS
        if excess > 0:
            for old in [d for d in self._open if d not in self._writers][:excess]:
                del self._open[old]  # dropped: tantivy frees the index, its thread ends soon after
                self._closed.append(time.monotonic())
        return handle

    def open_days(self) -> int:
        """How many day indices are open now (at most MAX_OPEN_DAYS, plus days being written)."""
        return len(self._open)

    def index_days(self) -> list[date]:
        """The UTC days that have an index (maybe still empty), oldest first."""
        with self._guard:
            return sorted(self._days)

    def days(self) -> list[DayCount]:
        counts = [DayCount(day, self._count(day)) for day in self.index_days()]
        return [count for count in counts if count.events]

    def _count(self, day: date) -> int:
        """The events of one day: from its searcher when it is open, else from the segment list of its
        last commit (meta.json), which tells as much without opening it (and starting its thread)."""
        with self._guard:
            handle = self._open.get(day)
        if handle is None:
            try:
                meta = orjson.loads((self.directory / day.isoformat() / "meta.json").read_bytes())
                return sum(
                    segment["max_doc"] - ((segment.get("deletes") or {}).get("num_deleted_docs") or 0)
                    for segment in meta["segments"]
                )
            except FileNotFoundError:
                return 0  # deleted since it was listed
            except (OSError, ValueError, KeyError, TypeError):
                pass  # a layout this code does not know: open the day
        return self.searcher(day).num_docs

    def refresh(self) -> None:
        """Find days created since the last look, and reload the open readers to see new commits (a day
        not open is read as of its last commit when it is opened)."""
        if self.directory.is_dir():
            found = {
                day
                for entry in self.directory.iterdir()
                if (day := _parse_day(entry.name)) is not None and (entry / "meta.json").exists()
            }
            with self._guard:
                self._days.update(found)
        with self._guard:
            handles = list(self._open.values())
        for handle in handles:
            handle.index.reload()

    def _day_for_write(self, day: date) -> _Day:
        handle = self._writers.get(day)
        if handle is not None:
            self._writers.move_to_end(day)
            return handle
        opened = self._handle(day, create=True)
        assert isinstance(opened, _Day)
        handle = opened
        if len(self._writers) >= MAX_OPEN_WRITERS:
            _, oldest = self._writers.popitem(last=False)
            self._close_writer(oldest)
        handle.writer = handle.index.writer(heap_size=self.heap_bytes, num_threads=0)
        self._writers[day] = handle
        return handle

    def _close_writer(self, handle: _Day) -> None:
        if handle.writer is not None:
            handle.writer.commit()
            handle.writer.wait_merging_threads()
            handle.writer = None
            handle.pending.clear()
            handle.index.reload()

    # -- writing --------------------------------------------------------------------------------------
    def write(self, events: Sequence[dict], *, commit: bool = False) -> WriteResult:
        return self.write_prepared([schema.prepare(e) for e in events], commit=commit)

    def write_prepared(self, items: Sequence[Prepared], *, commit: bool = False) -> WriteResult:
        """`write` for events already turned into documents (by `schema.prepare`, maybe elsewhere)."""
        self._check_writable()
        result = WriteResult()
        by_day: dict[date, list[Prepared]] = {}
        for item in items:
            by_day.setdefault(item.day, []).append(item)
        for day, batch in by_day.items():
            handle = self._day_for_write(day)
            known = self._known_ids(handle, [item.id for item in batch])
            writer = handle.writer
            assert writer is not None
            for event_id, _, document in batch:
                if event_id in known:
                    result.duplicates += 1
                    continue
                try:
                    writer.add_json(document)
                except (ValueError, TypeError, OverflowError) as e:
                    result.failed.append((event_id, f"the event store refused it: {e}"))
                    continue
                known.add(event_id)
                handle.pending.add(event_id)
                result.stored += 1
        if commit:
            self.commit()
        return result

    def _known_ids(self, handle: _Day, ids: list[str]) -> set[str]:
        """Ids among `ids` already stored (committed) or pending in this writer."""
        known = handle.pending.intersection(ids)
        if handle.searcher().num_docs:
            query = tantivy.Query.term_set_query(self.schema, "id", ids)
            searcher = handle.searcher()
            hits = searcher.search(query, limit=len(ids)).hits
            for _, address in hits:
                known.add(searcher.doc(address).get_first("id"))
        return known

    def commit(self) -> None:
        for handle in self._writers.values():
            if handle.pending:
                assert handle.writer is not None
                handle.writer.commit()
                handle.pending.clear()
                handle.index.reload()

    def drop_day(self, day: date) -> bool:
        self._check_writable()
        handle = self._writers.pop(day, None)
        if handle is not None:
            self._close_writer(handle)
        held = day in self._days and self.searcher(day).num_docs > 0
        with self._guard:
            self._days.discard(day)
            self._open.pop(day, None)
        path = self.directory / day.isoformat()
        if path.exists():
            shutil.rmtree(path)
        return held

    def _check_writable(self) -> None:
        if not self.writable:
            raise StoreError("this event store was opened read-only", where=str(self.directory))

    def close(self) -> None:
        for handle in list(self._writers.values()):
            self._close_writer(handle)
        self._writers.clear()
        with self._guard:
            self._open.clear()  # the indices (and their threads) go; a later read opens days again
        self._lock.release()

    # -- reading --------------------------------------------------------------------------------------
    def get(self, event_id: str) -> dict | None:
        for day in reversed(self.index_days()):
            searcher = self.searcher(day)
            if not searcher.num_docs:
                continue
            hits = searcher.search(tantivy.Query.term_query(self.schema, "id", event_id), limit=1).hits
            if hits:
                return orjson.loads(searcher.doc(hits[0][1]).get_first("_doc"))
        return None

    def search(self, request: ast.Search) -> SearchResult:
        """Events matching a query (search.py has the how)."""
        with _index_panics():
            result = run_search(self, request, Deadline(self.query_timeout))
        if request.fields:
            return SearchResult([project(e, request.fields) for e in result.events], result.next_after)
        return result

    def stream(self, request: ast.Search) -> Iterator[dict]:
        """Every event matching a query, newest first, without holding them (for NDJSON output)."""
        deadline = Deadline(self.query_timeout)  # the budget bounds the work between two events
        with _index_panics():
            for event in iter_matches(self, request, deadline):
                yield project(event, request.fields)
                deadline.restart()

    def count(self, query: ast.Node = base.EVERYTHING, window: ast.TimeWindow = base.ALL_TIME) -> int:
        with _index_panics():
            return run_count(self, query, window, Deadline(self.query_timeout))

    def aggregate(self, request: ast.Aggregate) -> dict:
        with _index_panics():
            return run_aggregate(self, request, Deadline(self.query_timeout))

    def stats(self) -> StoreStats:
        days = self.days()
        return StoreStats(sum(d.events for d in days), len(days), self.disk_bytes(), self.name)

    def disk_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.directory.rglob("*") if p.is_file())


@contextmanager
def _index_panics() -> Iterator[None]:
    """A panic inside tantivy (a Rust bug; pyo3 raises it as a BaseException) becomes a StoreError, so
    one bad query is one clear message and the process goes on."""
    try:
        yield
    except BaseException as e:
        if type(e).__name__ != "PanicException":
            raise
        raise StoreError(
            f"the index failed on this query ({str(e).splitlines()[0]}); please report it"
        ) from None


def _parse_day(name: str) -> date | None:
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None
