"""The `reynard` command: one module per command group, each printing what the domain code returns.

Exit codes are `options.ExitStatus` (0 done; 1 some input rejected or a check failed; 2 usage or fatal).
A user's mistake prints one line, never a traceback (`--traceback` shows it for bug reports). A command
that changes state is recorded in the audit trail (`audited.py`). Modules import what their command
needs when it runs, so `reynard --help` starts fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from reynard import __version__
from reynard.cli.alerts import alerts
from reynard.cli.incident import incident
from reynard.cli.ingest import ingest
from reynard.cli.ioc import ioc
from reynard.cli.options import data_dir_option, fail
from reynard.cli.playbook import playbook
from reynard.cli.rules import rules
from reynard.cli.runbook import runbook
from reynard.cli.sandbox import sandbox
from reynard.cli.search import search
from reynard.cli.serve import demo, serve
from reynard.cli.sigma import sigma
from reynard.cli.simulate import simulate
from reynard.cli.store import store
from reynard.cli.users import audit, token, user
from reynard.errors import ReynardError
from reynard.settings import load_settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reynard")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), help="Settings file (TOML).")
@data_dir_option
@click.option("--traceback", is_flag=True, help="Show the full traceback of an error.")
@click.pass_context
def main(ctx: click.Context, config: Path | None, data_dir: Path | None, traceback: bool) -> None:
    """Reynard: collect, normalize, detect and respond, on one machine or many."""
    try:
        settings = load_settings(config)
    except ReynardError as e:
        fail(str(e))
    ctx.obj = settings.with_overrides(data_dir=data_dir)


for group in (
    ingest,
    serve,
    demo,
    search,
    store,
    sigma,
    alerts,
    rules,
    runbook,
    playbook,
    incident,
    ioc,
    user,
    token,
    audit,
    sandbox,
    simulate,
):
    main.add_command(group)

__all__ = ["main"]
