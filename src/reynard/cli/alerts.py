"""`reynard alerts list|ack|close`: triage what the rules raised."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from reynard.cli.audited import audited
from reynard.cli.options import by_option, data_dir_option, runtime_of, user_errors, who, write_json_lines


@click.group()
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
    from reynard.query.window import moment

    start = moment(since, datetime.now(UTC), "--since") if since else None
    found = runtime_of(ctx, data_dir=data_dir).alerts.list(since=start, status=status, limit=limit)
    if fmt == "json":
        write_json_lines(found)
        return
    for alert in found:
        created = (alert["created"] or "")[:19]
        click.echo(
            f"{alert['id']:>6}  {created}  {alert['status']:<12} {alert['severity'] or '':<8} "
            f"{alert['rule']}: {alert['summary']}"
        )
    click.echo(f"{len(found)} alerts")


def _change(
    ctx: click.Context, alert_id: int, status: str, by: str | None, comment: str | None, data_dir: Path | None
) -> None:
    actor = who(by)
    runtime_of(ctx, data_dir=data_dir).alerts.set_status(alert_id, status, actor, comment)
    click.echo(f"alert {alert_id} {status} by {actor}")


@alerts.command("ack")
@click.argument("alert_id", metavar="ID", type=int)
@by_option
@click.option("--comment", help="Why.")
@data_dir_option
@click.pass_context
@user_errors
@audited(target="alert_id", detail=("comment",))
def alerts_ack(
    ctx: click.Context, alert_id: int, by: str | None, comment: str | None, data_dir: Path | None
) -> None:
    """Acknowledge an alert."""
    _change(ctx, alert_id, "acknowledged", by, comment, data_dir)


@alerts.command("close")
@click.argument("alert_id", metavar="ID", type=int)
@by_option
@click.option("--comment", help="Why.")
@data_dir_option
@click.pass_context
@user_errors
@audited(target="alert_id", detail=("comment",))
def alerts_close(
    ctx: click.Context, alert_id: int, by: str | None, comment: str | None, data_dir: Path | None
) -> None:
    """Close an alert (closing a closed alert again is recorded too)."""
    _change(ctx, alert_id, "closed", by, comment, data_dir)
