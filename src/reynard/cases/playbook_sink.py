"""The incident record of a playbook: the response actions' `IncidentSink` on Reynard's incidents.

`reynard:open-incident` and `reynard:add-timeline-entry` are idempotent on a key (a finding's id opens
one incident however often it repeats; `<execution>:<state>` adds one entry however often a task is
retried). The key is kept as the link of what it made: the incident's opening entry links
`playbook:<key>`, a step's entry links `playbook-step:<key>`; looking them up is one indexed query on
the timeline. Everything else goes through `IncidentStore`, so phases, versions and the timeline's
rules hold for playbooks as for people.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reynard.cases.errors import NotFound
from reynard.cases.sink import IncidentRecord, Opened, PlaybookEntry
from reynard.cases.store import IncidentStore
from reynard.cases.values import ALERT_SEVERITY

BY = "reynard (playbook)"
OPENED, STEP = "playbook:", "playbook-step:"


class PlaybookIncidents:
    """`IncidentSink` (sink.py) over an `IncidentStore`."""

    def __init__(self, store: IncidentStore):
        self.store = store

    def _linked(self, link: str, incident_id: int | None = None) -> int | None:
        return self.store.incident_with_link(link, incident_id)

    def open(self, key: str, title: str, severity: str, summary: str, details: Mapping[str, Any]) -> Opened:
        level = ALERT_SEVERITY.get(str(severity).upper(), "medium")
        existing = self._linked(OPENED + key)
        if existing is not None:  # the incident of this key: updated where the playbook says otherwise
            incident = self.store.get(existing)
            changes = {"title": title} if incident.title != title else {}
            if summary and incident.summary != summary:
                changes["summary"] = summary
            if changes:
                self.store.set_fields(existing, BY, changes)
            return Opened(str(existing), False)
        tags = [str(t) for t in details.get("Tags") or ()] if isinstance(details, Mapping) else []
        incident = self.store.open_incident(
            title, BY, summary=summary, severity=level, tags=tags, link=OPENED + key
        )
        return Opened(str(incident.id), True)

    def add_entry(self, incident_id: str, key: str, text: str, details: Mapping[str, Any]) -> bool:
        number = int(incident_id)
        if self._linked(STEP + key, number) is not None:
            return False
        self.store.add_entry(number, "playbook", BY, text, link=STEP + key)
        return True

    def read(self, incident_id: str) -> IncidentRecord | None:
        try:
            number = int(incident_id)
            incident = self.store.get(number)
        except (ValueError, NotFound):
            return None
        entries = self.store.timeline(number)
        opening = next((e.link for e in entries if e.link and e.link.startswith(OPENED)), None)
        steps = tuple(
            PlaybookEntry(e.link.removeprefix(STEP), e.text, e.data or {})
            for e in entries
            if e.link and e.link.startswith(STEP)
        )
        key = opening.removeprefix(OPENED) if opening else ""
        return IncidentRecord(str(number), key, incident.title, incident.severity.upper(), steps)


__all__ = ["PlaybookIncidents"]
