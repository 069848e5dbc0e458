"""`reynard rules ...`: register, enable, schedule and run detection rules; try one on log files."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reynard.cli.audited import audit_note, audited
from reynard.cli.options import (
    ExitStatus,
    data_dir_option,
    exit_with,
    moment_option,
    runtime_of,
    user_errors,
    write_json_lines,
)
from reynard.events.timestamps import display

if TYPE_CHECKING:
    from reynard.detect.schedule import Schedule


def events_options(command: Any) -> Any:
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


def replayed_events(ctx: click.Context, paths: tuple[str, ...], now: datetime) -> list[dict]:
    """The events of log files, parsed in memory as `reynard ingest` would; rejections said on stderr."""
    from reynard.detect.replay import load_events

    runtime = runtime_of(ctx)
    events, rejected = load_events(runtime.settings, paths, now, runtime.pipeline)
    for item in rejected:
        where = f"{item.origin}:{item.position}" if item.position else item.origin
        click.echo(f"reynard: rejected {where}: {item.reason}", err=True)
    return events


@click.group()
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
    from reynard.detect.replay import rule_classes, run_rule_test

    rule_classes(rule)  # an unknown rule fails before the files are read
    now = moment_option(now_text, "--now") or datetime.now(UTC)
    events = replayed_events(ctx, paths, now)
    fired = 0
    for name, alert in run_rule_test(rule, events, now):
        fired += 1
        write_json_lines([{"rule": name, **alert}])
    click.echo(f"{len(events)} events, {fired} alerts", err=True)


@rules.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@data_dir_option
@click.pass_context
@user_errors
def rules_list(ctx: click.Context, fmt: str, data_dir: Path | None) -> None:
    """The registered rules (built-in ones are registered, enabled, on first use)."""
    infos = runtime_of(ctx, data_dir=data_dir).rules.list()
    if fmt == "json":
        write_json_lines(info.as_dict() for info in infos)
        return
    rows = [
        (
            info.name,
            info.kind,
            "enabled" if info.enabled else "disabled",
            info.schedule.text,
            display(info.last_run) if info.last_run else "never",
            f"failed: {info.last_error}"
            if info.last_error
            else (f"{info.last_alerts} alerts" if info.last_alerts is not None else ""),
        )
        for info in infos
    ]
    table = [("NAME", "KIND", "STATE", "SCHEDULE", "LAST RUN", "OUTCOME"), *rows]
    widths = [max(map(len, column)) for column in zip(*table, strict=True)]
    for row in table:  # columns as wide as their longest cell: a crontab(...) schedule is long
        click.echo("  ".join(f"{cell:<{width}}" for cell, width in zip(row, widths, strict=True)).rstrip())
    click.echo(f"{len(infos)} rules")


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
@audited(detail=("mozdef_file", "sigma_paths", "schedule", "mozdef_config", "received_time_windows"))
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
    if bool(mozdef_file) == bool(sigma_paths):
        raise click.UsageError("give --mozdef FILE or --sigma PATH")
    if schedule is not None and mozdef_config is not None:
        raise click.UsageError("give --schedule or --mozdef-config, not both")
    runtime = runtime_of(ctx, data_dir=data_dir)
    if sigma_paths:
        if mozdef_config or received_time_windows:
            raise click.UsageError("--mozdef-config and --received-time-windows are for --mozdef")
        from reynard.detect.sigma import catalog
        from reynard.detect.sigma.trial import placeholders

        report = catalog.add(runtime.rules, sigma_paths, schedule, placeholders(runtime.settings))
        audit_note(", ".join(info.name for info in report.added) or None, invalid=len(report.invalid))
        for info in report.added:
            click.echo(f"added {info.name} ({info.path}), schedule {info.schedule.text}")
        for problem in report.problems:
            click.echo(f"reynard: {problem.status}: {problem.reason}", err=True)
        if report.invalid:
            click.echo("reynard: nothing added: fix the invalid rules and add them again", err=True)
        exit_with(not report.invalid)
    assert mozdef_file is not None
    from reynard.detect.mozdef_config import config_schedule
    from reynard.detect.registry import DEFAULT_SCHEDULE

    chosen: str | Schedule = DEFAULT_SCHEDULE if schedule is None else schedule
    origin = " (the default)" if schedule is None else ""
    if mozdef_config:
        module = Path(mozdef_file).stem
        found = config_schedule(mozdef_config, module)
        if found is None:
            origin = f" (the default: {mozdef_config} has no ALERTS entry for module {module!r})"
        else:
            chosen = found.schedule
            origin = f" (from {mozdef_config}:{found.line}, {found.key})"
    info = runtime.rules.add_mozdef(mozdef_file, schedule=chosen, received_time_windows=received_time_windows)
    audit_note(info.name, schedule=info.schedule.text)
    windows = ", windows by received time too" if received_time_windows else ""
    click.echo(f"added {info.name} ({info.path}), schedule {info.schedule.text}{origin}{windows}")


@rules.command("enable")
@click.argument("name")
@data_dir_option
@click.pass_context
@user_errors
@audited(target="name")
def rules_enable(ctx: click.Context, name: str, data_dir: Path | None) -> None:
    """Run rule NAME on schedule."""
    runtime_of(ctx, data_dir=data_dir).rules.enable(name)
    click.echo(f"{name} enabled")


@rules.command("disable")
@click.argument("name")
@data_dir_option
@click.pass_context
@user_errors
@audited(target="name")
def rules_disable(ctx: click.Context, name: str, data_dir: Path | None) -> None:
    """Stop running rule NAME on schedule."""
    runtime_of(ctx, data_dir=data_dir).rules.disable(name)
    click.echo(f"{name} disabled")


@rules.command("schedule")
@click.argument("name")
@click.argument("spec")
@data_dir_option
@click.pass_context
@user_errors
@audited(target="name", detail=("spec",))
def rules_schedule(ctx: click.Context, name: str, spec: str, data_dir: Path | None) -> None:
    """Run rule NAME on SPEC in the server's scheduler (quote it):

    an interval (30s, 5m, 1h, 1d); a cron expression, in UTC ('*/5 * * * *', '0 9-17 * * mon-fri',
    @hourly, @daily); or MozDef's forms ("crontab(minute='0', hour='*/2')", 'timedelta(minutes=1)').
    """
    registry = runtime_of(ctx, data_dir=data_dir).rules
    registry.get(name)  # RuleError for an unknown name
    click.echo(f"{name} runs {registry.set_schedule(name, spec).describe()}")


@rules.command("run")
@click.option("--since", help="Catch up from here (24h or ISO 8601), one run per schedule step.")
@click.option("--rule", "names", multiple=True, help="Only this rule (repeatable; even if disabled).")
@click.option("--now", "now_text", help="Run as if it were this time (ISO 8601; default: now).")
@data_dir_option
@click.pass_context
@user_errors
@audited(detail=("since", "names", "now_text"))
def rules_run(
    ctx: click.Context, since: str | None, names: tuple[str, ...], now_text: str | None, data_dir: Path | None
) -> None:
    """Run the enabled rules once over the stored events; one line per rule. Exits 1 if a rule failed.

    Without --since each rule runs once with its own window ending now (as MozDef did).
    """
    from reynard.detect.runner import run_rules
    from reynard.query.window import moment

    now = moment_option(now_text, "--now") or datetime.now(UTC)
    start = moment(since, now, "--since") if since else None
    runtime = runtime_of(ctx, data_dir=data_dir)
    report = run_rules(runtime.rules, runtime.events, runtime.alerts, now, since=start, names=names or None)
    audit_note(rules=len(report.results), alerts=report.alerts, failed=len(report.failed))
    for line in report.lines():
        click.echo(line)
    sys.exit(ExitStatus.REJECTED if report.failed else ExitStatus.OK)
