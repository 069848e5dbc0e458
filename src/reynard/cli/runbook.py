"""`reynard runbook list|show|check|suggest`: the runbooks in force, one of them, checking files.

`check` exits 1 when a file is invalid (so CI can gate a runbook repository on it), `suggest` exits 1
when no runbook applies; unknown names exit 2 with one line, as every `reynard` command does. This
module imports nothing heavy at import time: it is loaded with the `reynard` command.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from reynard.cli.options import data_dir_option, exit_with, fail, runtime_of, settings_of

if TYPE_CHECKING:
    from reynard.cases.runbook_file import Runbook
    from reynard.cases.runbooks import RunbookSet


def _library(ctx: click.Context, data_dir: Path | None) -> RunbookSet:
    return runtime_of(ctx, data_dir=data_dir).runbooks.current()


def _warn_problems(found: RunbookSet) -> None:
    for problem in found.problems:
        click.echo(f"reynard: skipped {problem}", err=True)


def _json(value: object) -> str:
    import orjson

    return orjson.dumps(value).decode()


@click.group("runbook")
def runbook() -> None:
    """Runbooks: what to do when an alert of a kind arrives (shipped ones, and yours in
    <data_dir>/runbooks/). See docs/cases.md."""


@runbook.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@data_dir_option
@click.pass_context
def list_runbooks(ctx: click.Context, fmt: str, data_dir: Path | None) -> None:
    """The runbooks in force (a user runbook replaces the shipped one of its name)."""
    found = _library(ctx, data_dir)
    _warn_problems(found)
    if fmt == "json":
        for item in found:
            click.echo(_json(item.front_matter()))
        return
    rows = [(r.name, r.urgency, r.origin, r.title) for r in found]
    width = max((len(r[0]) for r in rows), default=4)
    click.echo(f"{'NAME':<{width}}  {'URGENCY':<8}  {'ORIGIN':<7}  TITLE")
    for name, urgency, origin, title in rows:
        click.echo(f"{name:<{width}}  {urgency:<8}  {origin:<7}  {title}")


def _header(item: Runbook) -> list[str]:
    lines = [f"# {item.title}", "", f"urgency: {item.urgency}   ({item.origin}: {item.path})"]
    for label, values in (
        ("rules", item.rules),
        ("finding types", item.finding_types),
        ("categories", item.categories),
    ):
        if values:
            lines.append(f"{label}: {', '.join(values)}")
    if item.playbook:
        lines.append(f"playbook: {item.playbook}")
    if item.escalation:
        lines.append("escalation:")
        for number, contact in enumerate(item.escalation, 1):
            when = f" ({contact.when})" if contact.when else ""
            lines.append(f"  {number}. {contact.name}, {contact.role}: {contact.reach}{when}")
    return [*lines, ""]


@runbook.command("show")
@click.argument("name")
@click.option(
    "--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True
)
@data_dir_option
@click.pass_context
def show(ctx: click.Context, name: str, fmt: str, data_dir: Path | None) -> None:
    """One runbook: its front matter, then its steps (Markdown)."""
    found = _library(ctx, data_dir)
    item = found.get(name)
    if item is None:
        known = ", ".join(r.name for r in found) or "none"
        fail(f"no runbook named {name!r} (known: {known})")
    if fmt == "json":
        click.echo(_json({"front_matter": item.front_matter(), "body": item.body}))
        return
    click.echo("\n".join(_header(item)))
    click.echo(item.body.strip("\n"))


@runbook.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@data_dir_option
@click.pass_context
def check(ctx: click.Context, paths: tuple[Path, ...], data_dir: Path | None) -> None:
    """Check runbook files (files, or folders of *.md; default: the shipped set and your folder).

    Prints each file's outcome; recommended sections that a runbook lacks, and entries that several
    runbooks claim, are warnings. Exits 1 if any file is invalid.
    """
    from reynard.cases.runbook_file import RunbookError, missing_sections
    from reynard.cases.runbooks import SHIPPED_DIR, check_paths, load_runbooks, user_dir

    settings = settings_of(ctx, data_dir=data_dir)
    targets = list(paths) or [SHIPPED_DIR, user_dir(settings)]
    if not paths and not targets[1].is_dir():
        targets.pop()
    results = check_paths(targets)
    invalid = 0
    for result in results:
        if isinstance(result, RunbookError):
            invalid += 1
            click.echo(f"invalid  {result}")
            continue
        click.echo(f"ok       {result.path}  ({result.name}, {result.urgency})")
        lacking = missing_sections(result)
        if lacking:
            click.echo(f"warning  {result.path}: no section for {', '.join(lacking)}")
    if not paths:
        for note in load_runbooks(user_dir(settings)).overlaps():
            click.echo(f"warning  {note}")
    click.echo(f"{len(results) - invalid} ok, {invalid} invalid", err=True)
    exit_with(not invalid)


@runbook.command("suggest")
@click.option("--rule", "rules", multiple=True, help="A rule name (repeatable, in order of preference).")
@click.option("--finding-type", "finding_types", multiple=True, help="A GuardDuty finding type (repeatable).")
@click.option("--category", "categories", multiple=True, help="An alert category (repeatable).")
@data_dir_option
@click.pass_context
def suggest(
    ctx: click.Context,
    rules: tuple[str, ...],
    finding_types: tuple[str, ...],
    categories: tuple[str, ...],
    data_dir: Path | None,
) -> None:
    """Which runbook applies (rule > finding type > finding type wildcard > category). Exits 1 if none."""
    if not (rules or finding_types or categories):
        raise click.UsageError("give at least one of --rule, --finding-type, --category")
    found = _library(ctx, data_dir)
    _warn_problems(found)
    match = found.match(rules=rules, finding_types=finding_types, categories=categories)
    if match is None:
        click.echo("no runbook applies", err=True)
        exit_with(False)
    click.echo(f"{match.runbook.name}  (by {match.by.replace('_', ' ')} {match.value!r}: {match.entry!r})")
