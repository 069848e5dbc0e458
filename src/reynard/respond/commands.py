"""What `reynard playbook ...` does, apart from parsing its arguments.

An execution's output goes to stdout as JSON, everything said about it to stderr, so
`reynard playbook run FILE --input '{}' | jq` works.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from reynard.errors import ReynardError
from reynard.respond.asl.definition import load_definition
from reynard.respond.catalog import PlaybookCatalog, read_text
from reynard.respond.dispatch import default_dispatch
from reynard.respond.errors import DefinitionError
from reynard.respond.executions import Execution, ExecutionStore
from reynard.respond.runner import Runner
from reynard.settings import Settings
from reynard.state import open_state


class InputError(ReynardError):
    """A `--input` or `--output` that is not JSON."""


def parse_json(text: str, option: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"not JSON: {e.msg} at column {e.colno}", where=option) from None


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def store(settings: Settings) -> ExecutionStore:
    return ExecutionStore(open_state(settings.state_url))


def runner(settings: Settings, max_sleep: float | None, endpoint_url: str | None = None) -> Runner:
    """A runner with every task resource; AWS calls go to `endpoint_url` when given (any AWS-compatible
    endpoint: a moto server, LocalStack, a VPC endpoint)."""
    return Runner(store(settings), default_dispatch(settings, endpoint_url), max_sleep=max_sleep)


def validate(path: str) -> tuple[bool, str]:
    """(valid, the line to print) for a definition file."""
    try:
        machine = load_definition(read_text(Path(path)), where=path)
    except (DefinitionError, ReynardError) as e:
        return False, str(e)
    return True, f"{path}: valid ({len(machine.states)} states at the top level, {machine.language})"


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


def run(
    settings: Settings,
    target: str,
    input_text: str,
    name: str | None,
    dry_run: bool,
    max_sleep: float | None,
    endpoint_url: str | None = None,
) -> bool:
    playbook, definition = PlaybookCatalog(settings.data_dir).resolve(target)
    value = parse_json(input_text, "--input")
    execution = runner(settings, max_sleep, endpoint_url).start(
        definition, value, playbook=playbook, name=name, dry_run=dry_run
    )
    return report(execution)


def answer(
    settings: Settings,
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
    the_runner = runner(settings, max_sleep, endpoint_url)
    if approve:
        execution_id = the_runner.send_task_success(token, output)
        click.echo(f"approved: execution {execution_id} continues", err=True)
    else:
        execution_id = the_runner.send_task_failure(token, error, cause)
        click.echo(f"rejected: execution {execution_id} continues", err=True)
    execution = the_runner.resume(execution_id)
    if execution is None:
        click.echo(
            f"execution {execution_id} is running in another process, which takes the answer", err=True
        )
        return
    report(execution)


def resume(
    settings: Settings, execution_id: str | None, max_sleep: float | None, endpoint_url: str | None = None
) -> bool:
    the_runner = runner(settings, max_sleep, endpoint_url)
    if execution_id:
        execution = the_runner.resume(execution_id)
        if execution is None:
            click.echo(f"execution {execution_id} is running in another process", err=True)
            return True
        return report(execution)
    done = the_runner.resume_due()
    ok = True
    for execution in done:
        ok = report(execution) and ok
    click.echo(f"{len(done)} executions continued", err=True)
    return ok


def list_playbooks(settings: Settings, as_json: bool) -> None:
    for playbook in PlaybookCatalog(settings.data_dir).list():
        if as_json:
            click.echo(dumps(playbook.as_dict()))
        else:
            state = "valid" if playbook.error is None else f"INVALID: {playbook.error}"
            click.echo(f"{playbook.name:<32} {playbook.source:<10} {state}")


def list_executions(
    settings: Settings, status: str | None, playbook: str | None, limit: int, as_json: bool
) -> None:
    found = store(settings).list(status=status, playbook=playbook, limit=limit)
    for execution in found:
        if as_json:
            sys.stdout.write(dumps(execution.as_dict()) + "\n")
        else:
            started = execution.started[:19]
            click.echo(
                f"{execution.id}  {execution.status:<9} {started}  {execution.playbook}  {execution.name}"
            )
    if not as_json:
        click.echo(f"{len(found)} executions", err=True)


def show(settings: Settings, execution_id: str, as_json: bool) -> None:
    the_store = store(settings)
    execution = the_store.get(execution_id)
    history = the_store.history(execution_id)
    if as_json:
        click.echo(dumps({**execution.as_dict(), "history": history}))
        return
    click.echo(f"execution {execution.id} ({execution.playbook}, {execution.name}): {execution.status}")
    click.echo(
        f"started {execution.started}" + (f", stopped {execution.stopped}" if execution.stopped else "")
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


def export(settings: Settings, target: str, topic_arn: str | None) -> None:
    """A playbook as a Step Functions definition on stdout; what could not be exported on stderr."""
    from reynard.respond.export import export_definition

    _name, definition = PlaybookCatalog(settings.data_dir).resolve(target)
    result = export_definition(json.loads(definition), notify_topic_arn=topic_arn)
    sys.stdout.write(dumps(result["definition"]) + "\n")
    for item in result["not_exported"]:
        click.echo(f"reynard: not exported: {dumps(item)}", err=True)
    for note in result["notes"]:
        click.echo(f"reynard: note: {note if isinstance(note, str) else dumps(note)}", err=True)
