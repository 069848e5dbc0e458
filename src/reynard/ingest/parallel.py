"""Parallel ingest: worker processes parse, enrich and prepare; this process only writes the store.

Parsing and the pipeline are pure Python and the index writer is Rust with threads of its own, so on
one process they take turns. With workers, each input file goes to a worker process that runs the
usual `Ingestor` (sources, pipeline, finalize) and prepares the store's documents (with the store's own
`prepare`, passed to the worker); the parent receives batches of prepared documents and rejections,
writes them, and keeps the one writer lock. Used for large inputs only: a worker costs about half a
second to start. A worker exits on its own when its parent dies, however it dies (`_exit_with_parent`).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from reynard.errors import ReynardError
from reynard.ingest.deadletter import DeadLetterStore
from reynard.ingest.pipeline import Pipeline
from reynard.ingest.records import Rejected
from reynard.ingest.runner import Ingestor, IngestSummary
from reynard.ingest.sources.base import ReadOptions
from reynard.settings import Settings
from reynard.store.base import EventStore, Prepared, WriteResult

# Below this many bytes of input, starting workers costs more than it saves.
PARALLEL_MIN_BYTES = 16 * 1024 * 1024


def tune_gc() -> None:
    """Ingest allocates many short-lived dicts: collect young objects less often, never the startup heap."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


class _QueueSink:
    """Worker side: prepared documents go to the parent, which stores them; `match` (streaming
    detection) sees the events here, where they are still dicts."""

    def __init__(
        self,
        results: Any,
        prepare: Callable[[dict], Prepared],
        match: Callable[[list[dict]], object] | None = None,
    ):
        self.results = results
        self.prepare = prepare
        self.match = match

    def write(self, events: list[dict]) -> WriteResult:
        prepare = self.prepare
        self.results.put(("events", [prepare(e) for e in events]))
        if self.match is not None:
            self.match(events)
        return WriteResult()

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class _QueueDeadLetters:
    def __init__(self, results: Any):
        self.results = results

    def add(self, rejected: Sequence[Rejected]) -> int:
        items = list(rejected)
        if items:
            self.results.put(("rejected", items))
        return len(items)


def _exit_with_parent(poll: float = 1.0) -> None:
    """Stop this worker as soon as the process that started it is gone.

    A parent killed with SIGKILL (or by the OOM killer) cannot stop its workers, and a worker waits
    forever on the full result queue or the task queue no one will feed. A daemon thread waits on the
    parent's sentinel (a pipe that closes when the parent dies) and, in case it never signals, checks
    every `poll` seconds that the parent is still this process's parent; then it ends the process at
    once (`os._exit`: nothing of its work can be delivered any more)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    started_by = os.getppid()

    def watch() -> None:
        while parent.is_alive() and os.getppid() == started_by:
            parent.join(poll)
        os._exit(1)

    threading.Thread(target=watch, name="reynard-parent-watch", daemon=True).start()


def _work(
    tasks: Any,
    results: Any,
    prepare: Callable[[dict], Prepared],
    settings: Settings,
    options: ReadOptions,
    source: str | None,
    keep: bool,
    pipeline_factory: Callable[[Settings], Pipeline],
    matcher_factory: Callable[[Settings], Any] | None = None,
) -> None:
    _exit_with_parent()
    try:
        pipeline = pipeline_factory(settings)
        match = matcher_factory(settings).match if matcher_factory is not None else None
        tune_gc()
        ingestor = Ingestor(
            _QueueSink(results, prepare, match),
            _QueueDeadLetters(results),  # type: ignore[arg-type]
            pipeline,
            options=options,
            source=source,
            keep_received=keep,
        )
        for path in iter(tasks.get, None):
            ingestor.ingest_paths([path])
        summary = ingestor.summary
        results.put(("done", summary.read, summary.dropped, summary.inputs))
    except BaseException as e:  # the parent reports it; a worker must never hang the run
        results.put(("error", f"{type(e).__name__}: {e}"))


def ingest_parallel(
    files: Sequence[Path],
    settings: Settings,
    store: EventStore,
    dead_letters: DeadLetterStore,
    *,
    workers: int,
    options: ReadOptions,
    source: str | None = None,
    keep_received: bool = False,
    on_reject: Callable[[str], None] | None = None,
    on_progress: Callable[[IngestSummary], None] | None = None,
    pipeline_factory: Callable[[Settings], Pipeline],
    matcher_factory: Callable[[Settings], Any] | None = None,
) -> IngestSummary:
    """Ingest `files` with `workers` processes into `store` (which this process holds writable). Each
    worker builds its pipeline with `pipeline_factory(settings)` and, when given, its streaming matcher
    with `matcher_factory(settings)` (module-level functions: a spawned process must be able to import
    them)."""
    context = multiprocessing.get_context("spawn")
    tasks = context.Queue()
    results = context.Queue(maxsize=16)  # backpressure: workers wait while the writer catches up
    for file in files:
        tasks.put(str(file))
    for _ in range(workers):
        tasks.put(None)
    processes = [
        context.Process(
            target=_work,
            args=(
                tasks,
                results,
                store.prepare,
                settings,
                options,
                source,
                keep_received,
                pipeline_factory,
                matcher_factory,
            ),
            daemon=True,
        )
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    summary = IngestSummary()
    uncommitted = 0
    last_commit = time.monotonic()
    finished = 0
    try:
        while finished < workers:
            try:
                message = results.get(timeout=1.0)
            except queue.Empty:
                dead = [p for p in processes if p.exitcode not in (None, 0)]
                if dead:
                    raise ReynardError(f"an ingest worker died (exit code {dead[0].exitcode})") from None
                continue
            kind = message[0]
            if kind == "events":
                result = store.write_prepared(message[1])
                summary.stored += result.stored
                summary.duplicates += result.duplicates
                uncommitted += result.stored
                now = time.monotonic()
                if uncommitted >= settings.commit_every or (
                    uncommitted and now - last_commit >= settings.commit_interval
                ):
                    store.commit()  # readers in other processes see the events from here on
                    uncommitted, last_commit = 0, now
                if result.failed:
                    _refused(store, message[1], result, dead_letters, summary, on_reject)
                if on_progress is not None:
                    on_progress(summary)
            elif kind == "rejected":
                dead_letters.add(message[1])
                summary.rejected += len(message[1])
                if on_reject is not None:
                    for item in message[1]:
                        on_reject(item.message())
            elif kind == "done":
                finished += 1
                summary.read += message[1]
                summary.dropped += message[2]
                summary.inputs += message[3]
            else:
                raise ReynardError(f"an ingest worker failed: {message[1]}")
    finally:
        store.commit()
        for process in processes:
            if process.is_alive() and finished < workers:
                process.terminate()
            process.join()
    return summary


def _refused(
    store: EventStore,
    prepared: Sequence[Prepared],
    result: WriteResult,
    dead_letters: DeadLetterStore,
    summary: IngestSummary,
    on_reject: Callable[[str], None] | None,
) -> None:
    """Documents the store refused: keep the finalized event in the dead-letter store."""
    items = {item.id: item for item in prepared}
    rejected = []
    for event_id, reason in result.failed:
        event = orjson.dumps(store.original(items[event_id]))
        rejected.append(Rejected("normalized", "ingest", 0, reason, event))
    dead_letters.add(rejected)
    summary.rejected += len(rejected)
    if on_reject is not None:
        for item in rejected:
            on_reject(item.message())
