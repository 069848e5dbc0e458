"""Running the server: take the writer lock, announce the address in the data directory, serve."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import uvicorn

from reynard.ingest.deadletter import DeadLetterStore
from reynard.ingest.pipeline import Pipeline
from reynard.ingest.plugins import default_plugins
from reynard.ingest.sinks import SERVER_FILE
from reynard.settings import Settings
from reynard.state import open_state
from reynard.store.service import WriterService
from reynard.store.tantivy_store import TantivyEventStore
from reynard.web.app import Services, create_app


def build_services(settings: Settings) -> Services:
    """Everything the app needs; takes the writer lock (raises WriterBusy when another process has it)."""
    store = TantivyEventStore(settings.events_dir, writable=True, heap_bytes=settings.writer_heap_bytes)
    return Services(
        settings=settings,
        writer=WriterService(store),
        reader=TantivyEventStore(settings.events_dir),
        dead_letters=DeadLetterStore(open_state(settings.state_url)),
        pipeline=Pipeline(default_plugins(settings)),
    )


def serve(settings: Settings, services: Services | None = None) -> None:
    services = services or build_services(settings)
    app = create_app(services)
    announce = settings.data_dir / SERVER_FILE
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    _write_atomically(
        announce, orjson.dumps({"host": settings.host, "port": settings.port, "pid": os.getpid()})
    )
    try:
        server.run()
    finally:
        services.writer.close()
        announce.unlink(missing_ok=True)


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
