"""How many Sigma detection rules of a folder Reynard converts, and why the others do not.

    python benchmarks/sigma_conversion.py PATH... [--events FILE...]

Prints one JSON line: per PATH, the number of `rules` (YAML documents that are detection rules), how
many `converted`, were `unsupported` (valid Sigma Reynard has no events or no equivalent for) or
`invalid`, and `reasons` (each distinct message with its count, most common first). With `--events`
(log files, parsed as `reynard ingest` would), `fired` counts, per rule file, the events each converted
rule matches (rules matching none are left out). Meant for SigmaHQ's `rules/cloud/aws` and
`rules/linux`, which Reynard does not ship.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import yaml
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from reynard.detect.commands import load_events
from reynard.detect.sigma.backend import convert
from reynard.detect.sigma.errors import SigmaRuleError, SigmaUnsupported
from reynard.query.predicate import compile_predicate
from reynard.settings import Settings


def survey(folder: Path, events: list[dict]) -> dict:
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    fired: dict[str, int] = {}
    for path in sorted(p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not isinstance(document, dict) or "correlation" in document or "detection" not in document:
                continue
            counts["rules"] += 1
            try:
                query = convert(SigmaRule.from_dict(document))
            except SigmaUnsupported as e:
                counts["unsupported"] += 1
                reasons[re.sub(r" \(it has: .*\)$", "", e.message)] += 1
                continue
            except (SigmaRuleError, SigmaError, ValueError) as e:
                counts["invalid"] += 1
                reasons[str(e)] += 1
                continue
            counts["converted"] += 1
            if events:
                test = compile_predicate(query)
                matched = sum(1 for event in events if test(event))
                if matched:
                    fired[str(path.relative_to(folder))] = matched
    result = {key: counts[key] for key in ("rules", "converted", "unsupported", "invalid")}
    result["reasons"] = dict(reasons.most_common())
    if events:
        result["fired"] = fired
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--events", nargs="*", default=[], help="log files the converted rules run over")
    args = parser.parse_args()
    events: list[dict] = []
    if args.events:
        events, _rejected = load_events(Settings(), args.events, datetime.now(UTC))
    print(json.dumps({str(path): survey(path, events) for path in args.paths}))


if __name__ == "__main__":
    main()
