"""`reynard simulate`: play a scenario (a seeded attack and its look-alikes on an AWS estate) into native
log files or a running server, print its answers, and check that it raises exactly the alerts it expects."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
import orjson

from reynard.cli.options import (
    ExitStatus,
    data_dir_option,
    exit_with,
    moment_option,
    settings_of,
    user_errors,
)

if TYPE_CHECKING:
    from reynard.simulate.estates import ChosenEstate
    from reynard.simulate.player import Play
    from reynard.simulate.scenario import Scenario
    from reynard.simulate.stream import StreamReport

scenario_argument = click.argument("scenario", metavar="SCENARIO")
estate_option = click.option(
    "--estate",
    "estate_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The estate's ids (Estate JSON); default: the sandbox's, else derived from the seed.",
)
start_option = click.option("--start", "start_text", help="Start at this time (ISO 8601).")
end_option = click.option("--end", "end_text", help="End at this time (ISO 8601, or now).")


def _moment(text: str | None, option: str) -> datetime | None:
    if text == "now":
        return datetime.now(UTC).replace(microsecond=0)
    return moment_option(text, option)


def _prepare(
    ctx: click.Context,
    scenario_name: str,
    estate_file: Path | None,
    start_text: str | None,
    end_text: str | None,
    data_dir: Path | None,
) -> tuple[Scenario, ChosenEstate, datetime]:
    """The scenario, the estate it plays on (and why that one), and its start."""
    from reynard.simulate.estates import choose_estate
    from reynard.simulate.player import start_for
    from reynard.simulate.scenario import load_scenario

    scenario = load_scenario(scenario_name)
    start = start_for(scenario, start=_moment(start_text, "--start"), end=_moment(end_text, "--end"))
    chosen = choose_estate(
        scenario.environment, scenario.seed, estate_file, data_dir or settings_of(ctx).data_dir
    )
    return scenario, chosen, start


def _play(
    scenario: Scenario, chosen: ChosenEstate, start: datetime, say: Callable[[str], None] = click.echo
) -> Play:
    from reynard.events.timestamps import zulu
    from reynard.simulate.player import FILLED_BY_SCENARIO, play

    played = play(scenario, chosen.estate, start)
    counts = played.counts()
    say(f"{scenario.name}: {scenario.title}")
    say(f"{chosen.why}")
    say(
        f"{len(played.events)} events from {zulu(played.start, 'seconds')} to {zulu(played.end, 'seconds')}: "
        + ", ".join(f"{source} {count}" for source, count in counts.items())
    )
    filled = [FILLED_BY_SCENARIO[source] for source, count in counts.items() if count]
    say("written by the scenario, not read from AWS: " + "; ".join(filled))
    return played


@click.group()
def simulate() -> None:
    """Scenarios: a seeded attack, its look-alikes and a benign background, as AWS would log them."""


@simulate.command("list")
@user_errors
def simulate_list() -> None:
    """The scenarios that come with Reynard."""
    from reynard.simulate.scenario import load_scenario, shipped

    for name in shipped():
        scenario = load_scenario(name)
        hours = scenario.duration.total_seconds() / 3600
        steps = f"{len(scenario.attack)} attack steps, {len(scenario.lookalikes)} look-alikes"
        click.echo(
            f"{name:<12} {hours:g}h, {steps}, {len(scenario.expect)} expected alerts: {scenario.title}"
        )


@simulate.command("play")
@scenario_argument
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="Write the logs under this new folder."
)
@click.option("--to", "url", help="Send the events to the Reynard server at this URL instead.")
@click.option("--token", envvar="REYNARD_TOKEN", help="With --to: an ingest token (or REYNARD_TOKEN).")
@click.option(
    "--rate", type=click.FloatRange(min=1), default=2000, show_default=True, help="With --to: events/s."
)
@start_option
@end_option
@estate_option
@data_dir_option
@click.pass_context
@user_errors
def simulate_play(
    ctx: click.Context,
    scenario: str,
    out: Path | None,
    url: str | None,
    token: str | None,
    rate: float,
    start_text: str | None,
    end_text: str | None,
    estate_file: Path | None,
    data_dir: Path | None,
) -> None:
    """Play SCENARIO (a shipped name or a YAML file) into log files (--out) or a server (--to)."""
    from reynard.events.timestamps import zulu

    if (out is None) == (url is None):
        raise click.UsageError("give --out DIR or --to URL (one of them)")
    if url is not None and not token:
        raise click.UsageError(
            "--to needs --token (an ingest token: reynard token create NAME --role ingest)"
        )
    chosen_scenario, chosen, start = _prepare(ctx, scenario, estate_file, start_text, end_text, data_dir)
    played = _play(chosen_scenario, chosen, start)
    since, until = zulu(played.start, "seconds"), zulu(played.end, "seconds")
    if out is not None:
        from reynard.simulate.writers import write_files

        files = write_files(played, out)
        click.echo(f"wrote {len(files)} files under {out}")
        click.echo(f"next: reynard ingest {out} --reference-date {until}   (syslog lines carry no year)")
        return
    report = _stream(played, str(url), str(token), rate)
    click.echo(report.line())
    for error in report.errors[:10]:
        click.echo(f"  rejected: {error}", err=True)
    click.echo(
        "the server's rules look at the last minutes; over the scenario's time: "
        f"reynard rules run --since {since} --now {until}"
    )
    exit_with(not report.rejected)


def _stream(played: Play, url: str, token: str, rate: float) -> StreamReport:
    """Stream with a progress bar on a terminal (on stderr: stdout keeps the report)."""
    from reynard.simulate.stream import stream

    events = played.events
    if not sys.stderr.isatty():
        return stream(events, url, token, rate)
    with click.progressbar(length=len(events), label=f"to {url}", file=sys.stderr) as bar:
        return stream(events, url, token, rate, on_progress=bar.update)


@simulate.command("answers")
@scenario_argument
@start_option
@end_option
@estate_option
@data_dir_option
@click.pass_context
@user_errors
def simulate_answers(
    ctx: click.Context,
    scenario: str,
    start_text: str | None,
    end_text: str | None,
    estate_file: Path | None,
    data_dir: Path | None,
) -> None:
    """Print SCENARIO's solutions, with the ids of the estate it is played on."""
    from reynard.simulate.scenario import render_answers

    chosen_scenario, chosen, start = _prepare(ctx, scenario, estate_file, start_text, end_text, data_dir)
    click.echo(f"{chosen_scenario.name}: {chosen_scenario.title} ({chosen.why})\n")
    click.echo(render_answers(chosen_scenario, chosen.estate, start).rstrip())


@simulate.command("check")
@scenario_argument
@start_option
@end_option
@estate_option
@click.option("--keep", is_flag=True, help="Keep the scratch data directory (its path is printed).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@data_dir_option
@click.pass_context
@user_errors
def simulate_check(
    ctx: click.Context,
    scenario: str,
    start_text: str | None,
    end_text: str | None,
    estate_file: Path | None,
    keep: bool,
    as_json: bool,
    data_dir: Path | None,
) -> None:
    """Play SCENARIO into a scratch data directory with the real ingest and rules; report each expected
    alert found or missed and every alert nobody expected. Exits 1 on a miss or an unexpected alert."""
    chosen_scenario, chosen, start = _prepare(ctx, scenario, estate_file, start_text, end_text, data_dir)
    scratch = Path(tempfile.mkdtemp(prefix="reynard-check-"))
    try:
        say = (lambda line: None) if as_json else click.echo
        result = _check(chosen_scenario, chosen, start, scratch, say)
        if as_json:
            click.echo(orjson.dumps(result).decode())
    finally:
        if keep:
            click.echo(f"scratch data directory kept: {scratch}", err=True)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    sys.exit(ExitStatus.OK if result["passed"] else ExitStatus.REJECTED)


def _check(
    scenario: Scenario,
    chosen: ChosenEstate,
    start: datetime,
    scratch: Path,
    say: Callable[[str], None],
) -> dict:
    from reynard.detect.runner import run_rules
    from reynard.runtime import Runtime
    from reynard.settings import Settings
    from reynard.simulate.check import compare, configure_rules, internal_networks
    from reynard.simulate.writers import write_files

    began = time.perf_counter()
    played = _play(scenario, chosen, start, say)
    write_files(played, scratch / "logs")
    # Reynard's defaults, not the user's settings: no notifier, trigger or shared database is touched.
    runtime = Runtime(
        Settings(data_dir=scratch / "data", internal_cidrs=internal_networks(scenario.environment))
    )
    try:
        configs = configure_rules(runtime.rules, scenario.environment)
        for name, config in configs.items():
            say(f"rule {name} told by the environment: {orjson.dumps(config).decode()}")
        summary = runtime.ingest([str(scratch / "logs")], detect=True, reference=played.end)
        say(f"ingest: {summary.line()}")
        runtime.events.refresh()
        rules = run_rules(runtime.rules, runtime.events, runtime.alerts, played.end, since=played.start)
        failed = [result.line() for result in rules.failed]
        report = compare(scenario, chosen.estate, runtime.alerts.list())
    finally:
        runtime.close()
    seconds = time.perf_counter() - began
    for line in report.lines() + failed:
        say(line)
    passed = report.passed and not failed and not summary.rejected
    verdict = "passed" if passed else "FAILED"
    say(
        f"check {verdict}: {len(report.found)} of {len(scenario.expect)} expected alerts found, "
        f"{len(report.unexpected)} unexpected, in {seconds:.1f} s"
    )
    return {
        **report.as_json(),
        "passed": passed,
        "events": len(played.events),
        "rejected": summary.rejected,
        "rule_failures": failed,
        "seconds": round(seconds, 1),
    }


__all__ = ["simulate"]
