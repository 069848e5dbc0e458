"""`reynard user ...`, `reynard token ...` and `reynard audit list`: who may use the API, and what they did.

The CLI acts through the data directory, as whoever can read it; the users and tokens made here are for
the HTTP API (and the console to come). A token is printed once, alone on stdout, so a script can keep
it: `TOKEN=$(reynard token create shipper-1 --role ingest --expires 90d)`.
"""

from __future__ import annotations

import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from reynard.cli.audited import audit_note, audited
from reynard.cli.options import data_dir_option, runtime_of, user_errors, who, write_json_lines
from reynard.events.timestamps import display
from reynard.identity.roles import Role

ROLES = click.Choice([str(r) for r in Role])
format_option = click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)


@click.group()
def user() -> None:
    """Local users of the API (and the console to come), each with a role."""


@user.command("add")
@click.argument("name")
@click.option(
    "--role", "role_name", type=ROLES, required=True, help="viewer, analyst, responder, admin, ingest"
)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (first line).")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
@data_dir_option
@click.pass_context
@user_errors
@audited(target="name", detail=("role_name", "password_stdin", "generate"))
def user_add(
    ctx: click.Context, name: str, role_name: str, password_stdin: bool, generate: bool, data_dir: Path | None
) -> None:
    """Add user NAME with ROLE; the password is asked for (twice), read from stdin, or generated."""
    if password_stdin and generate:
        raise click.UsageError("give --password-stdin or --generate, not both")
    if generate:
        password = secrets.token_urlsafe(18)
    elif password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    added = runtime_of(ctx, data_dir=data_dir).identity.add_user(name, role_name, password, by=who(None))
    click.echo(f"added user {added.name} ({added.role})", err=True)
    if generate:
        click.echo(password)


@user.command("list")
@format_option
@data_dir_option
@click.pass_context
@user_errors
def user_list(ctx: click.Context, fmt: str, data_dir: Path | None) -> None:
    """The users, their roles, and whether they are disabled."""
    found = runtime_of(ctx, data_dir=data_dir).identity.users()
    if fmt == "json":
        write_json_lines(u.as_dict() for u in found)
        return
    for item in found:
        state = "disabled" if item.disabled else "active"
        click.echo(f"{item.name:<24} {item.role:<10} {state:<9} added {display(item.created)}")
    click.echo(f"{len(found)} users", err=True)


@user.command("disable")
@click.argument("name")
@data_dir_option
@click.pass_context
@user_errors
@audited(target="name")
def user_disable(ctx: click.Context, name: str, data_dir: Path | None) -> None:
    """Disable user NAME: it can no longer sign in."""
    runtime_of(ctx, data_dir=data_dir).identity.set_disabled(name, True)
    click.echo(f"user {name} disabled")


@click.group()
def token() -> None:
    """API tokens: for a shipper, a script or a person, each with a name, a role and an expiry."""


@token.command("create")
@click.argument("name")
@click.option(
    "--role", "role_name", type=ROLES, required=True, help="viewer, analyst, responder, admin, ingest"
)
@click.option("--expires", help="How long it is valid: 30d, 12h, or an ISO 8601 time (default: no expiry).")
@data_dir_option
@click.pass_context
@user_errors
@audited(target="name", detail=("role_name", "expires"))
def token_create(
    ctx: click.Context, name: str, role_name: str, expires: str | None, data_dir: Path | None
) -> None:
    """Create a token named NAME (the name the audit trail records); the token alone on stdout, once."""
    from reynard.intel.formats import parse_expiry

    until = parse_expiry(expires, name="--expires")
    if until is not None and until <= datetime.now(UTC):
        raise click.BadParameter("the token would be expired already", param_hint="--expires")
    created, secret = runtime_of(ctx, data_dir=data_dir).identity.create_token(
        name, role_name, by=who(None), expires=until
    )
    audit_note(id=created.id)
    expiry = f", expires {display(created.expires)}" if created.expires else ""
    click.echo(f"token {created.id} for {created.name} ({created.role}){expiry}; shown once:", err=True)
    click.echo(secret)


@token.command("list")
@format_option
@data_dir_option
@click.pass_context
@user_errors
def token_list(ctx: click.Context, fmt: str, data_dir: Path | None) -> None:
    """The tokens (never their secrets): id, name, role, first characters, state."""
    found = runtime_of(ctx, data_dir=data_dir).identity.tokens()
    now = datetime.now(UTC)
    if fmt == "json":
        write_json_lines(t.as_dict(now) for t in found)
        return
    for item in found:
        expiry = display(item.expires) if item.expires else "never"
        click.echo(
            f"{item.id:>5}  {item.name:<24} {item.role:<10} {item.prefix}...  {item.state(now):<8} "
            f"expires {expiry}"
        )
    click.echo(f"{len(found)} tokens", err=True)


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
@data_dir_option
@click.pass_context
@user_errors
@audited(target="token_id")
def token_revoke(ctx: click.Context, token_id: int, data_dir: Path | None) -> None:
    """Revoke token ID: it authenticates nobody from now on."""
    revoked = runtime_of(ctx, data_dir=data_dir).identity.revoke(token_id)
    click.echo(f"token {revoked.id} ({revoked.name}) revoked")


@click.group()
def audit() -> None:
    """The audit trail: what each identity changed, when, from where, and how it ended."""


@audit.command("list")
@click.option("--since", help="From: a duration before now (24h, 7d) or ISO 8601.")
@click.option("--user", "actor", help="Only what this user or token name did.")
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True)
@format_option
@data_dir_option
@click.pass_context
@user_errors
def audit_list(
    ctx: click.Context, since: str | None, actor: str | None, limit: int, fmt: str, data_dir: Path | None
) -> None:
    """The newest entries, oldest first."""
    from reynard.query.window import moment

    start = moment(since, datetime.now(UTC), "--since") if since else None
    found = runtime_of(ctx, data_dir=data_dir).audit.list(since=start, actor=actor, limit=limit)
    if fmt == "json":
        write_json_lines(e.as_dict() for e in found)
        return
    for entry in found:
        target = f" {entry.target}" if entry.target else ""
        click.echo(
            f"{display(entry.at)}  {entry.actor:<20} {entry.actor_kind:<7} {entry.source:<15} "
            f"{entry.action}{target}: {entry.result}"
        )
    click.echo(f"{len(found)} entries", err=True)
