"""Ingest worker processes exit when the `reynard ingest` that started them dies, even by SIGKILL (which
gives it no chance to stop them): they used to wait forever on a queue nobody reads."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from reynard.ingest.parallel import PARALLEL_MIN_BYTES


def big_inputs(folder: Path) -> list[Path]:
    """Two files of MozDef NDJSON, together over PARALLEL_MIN_BYTES, so that `reynard ingest` parses
    them in two workers (a worker takes a file at a time)."""
    line = orjson.dumps(
        {"summary": "padding event", "utctimestamp": "2026-11-20T10:00:00Z", "details": {"pad": "x" * 400}}
    )
    paths = []
    for number in range(2):
        path = folder / f"big{number}.ndjson"
        with path.open("wb") as out:
            written, n = 0, 0
            while written <= PARALLEL_MIN_BYTES // 2 + (1 << 20):
                chunk = b"".join(line.replace(b"padding", b"%08d" % (n + i)) + b"\n" for i in range(10_000))
                out.write(chunk)
                written += len(chunk)
                n += 10_000
        paths.append(path)
    return paths


def children(pid: int) -> set[int]:
    """The live processes whose parent is `pid` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == pid and stat[0] != "Z":
                found.add(int(entry.name))
    return found


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None when it is gone."""
    try:
        text = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"  # a zombie has exited; only its parent has not reaped it


def test_workers_exit_within_seconds_when_their_parent_is_killed(tmp_path):
    sources = big_inputs(tmp_path)
    env = {**os.environ, "REYNARD_INGEST_WORKERS": "2", "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [
        sys.executable,
        "-m",
        "reynard",
        "ingest",
        "--data-dir",
        str(tmp_path / "data"),
        *map(str, sources),
    ]
    ingest = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and ingest.poll() is None:
            workers = {pid for pid in children(ingest.pid) if b"spawn_main" in _cmdline(pid)}
            if len(workers) == 2:
                break
            time.sleep(0.1)
        assert len(workers) == 2, "the ingest did not start its two workers"
        time.sleep(1)  # let them start their work (imports, the pipeline): a second of the several it takes
        assert all(alive(pid) for pid in workers) and ingest.poll() is None
        ingest.send_signal(signal.SIGKILL)
        ingest.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(alive(pid) for pid in workers):
            time.sleep(0.1)
        assert not [pid for pid in workers if alive(pid)], "workers outlived their parent"
    finally:
        for pid in [ingest.pid, *workers]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        ingest.wait()


def _cmdline(pid: int) -> bytes:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""
