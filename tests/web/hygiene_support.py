"""What the HTTP hygiene tests share: the server's own app and uvicorn configuration on a thread, a raw
HTTP/1.1 client that streams a chunked body and stops when the server answers, a self-signed
certificate."""

from __future__ import annotations

import ipaddress
import select
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from helpers import bearer, free_port
from reynard.runtime import Runtime
from reynard.settings import Settings
from reynard.web.app import create_app
from reynard.web.server import server_config


@dataclass
class Served:
    url: str
    port: int
    app: FastAPI
    settings: Settings
    http: httpx.Client  # as an admin (a token made for the tests)
    admin: dict[str, str]  # that token's Authorization header
    shipper: dict[str, str]  # an ingest token's


@contextmanager
def serving(data_dir: Path, **settings: object) -> Iterator[Served]:
    """`create_app` served by uvicorn as `reynard serve` configures it, on a thread, on loopback."""
    config = Settings(data_dir=data_dir, port=free_port(), **settings)  # type: ignore[arg-type]
    runtime = Runtime(config)
    app = create_app(runtime)
    admin = bearer(runtime.identity.create_token("hygiene-admin", "admin", by="tests")[1])
    shipper = bearer(runtime.identity.create_token("shipper-1", "ingest", by="tests")[1])
    server = uvicorn.Server(server_config(app, config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    url = f"http://{config.host}:{config.port}"
    http = httpx.Client(base_url=url, headers=admin, timeout=30)
    try:
        yield Served(url, config.port, app, config, http, admin, shipper)
    finally:
        http.close()
        server.should_exit = True
        thread.join(20)
        runtime.close()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    sent: int  # body bytes the client sent before the answer came
    seconds: float  # from the first byte sent to the answer


def request_head(method: str, path: str, host: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def stream_chunked(
    port: int,
    path: str,
    chunks: Iterable[bytes],
    *,
    headers: dict[str, str],
    content_type: str = "application/x-ndjson",
    host: str = "127.0.0.1",
    finish: bool = True,
) -> Answer:
    """POST `chunks` with Transfer-Encoding: chunked, and stop sending as soon as the server answers."""
    started = time.perf_counter()
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        head = {**headers, "Content-Type": content_type, "Transfer-Encoding": "chunked"}
        conn.sendall(request_head("POST", path, host, head))
        answered = False
        for chunk in chunks:
            if select.select([conn], [], [], 0)[0]:
                answered = True
                break
            try:
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:  # the server closed: its answer may be waiting
                answered = True
                break
            sent += len(chunk)
        if not answered and finish:
            conn.sendall(b"0\r\n\r\n")
        return read_answer(conn, sent, started)


def read_answer(conn: socket.socket, sent: int, started: float) -> Answer:
    """Read one answer; the server may close (or reset) the connection right after it."""
    data = b""
    while True:
        try:
            more = conn.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not more:
            break
        data += more
        head, found, body = data.partition(b"\r\n\r\n")
        if found and len(body) >= int(_headers(head).get("content-length", 0)):
            break
    seconds = time.perf_counter() - started
    head, _, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n")[0].split()
    status = int(status_line[1]) if len(status_line) > 1 else 0
    return Answer(status, _headers(head), body, sent, seconds)


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}


def ndjson_chunks(total_bytes: int, chunk_bytes: int = 64 * 1024) -> Iterator[bytes]:
    """Valid MozDef events of about 1 KiB, one a line, in chunks of about `chunk_bytes`, made as they
    are sent (never the whole body in memory)."""
    pad = b"x" * 900
    sent = number = 0
    while sent < total_bytes:
        lines = []
        for _ in range(chunk_bytes // 1024):
            lines.append(
                b'{"summary": "padding %d", "hostname": "h", "details": {"pad": "%s"}}\n' % (number, pad)
            )
            number += 1
        chunk = b"".join(lines)
        sent += len(chunk)
        yield chunk


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reynard test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert, key_file = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert, key_file
