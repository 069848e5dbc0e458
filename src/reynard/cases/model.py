"""An incident and its timeline as the store hands them out: frozen values, read once per request.

`as_dict()` is the JSON shape the API and `reynard incident show --format json` print (times in ISO
8601 UTC)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reynard.cases.phases import CLOSED, PHASES, PhaseChange, entered, mozdef_dates
from reynard.cases.values import is_technique
from reynard.events.timestamps import iso_or_none


@dataclass(frozen=True)
class Member:
    name: str
    role: str
    added_at: datetime
    added_by: str


@dataclass(frozen=True)
class LinkedIndicator:
    kind: str
    value: str
    source: str | None  # where it was found: `alert:12`, `event:<id>`, or None when entered by hand
    added_at: datetime


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened: who, when, what, and the object it links to. Never changed once written;
    `version` is the incident's version after it (a change makes a new version, a note does not)."""

    id: int
    incident_id: int
    at: datetime
    by: str
    kind: str
    text: str
    link: str | None
    version: int
    data: dict[str, Any] | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "incident_id": self.incident_id,
            "at": iso_or_none(self.at),
            "by": self.by,
            "kind": self.kind,
            "text": self.text,
            "link": self.link,
            "version": self.version,
            "data": self.data,
        }


@dataclass(frozen=True)
class Incident:
    id: int
    title: str
    summary: str
    severity: str
    category: str | None
    phase: str
    owner: str | None
    created: datetime
    created_by: str
    updated: datetime
    version: int
    tags: tuple[str, ...] = ()
    root_cause: str = ""
    lessons: str = ""
    mitigations: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    runbook: str | None = None
    members: tuple[Member, ...] = ()
    alert_ids: tuple[int, ...] = ()
    event_ids: tuple[str, ...] = ()
    indicators: tuple[LinkedIndicator, ...] = ()
    phase_changes: tuple[PhaseChange, ...] = ()
    postmortem: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def is_open(self) -> bool:
        return self.phase != CLOSED

    @property
    def techniques(self) -> list[str]:
        return [t for t in self.tags if is_technique(t)]

    def entered(self) -> dict[str, datetime | None]:
        return entered(self.phase_changes, self.phase)

    def dates(self) -> dict[str, datetime | None]:
        return mozdef_dates(self.phase_changes, self.phase)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "summary": self.summary,
            "severity": self.severity,
            "category": self.category,
            "phase": self.phase,
            "phase_index": PHASES.index(self.phase),
            "owner": self.owner,
            "created": iso_or_none(self.created),
            "created_by": self.created_by,
            "updated": iso_or_none(self.updated),
            "version": self.version,
            "tags": list(self.tags),
            "techniques": self.techniques,
            "root_cause": self.root_cause,
            "lessons": self.lessons,
            "mitigations": list(self.mitigations),
            "references": list(self.references),
            "runbook": self.runbook,
            "members": [
                {"name": m.name, "role": m.role, "added_at": iso_or_none(m.added_at), "added_by": m.added_by}
                for m in self.members
            ],
            "alert_ids": list(self.alert_ids),
            "event_ids": list(self.event_ids),
            "indicators": [
                {"kind": i.kind, "value": i.value, "source": i.source, "added_at": iso_or_none(i.added_at)}
                for i in self.indicators
            ],
            "phase_changes": [
                {
                    "phase": c.phase,
                    "at": iso_or_none(c.at),
                    "by": c.by,
                    "from_phase": c.source,
                    "backward": c.backward,
                    "forced": c.forced,
                    "reason": c.reason,
                }
                for c in self.phase_changes
            ],
            "phase_entered": {p: iso_or_none(t) for p, t in self.entered().items()},
            "mozdef_dates": {name: iso_or_none(t) for name, t in self.dates().items()},
            "postmortem": dict(self.postmortem),
        }
