"""Detection latency and throughput: POST -> stored alert through a real server, and the streaming
matcher in-process.

Prints one JSON line:

- `simple_latency_ms`: p50/p99/max from the start of each POST (one CloudTrail StopLogging record per
  request, sent one at a time) to the alert's `created` time in the state database, over a fresh server
  (`python -m reynard serve` on a free loopback port, fresh data directory).
- `matcher_events_per_s`: `StreamingMatcher.match` over finalized events with 100 simple rules loaded
  (each a term on a different `details.eventname`), 1% of the events matching one rule.
- `aggregation_latency`: not measured (aggregation rules run on the 30 s schedule).

    python benchmarks/detection.py [--posts 1000] [--events 20000] [--rules 100]
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def record(i: int, name: str = "StopLogging") -> dict:
    return {
        "eventVersion": "1.08",
        "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory"},
        "requestParameters": {"name": f"bench-trail-{i}"},
        "eventID": f"00000000-0000-4000-8000-{i:012d}",
        "recipientAccountId": "123456789012",
    }


def simple_latency(posts: int, work: Path) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir = work / "data"
    server = subprocess.Popen(
        [sys.executable, "-m", "reynard", "serve", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(server.stderr.read().decode())
            try:
                if httpx.get(f"{url}/status", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        sent: dict[str, float] = {}
        with httpx.Client(timeout=30) as client:
            for i in range(posts):
                body = json.dumps({"Records": [record(i)]})
                sent[f"bench-trail-{i}"] = time.time()
                response = client.post(f"{url}/events", content=body)
                response.raise_for_status()
            deadline = time.monotonic() + 60
            while True:
                alerts = client.get(f"{url}/api/alerts", params={"limit": 10_000}).json()["alerts"]
                if len(alerts) >= posts or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    latencies = []
    for alert in alerts:
        trail = alert["summary"].split(" of ")[1].split(" by ")[0]
        created = datetime.fromisoformat(alert["created"]).timestamp()
        latencies.append((created - sent[trail]) * 1000)
    return {
        "posts": posts,
        "alerts": len(alerts),
        "p50": round(percentile(latencies, 0.50), 2),
        "p99": round(percentile(latencies, 0.99), 2),
        "max": round(max(latencies), 2),
        "mean": round(statistics.fmean(latencies), 2),
    }


def matcher_throughput(n_events: int, n_rules: int, work: Path) -> dict:
    from reynard.detect.alerts import AlertStore
    from reynard.detect.alerttask import AlertTask
    from reynard.detect.streaming import StreamingMatcher
    from reynard.events.event import finalize
    from reynard.query.mozdef import SearchQuery, TermMatch
    from reynard.state import open_state

    class EventNameRule(AlertTask):
        def __init__(self, eventname: str):
            super().__init__()
            self.eventname = eventname

        def main(self):
            query = SearchQuery(minutes=15)
            query.add_must(TermMatch("source", "cloudtrail"))
            query.add_must(TermMatch("details.eventname", self.eventname))
            self.filtersManual(query)
            self.searchEventsSimple()
            self.walkEvents()

        def onEvent(self, event):
            return self.createAlertDict(f"{self.eventname} seen", "bench", ["bench"], [event], "NOTICE")

    alert_store = AlertStore(open_state(f"sqlite:///{work / 'matcher.db'}"))
    names = [f"Action{r:03d}" for r in range(n_rules)]
    matcher = StreamingMatcher({f"rule_{n}": [EventNameRule(n)] for n in names}, alert_store)
    assert len(matcher.streaming) == n_rules
    received = datetime.now(UTC).isoformat()
    events = []
    for i in range(n_events):
        eventname = names[i % n_rules] if i % 100 == 0 else f"Other{i % 50}"
        event = {
            "id": f"bench-{i}",
            "utctimestamp": received,
            "source": "cloudtrail",
            "category": "cloudtrail",
            "summary": f"{eventname} by someone",
            "details": {"eventname": eventname, "sourceipaddress": "198.51.100.4", "n": i},
        }
        events.append(finalize(event, received=received, keep_received=True))
    batch = 1000
    started = time.perf_counter()
    created = 0
    for start in range(0, n_events, batch):
        created += len(matcher.match(events[start : start + batch]))
    elapsed = time.perf_counter() - started
    return {
        "events": n_events,
        "rules": n_rules,
        "batch": batch,
        "alerts": created,
        "seconds": round(elapsed, 3),
        "events_per_s": round(n_events / elapsed),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rules", type=int, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="reynard-detect-bench-"))
    try:
        result = {
            "benchmark": "detection",
            "simple_latency_ms": simple_latency(args.posts, work),
            "matcher": matcher_throughput(args.events, args.rules, work),
            "aggregation_latency": "not measured",
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
