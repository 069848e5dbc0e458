"""Where ingested events go: straight into the event store, or to the running server that owns it.

`reynard ingest` writes directly when it can take the writer lock. When a server holds the lock, the
events are handed to it over HTTP (`POST /api/ingest/normalized`, NDJSON of finalized events), at the
URL it announced in `<data_dir>/server.json` (over TLS, pinning the certificate announced there), and
the server acknowledges only once they are durable. The hand-off authenticates with the secret the
server wrote into `<data_dir>/server.json` (readable by its owner only): only a process that can read
the data directory may hand over finalized events.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import httpx
import orjson

from reynard.errors import StoreError
from reynard.events import numbers
from reynard.store.base import EventStore, WriteResult

SERVER_FILE = "server.json"


class EventSink(Protocol):
    def write(self, events: list[dict]) -> WriteResult: ...

    def flush(self) -> None:
        """Everything written so far is durable when this returns."""

    def close(self) -> None: ...


class StoreSink:
    """Writes to the store, committing every `commit_every` events or `commit_interval` seconds."""

    def __init__(self, store: EventStore, *, commit_every: int = 100_000, commit_interval: float = 1.0):
        self.store = store
        self.commit_every = commit_every
        self.commit_interval = commit_interval
        self._uncommitted = 0
        self._last_commit = time.monotonic()
        # Called with each batch once stored (streaming detection); the store's dedup runs first.
        self.on_batch: Callable[[list[dict]], object] | None = None

    def write(self, events: list[dict]) -> WriteResult:
        result = self.store.write(events)
        if self.on_batch is not None and result.stored:
            refused = {event_id for event_id, _ in result.failed}
            self.on_batch([e for e in events if e["id"] not in refused])
        self._uncommitted += result.stored
        if self._uncommitted >= self.commit_every or (
            self._uncommitted and time.monotonic() - self._last_commit >= self.commit_interval
        ):
            self.flush()
        return result

    def flush(self) -> None:
        self.store.commit()
        self._uncommitted = 0
        self._last_commit = time.monotonic()

    def close(self) -> None:
        self.flush()
        self.store.close()


class ServerURL(str):
    """The URL of a running server, with how to verify it when it speaks TLS: its own certificate,
    pinned (read from the data directory, so neither a CA nor the host name is needed)."""

    tls_cert: str | None = None

    def verify(self) -> ssl.SSLContext | bool:
        if not self.tls_cert:
            return True
        context = ssl.create_default_context(cafile=self.tls_cert)
        context.check_hostname = False  # the certificate itself is pinned
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # trusted as it is, CA-issued or not
        return context


class ServerSink:
    """Hands finalized events to the Reynard server that holds the writer lock."""

    def __init__(self, base_url: str, secret: str, timeout: float = 120.0):
        self.base_url = base_url.rstrip("/")
        verify = base_url.verify() if isinstance(base_url, ServerURL) else True
        self.client = httpx.Client(
            timeout=timeout, verify=verify, headers={"authorization": f"Bearer {secret}"}
        )

    def write(self, events: list[dict]) -> WriteResult:
        body = b"\n".join(numbers.dumps(e) for e in events)
        try:
            response = self.client.post(
                f"{self.base_url}/api/ingest/normalized",
                content=body,
                headers={"content-type": "application/x-ndjson"},
            )
        except httpx.HTTPError as e:
            raise StoreError(f"the Reynard server at {self.base_url} did not take the events: {e}") from None
        if response.status_code != 200:
            raise StoreError(
                f"the Reynard server at {self.base_url} answered {response.status_code}: {response.text}"
            )
        data = response.json()
        failed = [(f["id"], f["reason"]) for f in data.get("failed", []) if f["id"]]
        return WriteResult(stored=data["stored"], duplicates=data["duplicates"], failed=failed)

    def flush(self) -> None:
        """Nothing to do: the server acknowledged each batch once it was durable."""

    def close(self) -> None:
        self.client.close()


def running_server(data_dir: Path) -> tuple[ServerURL, str] | None:
    """The base URL and local secret of the server that announced itself in this data directory, if it
    answers (over TLS, with the certificate it announced)."""
    path = data_dir / SERVER_FILE
    try:
        info = orjson.loads(path.read_bytes())
        url = ServerURL(info.get("url") or f"http://{info['host']}:{info['port']}")
        url.tls_cert = info.get("tls_cert")
        secret = str(info["secret"])
        verify = url.verify()
    except (OSError, ssl.SSLError, orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return None
    try:
        httpx.get(f"{url}/status", timeout=2.0, verify=verify).raise_for_status()
    except httpx.HTTPError:
        return None
    return url, secret
