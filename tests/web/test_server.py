"""The server over real HTTP: MozDef loginput ingest, durable acknowledgments, the event API."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import orjson
import pytest

from helpers import Server
from reynard.query import ast
from reynard.store.tantivy.store import TantivyEventStore


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "data").start()
    yield s
    s.stop()


def mozdef_event(i: int, **extra) -> dict:
    return {
        "timestamp": "2026-11-27T10:00:00+00:00",
        "hostname": "web-1",
        "processname": "nginx",
        "summary": f"request {i}",
        "category": "weblog",
        "details": {"sourceipaddress": "203.0.113.9", "n": i},
        **extra,
    }


def test_post_one_mozdef_event_and_read_it_back(server):
    response = server.post(f"{server.url}/events", json=mozdef_event(1))
    assert response.status_code == 200
    assert response.json()["stored"] == 1
    listed = server.get(f"{server.url}/api/events", params={"limit": 10}).json()
    assert listed["count"] == 1
    event = listed["events"][0]
    assert event["summary"] == "request 1" and event["hostname"] == "web-1"
    assert event["utctimestamp"] == "2026-11-27T10:00:00.000000+00:00"
    got = server.get(f"{server.url}/api/events/{event['id']}").json()
    assert got == event
    assert server.get(f"{server.url}/api/events/{'0' * 32}").status_code == 404


def test_post_ndjson_in_bulk_with_one_bad_line(server):
    lines = [orjson.dumps(mozdef_event(i)) for i in range(50)]
    lines.insert(10, b"{not json")
    response = server.post(f"{server.url}/events", content=b"\n".join(lines))
    body = response.json()
    assert response.status_code == 200
    assert (body["read"], body["stored"], body["rejected"]) == (51, 50, 1)
    assert "11" in body["errors"][0]  # the line number of the bad record
    assert server.get(f"{server.url}/api/stats").json()["dead_letters"] == 1


def test_posting_the_same_event_again_does_not_duplicate(server):
    server.post(f"{server.url}/events", json=mozdef_event(1))
    again = server.post(f"{server.url}/events", json=mozdef_event(1)).json()
    assert (again["stored"], again["duplicates"]) == (0, 1)
    assert server.get(f"{server.url}/api/stats").json()["events"] == 1


def test_empty_and_oversized_bodies(server):
    assert server.post(f"{server.url}/events", content=b"").status_code == 400
    # A client that declares a 1 GB body is refused before the server reads it.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(
            b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Authorization: {server.headers['authorization']}\r\n".encode()
            + b"Content-Length: 1000000000\r\n\r\n{"
        )
        status_line = conn.recv(200).split(b"\r\n")[0]
    assert b" 413 " in status_line


def test_the_server_binds_to_loopback_by_default(server):
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("ss is not available")
    listening = [line for line in out.stdout.splitlines() if f":{server.port} " in line]
    assert listening and all("127.0.0.1" in line for line in listening)


def test_kill_9_loses_no_acknowledged_event(tmp_path):
    """Clients post while the server is killed with SIGKILL: every acknowledged event is stored."""
    data = tmp_path / "data"
    server = Server(data).start()
    acknowledged: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(worker: int) -> None:
        with httpx.Client(timeout=10, headers=server.headers) as http:
            batch = 0
            while not stop.is_set():
                ids = [worker * 1_000_000 + batch * 100 + i for i in range(25)]
                body = b"\n".join(orjson.dumps(mozdef_event(n)) for n in ids)
                try:
                    response = http.post(f"{server.url}/events", content=body)
                except httpx.HTTPError:
                    return
                if response.status_code == 200 and response.json()["stored"] == len(ids):
                    with lock:
                        acknowledged.extend(ids)
                batch += 1

    threads = [threading.Thread(target=client, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()
    stop.set()
    for t in threads:
        t.join()
    assert len(acknowledged) > 100, "the load never got going"

    store = TantivyEventStore(data / "events", writable=True)  # the lock died with the process
    try:
        stored = {e["details.n"] for e in store.stream(ast.Search(limit=None, fields=("details.n",)))}
    finally:
        store.close()
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"


def test_a_reader_in_another_process_sees_acknowledged_events_at_once(server):
    """The server commits before it answers: another process opening the store sees the events."""
    lines = b"\n".join(orjson.dumps(mozdef_event(i)) for i in range(30))
    assert server.post(f"{server.url}/events", content=lines).json()["stored"] == 30
    script = (
        "from reynard.store.tantivy.store import TantivyEventStore;"
        f"print(TantivyEventStore({str(server.data_dir / 'events')!r}).count())"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "30"


def test_ingest_while_serving_and_reading(server, tmp_path):
    """`reynard ingest` into a served store, while a reader polls: the count only grows, to the total."""
    log = tmp_path / "auth.log"
    log.write_text(
        "".join(
            f"Nov 20 10:{i // 60:02d}:{i % 60:02d} host sshd[{i}]: Failed password for root from 203.0.113.9 "
            f"port {1000 + i} ssh2\n"
            for i in range(3000)
        )
    )
    ingest = subprocess.Popen(
        [sys.executable, "-m", "reynard", "ingest", "--data-dir", str(server.data_dir), str(log)],
        stdout=subprocess.PIPE,
        text=True,
    )
    reader = TantivyEventStore(server.data_dir / "events")
    seen = []
    while ingest.poll() is None:
        reader.refresh()
        seen.append(reader.count())
        time.sleep(0.05)
    assert ingest.returncode == 0, ingest.stdout.read()
    reader.refresh()
    assert reader.count() == 3000
    assert seen == sorted(seen)


def test_search_from_another_process_while_the_server_writes(server):
    """`reynard search` opens the store read-only: it answers while the server holds the writer lock."""
    for batch in range(3):
        lines = b"\n".join(orjson.dumps(mozdef_event(batch * 100 + i)) for i in range(20))
        assert server.post(f"{server.url}/events", content=lines).json()["stored"] == 20
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "reynard",
                "search",
                "--data-dir",
                str(server.data_dir),
                "--count",
                "hostname:web-1",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == str(20 * (batch + 1))
