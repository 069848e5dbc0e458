"""The `reynard` command's side of the audit trail: every command that changes state is recorded in the
same append-only table as the HTTP API's requests (`web/audit.py`).

An entry says who (`--by`, else the OS user; kind `cli`), from where (`cli`, or `cli (os user: NAME)`
when who acts is not the user the process runs as, found by its user id: neither `--by` nor `USER=`
hides who ran the command), the command (`incident close`), what it acted on (an id or a name), how it
ended (`ok`; `error: <ErrorClass>`; `exit N` when the command ended with its own status, as an import
with rejected rows or a failed execution), and the options that matter as JSON (never a password nor a
secret).

A command declares it with `@audited(target=..., detail=...)`, placed under `@user_errors` (so the
error's class is seen before it becomes one line on stderr); what it only knows once it ran (a new
incident's id, an execution's) it adds with `audit_note(...)`. A part of a command is recorded with
`with recorded(...)`. The entry is written when the command ends, failed or not; a write that fails is
said on stderr and never changes the command's exit status. `reynard ingest` is not recorded, as `POST
/events` is not. tests/cli/test_cli_audit.py walks the command tree: every command is either audited
or listed there as one that changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reynard.cli.options import RUNTIMES, os_user, settings_of, who

if TYPE_CHECKING:
    from reynard.identity.audit import AuditTrail
    from reynard.runtime import Runtime

ENTRY = "reynard.audit.entry"


@dataclass(frozen=True)
class Audit:
    """What `@audited` declares: the parameter that names the target, the parameters kept in the detail,
    and when the command changes state (None: always)."""

    target: str | None = None
    detail: tuple[str, ...] = ()
    when: Callable[[dict[str, Any]], bool] | None = None


@dataclass
class Entry:
    """The entry of a running command, completed by `audit_note` as the command learns more."""

    action: str
    target: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def audited(
    target: str | None = None,
    detail: tuple[str, ...] = (),
    when: Callable[[dict[str, Any]], bool] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Record each run of the command in the audit trail: `target` and `detail` name its parameters (the
    detail keys are the options as typed: `skip-lessons`); its `by` and `data_dir` parameters, if it has
    them, say who acts and where."""
    spec = Audit(target, tuple(detail), when)

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if spec.when is not None and not spec.when(kwargs):
                return command(*args, **kwargs)
            ctx = click.get_current_context()
            labels = {param.name: label(param) for param in ctx.command.params}
            kept = {labels.get(name, name): kwargs.get(name) for name in spec.detail}
            with recorded(
                action_of(ctx),
                target=kwargs.get(spec.target) if spec.target else None,
                detail=kept,
                by=kwargs.get("by"),
                data_dir=kwargs.get("data_dir"),
            ):
                return command(*args, **kwargs)

        wrapper.audit = spec  # type: ignore[attr-defined]
        return wrapper

    return decorate


def audit_of(command: click.Command) -> Audit | None:
    """How a command is audited (None: it is not, or only in part, with `recorded`)."""
    function = command.callback
    while function is not None:
        spec = getattr(function, "audit", None)
        if isinstance(spec, Audit):
            return spec
        function = getattr(function, "__wrapped__", None)
    return None


def label(param: click.Parameter) -> str:
    """A parameter as the command line names it: `--skip-lessons` is skip-lessons; an argument, its name."""
    if isinstance(param, click.Option):
        return max(param.opts, key=len).lstrip("-")
    return param.name or ""


def action_of(ctx: click.Context) -> str:
    """The command's path without the program's name (`reynard`, `python -m reynard`): `incident close`."""
    names = []
    while ctx.parent is not None:
        names.append(ctx.info_name or ctx.command.name or "")
        ctx = ctx.parent
    return " ".join(reversed(names)) or (ctx.info_name or "")


@contextmanager
def recorded(
    action: str,
    *,
    target: Any = None,
    detail: dict[str, Any] | None = None,
    by: str | None = None,
    data_dir: Path | None = None,
) -> Iterator[Entry]:
    """Record what runs inside as `action` when it ends: `ok`, `error: <ErrorClass>` (raised on), or
    `exit N` (a `sys.exit` with a status other than 0)."""
    ctx = click.get_current_context()
    entry = Entry(action, None if target is None else str(target))
    _add(entry, None, detail or {})
    outer = ctx.meta.get(ENTRY)
    ctx.meta[ENTRY] = entry
    result = "ok"
    try:
        yield entry
    except SystemExit as e:
        result = _exit_result(e.code)
        raise
    except click.exceptions.Exit as e:
        result = _exit_result(e.exit_code)
        raise
    except BaseException as e:
        result = f"error: {type(e).__name__}"
        raise
    finally:
        ctx.meta[ENTRY] = outer
        _write(ctx, entry, result, by, data_dir)


def audit_note(target: Any = None, **detail: Any) -> None:
    """Add to the running command's entry (nothing when it is not recorded): the target, when only the
    command's work names it, and details; values that are None, False or empty are left out."""
    ctx = click.get_current_context(silent=True)
    entry = ctx.meta.get(ENTRY) if ctx is not None else None
    if entry is not None:
        _add(entry, target, detail)


def _add(entry: Entry, target: Any, detail: dict[str, Any]) -> None:
    if target is not None:
        entry.target = str(target)
    entry.detail.update({name: value for name, value in detail.items() if _given(value)})


def _given(value: Any) -> bool:
    if value is None or value is False:
        return False
    return not (isinstance(value, str | tuple | list | dict) and not value)


def _exit_result(code: Any) -> str:
    if code is None or code == 0:
        return "ok"
    return f"exit {int(code)}" if isinstance(code, int) else "exit 1"  # sys.exit("message") exits 1


def _write(ctx: click.Context, entry: Entry, result: str, by: str | None, data_dir: Path | None) -> None:
    """Write the entry; a failure is a warning on stderr, never the command's failure."""
    from reynard.identity.principal import Principal
    from reynard.identity.roles import Role

    own: Runtime | None = None
    try:
        actor, runner = who(by), os_user()
        source = "cli" if actor == runner else f"cli (os user: {runner})"
        detail = json.dumps(entry.detail, sort_keys=True, default=str) if entry.detail else None
        trail, own = _trail(ctx, data_dir)
        trail.record(
            Principal(actor, Role.ADMIN, "cli"),
            source=source,
            action=entry.action,
            result=result,
            target=entry.target,
            detail=detail,
        )
    except Exception as e:
        message = f"reynard: warning: the audit trail did not record {entry.action!r} ({result}): {e}"
        click.echo(message, err=True)
    finally:
        if own is not None:
            own.close()


def _trail(ctx: click.Context, data_dir: Path | None) -> tuple[AuditTrail, Runtime | None]:
    """The audit trail of the command's state database: through the runtime the command opened on it,
    else through one of its own (returned, to be closed)."""
    from reynard.runtime import Runtime

    settings = settings_of(ctx, data_dir=data_dir)
    for runtime in ctx.meta.get(RUNTIMES, ()):
        if runtime.settings.state_url == settings.state_url:
            return runtime.audit, None
    own = Runtime(settings)
    return own.audit, own


__all__ = ["Audit", "Entry", "action_of", "audit_note", "audit_of", "audited", "label", "recorded"]
