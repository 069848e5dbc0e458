"""The embedded event store: one tantivy index per UTC day under `<data>/events/YYYY-MM-DD/`.

Retention is deleting a day's folder, and a query opens only the days in its range. One process
writes (it holds `WriterLock`); any number read, and see new events after `refresh()` once the writer
has committed. Ingesting the same event twice stores it once: before adding a batch, the writer looks
its ids up (one term-set query per day and batch) and skips those already stored or pending. The
guarantees are `EventStore`'s (store/base.py); search.py answers queries.
"""

from __future__ import annotations

import shutil
from collections import OrderedDict
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
from reynard.store.tantivy import schema
from reynard.store.tantivy.lock import WriterLock
from reynard.store.tantivy.schema import SCHEMA_VERSION, build_schema, register_tokenizers
from reynard.store.tantivy.search import iter_matches, run_aggregate, run_count, run_search

# Time-ordered input needs two (a day and the next); each open writer holds its indexing heap.
MAX_OPEN_WRITERS = 2
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


class TantivyEventStore:
    """`EventStore` on daily tantivy indices. `writable=True` takes the writer lock or raises WriterBusy."""

    name = "tantivy"
    prepare = staticmethod(schema.prepare)
    original = staticmethod(schema.original)

    def __init__(self, directory: Path, *, writable: bool = False, heap_bytes: int = 256_000_000):
        self.directory = Path(directory)
        self.schema = build_schema()
        self.writable = writable
        self.heap_bytes = heap_bytes
        self._days: dict[date, _Day] = {}
        self._writers: OrderedDict[date, _Day] = OrderedDict()
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
        """The searcher of one day's index (as of the last `refresh` or commit)."""
        return self._days[day].searcher()

    def index_days(self) -> list[date]:
        """The UTC days that have an index (maybe still empty), oldest first."""
        return sorted(self._days)

    def days(self) -> list[DayCount]:
        counts = [DayCount(day, self._days[day].searcher().num_docs) for day in self.index_days()]
        return [count for count in counts if count.events]

    def refresh(self) -> None:
        """Open days created since the last look, and reload every reader to see new commits."""
        if self.directory.is_dir():
            for entry in self.directory.iterdir():
                day = _parse_day(entry.name)
                if day is not None and day not in self._days and (entry / "meta.json").exists():
                    self._days[day] = _Day(entry, self.schema, create=False)
        for handle in self._days.values():
            handle.index.reload()

    def _day_for_write(self, day: date) -> _Day:
        handle = self._writers.get(day)
        if handle is not None:
            self._writers.move_to_end(day)
            return handle
        handle = self._days.get(day)
        if handle is None:
            handle = _Day(self.directory / day.isoformat(), self.schema, create=True)
            self._days[day] = handle
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
        handle = self._days.pop(day, None)
        held = handle is not None and handle.searcher().num_docs > 0
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
        self._lock.release()

    # -- reading --------------------------------------------------------------------------------------
    def get(self, event_id: str) -> dict | None:
        for day in sorted(self._days, reverse=True):
            handle = self._days[day]
            searcher = handle.searcher()
            if not searcher.num_docs:
                continue
            hits = searcher.search(tantivy.Query.term_query(self.schema, "id", event_id), limit=1).hits
            if hits:
                return orjson.loads(searcher.doc(hits[0][1]).get_first("_doc"))
        return None

    def search(self, request: ast.Search) -> SearchResult:
        """Events matching a query (search.py has the how)."""
        with _index_panics():
            result = run_search(self, request)
        if request.fields:
            return SearchResult([project(e, request.fields) for e in result.events], result.next_after)
        return result

    def stream(self, request: ast.Search) -> Iterator[dict]:
        """Every event matching a query, newest first, without holding them (for NDJSON output)."""
        with _index_panics():
            for event in iter_matches(self, request):
                yield project(event, request.fields)

    def count(self, query: ast.Node = base.EVERYTHING, window: ast.TimeWindow = base.ALL_TIME) -> int:
        with _index_panics():
            return run_count(self, query, window)

    def aggregate(self, request: ast.Aggregate) -> dict:
        with _index_panics():
            return run_aggregate(self, request)

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
