"""`reynard playbook`: validate, run, list, executions, show, approve, reject, resume, stop, add, export.

Exit codes (options.ExitStatus): 0 done (an execution that succeeded or waits); 1 an invalid definition
(`validate`) or an execution that failed, timed out or was stopped (`run`, `resume`); 2 a usage error or
a mistake the command could not go on with (an unknown playbook, input that is not JSON, ...).

An execution's output goes to stdout as JSON, everything said about it to stderr, so
`reynard playbook run FILE --input '{}' | jq` works.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reynard.cli.audited import audit_note, audited
from reynard.cli.options import by_option, data_dir_option, exit_with, runtime_of, user_errors, who
from reynard.errors import ReynardError

if TYPE_CHECKING:
    from reynard.respond.executions import Execution
    from reynard.respond.runner import Runner
    from reynard.runtime import Runtime


class InputError(ReynardError):
    """A `--input` or `--output` that is not JSON."""


def parse_json(text: str, option: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"not JSON: {e.msg} at column {e.colno}", where=option) from None


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def report(execution: Execution) -> bool:
    """Print an execution's outcome: output on stdout, the rest on stderr. True unless it failed."""
    line = f"execution {execution.id} {execution.status}"
    if execution.status == "SUCCEEDED":
        click.echo(dumps(execution.output))
        click.echo(line, err=True)
        return True
    if execution.status == "WAITING":
        if execution.waiting_for:
            for waiting in execution.waiting_for:
                click.echo(f"{line}: waiting for approval at state {waiting['state']!r}", err=True)
                click.echo(
                    f"  approve: reynard playbook approve {waiting['token']} --output '{{...}}'\n"
                    f"  reject:  reynard playbook reject {waiting['token']} --error E --cause C",
                    err=True,
                )
        if execution.wake_at:
            click.echo(
                f"{line}: waiting until {execution.wake_at} (reynard playbook resume continues it)", err=True
            )
        return True
    if execution.status == "RUNNING":
        click.echo(f"{line} (in another process)", err=True)
        return True
    click.echo(
        f"{line}: {execution.error or '(no error name)'}: {execution.cause or ''}".rstrip(": "), err=True
    )
    return False


def answer(
    runtime: Runtime,
    token: str,
    *,
    approve: bool,
    max_sleep: float | None,
    output: Any = None,
    error: str | None = None,
    cause: str | None = None,
    endpoint_url: str | None = None,
) -> None:
    """Approve or reject a task token, then continue its execution here (unless another process runs it)."""
    the_runner = runner_of(runtime, max_sleep, endpoint_url)
    if approve:
        execution_id = the_runner.send_task_success(token, output)
        click.echo(f"approved: execution {execution_id} continues", err=True)
    else:
        execution_id = the_runner.send_task_failure(token, error, cause)
        click.echo(f"rejected: execution {execution_id} continues", err=True)
    audit_note(execution_id)
    execution = the_runner.resume(execution_id)
    if execution is None:
        click.echo(
            f"execution {execution_id} is running in another process, which takes the answer", err=True
        )
        return
    report(execution)


def runner_of(runtime: Runtime, max_sleep: float | None, endpoint_url: str | None) -> Runner:
    """The runtime's playbook runner, after saying on stderr (and in the audit trail) when its AWS calls
    go to the sandbox (`Runtime.aws_route`)."""
    route = runtime.aws_route(endpoint_url)
    if route.sandbox:
        click.echo(f"sandbox: {route.description}", err=True)
        audit_note(aws="sandbox")
    return runtime.playbook_runner(max_sleep, endpoint_url)


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
@click.argument("target", metavar="FILE_OR_NAME")
@data_dir_option
@click.pass_context
@user_errors
def validate(ctx: click.Context, target: str, data_dir: Path | None) -> None:
    """Check a definition; exits 1 with one line naming the state and field when it is invalid.

    A valid one is followed by the AWS calls each Task state may make, as its resource declares them, and
    their union: nothing else can be called while the playbook runs.
    """
    from reynard.respond.asl.definition import load_definition
    from reynard.respond.dispatch import default_dispatch

    runtime = runtime_of(ctx, data_dir=data_dir)
    _name, definition = runtime.playbook_catalog.resolve(target)
    try:
        machine = load_definition(definition, where=target)
    except ReynardError as e:
        click.echo(f"reynard: {e}", err=True)
        exit_with(False)
    click.echo(f"{target}: valid ({len(machine.states)} states at the top level, {machine.language})")
    for line in aws_call_lines(machine, default_dispatch(runtime.settings)):
        click.echo(line)
    exit_with(True)


def aws_call_lines(machine: Any, dispatch: Any) -> list[str]:
    """Each Task state's declared AWS calls (`Place (resource): calls`), then their sorted union."""
    from reynard.respond.permissions import declared_aws_calls, task_resources

    resources = task_resources(machine)
    declared = declared_aws_calls(machine, dispatch)
    lines = ["AWS calls each Task state may make:"]
    for place, calls in declared.items():
        if not dispatch.supports(resources[place]):
            listed = "no handler is registered for this resource"
        else:
            listed = ", ".join(sorted(calls)) or "none"
        lines.append(f"  {place} ({resources[place]}): {listed}")
    union = sorted(set().union(*declared.values()))
    lines.append("AWS calls this playbook may make:" + ("" if union else " none"))
    lines += [f"  {name}" for name in union]
    return lines


@playbook.command("run")
@click.argument("target", metavar="FILE_OR_NAME")
@click.option("--input", "input_text", default="{}", show_default=True, help="The execution's input (JSON).")
@click.option("--name", help="The execution's name (unique per playbook; default: its id).")
@click.option("--dry-run", is_flag=True, help="Actions say what they would do and change nothing.")
@max_sleep_option
@endpoint_option
@by_option
@data_dir_option
@click.pass_context
@user_errors
@audited(target="target", detail=("name", "dry_run", "endpoint_url"))
def run(
    ctx: click.Context,
    target: str,
    input_text: str,
    name: str | None,
    dry_run: bool,
    max_sleep: float,
    endpoint_url: str | None,
    by: str | None,
    data_dir: Path | None,
) -> None:
    """Run a playbook to its end (or to a wait for approval, saying so); its output as JSON on stdout.

    A failed execution exits 1 and prints its error name and cause.
    """
    runtime = runtime_of(ctx, data_dir=data_dir)
    playbook_name, definition = runtime.playbook_catalog.resolve(target)
    value = parse_json(input_text, "--input")
    execution = runner_of(runtime, max_sleep, endpoint_url).start(
        definition, value, playbook=playbook_name, name=name, dry_run=dry_run, started_by=who(by)
    )
    audit_note(execution=execution.id, playbook=playbook_name, status=execution.status)
    ok = report(execution)
    exit_with(ok)


@playbook.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@data_dir_option
@click.pass_context
@user_errors
@audited(target="file")
def add(ctx: click.Context, file: Path, data_dir: Path | None) -> None:
    """Register a playbook file under the data directory (validated first), to run it by name."""
    added = runtime_of(ctx, data_dir=data_dir).playbook_catalog.add(file)
    click.echo(f"added playbook {added.name} ({added.path})")


@playbook.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@data_dir_option
@click.pass_context
@user_errors
def list_(ctx: click.Context, as_json: bool, data_dir: Path | None) -> None:
    """The playbooks known by name: registered ones and shipped ones."""
    for found in runtime_of(ctx, data_dir=data_dir).playbook_catalog.list():
        if as_json:
            click.echo(dumps(found.as_dict()))
        else:
            state = "valid" if found.error is None else f"INVALID: {found.error}"
            click.echo(f"{found.name:<32} {found.source:<10} {state}")


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
    found = runtime_of(ctx, data_dir=data_dir).executions.list(
        status=status, playbook=playbook_name, limit=limit
    )
    for execution in found:
        if as_json:
            sys.stdout.write(dumps(execution.as_dict()) + "\n")
        else:
            started = execution.started[:19]
            click.echo(
                f"{execution.id}  {execution.status:<9} {started}  {execution.playbook}  {execution.name}"
                f"  (by {execution.started_by or 'unknown'})"
            )
    if not as_json:
        click.echo(f"{len(found)} executions", err=True)


@playbook.command("show")
@click.argument("execution_id")
@click.option("--json", "as_json", is_flag=True, help="The execution and its history as one JSON object.")
@data_dir_option
@click.pass_context
@user_errors
def show(ctx: click.Context, execution_id: str, as_json: bool, data_dir: Path | None) -> None:
    """An execution's status, outcome, the approvals it waits for, and its history."""
    the_store = runtime_of(ctx, data_dir=data_dir).executions
    execution = the_store.get(execution_id)
    history = the_store.history(execution_id)
    if as_json:
        click.echo(dumps({**execution.as_dict(), "history": history}))
        return
    click.echo(f"execution {execution.id} ({execution.playbook}, {execution.name}): {execution.status}")
    click.echo(
        f"started {execution.started} by {execution.started_by or 'unknown'}"
        + (f", stopped {execution.stopped}" if execution.stopped else "")
    )
    if execution.error or execution.cause:
        click.echo(f"error: {execution.error}: {execution.cause}")
    if execution.status == "SUCCEEDED":
        click.echo(f"output: {dumps(execution.output)}")
    for waiting in execution.waiting_for:
        click.echo(f"waiting for approval at {waiting['state']!r}: token {waiting['token']}")
    for event in history:
        where = f" {event['frame']}" if event["frame"] else ""
        state = f" {event['state']}" if event["state"] else ""
        details = dumps(event["details"]) if event["details"] else ""
        click.echo(
            f"{event['id']:>5}  {event['timestamp'][:23]}  {event['type']:<24}{state}{where}  {details}"[:400]
        )


@playbook.command("approve")
@click.argument("token")
@click.option("--output", "output_text", default="{}", show_default=True, help="The task's result (JSON).")
@max_sleep_option
@endpoint_option
@by_option
@data_dir_option
@click.pass_context
@user_errors
@audited()
def approve(
    ctx: click.Context,
    token: str,
    output_text: str,
    max_sleep: float,
    endpoint_url: str | None,
    by: str | None,
    data_dir: Path | None,
) -> None:
    """Answer a waiting task (`.waitForTaskToken`) with success, then continue its execution."""
    output = parse_json(output_text, "--output")
    answer(
        runtime_of(ctx, data_dir=data_dir),
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
@by_option
@data_dir_option
@click.pass_context
@user_errors
@audited(detail=("error", "cause"))
def reject(
    ctx: click.Context,
    token: str,
    error: str,
    cause: str | None,
    max_sleep: float,
    endpoint_url: str | None,
    by: str | None,
    data_dir: Path | None,
) -> None:
    """Answer a waiting task with failure (its Catch may take it), then continue its execution."""
    answer(
        runtime_of(ctx, data_dir=data_dir),
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
@audited(target="execution_id")
def resume(
    ctx: click.Context,
    execution_id: str | None,
    max_sleep: float,
    endpoint_url: str | None,
    data_dir: Path | None,
) -> None:
    """Continue an execution, or every one whose wait elapsed or whose approval came."""
    the_runner = runner_of(runtime_of(ctx, data_dir=data_dir), max_sleep, endpoint_url)
    if execution_id:
        execution = the_runner.resume(execution_id)
        if execution is None:
            click.echo(f"execution {execution_id} is running in another process", err=True)
            exit_with(True)
        exit_with(report(execution))
    done = the_runner.resume_due()
    audit_note(executions=len(done))
    ok = True
    for execution in done:
        ok = report(execution) and ok
    click.echo(f"{len(done)} executions continued", err=True)
    exit_with(ok)


@playbook.command("stop")
@click.argument("execution_id")
@click.option("--error", help="An error name to record.")
@click.option("--cause", help="Why.")
@by_option
@data_dir_option
@click.pass_context
@user_errors
@audited(target="execution_id", detail=("error", "cause"))
def stop(
    ctx: click.Context,
    execution_id: str,
    error: str | None,
    cause: str | None,
    by: str | None,
    data_dir: Path | None,
) -> None:
    """Stop a running or waiting execution (ABORTED); its pending approvals are refused."""
    execution = runtime_of(ctx, data_dir=data_dir).executions.abort(execution_id, error, cause, by=who(by))
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
    from reynard.respond.export import export_definition

    _name, definition = runtime_of(ctx, data_dir=data_dir).playbook_catalog.resolve(target)
    result = export_definition(json.loads(definition), notify_topic_arn=topic_arn)
    sys.stdout.write(dumps(result["definition"]) + "\n")
    for item in result["not_exported"]:
        click.echo(f"reynard: not exported: {dumps(item)}", err=True)
    for note in result["notes"]:
        click.echo(f"reynard: note: {note if isinstance(note, str) else dumps(note)}", err=True)
