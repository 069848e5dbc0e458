"""Sigma rules on Reynard's engine, side by side with the Zircolite approach (pySigma's SQLite backend
over the same events loaded into in-memory SQLite, text columns COLLATE NOCASE).

    python benchmarks/sigma.py --rules PATH... [--events 1000000] [--stream-events 200000] [--work DIR]
                               [--data ../shared/data/cloudtrail]

Prints one JSON line:

- `rules`: detection rules loaded, unsupported, invalid (correlations are left out of the comparison:
  SigmaHQ ships none, and the SQLite backend's correlations are another engine).
- `agreement`: on each real CloudTrail set under `--data` (invictus, stratus, otrf), how many rules fired
  and on how many of them Reynard and SQLite matched exactly the same records (by `eventID`).
- `streaming`: events per second through every loaded rule as events arrive. Reynard: the streaming
  matcher (`StreamingMatcher.match` on batches of 1,000 finalized events, alerts stored and committed
  in the state database in `--work`, as a server does; `reynard_alert_store_s` is the part of its time
  spent storing them, and `reynard_match_events_per_s` its rate without it, the engines side by
  side: `match_speedup`). Zircolite: its streaming shape, each batch of 1,000 records flattened and
  inserted into SQLite, every rule's SQL run (whole rows fetched, nothing stored), the batch deleted;
  `zircolite_flatten_s` is the part of its time spent flattening.
- `scheduled`: one pass of every rule over `--events` stored events. Reynard: each rule's query on the
  tantivy store (every match streamed, as a parsed event). Zircolite: each rule's SQL over the
  in-memory table (whole rows fetched). Loading the events (ingest for Reynard, flatten and insert for
  SQLite) is timed apart.

Both sides get the same records and the same rules. The SQLite table has a column for every field of
every record (Zircolite reads all its input for the field list first). Each timed part runs with only
its own input in memory (the other side's is held as JSON bytes, and the garbage collector has run),
so neither pays for the garbage collector walking the other's objects again and again (with 20,000
records and their events alive, a Reynard pass that parses 10,000 matches ran almost three times
slower). The match counts differ by design on
rules that test a list value (`x-amz-acl: ["public-read"]`): Zircolite flattens a list to its JSON
text, so no value in it matches, where Reynard matches any element (the `agreement` figures show
which rules differ on real logs).

The events are generated CloudTrail records (`reynard.simulate.sample`), parsed by Reynard's real
pipeline; SigmaHQ's rules are not shipped with Reynard: point `--rules` at a checkout's `rules/cloud/aws`.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

# This file is sigma.py: run as a script, its folder comes first on the path and would shadow pySigma.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import orjson  # noqa: E402

from reynard.detect.sigma.loader import load  # noqa: E402
from reynard.detect.sigma.model import DetectionRule  # noqa: E402

END = datetime(2026, 11, 1, tzinfo=UTC)
BATCH = 1000
DEFAULT_DATA = HERE.parents[1] / "shared" / "data" / "cloudtrail"


# -- the Zircolite side: the reference the tests use (tests/sigma_reference.py) ---------------------------
sys.path.insert(0, str(HERE.parent / "tests"))
from sigma_reference import SqliteTable as SqliteSide  # noqa: E402
from sigma_reference import flatten, records_of, sqlite_queries  # noqa: E402


# -- the Reynard side ----------------------------------------------------------------------------------
def reynard_events(records: list[dict], work: Path, name: str) -> list[dict]:
    """The records parsed and finalized by Reynard's real pipeline (as `reynard ingest` would)."""
    from reynard.detect.replay import load_events
    from reynard.settings import Settings

    path = work / f"{name}.json"
    path.write_bytes(orjson.dumps({"Records": records}))
    events, rejected = load_events(Settings(data_dir=work / "settings"), [str(path)], END)
    assert not rejected, rejected[:3]
    path.unlink()
    return events


def generated(n: int, seed: int) -> list[dict]:
    from reynard.simulate.sample import cloudtrail_records

    return list(cloudtrail_records(n, END - timedelta(days=1), END, seed=seed))


def real_sets(data: Path) -> dict[str, list[dict]]:
    return {folder.name: records_of(folder) for folder in sorted(p for p in data.iterdir() if p.is_dir())}


def agreement(rules: list[DetectionRule], queries: dict[str, str], data: Path, work: Path) -> dict:
    from reynard.query.predicate import compile_predicate

    out: dict[str, dict] = {}
    for name, records in real_sets(data).items():
        events = reynard_events(records, work, name)
        sqlite = SqliteSide(c for r in records for c in flatten(r))
        sqlite.insert_flat([flatten(r) for r in records])
        fired = same = 0
        differ: list[str] = []
        for rule in rules:
            sql = queries.get(rule.meta.key)
            if sql is None:
                continue
            test = compile_predicate(rule.query)
            ours = {str(e["details"].get("eventid")) for e in events if test(e)}
            theirs = sqlite.ids(sql)
            if ours or theirs:
                fired += 1
                if ours == theirs:
                    same += 1
                else:
                    differ.append(rule.meta.title)
        out[name] = {"events": len(events), "rules_fired": fired, "same_records": same, "differ": differ}
    return out


def _fresh(path: Path) -> Path:
    """`path` with nothing left from an earlier run in the same `--work` (a store or database)."""
    shutil.rmtree(path, ignore_errors=True)
    for leftover in path.parent.glob(f"{path.name}*"):
        leftover.unlink()
    return path


def _quiet() -> None:
    """Before a timed part: what earlier parts left behind is collected now, not during the timing."""
    gc.collect()


def streaming(rules: list[DetectionRule], queries: dict[str, str], n: int, work: Path) -> dict:
    from reynard.detect.alerts import AlertStore, NewAlert
    from reynard.detect.sigma.tasks import DetectionTask
    from reynard.detect.streaming import StreamingMatcher
    from reynard.runtime import Runtime
    from reynard.settings import Settings

    records = generated(n, seed=5)
    events = reynard_events(records, work, "stream")
    columns = {c for r in records for c in flatten(r)}
    held = orjson.dumps(records)  # Zircolite's input, as bytes while Reynard runs
    del records

    class TimedAlertStore(AlertStore):
        """The alert store, timing what storing the alerts costs (`reynard_alert_store_s`)."""

        spent = 0.0

        def add_many(self, new: Sequence[NewAlert]) -> list[int]:
            mark = time.perf_counter()
            try:
                return super().add_many(new)
            finally:
                self.spent += time.perf_counter() - mark

    store = TimedAlertStore(Runtime(Settings(data_dir=_fresh(work / "stream-alerts"))).state)
    matcher = StreamingMatcher({r.meta.key: [DetectionTask(r)] for r in rules}, store)
    _quiet()
    started = time.perf_counter()
    alerts = 0
    for i in range(0, len(events), BATCH):
        alerts += len(matcher.match(events[i : i + BATCH]))
    ours = time.perf_counter() - started
    streamed, storing = len(events), store.spent
    del events, matcher, store

    records = orjson.loads(held)
    del held
    sqlite = SqliteSide(columns)
    shared = [q for k, q in queries.items() if any(r.meta.key == k for r in rules)]
    _quiet()
    started = time.perf_counter()
    hits = 0
    flattening = 0.0
    for i in range(0, len(records), BATCH):
        mark = time.perf_counter()
        rows = [flatten(r) for r in records[i : i + BATCH]]
        flattening += time.perf_counter() - mark
        sqlite.insert_flat(rows)
        for sql in shared:
            hits += len(sqlite.run(sql))
        sqlite.clear()
    theirs = time.perf_counter() - started
    return {
        "events": streamed,
        "rules": len(rules),
        "reynard_events_per_s": round(streamed / ours),
        "reynard_alerts": alerts,
        "reynard_alert_store_s": round(storing, 2),
        "reynard_match_events_per_s": round(streamed / (ours - storing)),
        "zircolite_events_per_s": round(len(records) / theirs),
        "zircolite_matches": hits,
        "zircolite_flatten_s": round(flattening, 2),
        "speedup": round(theirs / ours, 2),
        "match_speedup": round(theirs / (ours - storing), 2),
    }


def scheduled(rules: list[DetectionRule], queries: dict[str, str], n: int, work: Path) -> dict:
    from reynard.query import ast
    from reynard.runtime import Runtime
    from reynard.settings import Settings

    runtime = Runtime(Settings(data_dir=_fresh(work / f"scheduled-{n}")))
    records = generated(n, seed=9)
    started = time.perf_counter()
    store = runtime.event_writer
    for i in range(0, n, 100_000):
        store.write(reynard_events(records[i : i + 100_000], work, f"chunk{i}"), commit=True)
    store.close()
    ingest_s = time.perf_counter() - started

    started = time.perf_counter()  # as Zircolite: a pass over the records for the fields, then the rows
    sqlite = SqliteSide(c for r in records for c in flatten(r))
    for i in range(0, n, 50_000):
        sqlite.insert_flat([flatten(r) for r in records[i : i + 50_000]])
    load_s = time.perf_counter() - started
    del records  # both passes read only what their store holds

    reader = runtime.events
    _quiet()
    started = time.perf_counter()
    matched = 0
    for rule in rules:
        matched += sum(1 for _ in reader.stream(ast.Search(query=rule.query, limit=None)))
    ours = time.perf_counter() - started

    shared = [q for k, q in queries.items() if any(r.meta.key == k for r in rules)]
    _quiet()
    started = time.perf_counter()
    hits = sum(len(sqlite.run(sql)) for sql in shared)
    theirs = time.perf_counter() - started
    return {
        "events": n,
        "rules": len(rules),
        "reynard_pass_s": round(ours, 3),
        "reynard_matches": matched,
        "reynard_ingest_s": round(ingest_s, 1),
        "zircolite_pass_s": round(theirs, 3),
        "zircolite_matches": hits,
        "zircolite_load_s": round(load_s, 1),
        "speedup": round(theirs / ours, 2) if ours else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", nargs="+", required=True, help="Sigma files or folders")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--stream-events", type=int, default=200_000)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="reynard-sigma-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        result = load(args.rules)
        # The detection rules that alert on their own (those only a correlation consumes run inside it).
        rules = [r for r in result.rules if isinstance(r, DetectionRule) and r.meta.generates]
        files = sorted({Path(o.file) for o in result.outcomes if o.rule is not None})
        queries = sqlite_queries(files)
        statuses = ("loaded", "unsupported", "invalid")
        counts = {s: sum(o.status == s for o in result.outcomes) for s in statuses}
        figures = {
            "benchmark": "sigma",
            "rules": {**counts, "detection_rules": len(rules), "sqlite_converted": len(queries)},
            "agreement": agreement(rules, queries, args.data, work) if args.data.is_dir() else None,
            "streaming": streaming(rules, queries, args.stream_events, work),
            "scheduled": scheduled(rules, queries, args.events, work),
        }
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
