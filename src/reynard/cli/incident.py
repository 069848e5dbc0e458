"""`reynard incident ...`: the incident workflow from the shell, on the state database of the data
directory (works while a server runs: SQLite in WAL mode, every write one transaction).

Edits that read before they write (`set --tag`, list fields) send the version they read, so a change
made in between is refused (exit 2, naming it) instead of lost; `--version N` does the same for any
edit from a version you looked at (`show` prints it).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from reynard.cli.audited import audit_note, audited
from reynard.cli.options import by_option, data_dir_option, runtime_of, user_errors, who
from reynard.events.timestamps import display

if TYPE_CHECKING:
    from reynard.cases.model import Incident
    from reynard.cases.services import CaseServices

version_option = click.option(
    "--version", "version", type=int, help="Refuse the change if the incident is no longer at this version."
)
format_option = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
# What the audit trail keeps of `incident set` (every field it can change).
SET_FIELDS = (
    "title",
    "summary",
    "severity",
    "category",
    "owner",
    "root_cause",
    "lessons",
    "runbook",
    "tags",
    "untag",
    "mitigations",
    "references",
    "members",
    "version",
)


def editing(options: dict[str, Any]) -> bool:
    """`incident postmortem` changes the incident only when it edits a section."""
    return options["section"] is not None or options["text"] is not None


def _services(data_dir: Path | None, *, events: bool = False) -> CaseServices:
    """The incident services of this invocation (`events`: the linked events are read too)."""
    cases = runtime_of(data_dir=data_dir).cases
    return cases if events else replace(cases, events=None)


def _print(incident: Incident, fmt: str, line: str) -> None:
    if fmt == "json":
        click.echo(orjson.dumps(incident.as_dict()).decode())
    else:
        click.echo(line)


@click.group()
def incident() -> None:
    """Incidents: open, work through the phases, record, close, write the postmortem, report."""


@incident.command("new")
@click.argument("title")
@click.option("--summary", default="", help="What is known so far.")
@click.option("--severity", default="medium", show_default=True, help="critical, high, medium or low.")
@click.option("--category", help="The incident's type (reports count by it).")
@click.option("--tag", "tags", multiple=True, help="A tag, or an ATT&CK technique id (T1234, T1234.001).")
@click.option("--owner", help="Who leads the response (joins the team as owner).")
@by_option
@format_option
@data_dir_option
@user_errors
@audited(detail=("title", "severity", "category", "tags", "owner"))
def new(
    title: str,
    summary: str,
    severity: str,
    category: str | None,
    tags: tuple[str, ...],
    owner: str | None,
    by: str | None,
    fmt: str,
    data_dir: Path | None,
) -> None:
    """Open an incident (in Identification)."""
    found = _services(data_dir).incidents.open_incident(
        title, who(by), summary=summary, severity=severity, category=category, tags=tags, owner=owner
    )
    audit_note(found.id)
    _print(found, fmt, f"incident {found.id} opened: {found.title}")


@incident.command("list")
@click.option("--phase", help="Only this phase.")
@click.option("--open", "open_only", is_flag=True, help="Only incidents not closed.")
@click.option("--severity", help="Only this severity.")
@click.option("--tag", help="Only incidents with this tag.")
@click.option("--category", help="Only this category.")
@click.option("--limit", type=int, help="At most this many (newest first).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@data_dir_option
@user_errors
def list_incidents(
    phase: str | None,
    open_only: bool,
    severity: str | None,
    tag: str | None,
    category: str | None,
    limit: int | None,
    fmt: str,
    data_dir: Path | None,
) -> None:
    """Incidents, newest first (json: one JSON object a line)."""
    found = _services(data_dir).incidents.list(
        phase=phase, open_only=open_only, severity=severity, tag=tag, category=category, limit=limit
    )
    for item in found:
        if fmt == "json":
            click.echo(orjson.dumps(item.as_dict()).decode())
        else:
            click.echo(
                f"{item.id:>5}  {display(item.created)}  {item.phase:<15} {item.severity:<8} {item.title}"
            )
    if fmt == "table":
        click.echo(f"{len(found)} incidents")


@incident.command("show")
@click.argument("incident_id", metavar="ID", type=int)
@click.option("--events", "events", is_flag=True, help="Show the linked events as stored.")
@format_option
@data_dir_option
@user_errors
def show(incident_id: int, events: bool, fmt: str, data_dir: Path | None) -> None:
    """An incident, its team, links, indicators and timeline."""
    from reynard.cases.text import describe

    services = _services(data_dir, events=events)
    found = services.incidents.get(incident_id)
    timeline = services.incidents.timeline(incident_id)
    stored = None
    if events and services.events is not None:
        stored = {i: services.events.get(i) for i in found.event_ids}
    if fmt == "json":
        body = found.as_dict()
        body["timeline"] = [e.as_dict() for e in timeline]
        if stored is not None:
            body["events"] = [{"id": i, "event": e} for i, e in stored.items()]
        click.echo(orjson.dumps(body).decode())
        return
    click.echo(describe(found, timeline, stored))


@incident.command("phase")
@click.argument("incident_id", metavar="ID", type=int)
@click.argument("phase")
@click.option("--reason", help="Why (needed with --force and --skip-lessons; kept on the timeline).")
@click.option("--force", is_flag=True, help="Skip forward over phases.")
@click.option("--skip-lessons", is_flag=True, help="Close without lessons learned.")
@version_option
@by_option
@format_option
@data_dir_option
@user_errors
@audited(target="incident_id", detail=("phase", "reason", "force", "skip_lessons", "version"))
def phase(
    incident_id: int,
    phase: str,
    reason: str | None,
    force: bool,
    skip_lessons: bool,
    version: int | None,
    by: str | None,
    fmt: str,
    data_dir: Path | None,
) -> None:
    """Move incident ID to PHASE: the next one, or back to an earlier one.

    Phases: Identification, Containment, Eradication, Recovery, "Lessons Learned" (or lessons-learned),
    Closed."""
    found = _services(data_dir).incidents.change_phase(
        incident_id,
        phase,
        who(by),
        reason=reason,
        force=force,
        skip_lessons=skip_lessons,
        expected_version=version,
    )
    _print(found, fmt, f"incident {found.id} in {found.phase} (version {found.version})")


@incident.command("note")
@click.argument("incident_id", metavar="ID", type=int)
@click.argument("text")
@click.option("--corrects", type=int, metavar="ENTRY", help="This note corrects timeline entry ENTRY.")
@click.option("--link", help="What the note is about (scheme:id, e.g. event:<id>).")
@by_option
@data_dir_option
@user_errors
@audited(target="incident_id", detail=("corrects", "link"))
def note(
    incident_id: int, text: str, corrects: int | None, link: str | None, by: str | None, data_dir: Path | None
) -> None:
    """Add a note to the timeline (entries are never edited: a correction is a new note)."""
    store = _services(data_dir).incidents
    if corrects is not None:
        if link:
            raise click.UsageError("give --corrects or --link, not both")
        entry_id = store.add_entry(incident_id, "correction", who(by), text, f"entry:{corrects}")
    else:
        entry_id = store.add_entry(incident_id, "note", who(by), text, link)
    audit_note(entry=entry_id)
    click.echo(f"entry {entry_id} on incident {incident_id}")


@incident.command("link")
@click.argument("incident_id", metavar="ID", type=int)
@click.option("--alert", "alert_ids", type=int, multiple=True, help="An alert (escalated into ID).")
@click.option("--event", "event_ids", multiple=True, help="A stored event's id.")
@version_option
@by_option
@data_dir_option
@user_errors
@audited(target="incident_id", detail=("alert_ids", "event_ids", "version"))
def link(
    incident_id: int,
    alert_ids: tuple[int, ...],
    event_ids: tuple[str, ...],
    version: int | None,
    by: str | None,
    data_dir: Path | None,
) -> None:
    """Link alerts (as escalating them into the incident) and events (their indicators come along)."""
    if not alert_ids and not event_ids:
        raise click.UsageError("give --alert ID or --event ID")
    escalator = _services(data_dir, events=True).escalator()
    actor = who(by)
    for alert_id in alert_ids:
        done = escalator.escalate(alert_id, actor, incident_id, expected_version=version)
        version = None if version is None else done.incident.version
        click.echo(f"alert {alert_id} in incident {incident_id}")
    if event_ids:
        found = escalator.link_events(incident_id, event_ids, actor, expected_version=version)
        click.echo(f"incident {incident_id}: {len(found.event_ids)} events linked")


@incident.command("set")
@click.argument("incident_id", metavar="ID", type=int)
@click.option("--title")
@click.option("--summary")
@click.option("--severity")
@click.option("--category")
@click.option("--owner")
@click.option("--root-cause")
@click.option("--lessons")
@click.option("--runbook")
@click.option("--tag", "tags", multiple=True, help="Add a tag or technique id.")
@click.option("--untag", multiple=True, help="Remove a tag.")
@click.option("--mitigation", "mitigations", multiple=True, help="Add a mitigation.")
@click.option("--reference", "references", multiple=True, help="Add a reference (a URL, a ticket).")
@click.option("--member", "members", multiple=True, metavar="NAME=ROLE", help="Add a team member.")
@version_option
@by_option
@format_option
@data_dir_option
@user_errors
@audited(target="incident_id", detail=SET_FIELDS)
def set_fields(
    incident_id: int,
    tags: tuple[str, ...],
    untag: tuple[str, ...],
    mitigations: tuple[str, ...],
    references: tuple[str, ...],
    members: tuple[str, ...],
    version: int | None,
    by: str | None,
    fmt: str,
    data_dir: Path | None,
    **scalars: str | None,
) -> None:
    """Set fields of incident ID, add tags, mitigations, references and team members: one change."""
    from reynard.cases.values import parse_tag

    store = _services(data_dir).incidents
    current = store.get(incident_id)
    expected = current.version if version is None else version
    changes: dict[str, Any] = {k: v for k, v in scalars.items() if v is not None}
    if tags or untag:
        removed = {parse_tag(t) for t in untag}
        changes["tags"] = [t for t in (*current.tags, *tags) if t not in removed]
    if mitigations:
        changes["mitigations"] = [*current.mitigations, *mitigations]
    if references:
        changes["references"] = [*current.references, *references]
    team = [_member(m) for m in members]
    if not changes and not team:
        raise click.UsageError("nothing to set")
    with store.change(incident_id, who(by), expected) as change:
        change.set(**changes)
        for name, role in team:
            change.add_member(name, role)
    found = store.get(incident_id)
    _print(found, fmt, f"incident {found.id} at version {found.version}")


def _member(text: str) -> tuple[str, str]:
    name, sep, role = text.partition("=")
    if not sep or not name.strip() or not role.strip():
        raise click.BadParameter(f"{text!r} is not NAME=ROLE", param_hint="--member")
    return name.strip(), role.strip()


@incident.command("close")
@click.argument("incident_id", metavar="ID", type=int)
@click.option("--lessons", help="The lessons learned (recorded, then the incident is closed).")
@click.option("--skip-lessons", is_flag=True, help="Close without lessons learned (needs --reason).")
@click.option("--force", is_flag=True, help="Close from before Lessons Learned (needs --reason).")
@click.option("--reason", help="Why lessons are skipped or phases jumped.")
@version_option
@by_option
@format_option
@data_dir_option
@user_errors
@audited(target="incident_id", detail=("lessons", "skip_lessons", "force", "reason", "version"))
def close(
    incident_id: int,
    lessons: str | None,
    skip_lessons: bool,
    force: bool,
    reason: str | None,
    version: int | None,
    by: str | None,
    fmt: str,
    data_dir: Path | None,
) -> None:
    """Close incident ID (from Lessons Learned): lessons needed, or skipped with a reason."""
    found = _services(data_dir).incidents.close(
        incident_id,
        who(by),
        lessons=lessons,
        skip_lessons=skip_lessons,
        reason=reason,
        force=force,
        expected_version=version,
    )
    _print(found, fmt, f"incident {found.id} closed")


@incident.command("postmortem")
@click.argument("incident_id", metavar="ID", type=int)
@click.option(
    "--format", "fmt", type=click.Choice(["markdown", "html"]), default="markdown", show_default=True
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE.")
@click.option("--section", help="Edit this section (problem, timeline, root_cause, actions, worked, ...).")
@click.option("--text", help="With --section: its new text ('' for the generated one again).")
@version_option
@by_option
@data_dir_option
@user_errors
@audited(target="incident_id", detail=("section", "version"), when=editing)
def postmortem(
    incident_id: int,
    fmt: str,
    output: Path | None,
    section: str | None,
    text: str | None,
    version: int | None,
    by: str | None,
    data_dir: Path | None,
) -> None:
    """Print (or write) the postmortem of incident ID; or, with --section and --text, edit a section."""
    from reynard.cases.postmortem import build
    from reynard.cases.render import to_html, to_markdown

    store = _services(data_dir).incidents
    if section is not None or text is not None:
        if section is None or text is None:
            raise click.UsageError("give --section and --text together")
        found = store.set_postmortem_section(incident_id, section, text, who(by), expected_version=version)
        click.echo(f"incident {incident_id}: postmortem {section} kept (version {found.version})")
        return
    document = build(store.get(incident_id), store.timeline(incident_id))
    rendered = to_html(document) if fmt == "html" else to_markdown(document)
    if output is None:
        click.echo(rendered, nl=False)
    else:
        output.write_text(rendered, encoding="utf-8")
        click.echo(f"wrote {output}")


@incident.command("escalate")
@click.argument("alert_id", metavar="ALERT_ID", type=int)
@click.option("--into", "incident_id", type=int, help="Join this open incident (default: a new one).")
@by_option
@format_option
@data_dir_option
@user_errors
@audited(target="alert_id", detail=("incident_id",))
def escalate(alert_id: int, incident_id: int | None, by: str | None, fmt: str, data_dir: Path | None) -> None:
    """Make alert ALERT_ID an incident, or add it to an open one: its events and indicators come along."""
    done = _services(data_dir, events=True).escalator().escalate(alert_id, who(by), incident_id)
    audit_note(incident=done.incident.id, opened=done.created)
    verb = "opened" if done.created else "joined"
    _print(
        done.incident,
        fmt,
        f"alert {alert_id} escalated: incident {done.incident.id} {verb} "
        f"({done.events_linked} events, {done.indicators_added} indicators)",
    )


@incident.command("report")
@click.option("--since", help="Opened at or after (ISO 8601).")
@click.option("--until", help="Opened before (ISO 8601).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@data_dir_option
@user_errors
def report_command(since: str | None, until: str | None, fmt: str, data_dir: Path | None) -> None:
    """Incidents by phase, type and month; mean time to contain and to close; the commonest types."""
    from reynard.cases.reports import report
    from reynard.cases.text import describe_report

    found = _services(data_dir).incidents.list(
        since=_moment(since, "--since"), until=_moment(until, "--until")
    )
    result = report(found)
    if fmt == "json":
        click.echo(orjson.dumps(result.as_dict()).decode())
    else:
        click.echo(describe_report(result))


def _moment(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    from reynard.events.timestamps import TimestampError, parse_timestamp

    try:
        return parse_timestamp(text)[0]
    except TimestampError as e:
        raise click.BadParameter(str(e), param_hint=name) from None
