"""The incident record of a playbook: the response actions' `IncidentSink` on Reynard's incidents.

`reynard:open-incident` and `reynard:add-timeline-entry` are idempotent on a key (a finding's id opens
one incident however often it repeats; `<execution>:<state>` adds one entry however often a task is
retried). The key is kept as the link of what it made: the incident's opening entry links
`playbook:<key>`, a step's entry links `playbook-step:<key>` (with the step's details as its data);
looking them up is one indexed query on the timeline. Everything else goes through `IncidentStore`, so
phases, versions and the timeline's rules hold for playbooks as for people.

Where the playbook and the analyst meet: `details["FindingId"]`, a GuardDuty finding's id, makes the
incident the finding's. If the finding already has an open incident (an alert of it was escalated: the
timeline links `finding:<id>`), the playbook joins that one and leaves its title and summary to the
people working it; else it opens one, of the given category, with the runbook the finding's type calls
for, linking the finding. Either way every alert of the finding not yet in an incident is escalated into
it (`Escalator.escalate`, as a person would: the alert linked, its events and indicators, its status
`escalated`). A finding whose incident was closed and that comes back opens a new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reynard.cases.errors import NotFound
from reynard.cases.escalation import FINDING, Escalator
from reynard.cases.phases import CLOSED
from reynard.cases.sink import IncidentRecord, Opened, PlaybookEntry
from reynard.cases.store import IncidentStore
from reynard.cases.values import ALERT_SEVERITY

BY = "reynard (playbook)"
OPENED, STEP = "playbook:", "playbook-step:"


class PlaybookIncidents:
    """`IncidentSink` (sink.py) over an `IncidentStore`; with an `escalator`, a finding's incident is its
    alerts' too (see the module docstring)."""

    def __init__(self, store: IncidentStore, escalator: Escalator | None = None):
        self.store = store
        self.escalator = escalator

    def open(
        self,
        key: str,
        title: str,
        severity: str,
        summary: str,
        details: Mapping[str, Any],
        *,
        category: str | None = None,
    ) -> Opened:
        finding = details.get("FindingId") if isinstance(details, Mapping) else None
        finding = finding if isinstance(finding, str) and finding else None
        alerts = self.escalator.alerts.of_finding(finding) if self.escalator and finding else []
        existing = self.store.open_incident_with_link(OPENED + key)
        if existing is not None:
            joined = not self._opened_it(existing, key)
            if not joined:
                self._update(existing, title, summary)
            self._meet(existing, alerts)
            return Opened(str(existing), False, joined)
        found = self._incident_of(finding, alerts)
        if found is not None:
            self.store.add_entry(found, "playbook", BY, f"playbook response {key} joined", OPENED + key)
            self._meet(found, alerts)
            return Opened(str(found), False, True)
        category = category or next((a["category"] for a in alerts if a.get("category")), None)
        incident_id = self._open(key, title, severity, summary, details, category, finding)
        self._meet(incident_id, alerts)
        return Opened(str(incident_id), True)

    def _opened_it(self, incident_id: int, key: str) -> bool:
        first = self.store.timeline(incident_id)[0]
        return first.link == OPENED + key

    def _update(self, incident_id: int, title: str, summary: str) -> None:
        incident = self.store.get(incident_id)
        changes = {"title": title} if incident.title != title else {}
        if summary and incident.summary != summary:
            changes["summary"] = summary
        if changes:
            self.store.set_fields(incident_id, BY, changes)

    def _incident_of(self, finding: str | None, alerts: list[dict]) -> int | None:
        """The finding's open incident: one linking it, or one an alert of it was escalated to."""
        if finding is not None:
            linked = self.store.open_incident_with_link(FINDING + finding)
            if linked is not None:
                return linked
        for alert in alerts:
            found = self.store.incident_of_alert(alert["id"])
            if found is not None and self.store.get(found).phase != CLOSED:
                return found
        return None

    def _open(
        self,
        key: str,
        title: str,
        severity: str,
        summary: str,
        details: Mapping[str, Any],
        category: str | None,
        finding: str | None,
    ) -> int:
        level = ALERT_SEVERITY.get(str(severity).upper(), "medium")
        tags = [str(t) for t in details.get("Tags") or ()] if isinstance(details, Mapping) else []
        runbook = self._runbook(details, category)
        with self.store.opening(
            title, BY, summary=summary, severity=level, category=category, link=OPENED + key
        ) as change:
            if tags:
                change.add_tags(tags)
            if finding is not None:
                change.entry("alert", f"GuardDuty finding {finding}", FINDING + finding)
            if runbook:
                change.set(runbook=runbook)
        return change.incident_id

    def _runbook(self, details: Mapping[str, Any], category: str | None) -> str | None:
        suggest = self.escalator.suggest_runbook if self.escalator else None
        if suggest is None:
            return None
        finding_type = details.get("FindingType") if isinstance(details, Mapping) else None
        return suggest({"finding_type": finding_type, "category": category})

    def _meet(self, incident_id: int, alerts: list[dict]) -> None:
        """Escalate into the incident every alert of its finding that is in no other incident."""
        if self.escalator is None:
            return
        for alert in alerts:
            if self.store.incident_of_alert(alert["id"]) in (None, incident_id):
                self.escalator.escalate(alert["id"], BY, incident_id)

    def add_entry(self, incident_id: str, key: str, text: str, details: Mapping[str, Any]) -> bool:
        number = int(incident_id)
        if self.store.incident_with_link(STEP + key, number) is not None:
            return False
        self.store.add_entry(number, "playbook", BY, text, link=STEP + key, data=details)
        return True

    def read(self, incident_id: str) -> IncidentRecord | None:
        try:
            number = int(incident_id)
            incident = self.store.get(number)
        except (ValueError, NotFound):
            return None
        entries = self.store.timeline(number)
        keys = tuple(e.link.removeprefix(OPENED) for e in entries if e.link and e.link.startswith(OPENED))
        steps = tuple(
            PlaybookEntry(e.link.removeprefix(STEP), e.text, e.data or {})
            for e in entries
            if e.link and e.link.startswith(STEP)
        )
        key = keys[0] if keys else ""
        return IncidentRecord(str(number), key, incident.title, incident.severity.upper(), steps, keys)


__all__ = ["PlaybookIncidents"]
