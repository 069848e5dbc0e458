"""Reading incidents back from the state database: rows and their child tables into frozen values,
many incidents at once (a list or a report loads each child table once, not once per incident)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, select

from reynard.cases.model import Incident, LinkedIndicator, Member, TimelineEntry
from reynard.cases.phases import PhaseChange
from reynard.state.tables import (
    incident_alerts,
    incident_entries,
    incident_events,
    incident_indicators,
    incident_members,
    incident_tags,
    postmortem_sections,
)

CHUNK = 500  # ids per IN (...): well under SQLite's bound-parameter limit
PHASE_KINDS = ("opened", "phase")


def entry_of(row: Any) -> TimelineEntry:
    return TimelineEntry(
        id=row.id,
        incident_id=row.incident_id,
        at=row.at,
        by=row.by,
        kind=row.kind,
        text=row.text,
        link=row.link,
        version=row.version,
        data=orjson.loads(row.data) if row.data else None,
    )


def phase_change_of(entry: TimelineEntry) -> PhaseChange:
    data = entry.data or {}
    return PhaseChange(
        phase=data["to"],
        at=entry.at,
        by=entry.by,
        source=data.get("from"),
        backward=bool(data.get("backward")),
        forced=bool(data.get("forced")),
        reason=data.get("reason"),
    )


def _grouped(connection: Connection, table: Any, ids: Sequence[int], *, where: Any = None) -> dict:
    found: dict[int, list] = defaultdict(list)
    order = [table.c.id] if "id" in table.c else []
    for start in range(0, len(ids), CHUNK):
        query = select(table).where(table.c.incident_id.in_(ids[start : start + CHUNK]))
        if where is not None:
            query = query.where(where)
        if "position" in table.c:
            order = [table.c.position]
        for row in connection.execute(query.order_by(*order)):
            found[row.incident_id].append(row)
    return found


def load(connection: Connection, rows: Sequence[Any]) -> list[Incident]:
    """The incidents of `rows` (rows of `incidents`), with every child, in the order given."""
    ids = [row.id for row in rows]
    tags = _grouped(connection, incident_tags, ids)
    members = _grouped(connection, incident_members, ids)
    alerts = _grouped(connection, incident_alerts, ids)
    events = _grouped(connection, incident_events, ids)
    indicators = _grouped(connection, incident_indicators, ids)
    phases = _grouped(connection, incident_entries, ids, where=incident_entries.c.kind.in_(PHASE_KINDS))
    sections = _grouped(connection, postmortem_sections, ids)
    result = []
    for row in rows:
        result.append(
            Incident(
                id=row.id,
                title=row.title,
                summary=row.summary,
                severity=row.severity,
                category=row.category,
                phase=row.phase,
                owner=row.owner,
                created=row.created,
                created_by=row.created_by,
                updated=row.updated,
                version=row.version,
                tags=tuple(t.tag for t in tags[row.id]),
                root_cause=row.root_cause,
                lessons=row.lessons,
                mitigations=tuple(orjson.loads(row.mitigations)),
                references=tuple(orjson.loads(row.references)),
                runbook=row.runbook,
                members=tuple(
                    Member(m.name, m.role, m.added_at, m.added_by)
                    for m in sorted(members[row.id], key=lambda m: (m.added_at, m.name))
                ),
                alert_ids=tuple(sorted(a.alert_id for a in alerts[row.id])),
                event_ids=tuple(e.event_id for e in events[row.id]),
                indicators=tuple(
                    LinkedIndicator(i.kind, i.value, i.source, i.added_at) for i in indicators[row.id]
                ),
                phase_changes=tuple(phase_change_of(entry_of(e)) for e in phases[row.id]),
                postmortem={s.section: s.text for s in sections[row.id]},
            )
        )
    return result
