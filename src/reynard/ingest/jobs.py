"""A whole ingest job: inputs (or the dead letters, replayed) through the pipeline into a sink, in this
process or in worker processes for large inputs. What `reynard ingest` and `reynard demo` run; the
caller (the runtime's owner) gives the sink, the dead-letter store and the pipeline."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from reynard.ingest.deadletter import CollectedDeadLetters, DeadLetter, DeadLetterStore
from reynard.ingest.parallel import PARALLEL_MIN_BYTES, ingest_parallel, tune_gc
from reynard.ingest.pipeline import Pipeline
from reynard.ingest.runner import SHOWN_REJECTIONS, Ingestor, IngestSummary, walk
from reynard.ingest.sinks import EventSink, StoreSink
from reynard.ingest.sources.base import ReadOptions
from reynard.settings import Settings


@dataclass(frozen=True)
class Workers:
    """How worker processes build what they need (module-level functions of the settings, so a spawned
    process can import them): the pipeline, and the streaming matcher when detection runs."""

    pipeline: Callable[[Settings], Pipeline]
    matcher: Callable[[Settings], Any] | None = None


def run_ingest(
    settings: Settings,
    sink: EventSink,
    dead_letters: DeadLetterStore,
    pipeline: Pipeline,
    *,
    paths: Sequence[str],
    source: str | None = None,
    keep_received: bool = False,
    reference: datetime | None = None,
    replay: bool = False,
    replay_ids: Iterable[int] | None = None,
    on_progress: Callable[[IngestSummary], None] | None = None,
    match: Callable[[list[dict]], object] | None = None,
    workers: Workers | None = None,
) -> IngestSummary:
    """Ingest `paths` (or replay dead letters) into `sink`; the summary, with the first rejections in its
    `messages`. With `match`, every batch stored directly is also handed to it (streaming detection;
    when a server holds the store, the server does that itself); with `workers`, large inputs are
    parsed in worker processes."""
    options = ReadOptions(max_record_bytes=settings.max_record_bytes)
    if reference is not None:
        options = ReadOptions(reference_time=reference, max_record_bytes=settings.max_record_bytes)
    if match is not None and isinstance(sink, StoreSink):
        sink.on_batch = match
    messages: list[str] = []
    hidden = 0

    def note(message: str) -> None:
        nonlocal hidden
        if len(messages) < SHOWN_REJECTIONS:
            messages.append(message)
        else:
            hidden += 1

    try:
        if replay:
            summary = _replay(sink, dead_letters, pipeline, options, source, replay_ids, note)
        elif (
            workers is not None
            and isinstance(sink, StoreSink)
            and (files := _parallel_files(paths, settings)) is not None
        ):
            summary = ingest_parallel(
                files,
                settings,
                sink.store,
                dead_letters,
                workers=settings.workers(),
                options=options,
                source=source,
                keep_received=keep_received,
                on_reject=note,
                on_progress=on_progress,
                pipeline_factory=workers.pipeline,
                matcher_factory=workers.matcher if match is not None else None,
            )
        else:
            tune_gc()
            ingestor = Ingestor(
                sink,
                dead_letters,
                pipeline,
                options=options,
                source=source,
                keep_received=keep_received,
                on_reject=note,
                on_progress=on_progress,
            )
            summary = ingestor.ingest_paths(paths)
    finally:
        sink.close()
    if hidden:
        messages.append(f"... and {hidden} more rejected records: see `reynard ingest --dead-letters`")
    summary.messages = messages
    return summary


def _parallel_files(paths: Sequence[str], settings: Settings) -> list[Path] | None:
    """The files to ingest when they are worth worker processes; None to ingest in this process."""
    if settings.workers() < 1 or "-" in paths:
        return None
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(walk(path, lambda *_: None))
        else:
            files.append(path)
    try:
        size = sum(f.stat().st_size for f in files)
    except OSError:
        return None  # let the in-process path report the unreadable input
    return files if size >= PARALLEL_MIN_BYTES else None


def _replay(
    sink: EventSink,
    dead_letters: DeadLetterStore,
    pipeline: Pipeline,
    options: ReadOptions,
    source: str | None,
    ids: Iterable[int] | None,
    note: Callable[[str], None],
) -> IngestSummary:
    """Run dead letters through the parsers again; each input's records together and in their order, so
    identical lines get back the occurrence keys (and so the event ids) they would have had."""
    total = IngestSummary()
    groups: dict[tuple[str, str], list[DeadLetter]] = {}
    for letter in dead_letters.list(ids):
        if letter.position == 0 or not letter.raw:
            total.read += 1
            total.rejected += 1
            note(f"dead letter {letter.id} ({letter.origin}): the whole input was rejected; ingest it again")
            continue
        groups.setdefault((letter.origin, letter.source), []).append(letter)
    for (origin, letter_source), letters in groups.items():
        letters.sort(key=lambda letter: letter.position)
        name = source or (letter_source if letter_source not in ("unknown", "normalized") else None)
        collected = CollectedDeadLetters()
        ingestor = Ingestor(sink, collected, pipeline, options=options, source=name)  # type: ignore[arg-type]
        summary = ingestor.ingest_bytes(b"\n".join(letter.raw for letter in letters), origin)
        for key in ("read", "stored", "duplicates", "dropped", "rejected"):
            setattr(total, key, getattr(total, key) + getattr(summary, key))
        still = {item.position: item.reason for item in collected.items}
        for number, letter in enumerate(letters, 1):
            if number in still:
                dead_letters.retried(letter.id, still[number])
                note(f"dead letter {letter.id} ({origin}:{letter.position}): still rejected: {still[number]}")
            else:
                dead_letters.resolve(letter.id)
    return total
