"""The incident services, as the server and `reynard incident` use them (put together by the runtime)."""

from __future__ import annotations

from dataclasses import dataclass

from reynard.cases.escalation import Escalator, SuggestRunbook
from reynard.cases.store import IncidentStore
from reynard.detect.alerts import AlertStore
from reynard.store.base import EventStore


@dataclass(frozen=True)
class CaseServices:
    """Incidents and the alerts they come from; `events` to resolve and mine linked events (read-only);
    every escalation gets the runbook `suggest_runbook` picks for its alert."""

    incidents: IncidentStore
    alerts: AlertStore
    events: EventStore | None = None
    suggest_runbook: SuggestRunbook | None = None

    def escalator(self) -> Escalator:
        return Escalator(self.incidents, self.alerts, self.events, self.suggest_runbook)
