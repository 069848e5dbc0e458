"""Ingest throughput: end to end (parse, pipeline, store) for CloudTrail and syslog, and the store floor.

Prints one JSON line. Each measurement runs in a child process, so its peak memory is its own.

    python benchmarks/ingest.py [--events 1000000] [--work bench-data]

The generated inputs are kept in `--work` and reused by later runs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

END = datetime(2026, 11, 1, tzinfo=UTC)


def generate(work: Path, n: int) -> dict[str, Path]:
    from reynard.simulate.sample import cloudtrail_records, syslog_lines

    work.mkdir(parents=True, exist_ok=True)
    ct_dir = work / f"cloudtrail-{n}"
    syslog = work / f"syslog-{n}.log"
    start = END - timedelta(days=3)
    if not (ct_dir / ".done").exists():
        shutil.rmtree(ct_dir, ignore_errors=True)
        ct_dir.mkdir()
        records = cloudtrail_records(n, start, END)
        part = 0
        while True:
            chunk = [r for _, r in zip(range(1000), records, strict=False)]
            if not chunk:
                break
            path = ct_dir / f"123456789012_CloudTrail_us-east-1_{part:06d}.json.gz"
            path.write_bytes(gzip.compress(orjson.dumps({"Records": chunk}), compresslevel=1))
            part += 1
        (ct_dir / ".done").touch()
    if not syslog.exists():
        with syslog.open("w") as out:
            for line in syslog_lines(n, start, END):
                out.write(line + "\n")
    return {"cloudtrail": ct_dir, "syslog": syslog}


def end_to_end(path: str, data_dir: str, reference: str) -> dict:
    """Child: `reynard ingest` in-process on one input, into a fresh store."""
    from reynard.runtime import Runtime
    from reynard.settings import load_settings

    runtime = Runtime(load_settings(env={}).with_overrides(data_dir=Path(data_dir)))
    started = time.perf_counter()
    summary = runtime.ingest([path], detect=False, reference=datetime.fromisoformat(reference))
    elapsed = time.perf_counter() - started
    runtime.close()
    return {"stored": summary.stored, "read": summary.read, "rejected": summary.rejected, "seconds": elapsed}


def floor(path: str, data_dir: str, reference: str) -> dict:
    """Child: the same events, already built, written straight into the store (timed: store only)."""
    from reynard.events.event import finalize, stable_id
    from reynard.events.timestamps import isoformat
    from reynard.ingest.pipeline import Pipeline
    from reynard.ingest.plugins import default_plugins
    from reynard.ingest.reader import open_input
    from reynard.ingest.records import Record
    from reynard.ingest.sources import detect_source
    from reynard.ingest.sources.base import ReadOptions
    from reynard.runtime import Runtime
    from reynard.settings import load_settings

    settings = load_settings(env={})
    pipeline = Pipeline(default_plugins(settings))
    options = ReadOptions(reference_time=datetime.fromisoformat(reference))
    received = isoformat(datetime.now(UTC))
    store = Runtime(settings.with_overrides(data_dir=Path(data_dir))).event_writer
    inputs = sorted(Path(path).glob("*.gz")) if Path(path).is_dir() else [Path(path)]
    timed = 0.0
    stored = 0
    uncommitted = 0
    batch: list[dict] = []

    def write() -> None:
        nonlocal timed, stored, uncommitted
        started = time.perf_counter()
        result = store.write(batch)
        uncommitted += result.stored
        if uncommitted >= settings.commit_every:
            store.commit()
            uncommitted = 0
        timed += time.perf_counter() - started
        stored += result.stored
        batch.clear()

    for file in inputs:
        inp = open_input(file)
        source = detect_source(inp.head())
        for item in source.read(inp, options):
            if type(item) is not Record:
                continue
            item.draft["id"] = stable_id(item.source, item.key)
            event = pipeline.run(item.draft)
            if event is not None:
                batch.append(finalize(event, received=received))
            if len(batch) >= 2000:
                write()
        inp.close()
    if batch:
        write()
    started = time.perf_counter()
    store.close()
    timed += time.perf_counter() - started
    return {"stored": stored, "seconds": timed, "disk_bytes": store.disk_bytes()}


def child(kind: str, path: str, data_dir: str, reference: str) -> None:
    result = (end_to_end if kind == "e2e" else floor)(path, data_dir, reference)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def run_child(kind: str, path: Path, work: Path) -> dict:
    data_dir = work / f"store-{kind}-{path.stem}"
    shutil.rmtree(data_dir, ignore_errors=True)
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path), str(data_dir), END.isoformat()],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if "disk_bytes" not in result:
        result["disk_bytes"] = sum(p.stat().st_size for p in (data_dir / "events").rglob("*") if p.is_file())
    shutil.rmtree(data_dir, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=Path("bench-data"))
    parser.add_argument("--child", nargs=4)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    inputs = generate(args.work, args.events)
    figures: dict[str, object] = {"events_per_source": args.events}
    peak = 0.0
    for name, path in inputs.items():
        e2e = run_child("e2e", path, args.work)
        base = run_child("floor", path, args.work)
        assert e2e["stored"] == args.events, e2e
        rate = e2e["stored"] / e2e["seconds"]
        floor_rate = base["stored"] / base["seconds"]
        figures[f"{name}_end_to_end_eps"] = round(rate)
        figures[f"{name}_store_floor_eps"] = round(floor_rate)
        figures[f"{name}_ratio"] = round(rate / floor_rate, 3)
        figures[f"{name}_disk_bytes_per_event"] = round(e2e["disk_bytes"] / e2e["stored"], 1)
        figures[f"{name}_peak_rss_mb"] = round(e2e["peak_rss_mb"])
        peak = max(peak, e2e["peak_rss_mb"], base["peak_rss_mb"])
    figures["peak_rss_mb"] = round(peak)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
