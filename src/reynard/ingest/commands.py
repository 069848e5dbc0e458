"""What `reynard ingest` does, apart from parsing its arguments: pick the sink, run, replay, list."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from datetime import datetime

import click
import orjson

from reynard.errors import ReynardError, WriterBusy
from reynard.ingest.deadletter import DeadLetterStore
from reynard.ingest.pipeline import Pipeline
from reynard.ingest.plugins import default_plugins
from reynard.ingest.records import Rejected
from reynard.ingest.runner import SHOWN_REJECTIONS, Ingestor, IngestSummary
from reynard.ingest.sinks import EventSink, ServerSink, StoreSink, running_server
from reynard.ingest.sources.base import ReadOptions
from reynard.settings import Settings
from reynard.state import open_state
from reynard.store.tantivy_store import TantivyEventStore


def open_sink(settings: Settings) -> EventSink:
    """The store itself when this process can take the writer lock, else the server that holds it."""
    try:
        store = TantivyEventStore(settings.events_dir, writable=True, heap_bytes=settings.writer_heap_bytes)
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
) -> IngestSummary:
    dead_letters = DeadLetterStore(open_state(settings.state_url))
    options = ReadOptions(max_record_bytes=settings.max_record_bytes)
    if reference is not None:
        options = ReadOptions(reference_time=reference, max_record_bytes=settings.max_record_bytes)
    sink = open_sink(settings)
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
        else:
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


class _Collected:
    """A dead-letter store that only remembers, for replays: the original row is updated instead."""

    def __init__(self) -> None:
        self.items: list[Rejected] = []

    def add(self, rejected: Iterable[Rejected]) -> int:
        items = list(rejected)
        self.items.extend(items)
        return len(items)


def _replay(
    sink: EventSink,
    dead_letters: DeadLetterStore,
    pipeline: Pipeline,
    options: ReadOptions,
    source: str | None,
    ids: Iterable[int] | None,
    note: object,
) -> IngestSummary:
    total = IngestSummary()
    for letter in list(dead_letters.list(ids)):
        name = source or (letter.source if letter.source not in ("unknown", "normalized") else None)
        if not letter.raw:
            total.rejected += 1
            note(f"dead letter {letter.id} ({letter.origin}): the whole input was rejected; ingest it again")  # type: ignore[operator]
            continue
        collected = _Collected()
        ingestor = Ingestor(sink, collected, pipeline, options=options, source=name)  # type: ignore[arg-type]
        summary = ingestor.ingest_bytes(letter.raw, letter.origin)
        for key in ("read", "stored", "duplicates", "dropped"):
            setattr(total, key, getattr(total, key) + getattr(summary, key))
        if collected.items:
            total.rejected += 1
            reason = collected.items[0].reason
            dead_letters.retried(letter.id, reason)
            note(f"dead letter {letter.id} ({letter.origin}:{letter.position}): still rejected: {reason}")  # type: ignore[operator]
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
