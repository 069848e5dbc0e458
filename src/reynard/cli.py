"""The `reynard` command.

Exit codes (one place, `cli_options.ExitStatus`, as httpie does): 0 success; 1 some records were
rejected (all of them are in the dead-letter store); 2 usage or fatal errors. A user's mistake prints
one line, never a traceback (`--traceback` shows it for bug reports).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
import orjson

from reynard import __version__
from reynard.cases.cli import incident
from reynard.cases.ioc_cli import ioc
from reynard.cases.runbook_cli import runbook
from reynard.cli_options import ExitStatus, data_dir_option, fail, user_errors
from reynard.cli_options import settings_of as _settings
from reynard.errors import ReynardError, WriterBusy
from reynard.respond.cli import playbook
from reynard.settings import load_settings


def events_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--events FILE...` and `--now T`: rules tried on log files, in memory, as if it were T."""
    command = click.option(
        "--now", "now_text", help="Evaluate as if it were this time (ISO 8601; default: now)."
    )(command)
    return click.option(
        "--events",
        "paths",
        multiple=True,
        required=True,
        type=click.Path(exists=True, path_type=str),
        help="A log file or directory to run the rules over (repeatable).",
    )(command)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reynard")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), help="Settings file (TOML).")
@data_dir_option
@click.option("--traceback", is_flag=True, help="Show the full traceback of an error.")
@click.pass_context
def main(ctx: click.Context, config: Path | None, data_dir: Path | None, traceback: bool) -> None:
    """Reynard: collect, normalize, detect and respond, on one machine or many."""
    try:
        settings = load_settings(config)
    except ReynardError as e:
        fail(str(e))
    ctx.obj = settings.with_overrides(data_dir=data_dir)


# -- ingest -----------------------------------------------------------------------------------------------
@main.command()
@click.argument("paths", nargs=-1)
@click.option(
    "--source", help="Parser to use instead of detecting it (cloudtrail, guardduty, vpcflow, syslog, mozdef)."
)
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as a JSON object.")
@click.option(
    "--keep-received", is_flag=True, help="Keep the events' own receivedtimestamp (MozDef exports)."
)
@click.option(
    "--reference-date",
    help="Resolve year-less syslog timestamps against this date (ISO 8601; default: now).",
)
@click.option("--dead-letters", "list_dead", is_flag=True, help="List the rejected records and exit.")
@click.option("--replay", "replay", is_flag=True, help="Replay rejected records (all, or --id).")
@click.option("--id", "ids", type=int, multiple=True, help="With --replay or --dead-letters: these records.")
@click.option("--no-detect", is_flag=True, help="Do not run the streaming rules on the ingested events.")
@click.pass_context
@user_errors
def ingest(
    ctx: click.Context,
    paths: tuple[str, ...],
    source: str | None,
    data_dir: Path | None,
    as_json: bool,
    keep_received: bool,
    reference_date: str | None,
    list_dead: bool,
    replay: bool,
    ids: tuple[int, ...],
    no_detect: bool,
) -> None:
    """Read log files, directories (recursively) or - (stdin) into the event store.

    Ends with `read N stored S rejected R`; exits 1 when anything was rejected (see --dead-letters).
    """
    from reynard.ingest import commands

    settings = _settings(ctx, data_dir=data_dir)
    if list_dead:
        commands.list_dead_letters(settings, ids=ids or None, as_json=as_json)
        return
    if not paths and not replay:
        raise click.UsageError("give at least one PATH (a file, a directory, or - for stdin)")
    reference = _reference(reference_date)
    tty = sys.stderr.isatty() and not as_json
    summary = commands.run_ingest(
        settings,
        paths=paths,
        source=source,
        keep_received=keep_received,
        reference=reference,
        replay=replay,
        replay_ids=ids or None,
        on_reject=lambda message: None,
        progress=tty,
        matcher_factory=None if no_detect else _matcher_factory(),
    )
    if as_json:
        click.echo(orjson.dumps(summary.as_dict()).decode())
    else:
        for message in summary.messages:
            click.echo(message, err=True)
        click.echo(summary.line())
    sys.exit(ExitStatus.REJECTED if summary.rejected else ExitStatus.OK)


def _matcher_factory():  # type: ignore[no-untyped-def]
    """Streaming detection for direct ingest (a module-level function, so worker processes get it)."""
    from reynard.detect.streaming import build_matcher

    return build_matcher


def _reference(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    from reynard.events.timestamps import TimestampError, parse_timestamp

    try:
        return parse_timestamp(value)[0]
    except TimestampError as e:
        raise click.BadParameter(str(e), param_hint="--reference-date") from None


# -- serve ------------------------------------------------------------------------------------------------
@main.command()
@click.option("--host", help="Address to bind (default 127.0.0.1: local only).")
@click.option("--port", type=int, help="Port (default 8000).")
@data_dir_option
@click.pass_context
@user_errors
def serve(ctx: click.Context, host: str | None, port: int | None, data_dir: Path | None) -> None:
    """Run the server: HTTP ingest (MozDef loginput compatible) and the API."""
    from reynard.web.server import serve as run_server

    settings = _settings(ctx, host=host, port=port, data_dir=data_dir)
    try:
        from reynard.web.server import build_services

        services = build_services(settings)
    except WriterBusy:
        fail(f"another Reynard process is writing to {settings.events_dir}; is a server already running?")
    click.echo(f"Reynard {__version__} on http://{settings.host}:{settings.port} (data: {settings.data_dir})")
    try:
        run_server(settings, services)
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its graceful shutdown
        click.echo("stopped", err=True)


@main.command()
@click.option("--host", help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=int, help="Port (default 8000).")
@data_dir_option
@click.option("--events", "count", type=int, default=20_000, show_default=True, help="Sample size.")
@click.option("--no-serve", is_flag=True, help="Load the sample and exit.")
@click.pass_context
@user_errors
def demo(
    ctx: click.Context, host: str | None, port: int | None, data_dir: Path | None, count: int, no_serve: bool
) -> None:
    """Generate a sample of realistic logs, ingest them, and serve (what `make run` does)."""
    from reynard.detect.rule_commands import open_registry
    from reynard.detect.sigma.catalog import SHIPPED_RULES
    from reynard.ingest import commands
    from reynard.simulate.sample import write_sample

    settings = _settings(ctx, host=host, port=port, data_dir=data_dir)
    added = open_registry(settings).add_sigma([str(SHIPPED_RULES)])  # the workshop's rules, as Sigma too
    click.echo(f"{len(added.added)} shipped Sigma rules enabled beside the built-in rules")
    folder = settings.data_dir / "sample"
    files = write_sample(folder, count=count, end=datetime.now(UTC))
    click.echo(f"generated {count} sample events in {folder} ({len(files)} files)")
    started = time.perf_counter()
    summary = commands.run_ingest(
        settings,
        paths=[str(f) for f in files],
        progress=sys.stderr.isatty(),
        matcher_factory=_matcher_factory(),
    )
    elapsed = time.perf_counter() - started
    click.echo(f"{summary.line()} in {elapsed:.1f} s")
    if no_serve:
        return
    ctx.invoke(serve, host=host, port=port, data_dir=data_dir)


# -- search -----------------------------------------------------------------------------------------------
@main.command()
@click.argument("query", default="*")
@click.option("--since", help="Start: a duration before now (15m, 24h, 7d) or ISO 8601. Default: all time.")
@click.option("--until", help="End (exclusive): a duration before now or ISO 8601. Default: now.")
@click.option("--limit", type=int, help="Events to show (default 100; NDJSON: all).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "ndjson"]), default="table")
@click.option("--count", "count_only", is_flag=True, help="Print the number of matching events only.")
@click.option("--agg", "agg_field", help="Count events by the values of this field instead.")
@click.option("--fields", help="Comma-separated fields to show (dotted paths).")
@data_dir_option
@click.pass_context
@user_errors
def search(
    ctx: click.Context,
    query: str,
    since: str | None,
    until: str | None,
    limit: int | None,
    fmt: str,
    count_only: bool,
    agg_field: str | None,
    fields: str | None,
    data_dir: Path | None,
) -> None:
    """Search stored events with a Kibana/Lucene query string.

    Examples: `details.eventname:DescribeInstances`, `source:cloudtrail AND details.eventname:Delete*`,
    `details.sourceipaddress:10.0.0.0/8`, `summary:"failed password" AND NOT details.username:root`.
    Works while a server is writing.
    """
    from reynard.query import ast, render
    from reynard.query.lucene import parse_query
    from reynard.query.window import window
    from reynard.store.backends import open_event_store

    if limit is not None and limit < 1:
        raise click.BadParameter("must be at least 1", param_hint="--limit")
    node = parse_query(query)
    span = window(since, until)
    store = open_event_store(_settings(ctx, data_dir=data_dir), writable=False)
    columns = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    if count_only:
        click.echo(store.count(node, span))
        return
    if agg_field:
        request = ast.Aggregate(node, span, {"a": ast.TermsAgg(agg_field.lower(), size=limit or 20)})
        buckets = store.aggregate(request)["a"]
        rows = [{"value": b["value"], "count": b["count"]} for b in buckets]
        if fmt == "table":
            click.echo(render.buckets_table(buckets, agg_field))
        elif fmt == "json":
            click.echo(orjson.dumps({"field": agg_field, "buckets": rows}).decode())
        else:
            for row in rows:
                click.echo(orjson.dumps(row).decode())
        return
    if fmt == "ndjson":
        out = sys.stdout.buffer
        for number, event in enumerate(store.stream(ast.Search(node, span, limit=None)), 1):
            out.write(orjson.dumps(render.project(event, columns)) + b"\n")
            if limit is not None and number >= limit:
                break
        out.flush()
        return
    result = store.search(ast.Search(node, span, limit=limit or 100))
    if fmt == "json":
        body = {
            "events": [render.project(e, columns) for e in result.events],
            "count": len(result.events),
            "next_after": result.next_after,
        }
        click.echo(orjson.dumps(body).decode())
    else:
        click.echo(render.table(result.events, columns or render.DEFAULT_FIELDS))


# -- store ------------------------------------------------------------------------------------------------
@main.group()
def store() -> None:
    """Look after the event store: days, counts, retention."""


@store.command("days")
@data_dir_option
@click.pass_context
@user_errors
def store_days(ctx: click.Context, data_dir: Path | None) -> None:
    """Each day that has an index, with its event count."""
    from reynard.store.backends import open_event_store

    reader = open_event_store(_settings(ctx, data_dir=data_dir), writable=False)
    for day in reader.days():
        click.echo(f"{day.day.isoformat()}  {day.events}")


@store.command("drop")
@click.argument("day")
@data_dir_option
@click.pass_context
@user_errors
def store_drop(ctx: click.Context, day: str, data_dir: Path | None) -> None:
    """Delete one UTC day of events (retention). Needs the writer lock: stop the server first."""
    from reynard.store.backends import open_event_store

    try:
        which = date.fromisoformat(day)
    except ValueError:
        raise click.BadParameter(f"{day!r} is not a date (YYYY-MM-DD)", param_hint="DAY") from None
    writer = open_event_store(_settings(ctx, data_dir=data_dir), writable=True)
    try:
        if not writer.drop_day(which):
            fail(f"no events stored for {which.isoformat()}")
    finally:
        writer.close()
    click.echo(f"deleted {which.isoformat()}")


# -- alerts -----------------------------------------------------------------------------------------------
@main.group()
def sigma() -> None:
    """Sigma rules: check them, try them on log files."""


@sigma.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@user_errors
def sigma_check(ctx: click.Context, paths: tuple[str, ...], fmt: str) -> None:
    """Load every Sigma rule of PATHS (files, folders) and say what became of each: loaded,
    unsupported (and why) or invalid (where). Exits 1 when a rule is invalid."""
    from reynard.detect.sigma import commands as sigma_commands

    sys.exit(sigma_commands.check(_settings(ctx), paths, fmt))


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
    from reynard.detect.sigma import commands as sigma_commands

    sys.exit(sigma_commands.run_test(_settings(ctx), rules, paths, _now_option(now_text)))


@main.group()
def alerts() -> None:
    """Triage the alerts the rules raised: list, acknowledge, close."""


@alerts.command("list")
@click.option("--since", help="Created after: a duration before now (15m, 24h, 7d) or ISO 8601.")
@click.option(
    "--status", type=click.Choice(["new", "acknowledged", "escalated", "closed"]), help="Only this status."
)
@click.option("--limit", type=int, help="At most this many (newest first).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@data_dir_option
@click.pass_context
@user_errors
def alerts_list(
    ctx: click.Context,
    since: str | None,
    status: str | None,
    limit: int | None,
    fmt: str,
    data_dir: Path | None,
) -> None:
    """Alerts, newest first (json: one JSON object a line)."""
    from reynard.detect import commands
    from reynard.query.window import moment

    start = moment(since, datetime.now(UTC), "--since") if since else None
    commands.list_alerts(_settings(ctx, data_dir=data_dir), since=start, status=status, fmt=fmt, limit=limit)


@alerts.command("ack")
@click.argument("alert_id", metavar="ID", type=int)
@click.option("--by", help="Who (default: the OS user name).")
@click.option("--comment", help="Why.")
@data_dir_option
@click.pass_context
@user_errors
def alerts_ack(
    ctx: click.Context, alert_id: int, by: str | None, comment: str | None, data_dir: Path | None
) -> None:
    """Acknowledge an alert."""
    from reynard.detect import commands

    settings = _settings(ctx, data_dir=data_dir)
    click.echo(commands.change_status(settings, alert_id, "acknowledged", by, comment))


@alerts.command("close")
@click.argument("alert_id", metavar="ID", type=int)
@click.option("--by", help="Who (default: the OS user name).")
@click.option("--comment", help="Why.")
@data_dir_option
@click.pass_context
@user_errors
def alerts_close(
    ctx: click.Context, alert_id: int, by: str | None, comment: str | None, data_dir: Path | None
) -> None:
    """Close an alert (closing a closed alert again is recorded too)."""
    from reynard.detect import commands

    settings = _settings(ctx, data_dir=data_dir)
    click.echo(commands.change_status(settings, alert_id, "closed", by, comment))


# -- rules ------------------------------------------------------------------------------------------------
@main.group()
def rules() -> None:
    """Detection rules: register, enable, run on schedule, and try them on log files."""


@rules.command("test")
@click.argument("rule")
@events_options
@click.pass_context
@user_errors
def rules_test(ctx: click.Context, rule: str, paths: tuple[str, ...], now_text: str | None) -> None:
    """Run RULE (a MozDef-style alert file, or a built-in rule's name) over log files, in memory.

    Prints each alert as a JSON line; nothing is stored. Exits 0 whether or not alerts fire.
    """
    from reynard.detect import commands

    commands.run_rule_test(_settings(ctx), rule, paths, _now_option(now_text))


def _now_option(text: str | None) -> datetime | None:
    """`--now`: None (the clock), or the moment given (a usage error if it is not one)."""
    if text is None:
        return None
    from reynard.events.timestamps import TimestampError, parse_timestamp

    try:
        return parse_timestamp(text)[0]
    except TimestampError as e:
        raise click.BadParameter(str(e), param_hint="--now") from None


@rules.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@data_dir_option
@click.pass_context
@user_errors
def rules_list(ctx: click.Context, fmt: str, data_dir: Path | None) -> None:
    """The registered rules (built-in ones are registered, enabled, on first use)."""
    from reynard.detect import rule_commands

    rule_commands.list_rules(_settings(ctx, data_dir=data_dir), fmt)


@rules.command("add")
@click.option(
    "--mozdef",
    "mozdef_file",
    type=click.Path(exists=True, dir_okay=False, path_type=str),
    help="A MozDef alert file (its .conf beside it is copied too).",
)
@click.option(
    "--sigma",
    "sigma_paths",
    multiple=True,
    type=click.Path(exists=True, path_type=str),
    help="A Sigma rule file or folder (repeatable): every rule that loads is enabled.",
)
@click.option(
    "--schedule", metavar="SPEC", help="When it runs (5m, '*/5 * * * *', crontab(...)); default 5m."
)
@click.option(
    "--mozdef-config",
    type=click.Path(exists=True, dir_okay=False, path_type=str),
    help="MozDef's alerts/lib/config.py: take the schedule its ALERTS gives the file's module.",
)
@click.option(
    "--received-time-windows",
    is_flag=True,
    help="Windows also hold events received in them, as MozDef's did (alerts on late events).",
)
@data_dir_option
@click.pass_context
@user_errors
def rules_add(
    ctx: click.Context,
    mozdef_file: str | None,
    sigma_paths: tuple[str, ...],
    schedule: str | None,
    mozdef_config: str | None,
    received_time_windows: bool,
    data_dir: Path | None,
) -> None:
    """Register a MozDef alert file or Sigma rules (checked first: what does not load is not added)."""
    from reynard.detect import rule_commands

    if bool(mozdef_file) == bool(sigma_paths):
        raise click.UsageError("give --mozdef FILE or --sigma PATH")
    if schedule is not None and mozdef_config is not None:
        raise click.UsageError("give --schedule or --mozdef-config, not both")
    settings = _settings(ctx, data_dir=data_dir)
    if sigma_paths:
        if mozdef_config or received_time_windows:
            raise click.UsageError("--mozdef-config and --received-time-windows are for --mozdef")
        from reynard.detect.sigma import commands as sigma_commands

        sys.exit(sigma_commands.add(settings, sigma_paths, schedule))
    assert mozdef_file is not None
    click.echo(
        rule_commands.add_mozdef(settings, mozdef_file, schedule, mozdef_config, received_time_windows)
    )


@rules.command("enable")
@click.argument("name")
@data_dir_option
@click.pass_context
@user_errors
def rules_enable(ctx: click.Context, name: str, data_dir: Path | None) -> None:
    """Run rule NAME on schedule."""
    from reynard.detect import rule_commands

    click.echo(rule_commands.set_enabled(_settings(ctx, data_dir=data_dir), name, True))


@rules.command("schedule")
@click.argument("name")
@click.argument("spec")
@data_dir_option
@click.pass_context
@user_errors
def rules_schedule(ctx: click.Context, name: str, spec: str, data_dir: Path | None) -> None:
    """Run rule NAME on SPEC in the server's scheduler (quote it):

    an interval (30s, 5m, 1h, 1d); a cron expression, in UTC ('*/5 * * * *', '0 9-17 * * mon-fri',
    @hourly, @daily); or MozDef's forms ("crontab(minute='0', hour='*/2')", 'timedelta(minutes=1)').
    """
    from reynard.detect import rule_commands

    click.echo(rule_commands.set_schedule(_settings(ctx, data_dir=data_dir), name, spec))


@rules.command("disable")
@click.argument("name")
@data_dir_option
@click.pass_context
@user_errors
def rules_disable(ctx: click.Context, name: str, data_dir: Path | None) -> None:
    """Stop running rule NAME on schedule."""
    from reynard.detect import rule_commands

    click.echo(rule_commands.set_enabled(_settings(ctx, data_dir=data_dir), name, False))


@rules.command("run")
@click.option("--since", help="Catch up from here (24h or ISO 8601), one run per schedule step.")
@click.option("--rule", "names", multiple=True, help="Only this rule (repeatable; even if disabled).")
@click.option("--now", "now_text", help="Run as if it were this time (ISO 8601; default: now).")
@data_dir_option
@click.pass_context
@user_errors
def rules_run(
    ctx: click.Context, since: str | None, names: tuple[str, ...], now_text: str | None, data_dir: Path | None
) -> None:
    """Run the enabled rules once over the stored events; one line per rule. Exits 1 if a rule failed.

    Without --since each rule runs once with its own window ending now (as MozDef did).
    """
    from reynard.detect import rule_commands
    from reynard.query.window import moment

    now = datetime.now(UTC)
    if now_text is not None:
        from reynard.events.timestamps import TimestampError, parse_timestamp

        try:
            now = parse_timestamp(now_text)[0]
        except TimestampError as e:
            raise click.BadParameter(str(e), param_hint="--now") from None
    start = moment(since, now, "--since") if since else None
    report = rule_commands.run_scheduled(_settings(ctx, data_dir=data_dir), start, names, now=now)
    sys.exit(ExitStatus.REJECTED if report.failed else ExitStatus.OK)


# Command groups of their own modules.
main.add_command(runbook)
main.add_command(playbook)
main.add_command(incident)
main.add_command(ioc)
