"""What `reynard ingest` does, apart from parsing its arguments: pick the sink, run, replay, list."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import orjson

from reynard.errors import ReynardError, WriterBusy
from reynard.ingest.deadletter import CollectedDeadLetters, DeadLetter, DeadLetterStore
from reynard.ingest.parallel import PARALLEL_MIN_BYTES, ingest_parallel, tune_gc
from reynard.ingest.pipeline import Pipeline
from reynard.ingest.plugins import default_plugins
from reynard.ingest.runner import SHOWN_REJECTIONS, Ingestor, IngestSummary, walk
from reynard.ingest.sinks import EventSink, ServerSink, StoreSink, running_server
from reynard.ingest.sources.base import ReadOptions
from reynard.settings import Settings
from reynard.state import open_state
from reynard.store.backends import open_event_store


def open_sink(settings: Settings) -> EventSink:
    """The store itself when this process can take the writer lock, else the server that holds it."""
    try:
        store = open_event_store(settings, writable=True)
    except WriterBusy:
        url = running_server(settings.data_dir)
        if url is None:
            raise ReynardError(
                "another process holds the event store's writer lock and no Reynard server answers for it",
                where=str(settings.events_dir),
            ) from None
        return ServerSink(url)
    return StoreSink(store, commit_every=settings.commit_every, commit_interval=settings.commit_interval)


def run_ingest(
    settings: Settings,
    *,
    paths: Sequence[str],
    source: str | None = None,
    keep_received: bool = False,
    reference: datetime | None = None,
    replay: bool = False,
    replay_ids: Iterable[int] | None = None,
    on_reject: object = None,
    progress: bool = False,
    matcher_factory: Callable[[Settings], Any] | None = None,
) -> IngestSummary:
    """Ingest `paths` (or replay dead letters). With `matcher_factory(settings)` -> an object with
    `match(events)`, every batch stored directly is also handed to it (streaming detection); when a
    server holds the store, the server does that itself."""
    dead_letters = DeadLetterStore(open_state(settings.state_url))
    options = ReadOptions(max_record_bytes=settings.max_record_bytes)
    if reference is not None:
        options = ReadOptions(reference_time=reference, max_record_bytes=settings.max_record_bytes)
    sink = open_sink(settings)
    if matcher_factory is not None and isinstance(sink, StoreSink):
        sink.on_batch = matcher_factory(settings).match
    pipeline = Pipeline(default_plugins(settings))
    messages: list[str] = []
    hidden = 0

    def note(message: str) -> None:
        nonlocal hidden
        if len(messages) < SHOWN_REJECTIONS:
            messages.append(message)
        else:
            hidden += 1

    def show(summary: IngestSummary) -> None:
        click.echo(f"\r{summary.line()} ...", nl=False, err=True)

    try:
        if replay:
            summary = _replay(sink, dead_letters, pipeline, options, source, replay_ids, note)
        elif isinstance(sink, StoreSink) and (files := _parallel_files(paths, settings)) is not None:
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
                on_progress=show if progress else None,
                matcher_factory=matcher_factory,
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
                on_progress=show if progress else None,
            )
            summary = ingestor.ingest_paths(paths)
    finally:
        sink.close()
    if progress:
        click.echo("\r\033[K", nl=False, err=True)
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


def list_dead_letters(settings: Settings, *, ids: Iterable[int] | None, as_json: bool) -> None:
    dead_letters = DeadLetterStore(open_state(settings.state_url))
    count = 0
    for letter in dead_letters.list(ids):
        count += 1
        row = letter.summary()
        if as_json:
            sys.stdout.write(orjson.dumps(row).decode() + "\n")
        else:
            where = f"{row['origin']}:{row['position']}" if row["position"] else row["origin"]
            click.echo(f"{row['id']:>6}  {row['created'][:19]}  {row['source']:<10} {where}: {row['reason']}")
    if not as_json:
        click.echo(f"{count} rejected records")
