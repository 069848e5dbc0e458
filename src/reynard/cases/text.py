"""Incidents and reports as text for the terminal (`reynard incident show`, `report`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reynard.cases.model import Incident, TimelineEntry
from reynard.cases.reports import Mean, Report
from reynard.events.timestamps import display, iso_or_none


def describe(
    incident: Incident, timeline: Sequence[TimelineEntry], events: Mapping[str, dict | None] | None = None
) -> str:
    lines = [
        f"incident {incident.id}: {incident.title}",
        f"  phase {incident.phase}, severity {incident.severity}, version {incident.version}",
        f"  opened {iso_or_none(incident.created)} by {incident.created_by}",
    ]
    for label, value in (
        ("category", incident.category),
        ("owner", incident.owner),
        ("runbook", incident.runbook),
        ("summary", incident.summary),
        ("root cause", incident.root_cause),
        ("lessons", incident.lessons),
    ):
        if value:
            lines.append(f"  {label}: {value}")
    if incident.tags:
        lines.append(f"  tags: {', '.join(incident.tags)}")
    for label, items in (("mitigations", incident.mitigations), ("references", incident.references)):
        if items:
            lines.append(f"  {label}: " + "; ".join(items))
    if incident.members:
        lines.append("  team: " + ", ".join(f"{m.name} ({m.role})" for m in incident.members))
    if incident.alert_ids:
        lines.append("  alerts: " + ", ".join(str(a) for a in incident.alert_ids))
    if incident.event_ids:
        lines.append(f"  events: {len(incident.event_ids)}")
    for event_id, event in (events or {}).items():
        said = event.get("summary") if event else "(no longer in the event store)"
        lines.append(f"    {event_id}  {(event or {}).get('utctimestamp', '')}  {said}")
    if incident.indicators:
        lines.append("  indicators:")
        lines += [f"    {i.kind:<10} {i.value}" for i in incident.indicators]
    dates = {k: v for k, v in incident.dates().items() if v is not None}
    if dates:
        lines.append("  dates: " + ", ".join(f"{k} {iso_or_none(v)}" for k, v in dates.items()))
    lines.append("timeline:")
    for entry in timeline:
        link = f"  [{entry.link}]" if entry.link else ""
        lines.append(
            f"  #{entry.id:<5} {display(entry.at)}  {entry.by:<12} {entry.kind:<12} {entry.text}{link}"
        )
    return "\n".join(lines)


def _mean(mean: Mean) -> str:
    if mean.seconds is None:
        return "none yet"
    return f"{mean.seconds / 3600:.2f} h over {mean.count} incidents"


def describe_report(result: Report) -> str:
    lines = [f"{result.total} incidents, {result.open} open"]
    lines.append("by phase: " + ", ".join(f"{p} {n}" for p, n in result.by_phase.items()))
    lines.append("by month: " + (", ".join(f"{m} {n}" for m, n in result.by_month.items()) or "-"))
    lines.append("mean time to contain: " + _mean(result.time_to_contain))
    lines.append("mean time to close: " + _mean(result.time_to_close))
    lines.append("most common types: " + (", ".join(f"{t} {n}" for t, n in result.top_types) or "-"))
    if result.by_technique:
        lines.append("techniques: " + ", ".join(f"{t} {n}" for t, n in result.by_technique.items()))
    if result.by_tag:
        lines.append("tags: " + ", ".join(f"{t} {n}" for t, n in result.by_tag.items()))
    return "\n".join(lines)
