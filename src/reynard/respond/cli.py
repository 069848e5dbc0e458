"""`reynard playbook`: validate, run, list, executions, show, approve, reject, resume, stop, add, export.

Exit codes (one place): 0 done (an execution that succeeded or waits); 1 an invalid definition
(`validate`) or an execution that failed, timed out or was stopped (`run`, `resume`); 2 a usage error or
a mistake the command could not go on with (an unknown playbook, input that is not JSON, ...).
"""

from __future__ import annotations

import sys
from enum import IntEnum
from pathlib import Path

import click

from reynard.cli_options import data_dir_option, settings_of, user_errors


class PlaybookExit(IntEnum):
    OK = 0
    FAILED = 1
    ERROR = 2


max_sleep_option = click.option(
    "--max-sleep",
    type=float,
    default=300.0,
    show_default=True,
    help="Sleep through Wait states up to this many seconds; a longer one parks the execution (WAITING).",
)


endpoint_option = click.option(
    "--endpoint-url",
    help="Send every AWS call to this endpoint (an AWS-compatible one: moto, LocalStack, a VPC endpoint).",
)


@click.group()
def playbook() -> None:
    """Response playbooks (Amazon States Language): run them, follow their executions, approve steps."""


@playbook.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
def validate(file: str) -> None:
    """Check a definition; exits 1 with one line naming the state and field when it is invalid."""
    from reynard.respond import commands

    valid, line = commands.validate(file)
    click.echo(line if valid else f"reynard: {line}", err=not valid)
    sys.exit(PlaybookExit.OK if valid else PlaybookExit.FAILED)


@playbook.command("run")
@click.argument("target", metavar="FILE_OR_NAME")
@click.option("--input", "input_text", default="{}", show_default=True, help="The execution's input (JSON).")
@click.option("--name", help="The execution's name (unique per playbook; default: its id).")
@click.option("--dry-run", is_flag=True, help="Actions say what they would do and change nothing.")
@max_sleep_option
@endpoint_option
@data_dir_option
@click.pass_context
@user_errors
def run(
    ctx: click.Context,
    target: str,
    input_text: str,
    name: str | None,
    dry_run: bool,
    max_sleep: float,
    endpoint_url: str | None,
    data_dir: Path | None,
) -> None:
    """Run a playbook to its end (or to a wait for approval, saying so); its output as JSON on stdout.

    A failed execution exits 1 and prints its error name and cause.
    """
    from reynard.respond import commands

    ok = commands.run(
        settings_of(ctx, data_dir=data_dir), target, input_text, name, dry_run, max_sleep, endpoint_url
    )
    sys.exit(PlaybookExit.OK if ok else PlaybookExit.FAILED)


@playbook.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@data_dir_option
@click.pass_context
@user_errors
def add(ctx: click.Context, file: Path, data_dir: Path | None) -> None:
    """Register a playbook file under the data directory (validated first), to run it by name."""
    from reynard.respond.catalog import PlaybookCatalog

    added = PlaybookCatalog(settings_of(ctx, data_dir=data_dir).data_dir).add(file)
    click.echo(f"added playbook {added.name} ({added.path})")


@playbook.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@data_dir_option
@click.pass_context
@user_errors
def list_(ctx: click.Context, as_json: bool, data_dir: Path | None) -> None:
    """The playbooks known by name: registered ones and shipped ones."""
    from reynard.respond import commands

    commands.list_playbooks(settings_of(ctx, data_dir=data_dir), as_json)


@playbook.command("executions")
@click.option(
    "--status", type=click.Choice(["RUNNING", "WAITING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"])
)
@click.option("--playbook", "playbook_name", help="Only this playbook's executions.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@data_dir_option
@click.pass_context
@user_errors
def executions(
    ctx: click.Context,
    status: str | None,
    playbook_name: str | None,
    limit: int,
    as_json: bool,
    data_dir: Path | None,
) -> None:
    """The newest executions, with their status."""
    from reynard.respond import commands

    commands.list_executions(settings_of(ctx, data_dir=data_dir), status, playbook_name, limit, as_json)


@playbook.command("show")
@click.argument("execution_id")
@click.option("--json", "as_json", is_flag=True, help="The execution and its history as one JSON object.")
@data_dir_option
@click.pass_context
@user_errors
def show(ctx: click.Context, execution_id: str, as_json: bool, data_dir: Path | None) -> None:
    """An execution's status, outcome, the approvals it waits for, and its history."""
    from reynard.respond import commands

    commands.show(settings_of(ctx, data_dir=data_dir), execution_id, as_json)


@playbook.command("approve")
@click.argument("token")
@click.option("--output", "output_text", default="{}", show_default=True, help="The task's result (JSON).")
@max_sleep_option
@endpoint_option
@data_dir_option
@click.pass_context
@user_errors
def approve(
    ctx: click.Context,
    token: str,
    output_text: str,
    max_sleep: float,
    endpoint_url: str | None,
    data_dir: Path | None,
) -> None:
    """Answer a waiting task (`.waitForTaskToken`) with success, then continue its execution."""
    from reynard.respond import commands

    output = commands.parse_json(output_text, "--output")
    commands.answer(
        settings_of(ctx, data_dir=data_dir),
        token,
        output=output,
        approve=True,
        max_sleep=max_sleep,
        endpoint_url=endpoint_url,
    )


@playbook.command("reject")
@click.argument("token")
@click.option("--error", default="Rejected", show_default=True, help="The error name the task fails with.")
@click.option("--cause", help="Why (free text).")
@max_sleep_option
@endpoint_option
@data_dir_option
@click.pass_context
@user_errors
def reject(
    ctx: click.Context,
    token: str,
    error: str,
    cause: str | None,
    max_sleep: float,
    endpoint_url: str | None,
    data_dir: Path | None,
) -> None:
    """Answer a waiting task with failure (its Catch may take it), then continue its execution."""
    from reynard.respond import commands

    commands.answer(
        settings_of(ctx, data_dir=data_dir),
        token,
        error=error,
        cause=cause,
        approve=False,
        max_sleep=max_sleep,
        endpoint_url=endpoint_url,
    )


@playbook.command("resume")
@click.argument("execution_id", required=False)
@max_sleep_option
@endpoint_option
@data_dir_option
@click.pass_context
@user_errors
def resume(
    ctx: click.Context,
    execution_id: str | None,
    max_sleep: float,
    endpoint_url: str | None,
    data_dir: Path | None,
) -> None:
    """Continue an execution, or every one whose wait elapsed or whose approval came."""
    from reynard.respond import commands

    ok = commands.resume(settings_of(ctx, data_dir=data_dir), execution_id, max_sleep, endpoint_url)
    sys.exit(PlaybookExit.OK if ok else PlaybookExit.FAILED)


@playbook.command("stop")
@click.argument("execution_id")
@click.option("--error", help="An error name to record.")
@click.option("--cause", help="Why.")
@data_dir_option
@click.pass_context
@user_errors
def stop(
    ctx: click.Context, execution_id: str, error: str | None, cause: str | None, data_dir: Path | None
) -> None:
    """Stop a running or waiting execution (ABORTED); its pending approvals are refused."""
    from reynard.respond import commands

    execution = commands.store(settings_of(ctx, data_dir=data_dir)).abort(execution_id, error, cause)
    click.echo(f"execution {execution.id} {execution.status}")


@playbook.command("export")
@click.argument("target", metavar="FILE_OR_NAME")
@click.option("--topic-arn", help="The SNS topic notify and approval steps publish to when they name none.")
@data_dir_option
@click.pass_context
@user_errors
def export(ctx: click.Context, target: str, topic_arn: str | None, data_dir: Path | None) -> None:
    """A definition deployable to AWS Step Functions, on stdout: built-in actions as aws-sdk integrations
    where they can be; the others (named on stderr) as Lambda placeholders you supply."""
    from reynard.respond import commands

    commands.export(settings_of(ctx, data_dir=data_dir), target, topic_arn)
