"""`reynard ingest`: files, folders or stdin into the event store; the dead letters listed and replayed."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
import orjson

from reynard.cli.options import ExitStatus, data_dir_option, moment_option, runtime_of, user_errors

if TYPE_CHECKING:
    from reynard.ingest.deadletter import DeadLetterStore
    from reynard.ingest.runner import IngestSummary
    from reynard.runtime import Runtime


@click.command()
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
    runtime = runtime_of(ctx, data_dir=data_dir)
    if list_dead:
        list_dead_letters(runtime.dead_letters, ids or None, as_json)
        return
    if not paths and not replay:
        raise click.UsageError("give at least one PATH (a file, a directory, or - for stdin)")
    reference = moment_option(reference_date, "--reference-date") or datetime.now(UTC)
    summary = run(runtime, paths, source, keep_received, reference, replay, ids, not no_detect, as_json)
    if as_json:
        click.echo(orjson.dumps(summary.as_dict()).decode())
    else:
        for message in summary.messages:
            click.echo(message, err=True)
        click.echo(summary.line())
    sys.exit(ExitStatus.REJECTED if summary.rejected else ExitStatus.OK)


def run(
    runtime: Runtime,
    paths: tuple[str, ...] | list[str],
    source: str | None = None,
    keep_received: bool = False,
    reference: datetime | None = None,
    replay: bool = False,
    ids: tuple[int, ...] = (),
    detect: bool = True,
    quiet: bool = False,
) -> IngestSummary:
    """One ingest job on the runtime, with a progress line on a terminal; the summary."""
    progress = sys.stderr.isatty() and not quiet

    def show(summary: IngestSummary) -> None:
        click.echo(f"\r{summary.line()} ...", nl=False, err=True)

    summary = runtime.ingest(
        paths,
        detect=detect,
        on_progress=show if progress else None,
        source=source,
        keep_received=keep_received,
        reference=reference,
        replay=replay,
        replay_ids=ids or None,
    )
    if progress:
        click.echo("\r\033[K", nl=False, err=True)
    return summary


def list_dead_letters(dead_letters: DeadLetterStore, ids: tuple[int, ...] | None, as_json: bool) -> None:
    count = 0
    for letter in dead_letters.list(ids):
        count += 1
        row = letter.summary()
        if as_json:
            sys.stdout.write(orjson.dumps(row).decode() + "\n")
        else:
            where = f"{row['origin']}:{row['position']}" if row["position"] else row["origin"]
            click.echo(f"{row['id']:>6}  {row['created'][:19]}  {row['source']:<10} {where}: {row['reason']}")
    if not as_json:
        click.echo(f"{count} rejected records")
