"""The Sigma correlation engine (`reynard.detect.sigma.correlation.evaluate`) over many matches.

Prints one JSON line: for each rule, the seconds `evaluate` takes over `--matches` matches (normalized
events, ISO timestamps) over a day among `--groups` principals (a tenth of them in bursts of 20), and
how many firings it found.

- `event_count`: `gte 20` in 10m by principal (reaching: sliding windows, consumption).
- `value_count`: `gte 5` distinct source addresses in 10m by principal.
- `value_sum`: `gte 1000000` bytes (numbers as strings) in 1h by principal.
- `temporal_ordered`: three rules in order within 10m by principal (a third of the matches each).
- `event_count_lt`: `lt 3` in 1h by principal (closed windows).
- `shuffled_same`: whether shuffled input gave the same firings.

    python benchmarks/sigma_correlation.py [--matches 100000] [--groups 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta

from reynard.detect.sigma.correlation import evaluate
from reynard.detect.sigma.model import CorrelationRule, RuleMeta, Threshold
from reynard.events.timestamps import isoformat

T0 = datetime(2024, 5, 1, tzinfo=UTC)
GROUP = "details.useridentity.arn"


def events(count: int, groups: int, seed: int = 7) -> list[dict]:
    """`count` calls: nine in ten at random moments of the day, the rest in bursts of 20 within two
    minutes by one principal."""
    rng = random.Random(seed)
    out = []
    burst_start, burst_group = 0.0, 0
    for i in range(count):
        if i % 10:
            seconds, group = rng.uniform(0, 86_400), rng.randrange(groups)
        else:
            if i % 200 == 0:
                burst_start, burst_group = rng.uniform(0, 86_000), rng.randrange(groups)
            seconds, group = burst_start + rng.uniform(0, 120), burst_group
        moment = T0 + timedelta(seconds=seconds)
        out.append(
            {
                "id": f"{i:032x}",
                "utctimestamp": isoformat(moment),
                "summary": "DescribeInstances",
                "details": {
                    "useridentity": {"arn": f"arn:aws:iam::123456789012:user/u{group}"},
                    "sourceipaddress": f"203.0.113.{rng.randrange(8)}",
                    "bytes": str(rng.randrange(100_000)),
                },
            }
        )
    return out


def rule(kind: str, condition: tuple, rules: tuple[str, ...], span: timedelta, value: str | None = None):
    return CorrelationRule(
        meta=RuleMeta(title=kind, id=kind),
        type=kind,  # type: ignore[arg-type]
        rules=rules,
        timespan=span,
        threshold=Threshold(condition),
        group_by={key: (GROUP,) for key in rules},
        value_field={key: value for key in rules} if value else {},
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--matches", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=1_000)
    args = parser.parse_args()
    matches = events(args.matches, args.groups)
    ten = timedelta(minutes=10)
    thirds = {key: matches[i::3] for i, key in enumerate("abc")}
    cases = {
        "event_count": (rule("event_count", (("gte", 20.0),), ("a",), ten), {"a": matches}),
        "value_count": (
            rule("value_count", (("gte", 5.0),), ("a",), ten, "details.sourceipaddress"),
            {"a": matches},
        ),
        "value_sum": (
            rule("value_sum", (("gte", 1e6),), ("a",), timedelta(hours=1), "details.bytes"),
            {"a": matches},
        ),
        "temporal_ordered": (rule("temporal_ordered", (("gte", 3.0),), ("a", "b", "c"), ten), thirds),
        "event_count_lt": (rule("event_count", (("lt", 3.0),), ("a",), timedelta(hours=1)), {"a": matches}),
    }
    figures: dict[str, object] = {"matches": args.matches, "groups": args.groups}
    for name, (correlation, given) in cases.items():
        started = time.perf_counter()
        firings = evaluate(correlation, given, now=T0 + timedelta(days=1))
        figures[name] = {"seconds": round(time.perf_counter() - started, 3), "firings": len(firings)}
    correlation, given = cases["event_count"]
    shuffled = {"a": random.Random(1).sample(given["a"], len(given["a"]))}
    figures["shuffled_same"] = evaluate(correlation, shuffled) == evaluate(correlation, given)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
