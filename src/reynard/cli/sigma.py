"""`reynard sigma check|test`: what becomes of each Sigma rule, and what the rules raise on log files."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import click

from reynard.cli.options import (
    exit_with,
    moment_option,
    runtime_of,
    settings_of,
    user_errors,
    write_json_lines,
)
from reynard.cli.rules import events_options, replayed_events


@click.group()
def sigma() -> None:
    """Sigma rules: check them, try them on log files."""


def _width(values: Sequence[str], least: int, most: int) -> int:
    return max(least, min(most, max((len(v) for v in values), default=least)))


@sigma.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@user_errors
def sigma_check(ctx: click.Context, paths: tuple[str, ...], fmt: str) -> None:
    """Load every Sigma rule of PATHS (files, folders) and say what became of each: loaded,
    unsupported (and why) or invalid (where). Exits 1 when a rule is invalid."""
    from reynard.detect.sigma import catalog
    from reynard.detect.sigma.loader import load
    from reynard.detect.sigma.trial import placeholders

    result = load(paths, placeholders(settings_of(ctx)))
    outcomes = result.outcomes
    if fmt == "json":
        write_json_lines(catalog.describe(outcome) for outcome in outcomes)
    else:
        files = [f"{o.file}" + (f"#{o.document + 1}" if o.document else "") for o in outcomes]
        titles = [o.title or "" for o in outcomes]
        file_w, title_w = _width(files, 4, 60), _width(titles, 5, 60)
        click.echo(f"{'FILE':<{file_w}}  {'TITLE':<{title_w}}  {'STATUS':<11}  REASON")
        for file, title, outcome in zip(files, titles, outcomes, strict=True):
            click.echo(
                f"{file:<{file_w}}  {title[:title_w]:<{title_w}}  {outcome.status:<11}  {outcome.detail}"
            )
        counts = {s: sum(o.status == s for o in outcomes) for s in ("loaded", "unsupported", "invalid")}
        click.echo(", ".join(f"{n} {s}" for s, n in counts.items()), err=True)
    exit_with(not result.invalid)


@sigma.command("test")
@click.argument("rules", nargs=-1, required=True, type=click.Path(exists=True, path_type=str))
@events_options
@click.pass_context
@user_errors
def sigma_test(
    ctx: click.Context, rules: tuple[str, ...], paths: tuple[str, ...], now_text: str | None
) -> None:
    """The alerts the Sigma RULES (files, folders) would raise over log files, one JSON object a line
    (title, id, the matching events); nothing is stored. Exits 1 when a rule is invalid."""
    from reynard.detect.sigma.loader import load
    from reynard.detect.sigma.trial import placeholders, trial

    result = load(rules, placeholders(runtime_of(ctx).settings))
    for outcome in result.outcomes:
        if outcome.status != "loaded":
            click.echo(f"reynard: {outcome.status}: {outcome.reason}", err=True)
    now = moment_option(now_text, "--now") or datetime.now(UTC)
    events = replayed_events(ctx, paths, now)
    fired = list(trial(result, events, now))
    write_json_lines(fired)
    click.echo(f"{len(events)} events, {len(result.rules)} rules, {len(fired)} alerts", err=True)
    exit_with(not result.invalid)
