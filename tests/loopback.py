"""A real HTTP server on loopback that records what Reynard sends it (webhooks, Slack, approvals)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Recorder(ThreadingHTTPServer):
    """Records each POST as (path, lower-cased headers, body) and answers `status`; 500 to the first
    `fail_first`; waits `delay` seconds before answering."""

    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.status = 200
        self.fail_first = 0
        self.delay = 0.0
        self.stop = threading.Event()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    @property
    def bodies(self) -> list:
        """The JSON bodies received, in order."""
        return [json.loads(body) for _, _, body in self.requests]

    def handle_error(self, request, client_address) -> None:  # a client that gave up is expected here
        pass


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        if self.server.delay:
            self.server.stop.wait(self.server.delay)
        failing = len(self.server.requests) <= self.server.fail_first
        self.send_response(500 if failing else self.server.status)
        self.end_headers()
        self.wfile.write(b"boom" if failing else b"ok")

    def log_message(self, *args) -> None:
        pass


@contextmanager
def recording() -> Iterator[Recorder]:
    """A Recorder serving on a thread until the block ends."""
    server = Recorder()
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
