"""Ingest: inputs in, events stored, every rejection kept. The one loop behind the CLI and HTTP ingest.

For each input the source is `--source` or detected from the content. Each record becomes a draft,
gets its stable id, runs through the pipeline, is finalized and goes to the sink in batches; anything
that fails on the way goes to the dead-letter store with the reason, the input and the position, and
the run goes on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from reynard.errors import InvalidEvent, ReynardError
from reynard.events.event import finalize, stable_id
from reynard.events.timestamps import isoformat
from reynard.ingest.deadletter import DeadLetterStore
from reynard.ingest.pipeline import Pipeline
from reynard.ingest.reader import Input, InputError, open_bytes, open_input
from reynard.ingest.records import Record, Rejected
from reynard.ingest.sinks import EventSink
from reynard.ingest.sources import SOURCES, detect_source
from reynard.ingest.sources.base import ReadOptions, Source

BATCH = 2_000
SHOWN_REJECTIONS = 20


@dataclass
class IngestSummary:
    read: int = 0
    stored: int = 0
    rejected: int = 0
    duplicates: int = 0
    dropped: int = 0
    inputs: int = 0
    messages: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = f"read {self.read} stored {self.stored} rejected {self.rejected}"
        extras = []
        if self.duplicates:
            extras.append(f"{self.duplicates} already stored")
        if self.dropped:
            extras.append(f"{self.dropped} dropped by plugins")
        return f"{text} ({', '.join(extras)})" if extras else text

    def as_dict(self) -> dict:
        return {
            "read": self.read,
            "stored": self.stored,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "dropped": self.dropped,
            "inputs": self.inputs,
        }


class Ingestor:
    """Runs inputs through sources, pipeline and finalize into a sink; rejections to dead letters."""

    def __init__(
        self,
        sink: EventSink,
        dead_letters: DeadLetterStore,
        pipeline: Pipeline,
        *,
        options: ReadOptions | None = None,
        source: str | None = None,
        keep_received: bool = False,
        on_reject: Callable[[str], None] | None = None,
        on_progress: Callable[[IngestSummary], None] | None = None,
    ):
        if source is not None and source not in SOURCES:
            raise ReynardError(f"unknown source {source!r}; known: {', '.join(sorted(SOURCES))}")
        self.sink = sink
        self.dead_letters = dead_letters
        self.pipeline = pipeline
        self.options = options or ReadOptions()
        self.source = SOURCES[source] if source else None
        self.keep_received = keep_received
        self.on_reject = on_reject
        self.on_progress = on_progress
        self.summary = IngestSummary()
        self._batch: list[dict] = []
        self._raws: dict[str, Record] = {}
        self._rejected: list[Rejected] = []
        self._last_progress = 0.0

    # -- inputs ---------------------------------------------------------------------------------------
    def ingest_paths(self, paths: Iterable[str | Path]) -> IngestSummary:
        for path in paths:
            if str(path) != "-" and Path(path).is_dir():
                for file in walk(Path(path), self._reject_input):
                    self._ingest_path(file)
            else:
                self._ingest_path(path)
        self.finish()
        return self.summary

    def ingest_bytes(self, data: bytes, origin: str, default: str = "mozdef") -> IngestSummary:
        """One in-memory input (an HTTP body). Detected, falling back to `default`."""
        inp = open_bytes(data, origin)
        source = self.source or detect_source(inp.head()) or SOURCES[default]
        self._ingest_input(inp, source)
        self.finish()
        return self.summary

    def finish(self) -> None:
        self._flush()
        self.sink.flush()
        self._progress(force=True)

    def _ingest_path(self, path: str | Path) -> None:
        try:
            inp = open_input(path)
        except OSError as e:
            self._reject_input(str(path), f"cannot open: {e.strerror or e}")
            return
        try:
            try:
                source = self.source or detect_source(inp.head())
            except InputError as e:
                self._reject_input(inp.origin, e.reason)
                return
            if source is None:
                self._reject_input(
                    inp.origin, "cannot tell what kind of log this is (give --source)", raw=inp.head()
                )
                return
            self._ingest_input(inp, source)
        finally:
            inp.close()

    def _ingest_input(self, inp: Input, source: Source) -> None:
        self.summary.inputs += 1
        try:
            self._consume(source.read(inp, self.options))
        except InputError as e:
            self.summary.read += 1
            self._reject(Rejected(source.name, inp.origin, e.position, e.reason, b""))

    # -- records --------------------------------------------------------------------------------------
    def _consume(self, items: Iterator[Record | Rejected]) -> None:
        run = self.pipeline.run
        summary = self.summary
        batch = self._batch
        received = isoformat(datetime.now(UTC))
        keep = self.keep_received
        for item in items:
            summary.read += 1
            if type(item) is Rejected:
                self._reject(item)
                continue
            draft = item.draft
            draft["id"] = event_id = stable_id(item.source, item.key)
            try:
                event = run(draft)
                if event is None:
                    summary.dropped += 1
                    continue
                finalize(event, received=received, keep_received=keep)
            except InvalidEvent as e:
                self._reject(Rejected(item.source, item.origin, item.position, e.message, _raw(item)))
                continue
            batch.append(event)
            self._raws[event_id] = item
            if len(batch) >= BATCH:
                self._flush()
                received = isoformat(datetime.now(UTC))

    def _flush(self) -> None:
        if not self._batch:
            self._flush_rejected()
            return
        result = self.sink.write(self._batch)
        self.summary.stored += result.stored
        self.summary.duplicates += result.duplicates
        for event_id, reason in result.failed:
            item = self._raws[event_id]
            self._reject(Rejected(item.source, item.origin, item.position, reason, _raw(item)))
        self._batch.clear()
        self._raws.clear()
        self._flush_rejected()
        self._progress()

    def _flush_rejected(self) -> None:
        if self._rejected:
            self.dead_letters.add(self._rejected)
            self._rejected.clear()

    # -- rejections -----------------------------------------------------------------------------------
    def _reject(self, rejected: Rejected) -> None:
        self.summary.rejected += 1
        self._rejected.append(rejected)
        if len(self._rejected) >= BATCH:
            self._flush_rejected()
        if self.on_reject is not None:
            self.on_reject(rejected.message())

    def _reject_input(self, origin: str, reason: str, raw: bytes = b"") -> None:
        self.summary.read += 1  # the input counts as one unit read, so read = stored + rejected + ...
        self._reject(Rejected(self.source.name if self.source else "unknown", origin, 0, reason, raw))

    def _progress(self, force: bool = False) -> None:
        if self.on_progress is None:
            return
        now = time.monotonic()
        if force or now - self._last_progress >= 0.5:
            self._last_progress = now
            self.on_progress(self.summary)


def _raw(item: Record) -> bytes:
    return item.raw or orjson.dumps(item.draft, default=str)


def walk(root: Path, on_error: Callable[[str, str], None]) -> Iterator[Path]:
    """Files under `root`, recursively and in name order; hidden files and folders are skipped."""

    def failed(error: OSError) -> None:
        on_error(str(error.filename or root), f"cannot read directory: {error.strerror or error}")

    for folder, dirs, files in os.walk(root, onerror=failed, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder) / name
