"""What `reynard sigma check|test` and `reynard rules add --sigma` do, apart from parsing arguments."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click
import orjson

from reynard.detect.sigma import catalog
from reynard.detect.sigma.loader import LoadResult, Outcome, load
from reynard.detect.sigma.model import CorrelationRule, DetectionRule
from reynard.events.timestamps import parse_timestamp
from reynard.query.predicate import compile_predicate
from reynard.settings import Settings


def placeholders(settings: Settings) -> dict[str, list[str]]:
    """`sigma_placeholders` of the settings file: values for `|expand` (`%admins%`)."""
    table = settings.extra.get("sigma_placeholders") or {}
    return {str(k): [str(v) for v in (vs if isinstance(vs, list) else [vs])] for k, vs in table.items()}


def _width(values: Sequence[str], least: int, most: int) -> int:
    return max(least, min(most, max((len(v) for v in values), default=least)))


def print_outcomes(outcomes: Sequence[Outcome], fmt: str) -> None:
    if fmt == "json":
        for outcome in outcomes:
            sys.stdout.write(orjson.dumps(catalog.describe(outcome)).decode() + "\n")
        sys.stdout.flush()
        return
    files = [f"{o.file}" + (f"#{o.document + 1}" if o.document else "") for o in outcomes]
    titles = [o.title or "" for o in outcomes]
    file_w, title_w = _width(files, 4, 60), _width(titles, 5, 60)
    click.echo(f"{'FILE':<{file_w}}  {'TITLE':<{title_w}}  {'STATUS':<11}  REASON")
    for file, title, outcome in zip(files, titles, outcomes, strict=True):
        click.echo(f"{file:<{file_w}}  {title[:title_w]:<{title_w}}  {outcome.status:<11}  {outcome.detail}")
    counts = {s: sum(o.status == s for o in outcomes) for s in ("loaded", "unsupported", "invalid")}
    click.echo(", ".join(f"{n} {s}" for s, n in counts.items()), err=True)


def check(settings: Settings, paths: Sequence[str], fmt: str) -> int:
    """Load every rule of `paths` and print what became of each; the exit status (1: some invalid)."""
    result = load(paths, placeholders(settings))
    print_outcomes(result.outcomes, fmt)
    return 1 if result.invalid else 0


def _moment(event: dict) -> datetime:
    return parse_timestamp(event["utctimestamp"])[0]


def run_test(
    settings: Settings, rules: Sequence[str], event_files: Sequence[str], now: datetime | None
) -> int:
    """The alerts the Sigma rules of `rules` would raise over the events of `event_files`, as JSON lines,
    without touching the store. Returns the exit status (1 when a rule is invalid)."""
    from reynard.detect.commands import load_events
    from reynard.detect.sigma.correlation import evaluate

    result: LoadResult = load(rules, placeholders(settings))
    for outcome in result.outcomes:
        if outcome.status != "loaded":
            click.echo(f"reynard: {outcome.status}: {outcome.reason}", err=True)
    moment = now or datetime.now(UTC)
    events, rejected = load_events(settings, event_files, moment)
    for item in rejected:
        where = f"{item.origin}:{item.position}" if item.position else item.origin
        click.echo(f"reynard: rejected {where}: {item.reason}", err=True)
    events.sort(key=lambda e: (e["utctimestamp"], e["id"]))
    matches: dict[str, list[dict]] = {}
    for rule in result.rules:
        if isinstance(rule, DetectionRule):
            test = compile_predicate(rule.query)
            matches[rule.meta.key] = [e for e in events if test(e)]
    out = sys.stdout
    fired = 0
    for rule in result.rules:
        meta = rule.meta
        head: dict[str, Any] = {"title": meta.title, "id": meta.id, "level": meta.level}
        if isinstance(rule, DetectionRule):
            if meta.generates and matches[meta.key]:
                fired += 1
                line = {**head, "kind": "detection", "events": matches[meta.key]}
                out.write(orjson.dumps(line).decode() + "\n")
            continue
        assert isinstance(rule, CorrelationRule)
        for firing in evaluate(rule, {k: matches.get(k, []) for k in rule.rules}, now=moment):
            fired += 1
            line = {
                **head,
                "kind": "correlation",
                "type": rule.type,
                "group": dict(zip(_group_names(rule), firing.group, strict=False)),
                "value": firing.value,
                "window": [firing.start.isoformat(), firing.end.isoformat()],
                "events": list(firing.events),
            }
            out.write(orjson.dumps(line, default=str).decode() + "\n")
    out.flush()
    click.echo(f"{len(events)} events, {len(result.rules)} rules, {fired} alerts", err=True)
    return 1 if result.invalid else 0


def _group_names(rule: CorrelationRule) -> tuple[str, ...]:
    first = rule.group_by.get(rule.rules[0], ()) if rule.rules else ()
    return tuple(first)


def add(settings: Settings, paths: Sequence[str], schedule: str | None) -> int:
    """`reynard rules add --sigma`: register the rules; print what was added and what was not."""
    from reynard.detect.rule_commands import open_registry

    registry = open_registry(settings)
    report = catalog.add(registry, paths, schedule, placeholders(settings))
    for info in report.added:
        click.echo(f"added {info.name} ({info.path}), schedule {info.schedule.text}")
    for problem in report.problems:
        click.echo(f"reynard: {problem.status}: {problem.reason}", err=True)
    if report.invalid:
        click.echo("reynard: nothing added: fix the invalid rules and add them again", err=True)
        return 1
    return 0


__all__ = ["add", "check", "placeholders", "print_outcomes", "run_test"]
