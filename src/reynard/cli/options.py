"""What every `reynard` command shares: the exit codes, the common options, the invocation's settings and
runtime, who is acting, and one line on stderr (never a traceback) for a user's mistake.

Exit codes, in one place (as httpie's `status.py`): 0 done; 1 some input was rejected or a check failed
(rejected records, an invalid rule or definition, a failed execution or rule run); 2 a usage error or a
mistake the command could not go on with (click's usage errors exit 2 too).
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from datetime import datetime
from enum import IntEnum
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from reynard.errors import ReynardError

if TYPE_CHECKING:
    from reynard.runtime import Runtime
    from reynard.settings import Settings


class ExitStatus(IntEnum):
    OK = 0
    REJECTED = 1  # some input rejected, or a check failed
    ERROR = 2  # usage, or fatal


# Every command takes the data directory the same way (it overrides the settings' data_dir).
data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Data directory."
)
by_option = click.option("--by", help="Who (default: the OS user name).")


def fail(message: str) -> NoReturn:
    click.echo(f"reynard: {message}", err=True)
    sys.exit(ExitStatus.ERROR)


def exit_with(ok: bool) -> NoReturn:
    """Exit 0 when `ok`, else 1 (something was rejected or failed)."""
    sys.exit(ExitStatus.OK if ok else ExitStatus.REJECTED)


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a ReynardError into one line on stderr and exit 2 (`reynard --traceback` shows it whole)."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ReynardError as e:
            if click.get_current_context().find_root().params.get("traceback"):
                raise
            fail(str(e))

    return wrapper


def settings_of(ctx: click.Context | None = None, **overrides: Any) -> Settings:
    """The settings `reynard` was started with (`--config`, `--data-dir`), with a command's overrides."""
    ctx = ctx or click.get_current_context()
    settings: Settings = ctx.find_root().obj
    return settings.with_overrides(**overrides)


def runtime_of(ctx: click.Context | None = None, **overrides: Any) -> Runtime:
    """The runtime of this invocation's settings (with a command's overrides), closed when it ends."""
    from reynard.runtime import Runtime

    ctx = ctx or click.get_current_context()
    runtime = Runtime(settings_of(ctx, **overrides))
    ctx.call_on_close(runtime.close)
    ctx.meta.setdefault(RUNTIMES, []).append(runtime)  # the audit trail writes through one of them
    return runtime


RUNTIMES = "reynard.runtimes"


def who(by: str | None) -> str:
    """Who acts: `--by`, else the OS user name."""
    if by:
        return by
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment nor in the password database
        return "unknown"


def os_user() -> str:
    """Who runs this process, by its user id (USER and LOGNAME say whatever they are set to): what the
    audit trail adds when `--by` names someone else."""
    try:
        import pwd
    except ImportError:  # not a Unix: the name the environment gives
        return who(None)
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a user id with no entry (a container's)
        return f"uid {uid}"


def moment_option(text: str | None, option: str) -> datetime | None:
    """A `--now`-style option: None (the clock), or the moment given (a usage error if it is not one)."""
    if text is None:
        return None
    from reynard.events.timestamps import TimestampError, parse_timestamp

    try:
        return parse_timestamp(text)[0]
    except TimestampError as e:
        raise click.BadParameter(str(e), param_hint=option) from None


def write_json_lines(rows: Any) -> None:
    """One JSON object a line on stdout."""
    import orjson

    out = sys.stdout
    for row in rows:
        out.write(orjson.dumps(row, default=str).decode() + "\n")
    out.flush()
