"""The postmortem of an incident: seven sections, each the analysts' edited text where there is some
(`set_postmortem_section`) and generated from the incident otherwise. One document model, two
renderers (`render.py`): Markdown and a standalone HTML page.

Generated from: problem description ← title, summary, severity, category, tags and ATT&CK techniques,
alerts, events, indicators, runbook, references; timeline ← every timeline entry; root cause ← the
root cause; what was done ← the mitigations, then the phase changes, playbook steps, notifications
and evidence on the timeline; what worked and what did not ← the lessons; recommendations ← nothing
the incident holds (to be written); team ← the owner and the members with their roles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reynard.cases.model import Incident, TimelineEntry
from reynard.cases.values import POSTMORTEM_SECTIONS
from reynard.events.timestamps import iso_or_none

NOT_RECORDED = "Not recorded."
# Timeline kinds that say what was done (for "What was done").
DONE_KINDS = ("phase", "playbook", "notification", "evidence")


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = Paragraph | Bullets | Table


@dataclass(frozen=True)
class Section:
    key: str
    heading: str
    blocks: tuple[Block, ...]
    edited: bool


@dataclass(frozen=True)
class Postmortem:
    title: str
    incident_id: int
    version: int
    sections: tuple[Section, ...]


def blocks_of_text(text: str) -> tuple[Block, ...]:
    """Edited text as blocks: paragraphs split on blank lines, a paragraph of `- ` or `* ` lines a list."""
    found: list[Block] = []
    for chunk in text.replace("\r\n", "\n").split("\n\n"):
        lines = [line.rstrip() for line in chunk.strip("\n").split("\n") if line.strip()]
        if not lines:
            continue
        if all(line.lstrip().startswith(("- ", "* ")) for line in lines):
            found.append(Bullets(tuple(line.lstrip()[2:].strip() for line in lines)))
        else:
            found.append(Paragraph("\n".join(lines)))
    return tuple(found)


def _problem(incident: Incident) -> tuple[Block, ...]:
    facts = [
        f"Severity: {incident.severity}",
        f"Category: {incident.category or NOT_RECORDED}",
        f"Phase: {incident.phase}",
        f"Opened: {iso_or_none(incident.created)} by {incident.created_by}",
    ]
    closed = incident.dates()["dateClosed"]
    if closed is not None:
        facts.append(f"Closed: {iso_or_none(closed)}")
    free = [t for t in incident.tags if t not in incident.techniques]
    if free:
        facts.append(f"Tags: {', '.join(free)}")
    if incident.techniques:
        facts.append(f"MITRE ATT&CK techniques: {', '.join(incident.techniques)}")
    if incident.alert_ids:
        facts.append(f"Alerts: {', '.join(str(a) for a in incident.alert_ids)}")
    if incident.event_ids:
        facts.append(f"Events linked: {len(incident.event_ids)}")
    if incident.runbook:
        facts.append(f"Runbook: {incident.runbook}")
    blocks: list[Block] = [Paragraph(incident.summary or incident.title), Bullets(tuple(facts))]
    if incident.indicators:
        blocks.append(Paragraph("Indicators:"))
        blocks.append(Bullets(tuple(f"{i.kind}: {i.value}" for i in incident.indicators)))
    if incident.references:
        blocks.append(Paragraph("References:"))
        blocks.append(Bullets(incident.references))
    return tuple(blocks)


def _ordered(timeline: Sequence[TimelineEntry]) -> list[TimelineEntry]:
    return sorted(timeline, key=lambda e: (e.at, e.id))


def _timeline(timeline: Sequence[TimelineEntry]) -> tuple[Block, ...]:
    rows = tuple((iso_or_none(e.at) or "", e.by, e.kind, e.text) for e in _ordered(timeline))
    return (Table(("Time (UTC)", "Who", "Kind", "What"), rows),) if rows else (Paragraph(NOT_RECORDED),)


def _actions(incident: Incident, timeline: Sequence[TimelineEntry]) -> tuple[Block, ...]:
    blocks: list[Block] = []
    if incident.mitigations:
        blocks.append(Paragraph("Mitigations:"))
        blocks.append(Bullets(incident.mitigations))
    done = [f"{iso_or_none(e.at)} {e.by}: {e.text}" for e in _ordered(timeline) if e.kind in DONE_KINDS]
    if done:
        blocks.append(Paragraph("Steps taken:"))
        blocks.append(Bullets(tuple(done)))
    return tuple(blocks) or (Paragraph(NOT_RECORDED),)


def _team(incident: Incident) -> tuple[Block, ...]:
    people = {m.name: m.role for m in incident.members}
    if incident.owner and incident.owner not in people:
        people = {incident.owner: "owner", **people}
    if not people:
        return (Paragraph(NOT_RECORDED),)
    return (Bullets(tuple(f"{name}: {role}" for name, role in people.items())),)


def _text(value: str) -> tuple[Block, ...]:
    return blocks_of_text(value) or (Paragraph(NOT_RECORDED),)


def build(incident: Incident, timeline: Sequence[TimelineEntry]) -> Postmortem:
    """The postmortem of `incident` with its `timeline`."""
    generated = {
        "problem": lambda: _problem(incident),
        "timeline": lambda: _timeline(timeline),
        "root_cause": lambda: _text(incident.root_cause),
        "actions": lambda: _actions(incident, timeline),
        "worked": lambda: _text(incident.lessons),
        "recommendations": lambda: (Paragraph("None recorded yet."),),
        "team": lambda: _team(incident),
    }
    sections = []
    for key, heading in POSTMORTEM_SECTIONS.items():
        edited = incident.postmortem.get(key, "").strip()
        blocks = blocks_of_text(edited) if edited else generated[key]()
        sections.append(Section(key, heading, blocks, bool(edited)))
    return Postmortem(
        f"Postmortem: incident {incident.id}, {incident.title}",
        incident.id,
        incident.version,
        tuple(sections),
    )


__all__ = ["Bullets", "Paragraph", "Postmortem", "Section", "Table", "blocks_of_text", "build"]
