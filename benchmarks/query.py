"""Query latency on 5,000,000 generated events over 7 days: Q1-Q6 of the query-engine issue.

Prints one JSON line with the median of 3 runs (milliseconds) of each query, plus what each returned
(so a fast wrong answer shows). The store is built once under `--work` and reused.

    python benchmarks/query.py [--events 5000000] [--work bench-data]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

END = datetime(2026, 11, 1, tzinfo=UTC)


def build(work: Path, n: int) -> Path:
    from reynard.runtime import Runtime
    from reynard.settings import load_settings
    from reynard.simulate.sample import write_sample

    data = work / f"query-store-{n}"
    if (data / ".complete").exists():
        return data
    raw = work / f"query-raw-{n}"
    files = write_sample(raw, count=n, end=END, hours=7 * 24, seed=11)
    runtime = Runtime(load_settings(env={}).with_overrides(data_dir=data))
    summary = runtime.ingest([str(f) for f in files], detect=False, reference=END)
    runtime.close()
    assert summary.stored >= n * 0.99, summary.line()
    (data / ".complete").touch()
    return data


def queries():
    from reynard.query import ast

    now = END
    day = ast.TimeWindow(now - timedelta(hours=24), now)
    week = ast.TimeWindow(now - timedelta(days=7), now)
    return {
        "q1_last15m_createuser": ast.Search(
            ast.Bool(must=(ast.Term("source", "cloudtrail"), ast.Term("details.eventname", "CreateUser"))),
            ast.TimeWindow(now - timedelta(minutes=15), now),
            limit=None,
        ),
        "q2_describe_by_arn": ast.Aggregate(
            ast.Term("details.eventverb", "Describe"),
            day,
            {"arn": ast.TermsAgg("details.useridentity.arn", size=None, min_count=50, samples=2)},
        ),
        "q3_keys_from_2_ips": ast.Aggregate(
            ast.Exists("details.useridentity.accesskeyid"),
            day,
            {
                "keys": ast.TermsAgg(
                    "details.useridentity.accesskeyid",
                    size=None,
                    sub=ast.DistinctCount("details.sourceipaddress"),
                )
            },
        ),
        "q4_word_and_delete_prefix": ast.Search(
            ast.Bool(must=(ast.Term("summary", "performed"), ast.Prefix("details.eventname", "Delete"))),
            week,
            limit=100,
        ),
        "q5_hourly_ssh_flows": ast.Aggregate(
            ast.Bool(must=(ast.Term("source", "vpcflow"), ast.Term("details.destinationport", 22))),
            week,
            {"hours": ast.DateHistogram(3600)},
        ),
        "q6_one_ip_anywhere": ast.Search(ast.Term("ip", "10.0.3.77"), week, limit=None),
    }


def answer_size(name: str, result) -> int:
    if name == "q3_keys_from_2_ips":
        return sum(1 for b in result["keys"] if b["sub"] >= 2)
    if isinstance(result, dict):
        return sum(len(v) for v in result.values())
    return len(result.events)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--work", type=Path, default=Path("bench-data"))
    args = parser.parse_args()
    from reynard.query import ast
    from reynard.runtime import Runtime
    from reynard.settings import load_settings

    started = time.perf_counter()
    data = build(args.work, args.events)
    built = time.perf_counter() - started
    store = Runtime(load_settings(env={}).with_overrides(data_dir=data)).events
    figures: dict[str, object] = {"events": store.count(), "days": len(store.days())}
    for name, request in queries().items():
        run = store.aggregate if isinstance(request, ast.Aggregate) else store.search
        times = []
        for _ in range(3):
            t = time.perf_counter()
            result = run(request)
            times.append((time.perf_counter() - t) * 1000)
        figures[f"{name}_ms"] = round(statistics.median(times), 1)
        figures[f"{name}_results"] = answer_size(name, result)
    figures["build_seconds"] = round(built, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
