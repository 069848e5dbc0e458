"""`reynard serve` and `reynard demo` (what `make run` does)."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from reynard import __version__
from reynard.cli.audited import action_of, audit_note, recorded
from reynard.cli.options import data_dir_option, fail, runtime_of, user_errors
from reynard.errors import WriterBusy


@click.command()
@click.option("--host", help="Address to bind (default 127.0.0.1: local only).")
@click.option("--port", type=int, help="Port (default 8000).")
@click.option(
    "--tls-cert",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Serve HTTPS with this PEM certificate (chain); needs --tls-key.",
)
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), help="Its PEM private key.")
@data_dir_option
@click.pass_context
@user_errors
def serve(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    data_dir: Path | None,
) -> None:
    """Run the server: HTTP ingest (MozDef loginput compatible) and the API."""
    from reynard.web.server import check_tls, exposure_warning
    from reynard.web.server import serve as run_server

    runtime = runtime_of(ctx, host=host, port=port, tls_cert=tls_cert, tls_key=tls_key, data_dir=data_dir)
    settings = runtime.settings
    check_tls(settings)
    try:
        runtime.event_writer  # noqa: B018 (the writer lock, taken now: a second server fails here)
    except WriterBusy:
        fail(f"another Reynard process is writing to {settings.events_dir}; is a server already running?")
    warning = exposure_warning(settings)
    if warning:
        click.echo(warning, err=True)
    scheme = "https" if settings.tls_cert else "http"
    click.echo(
        f"Reynard {__version__} on {scheme}://{settings.host}:{settings.port} (data: {settings.data_dir})"
    )
    try:
        run_server(runtime)
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its graceful shutdown
        click.echo("stopped", err=True)


@click.command()
@click.option("--host", help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=int, help="Port (default 8000).")
@data_dir_option
@click.option("--events", "count", type=int, default=20_000, show_default=True, help="Sample size.")
@click.option("--no-serve", is_flag=True, help="Load the sample and exit.")
@click.pass_context
@user_errors
def demo(
    ctx: click.Context, host: str | None, port: int | None, data_dir: Path | None, count: int, no_serve: bool
) -> None:
    """Generate a sample of realistic logs, ingest them, and serve (what `make run` does)."""
    from reynard.cli.ingest import run
    from reynard.detect.sigma.catalog import SHIPPED_RULES
    from reynard.simulate.sample import write_sample

    runtime = runtime_of(ctx, host=host, port=port, data_dir=data_dir)
    with recorded(action_of(ctx), detail={"events": count}, data_dir=data_dir):  # the setup, not the serving
        added = runtime.rules.add_sigma([str(SHIPPED_RULES)])  # the workshop's rules, as Sigma too
        click.echo(f"{len(added.added)} shipped Sigma rules enabled beside the built-in rules")
        audit_note(rules=len(added.added))
        folder = runtime.settings.data_dir / "sample"
        files = write_sample(folder, count=count, end=datetime.now(UTC))
        click.echo(f"generated {count} sample events in {folder} ({len(files)} files)")
        started = time.perf_counter()
        summary = run(runtime, [str(f) for f in files], quiet=not sys.stderr.isatty())
        elapsed = time.perf_counter() - started
        click.echo(f"{summary.line()} in {elapsed:.1f} s")
        created, token = runtime.identity.create_token("demo", "admin", by="reynard demo")
        audit_note(token=f"{created.name} (id {created.id}, {created.role})")
        click.echo(f"an admin API token for this demo (reynard token list|revoke): export TOKEN={token}")
    runtime.close()  # the ingest's writer lock, released for the server
    if no_serve:
        return
    ctx.invoke(serve, host=host, port=port, data_dir=data_dir)
