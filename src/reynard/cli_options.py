"""What every `reynard` command shares: exit codes, the `--data-dir` and `--by` options, the invocation's
settings, and one line on stderr (never a traceback) for a user's mistake.

It imports no command module, so each command group (`incident`, `ioc`, `runbook`, `playbook`) uses it
without importing `reynard.cli`, which imports them all.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import IntEnum
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from reynard.errors import ReynardError

if TYPE_CHECKING:
    from reynard.settings import Settings


class ExitStatus(IntEnum):
    OK = 0
    REJECTED = 1
    ERROR = 2


# Every command takes the data directory the same way (it overrides the settings' data_dir).
data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Data directory."
)
by_option = click.option("--by", help="Who (default: the OS user name).")


def fail(message: str) -> NoReturn:
    click.echo(f"reynard: {message}", err=True)
    sys.exit(ExitStatus.ERROR)


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


def settings_of(ctx: click.Context, **overrides: Any) -> Settings:
    """The settings `reynard` was started with (`--config`, `--data-dir`), with a command's overrides."""
    settings: Settings = ctx.find_root().obj
    return settings.with_overrides(**overrides)
