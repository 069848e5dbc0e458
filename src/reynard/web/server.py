"""Running the server: take the writer lock, announce the address in the data directory, serve."""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
from pathlib import Path

import orjson
import uvicorn
from fastapi import FastAPI

from reynard.errors import ConfigError
from reynard.ingest.sinks import SERVER_FILE
from reynard.runtime import Runtime
from reynard.settings import Settings
from reynard.web.app import create_app

log = logging.getLogger("reynard.web.server")

# TLS 1.2 suites with forward secrecy and AEAD only (TLS 1.3's are all of that); uvicorn's default
# ("TLSv1") would also offer CBC and SHA-1 suites.
TLS_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL:!aDSS"


def serve(runtime: Runtime) -> None:
    """Serve the API on the settings' address until interrupted; the scheduler and the playbook service
    run beside it. The app takes the writer lock (WriterBusy when another process has it).

    Detection: the enabled rules' simple tasks are matched on each committed batch (the runtime's
    streaming matcher, fed by its writer service); the other rules run on schedule. Response: each
    committed batch and each new alert goes through the triggers, which start playbooks on the
    playbook service's workers."""
    settings = runtime.settings
    check_tls(settings)
    app = create_app(runtime)
    announce = settings.data_dir / SERVER_FILE
    server = uvicorn.Server(server_config(app, settings))
    _write_atomically(announce, orjson.dumps(announcement(settings, runtime.local_secret)))
    runtime.scheduler.start()
    runtime.playbooks.start_background()
    try:
        server.run()
    finally:
        runtime.close()
        announce.unlink(missing_ok=True)


def server_config(app: FastAPI, settings: Settings) -> uvicorn.Config:
    """uvicorn's configuration for `app`: the settings' address, TLS when configured, no `Server` banner."""
    tls: dict = {}
    if settings.tls_cert is not None and settings.tls_key is not None:
        tls = {
            "ssl_certfile": str(settings.tls_cert),
            "ssl_keyfile": str(settings.tls_key),
            "ssl_ciphers": TLS_CIPHERS,
        }
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        server_header=False,
        **tls,
    )


def check_tls(settings: Settings) -> None:
    """ConfigError, naming the files, when the TLS certificate and key cannot be used together."""
    if settings.tls_cert is None or settings.tls_key is None:
        return
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            settings.tls_cert, settings.tls_key
        )
        return
    except ssl.SSLError as e:
        problem = e.reason or str(e)
    except OSError as e:
        problem = e.strerror or str(e)
    raise ConfigError(
        f"settings tls_cert and tls_key: cannot use {settings.tls_cert} with {settings.tls_key}: {problem}"
    )


def base_url(settings: Settings) -> str:
    """Where a client on this machine reaches the server (loopback for an address that means any)."""
    host = settings.host.strip("[]")
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    scheme = "https" if settings.tls_cert else "http"
    return f"{scheme}://[{host}]:{settings.port}" if ":" in host else f"{scheme}://{host}:{settings.port}"


def announcement(settings: Settings, secret: str) -> dict:
    """What `<data_dir>/server.json` says: the address, the URL `reynard ingest` hands events to, the
    certificate it pins when the server speaks TLS, and the local secret it shows."""
    tls_cert = str(settings.tls_cert.resolve()) if settings.tls_cert else None
    return {
        "host": settings.host,
        "port": settings.port,
        "pid": os.getpid(),
        "url": base_url(settings),
        "tls_cert": tls_cert,
        "secret": secret,
    }


def exposure_warning(settings: Settings) -> str | None:
    """The warning for a server other machines can reach without TLS, or None."""
    if settings.tls_cert is not None or is_loopback(settings.host):
        return None
    return (
        f"warning: serving on {settings.host} without TLS: anyone on the network path can read and alter"
        " the API tokens, passwords, events, alerts and incidents that cross it in clear text;"
        " give a certificate (--tls-cert FILE --tls-key FILE, or tls_cert and tls_key in the settings),"
        " or keep the default 127.0.0.1 behind a TLS proxy"
    )


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `data` whole, readable and writable by this user only (it holds the local secret)."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)
