"""Test helpers shared by several files: a real `reynard serve` in a child process."""

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api_token(data_dir: Path, role: str = "admin", name: str = "test-admin") -> str:
    """A new API token on a data directory's state database (as `reynard token create` makes one)."""
    from reynard.runtime import Runtime
    from reynard.settings import Settings

    runtime = Runtime(Settings(data_dir=data_dir))
    try:
        return runtime.identity.create_token(name, role, by="tests")[1]
    finally:
        runtime.close()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


class Server:
    """`reynard serve` in a child process, on loopback; `get`/`post` call it as an admin (a token made
    for the tests), `headers` are that token's."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.headers: dict[str, str] = {}
        self.log = data_dir.parent / f"server-{self.port}.log"  # the server's stderr

    def start(self) -> "Server":
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reynard",
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(self.port),
            ],
            # Into a file, never a pipe nobody reads: a server logging more than a pipe holds would hang.
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.log.read_text(errors="replace"))
            try:
                if httpx.get(f"{self.url}/status", timeout=1).status_code == 200:
                    self.headers = bearer(api_token(self.data_dir))
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def get(self, url: str, **options) -> httpx.Response:
        return httpx.get(url, headers={**self.headers, **options.pop("headers", {})}, **options)

    def post(self, url: str, **options) -> httpx.Response:
        return httpx.post(url, headers={**self.headers, **options.pop("headers", {})}, **options)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
