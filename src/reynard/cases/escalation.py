"""Escalation: an alert becomes an incident, or joins an open one, in one call.

What comes along: the alert itself (linked), every event it stands for (linked by id), the indicators
found in those events (`extraction.indicators_in`, over the first `max_events` the event store
returns), the alert's tags (a malformed technique id left out and said so), its severity when higher
than the incident's, and the runbook `suggest_runbook(alert)` names. All of it is one transaction on
the incident; then the alert's status becomes `escalated` (AlertStore.set_status, its own transaction,
commented with the incident). Were that second step to fail, escalating the alert again finishes it:
an alert already in the incident asked for is not linked twice, only its status is set.

An alert about a GuardDuty finding (`detect.alerts.finding_ids`) goes to the finding's incident when one
is open (its timeline links `finding:<id>`: a playbook responding to the finding opened it, or another
alert of the same finding was escalated), and the incident it opens links the finding, so a playbook
responding to it later finds it there (`playbook_sink.PlaybookIncidents`). One finding, one incident.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from reynard.cases import values
from reynard.cases.errors import CaseError, NotFound
from reynard.cases.extraction import indicators_in
from reynard.cases.model import Incident
from reynard.cases.phases import CLOSED
from reynard.cases.store import IncidentChange, IncidentStore
from reynard.detect.alerts import AlertStore, finding_ids
from reynard.store.base import EventStore

MAX_EVENTS = 1000  # events read from the store per escalation for their indicators (all are linked)
FINDING = "finding:"  # the link of a GuardDuty finding's entry: what an alert and a playbook meet on
SuggestRunbook = Callable[[dict], str | None]


@dataclass(frozen=True)
class Escalation:
    """What an escalation did: the incident as it now is, and whether it was opened for this alert."""

    incident: Incident
    created: bool
    events_linked: int
    indicators_added: int


class Escalator:
    """Escalates alerts into incidents and links events, reading the events from `events` (when None,
    events are linked by id and no indicators are found)."""

    def __init__(
        self,
        incidents: IncidentStore,
        alerts: AlertStore,
        events: EventStore | None = None,
        suggest_runbook: SuggestRunbook | None = None,
        max_events: int = MAX_EVENTS,
    ):
        self.incidents = incidents
        self.alerts = alerts
        self.events = events
        self.suggest_runbook = suggest_runbook
        self.max_events = max_events

    def escalate(
        self,
        alert_id: int,
        by: str,
        incident_id: int | None = None,
        *,
        expected_version: int | None = None,
    ) -> Escalation:
        """Open an incident for the alert, or (with `incident_id`) add it to that open incident; without
        one, an alert about a GuardDuty finding joins the finding's open incident if there is one."""
        alert = self.alerts.get(alert_id)
        if alert is None:
            raise NotFound(f"no alert with id {alert_id}")
        already = self.incidents.incident_of_alert(alert_id)
        if already is not None:
            if incident_id is not None and incident_id != already:
                raise CaseError(f"alert {alert_id} is already in incident {already}")
            self._mark(alert, already, by)
            return Escalation(self.incidents.get(already), False, 0, 0)
        runbook = self.suggest_runbook(alert) if self.suggest_runbook is not None else None
        event_ids = list(alert.get("event_ids") or [])
        found, read = self._indicators(event_ids)
        findings = finding_ids(alert)
        if incident_id is None:
            incident_id, expected_version = self.finding_incident(findings), None
        new_findings = [
            f for f in findings if incident_id is None or not self._has_link(incident_id, FINDING + f)
        ]
        if incident_id is None:
            with self.incidents.opening(
                alert.get("summary") or f"alert {alert_id}",
                by,
                summary=_summary(alert),
                severity=values.severity_of_alert(alert.get("severity")),
                category=alert.get("category"),
                link=f"alert:{alert_id}",
                text=f"incident opened from alert {alert_id} ({alert['rule']})",
            ) as change:
                counts = self._bring(change, alert, event_ids, found, read, runbook)
                self._link_findings(change, new_findings, alert["id"])
            created = True
        else:
            with self.incidents.change(incident_id, by, expected_version) as change:
                if change.phase == CLOSED:
                    raise CaseError(
                        f"incident {incident_id} is closed: move it back to an open phase first, "
                        "or escalate the alert into a new incident"
                    )
                severity = values.severity_of_alert(alert.get("severity"))
                if values.more_severe(severity, change.current("severity")) != change.current("severity"):
                    change.set(severity=severity)
                counts = self._bring(change, alert, event_ids, found, read, runbook)
                self._link_findings(change, new_findings, alert["id"])
            created = False
        self._mark(alert, change.incident_id, by)
        return Escalation(self.incidents.get(change.incident_id), created, *counts)

    def join_finding_incident(self, alert_id: int, alert: dict, by: str) -> Escalation | None:
        """A new alert about a GuardDuty finding whose incident is open joins it (None: it has none)."""
        incident_id = self.finding_incident(finding_ids(alert))
        if incident_id is None or self.incidents.incident_of_alert(alert_id) is not None:
            return None
        return self.escalate(alert_id, by, incident_id)

    def finding_incident(self, findings: Iterable[str]) -> int | None:
        """The open incident of any of these GuardDuty findings (its timeline links `finding:<id>`)."""
        for finding in findings:
            found = self.incidents.open_incident_with_link(FINDING + finding)
            if found is not None:
                return found
        return None

    def _has_link(self, incident_id: int, link: str) -> bool:
        return self.incidents.incident_with_link(link, incident_id) is not None

    @staticmethod
    def _link_findings(change: IncidentChange, findings: list[str], alert_id: int) -> None:
        for finding in findings:
            change.entry("alert", f"GuardDuty finding {finding} (alert {alert_id})", FINDING + finding)

    def link_events(
        self, incident_id: int, event_ids: Iterable[str], by: str, *, expected_version: int | None = None
    ) -> Incident:
        """Link events (each must be in the event store, when there is one) and add their indicators."""
        wanted = list(dict.fromkeys(str(i).strip() for i in event_ids if str(i).strip()))
        if not wanted:
            raise values.InvalidValue("no event ids to link")
        found: list[values.Indicator] = []
        if self.events is not None:
            self.events.refresh()
            for event_id in wanted:
                event = self.events.get(event_id)
                if event is None:
                    raise NotFound(f"no event with id {event_id} in the event store")
                found.extend(indicators_in(event))
        with self.incidents.change(incident_id, by, expected_version) as change:
            change.link_events(wanted)
            change.add_indicators(found, source="events")
        return self.incidents.get(incident_id)

    def _indicators(self, event_ids: list[str]) -> tuple[list[values.Indicator], int]:
        """The indicators of the alert's events (the first `max_events`), and how many were read."""
        if self.events is None or not event_ids:
            return [], 0
        self.events.refresh()
        found: list[values.Indicator] = []
        read = 0
        for event_id in event_ids[: self.max_events]:
            event = self.events.get(event_id)
            if event is not None:
                read += 1
                found.extend(indicators_in(event))
        return found, read

    def _bring(
        self,
        change: IncidentChange,
        alert: dict,
        event_ids: list[str],
        found: list[values.Indicator],
        read: int,
        runbook: str | None,
    ) -> tuple[int, int]:
        source = f"alert:{alert['id']}"
        change.link_alert(alert["id"])
        linked = change.link_events(event_ids, source)
        tags, refused = values.lenient_tags(alert.get("tags") or [])
        change.add_tags(tags)
        if refused:
            change.entry("field", f"alert tags left out (not technique ids): {', '.join(refused)}", source)
        added = change.add_indicators(found, source)
        if len(event_ids) > read and self.events is not None:
            change.entry(
                "indicator",
                f"indicators read from {read} of the alert's {len(event_ids)} events",
                source,
                data={"read": read, "events": len(event_ids)},
            )
        if runbook:
            if not change.current("runbook"):
                change.set(runbook=runbook)
            elif change.current("runbook") != runbook:
                change.entry("runbook", f"alert {alert['id']} suggests runbook {runbook}", source)
        return len(linked), len(added)

    def _mark(self, alert: dict, incident_id: int, by: str) -> None:
        if alert.get("status") != "escalated":
            self.alerts.set_status(alert["id"], "escalated", by, comment=f"incident {incident_id}")


def _summary(alert: dict) -> str:
    parts = [f"Escalated from alert {alert['id']} (rule {alert['rule']}"]
    if alert.get("severity"):
        parts.append(f", severity {alert['severity']}")
    parts.append(f"): {alert.get('summary') or ''}")
    return "".join(parts).strip()


__all__ = ["MAX_EVENTS", "Escalation", "Escalator", "SuggestRunbook"]
