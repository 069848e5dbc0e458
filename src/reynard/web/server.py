"""Running the server: take the writer lock, announce the address in the data directory, serve."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import orjson
import uvicorn

from reynard.ingest.sinks import SERVER_FILE
from reynard.runtime import Runtime
from reynard.web.app import create_app

log = logging.getLogger("reynard.web.server")


def serve(runtime: Runtime) -> None:
    """Serve the API on the settings' address until interrupted; the scheduler and the playbook service
    run beside it. The app takes the writer lock (WriterBusy when another process has it).

    Detection: the enabled rules' simple tasks are matched on each committed batch (the runtime's
    streaming matcher, fed by its writer service); the other rules run on schedule. Response: each
    committed batch and each new alert goes through the triggers, which start playbooks on the
    playbook service's workers."""
    settings = runtime.settings
    app = create_app(runtime)
    announce = settings.data_dir / SERVER_FILE
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    info = {"host": settings.host, "port": settings.port, "pid": os.getpid(), "secret": runtime.local_secret}
    _write_atomically(announce, orjson.dumps(info))
    runtime.scheduler.start()
    runtime.playbooks.start_background()
    try:
        server.run()
    finally:
        runtime.close()
        announce.unlink(missing_ok=True)


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `data` whole, readable and writable by this user only (it holds the local secret)."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)
