"""The one place the incident services are put together, for the server and for `reynard incident`.

Every escalation gets the runbook that applies to its alert (`reynard.cases.runbooks.suggester`)."""

from __future__ import annotations

from dataclasses import dataclass

from reynard.cases.escalation import Escalator, SuggestRunbook
from reynard.cases.runbooks import suggester
from reynard.cases.store import IncidentStore
from reynard.detect.alerts import AlertStore
from reynard.settings import Settings
from reynard.state import open_state
from reynard.store.base import EventStore


@dataclass(frozen=True)
class CaseServices:
    incidents: IncidentStore
    alerts: AlertStore
    events: EventStore | None = None
    suggest_runbook: SuggestRunbook | None = None

    def escalator(self) -> Escalator:
        return Escalator(self.incidents, self.alerts, self.events, self.suggest_runbook)


def case_services(
    settings: Settings, events: EventStore | None = None, alerts: AlertStore | None = None
) -> CaseServices:
    """Incidents on the settings' state database; `events` to resolve and mine events (read-only)."""
    engine = alerts.engine if alerts is not None else open_state(settings.state_url)
    return CaseServices(
        incidents=IncidentStore(engine),
        alerts=alerts or AlertStore(engine),
        events=events,
        suggest_runbook=suggester(settings),
    )
