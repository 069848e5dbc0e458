"""Detection latency and throughput: POST -> stored alert through a real server, and the streaming
matcher in-process.

Prints one JSON line:

- `simple_latency_ms`: p50/p99/max from the start of each POST (one CloudTrail StopLogging record per
  request, sent one at a time) to the alert's `created` time in the state database, over a fresh server
  (`python -m reynard serve` on a free loopback port, fresh data directory).
- `matcher_events_per_s`: `StreamingMatcher.match` over finalized events with 100 simple rules loaded
  (each a term on a different `details.eventname`), 1% of the events matching one rule; the matcher files
  each rule under its event name, so an event runs only its own rules.
- `matcher_unanchored`: the same with each rule a wildcard (`Action007*`), which no index can file:
  every rule's predicate runs on every event (the worst case).
- `aggregation_latency_ms`: from each burst of 10 failed sshd logins from a new address (one POST) to the
  `ssh_bruteforce` alert, with the server's scheduler waking every second (`REYNARD_SCHEDULER_TICK=1`)
  and the rule scheduled every 2 s: the aim is the window step plus one second.

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


def start_server(data_dir: Path, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    import os

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "reynard", "serve", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    return server, f"http://127.0.0.1:{port}"


def aggregation_latency(bursts: int, work: Path) -> dict:
    """10 failed logins from a new address per POST; time until ssh_bruteforce has alerted on it."""
    data_dir = work / "agg-data"
    schedule = [sys.executable, "-m", "reynard", "rules", "schedule", "ssh_bruteforce", "2s"]
    subprocess.run([*schedule, "--data-dir", str(data_dir)], check=True, capture_output=True)
    server, url = start_server(data_dir, {"REYNARD_SCHEDULER_TICK": "1"})
    latencies = []
    try:
        wait_for(server, url)
        with httpx.Client(timeout=30) as client:
            for burst in range(bursts):
                address = f"198.51.100.{burst + 1}"
                stamp = datetime.now(UTC).strftime("%b %d %H:%M:%S")
                failure = "Failed password for root from {} port {} ssh2"
                lines = [
                    f"{stamp} bastion sshd[{4000 + i}]: " + failure.format(address, 5000 + i)
                    for i in range(10)
                ]
                client.post(f"{url}/events", content="\n".join(lines)).raise_for_status()
                sent = time.time()
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    alerts = client.get(f"{url}/api/alerts", params={"limit": 1000}).json()["alerts"]
                    mine = [a for a in alerts if a["rule"] == "ssh_bruteforce" and address in a["summary"]]
                    if mine:
                        created = datetime.fromisoformat(mine[0]["created"]).timestamp()
                        latencies.append((created - sent) * 1000)
                        break
                    time.sleep(0.05)
    finally:
        stop_server(server)
    if not latencies:
        return {"bursts": bursts, "alerts": 0}
    return {
        "bursts": bursts,
        "alerts": len(latencies),
        "scheduler_tick_s": 1,
        "rule_schedule_s": 2,
        "p50": round(percentile(latencies, 0.50), 1),
        "p99": round(percentile(latencies, 0.99), 1),
        "max": round(max(latencies), 1),
    }


def wait_for(server: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        if server.poll() is not None:
            raise RuntimeError(server.stderr.read().decode())
        try:
            if httpx.get(f"{url}/status", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def stop_server(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGINT)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()


def simple_latency(posts: int, work: Path) -> dict:
    data_dir = work / "data"
    server, url = start_server(data_dir)
    try:
        wait_for(server, url)
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
        stop_server(server)
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


def matcher_throughput(n_events: int, n_rules: int, work: Path, anchored: bool = True) -> dict:
    """Events per second through `n_rules` simple rules, each on one event name: `anchored`, as a term
    the matcher can file the rule under; otherwise as a wildcard, so every rule runs on every event."""
    from reynard.detect.alerttask import AlertTask
    from reynard.detect.streaming import StreamingMatcher
    from reynard.events.event import finalize
    from reynard.query.mozdef import SearchQuery, TermMatch, WildcardMatch
    from reynard.runtime import Runtime
    from reynard.settings import Settings

    class EventNameRule(AlertTask):
        def __init__(self, eventname: str):
            super().__init__()
            self.eventname = eventname

        def main(self):
            query = SearchQuery(minutes=15)
            query.add_must(TermMatch("source", "cloudtrail"))
            if anchored:
                query.add_must(TermMatch("details.eventname", self.eventname))
            else:
                query.add_must(WildcardMatch("details.eventname", self.eventname + "*"))
            self.filtersManual(query)
            self.searchEventsSimple()
            self.walkEvents()

        def onEvent(self, event):
            return self.createAlertDict(f"{self.eventname} seen", "bench", ["bench"], [event], "NOTICE")

    alert_store = Runtime(Settings(data_dir=work / f"matcher-{anchored}")).alerts
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
    parser.add_argument("--bursts", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="reynard-detect-bench-"))
    try:
        result = {
            "benchmark": "detection",
            "simple_latency_ms": simple_latency(args.posts, work),
            "matcher": matcher_throughput(args.events, args.rules, work),
            "matcher_unanchored": matcher_throughput(args.events, args.rules, work, anchored=False),
            "aggregation_latency_ms": aggregation_latency(args.bursts, work),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
