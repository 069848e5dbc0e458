"""`reynard store days|drop`: the days in the event store, and retention."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from reynard.cli.audited import audited
from reynard.cli.options import data_dir_option, runtime_of, user_errors
from reynard.errors import NotFound


@click.group()
def store() -> None:
    """Look after the event store: days, counts, retention."""


@store.command("days")
@data_dir_option
@click.pass_context
@user_errors
def store_days(ctx: click.Context, data_dir: Path | None) -> None:
    """Each day that has an index, with its event count."""
    for day in runtime_of(ctx, data_dir=data_dir).events.days():
        click.echo(f"{day.day.isoformat()}  {day.events}")


@store.command("drop")
@click.argument("day")
@data_dir_option
@click.pass_context
@user_errors
@audited(target="day")
def store_drop(ctx: click.Context, day: str, data_dir: Path | None) -> None:
    """Delete one UTC day of events (retention). Needs the writer lock: stop the server first."""
    try:
        which = date.fromisoformat(day)
    except ValueError:
        raise click.BadParameter(f"{day!r} is not a date (YYYY-MM-DD)", param_hint="DAY") from None
    if not runtime_of(ctx, data_dir=data_dir).event_writer.drop_day(which):
        raise NotFound(f"no events stored for {which.isoformat()}")
    click.echo(f"deleted {which.isoformat()}")
