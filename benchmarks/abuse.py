"""What a client on the network can do to the server's resources (issue 12), measured on `reynard serve`.

Three runs, each on a fresh server in a child process (data under --work, deleted after):

1. A 1 GiB chunked `POST /events`, made on the fly (never in memory) and sent as fast as loopback
   takes it: the server's peak RSS (VmHWM, the whole process's high-water mark) and its RSS before,
   the answer's status, the body bytes sent before it, how long it took, and whether /status still
   answers after.
2. `/status` latency while heavy searches run: 200 stored events with a 40-character `details.g`,
   then --searchers clients each asking `details.g:/(a|a)*c/` (the worst query the API takes today)
   while /status is asked every 50 ms for --seconds; a /status that times out (2 s) counts as 2,000 ms
   and in `status_timeouts`. The server is killed (SIGKILL) after.
3. The server's threads after ingesting 3,000 events on 3,000 distinct days (NDJSON, 100 a request).
4. Ingest acknowledgments per second with and without authentication: --clients clients each posting
   one small JSON event at a time (as MozDef shippers do) to `POST /events` for --seconds, on the app
   `reynard serve` runs, started by this script in a child process (`--child`) twice per round, once as
   is (an ingest token checked on every request) and once with the authentication dependency replaced
   by a fixed principal (FastAPI's `dependency_overrides`, here only); rounds alternate which goes
   first, and the medians are reported.

Prints one JSON line:

    python benchmarks/abuse.py [--work /tmp] [--gib 1] [--seconds 10] [--searchers 2] [--clients 4]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
from fastapi import Request  # at module level: FastAPI resolves the override's annotations here

MIB = 1024 * 1024
STATUS_TIMEOUT = 2.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admin_token(data_dir: Path) -> str:
    """An admin API token on the data directory's state database (what `reynard token create` makes)."""
    from reynard.runtime import Runtime
    from reynard.settings import Settings

    runtime = Runtime(Settings(data_dir=data_dir))
    try:
        return runtime.identity.create_token("abuse-bench", "admin", by="benchmarks/abuse.py")[1]
    finally:
        runtime.close()


class Served:
    """`reynard serve` on loopback in a child process; `auth` is an admin token's header."""

    def __init__(self, data_dir: Path):
        self.auth = {"authorization": f"Bearer {admin_token(data_dir)}"}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-m",
            "reynard",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(self.port),
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(self.process.stderr.read().decode())
            try:
                if httpx.get(f"{self.url}/status", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def proc_status(self, field: str) -> int:
        """A number from /proc/PID/status (VmRSS and VmHWM in kB, Threads)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise KeyError(field)

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def events_ndjson(count: int, chunk_bytes: int = 64 * 1024) -> Iterator[bytes]:
    pad = b"x" * 900
    number = 0
    while True:
        lines = []
        for _ in range(chunk_bytes // 1024):
            lines.append(
                b'{"summary": "bulk %d", "hostname": "h", "details": {"pad": "%s"}}\n' % (number, pad)
            )
            number += 1
        yield b"".join(lines)
        if count and number >= count:
            return


def huge_post(served: Served, total: int) -> dict:
    """POST /events with `total` bytes chunked; stop sending as soon as the server answers."""
    sent = 0
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", served.port), timeout=60) as conn:
        conn.sendall(
            b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\n"
            + f"Authorization: {served.auth['authorization']}\r\n".encode()
            + b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for chunk in events_ndjson(0):
            if sent >= total or select.select([conn], [], [], 0)[0]:
                break
            try:
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                break
            sent += len(chunk)
        if sent >= total:
            conn.sendall(b"0\r\n\r\n")
        answer = b""
        try:
            while b"\r\n" not in answer:
                more = conn.recv(4096)
                if not more:
                    break
                answer += more
        except OSError:
            pass
    seconds = time.perf_counter() - started
    status_line = answer.split(b"\r\n")[0].split()
    return {
        "status": int(status_line[1]) if len(status_line) > 1 else None,
        "sent_mb": round(sent / MIB, 1),
        "seconds": round(seconds, 2),
    }


def run_rss(work: Path, gib: float) -> dict:
    served = Served(work / "rss")
    try:
        before = served.proc_status("VmRSS")
        answer = huge_post(served, int(gib * 1024 * MIB))
        time.sleep(0.5)
        peak = served.proc_status("VmHWM")
        alive = httpx.get(f"{served.url}/status", timeout=5).status_code == 200
    finally:
        served.stop()
    return {
        "rss_before_mb": round(before / 1024),
        "peak_rss_mb": round(peak / 1024),
        "huge_post_status": answer["status"],
        "huge_post_sent_mb": answer["sent_mb"],
        "huge_post_seconds": answer["seconds"],
        "status_after_huge_post": alive,
    }


def run_regex(work: Path, seconds: float, searchers: int) -> dict:
    served = Served(work / "regex")
    now = datetime.now(UTC)
    events = [
        {
            "summary": f"g {i}",
            "hostname": "h",
            "utctimestamp": (now - timedelta(minutes=i)).isoformat(),
            "details": {"g": "a" * 40},
        }
        for i in range(200)
    ]
    body = b"\n".join(orjson.dumps(e) for e in events)
    ndjson = {**served.auth, "content-type": "application/x-ndjson"}
    stored = httpx.post(f"{served.url}/events", content=body, headers=ndjson, timeout=60).json()["stored"]
    stop = threading.Event()
    searches = {"started": 0, "answered": 0}

    def search() -> None:
        with httpx.Client(timeout=seconds + 5, headers=served.auth) as http:
            while not stop.is_set():
                searches["started"] += 1
                try:
                    http.get(f"{served.url}/api/search", params={"q": "details.g:/(a|a)*c/", "since": "7d"})
                    searches["answered"] += 1
                except httpx.HTTPError:
                    return

    threads = [threading.Thread(target=search, daemon=True) for _ in range(searchers)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    latencies, timeouts = [], 0
    end = time.monotonic() + seconds
    with httpx.Client(timeout=STATUS_TIMEOUT) as http:
        while time.monotonic() < end:
            started = time.perf_counter()
            try:
                http.get(f"{served.url}/status")
                latencies.append((time.perf_counter() - started) * 1000)
            except httpx.HTTPError:
                latencies.append(STATUS_TIMEOUT * 1000)
                timeouts += 1
            time.sleep(0.05)
    stop.set()
    served.stop(kill=True)  # a frozen server answers no SIGINT
    for t in threads:
        t.join(10)
    return {
        "regex_events": stored,
        "status_p99_ms": round(statistics.quantiles(latencies, n=100)[98], 1),
        "status_median_ms": round(statistics.median(latencies), 1),
        "status_requests": len(latencies),
        "status_timeouts": timeouts,
        "heavy_searches_started": searches["started"],
        "heavy_searches_answered": searches["answered"],
    }


def run_threads(work: Path, days: int) -> dict:
    served = Served(work / "threads")
    start = datetime(2016, 1, 1, 12, tzinfo=UTC)
    stored = 0
    began = time.perf_counter()
    try:
        with httpx.Client(timeout=600, headers=served.auth) as http:
            for first in range(0, days, 100):
                events = [
                    {
                        "summary": f"day {d}",
                        "hostname": "h",
                        "utctimestamp": (start + timedelta(days=d)).isoformat(),
                    }
                    for d in range(first, min(days, first + 100))
                ]
                body = b"\n".join(orjson.dumps(e) for e in events)
                answer = http.post(
                    f"{served.url}/events", content=body, headers={"content-type": "application/x-ndjson"}
                )
                stored += answer.json()["stored"]
        threads = served.proc_status("Threads")
        rss = served.proc_status("VmRSS")
    finally:
        served.stop()
    return {
        "distinct_days_stored": stored,
        "distinct_days_seconds": round(time.perf_counter() - began, 1),
        "threads_after_distinct_days": threads,
        "rss_after_distinct_days_mb": round(rss / 1024),
    }


def serve_child(data_dir: Path, port: int, authenticated: bool) -> None:
    """The app `reynard serve` runs, on `port`; without authentication when told (benchmark only)."""
    import uvicorn

    from reynard.identity.principal import Principal
    from reynard.identity.roles import Role
    from reynard.runtime import Runtime
    from reynard.settings import Settings
    from reynard.web.app import create_app
    from reynard.web.auth import authenticate
    from reynard.web.server import server_config

    settings = Settings(data_dir=data_dir, port=port)
    runtime = Runtime(settings)
    app = create_app(runtime)
    if not authenticated:
        shipper = Principal("shipper", Role.INGEST, "token")

        def nobody_asked(request: Request) -> Principal:
            request.state.principal = shipper
            return shipper

        app.dependency_overrides[authenticate] = nobody_asked
    try:
        uvicorn.Server(server_config(app, settings)).run()
    except KeyboardInterrupt:  # the parent's SIGINT: the run is over
        pass
    finally:
        runtime.close()


def acks_per_second(work: Path, authenticated: bool, seconds: float, clients: int) -> float:
    data_dir = work / f"acks-{'auth' if authenticated else 'open'}-{time.monotonic_ns()}"
    token = admin_token(data_dir)
    port = free_port()
    command = [sys.executable, __file__, "--child", str(data_dir), str(port)]
    process = subprocess.Popen(
        [*command, *([] if authenticated else ["--no-auth"])], stdout=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/status", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        acked = [0] * clients
        stop = time.monotonic() + seconds

        def post(number: int) -> None:
            headers = {"authorization": f"Bearer {token}"} if authenticated else {}
            with httpx.Client(timeout=30, headers=headers) as http:
                n = 0
                while time.monotonic() < stop:
                    event = {"summary": f"ack {number}-{n}", "hostname": "h", "category": "bench"}
                    answer = http.post(f"{url}/events", json=event)
                    if answer.status_code == 200:
                        acked[number] += 1
                    elif not n:
                        raise RuntimeError(f"POST /events: {answer.status_code} {answer.text}")
                    n += 1

        threads = [threading.Thread(target=post, args=(n,)) for n in range(clients)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sum(acked) / (time.monotonic() - began)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def run_acks(work: Path, seconds: float, clients: int, rounds: int = 3) -> dict:
    rates: dict[bool, list[float]] = {True: [], False: []}
    for round_ in range(rounds):
        for authenticated in (True, False) if round_ % 2 == 0 else (False, True):
            rates[authenticated].append(acks_per_second(work, authenticated, seconds, clients))
    with_auth, without = statistics.median(rates[True]), statistics.median(rates[False])
    return {
        "ingest_clients": clients,
        "acks_per_s_with_auth": round(with_auth),
        "acks_per_s_without_auth": round(without),
        "auth_cost_percent": round(100 * (without - with_auth) / without, 1),
    }


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        serve_child(Path(sys.argv[2]), int(sys.argv[3]), authenticated="--no-auth" not in sys.argv)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--searchers", type=int, default=2)
    parser.add_argument("--days", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--only", choices=["rss", "threads", "regex", "acks"], help="run one part")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="reynard-abuse-", dir=args.work))
    try:
        figures = {"cpus": os.cpu_count()}
        parts = {
            "rss": lambda: run_rss(work, args.gib),
            "threads": lambda: run_threads(work, args.days),
            "regex": lambda: run_regex(work, args.seconds, args.searchers),
            "acks": lambda: run_acks(work, args.seconds, args.clients),
        }
        for name, part in parts.items():
            if args.only in (None, name):
                figures |= part()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
