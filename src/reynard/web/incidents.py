"""`/api/incidents...` and `/api/alerts/{id}/escalate`: the incident workflow over HTTP, JSON in and out.

Pydantic models here, at the boundary; the store takes and gives frozen values (`reynard.cases`).
Errors: an unknown id is 404, a write against an older version 409 (the body names what changed and
the current version), any other refusal 400; each as `{"error": "..."}`. Replacing writes (fields,
phase, close, a postmortem section, removing a member) must name the `version` they were made
against; adding writes (notes, links, members, indicators) may.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from reynard.cases.model import Incident
from reynard.cases.phases import PHASES
from reynard.cases.postmortem import build
from reynard.cases.render import to_html, to_markdown
from reynard.cases.reports import report
from reynard.cases.services import CaseServices
from reynard.cases.values import APPEND_KINDS, INDICATOR_KINDS, POSTMORTEM_SECTIONS, SEVERITIES
from reynard.identity.roles import Permission
from reynard.web.auth import CanTriage, allow
from reynard.web.fields import Id, Version

MAX_SHOWN_EVENTS = 1000


# -- models -----------------------------------------------------------------------------------------------
class ErrorOut(BaseModel):
    error: str


class StaleOut(BaseModel):
    error: str
    version: int = Field(description="the incident's current version")
    changes: list[str] = Field(description="what changed since the version the write was made against")


class MemberOut(BaseModel):
    name: str
    role: str
    added_at: datetime
    added_by: str


class IncidentIndicatorOut(BaseModel):
    kind: str
    value: str
    source: str | None
    added_at: datetime


class PhaseChangeOut(BaseModel):
    phase: str
    at: datetime
    by: str
    from_phase: str | None
    backward: bool
    forced: bool
    reason: str | None


class EntryOut(BaseModel):
    id: int
    incident_id: int
    at: datetime
    by: str
    kind: str
    text: str
    link: str | None
    version: int
    data: dict[str, Any] | None


class EventOut(BaseModel):
    id: str
    event: dict[str, Any] | None = Field(description="the stored event; null when no longer in the store")


class IncidentOut(BaseModel):
    id: int
    title: str
    summary: str
    severity: str
    category: str | None
    phase: str
    phase_index: int
    owner: str | None
    created: datetime
    created_by: str
    updated: datetime
    version: int
    tags: list[str]
    techniques: list[str]
    root_cause: str
    lessons: str
    mitigations: list[str]
    references: list[str]
    runbook: str | None
    members: list[MemberOut]
    alert_ids: list[int]
    event_ids: list[str]
    indicators: list[IncidentIndicatorOut]
    phase_changes: list[PhaseChangeOut]
    phase_entered: dict[str, datetime | None]
    mozdef_dates: dict[str, datetime | None]
    postmortem: dict[str, str] = Field(description="the edited postmortem sections")
    timeline: list[EntryOut] | None = None
    events: list[EventOut] | None = None


class IncidentList(BaseModel):
    incidents: list[IncidentOut]
    count: int


class IncidentCreate(BaseModel):
    title: str
    summary: str = ""
    severity: str = Field("medium", description=" | ".join(SEVERITIES))
    category: str | None = None
    tags: list[str] = Field(default_factory=list, description="free text, or ATT&CK ids T1234 / T1234.001")
    owner: str | None = None


class FieldsIn(BaseModel):
    version: Version
    title: str | None = None
    summary: str | None = None
    severity: str | None = None
    category: str | None = None
    owner: str | None = None
    root_cause: str | None = None
    lessons: str | None = None
    runbook: str | None = None
    tags: list[str] | None = None
    mitigations: list[str] | None = None
    references: list[str] | None = None


class PhaseIn(BaseModel):
    phase: str = Field(description=" | ".join(PHASES))
    version: Version
    reason: str | None = None
    force: bool = Field(False, description="skip forward over phases (needs a reason)")
    skip_lessons: bool = Field(False, description="close without lessons learned (needs a reason)")


class CloseIn(BaseModel):
    version: Version
    lessons: str | None = None
    skip_lessons: bool = False
    reason: str | None = None
    force: bool = False


class NoteIn(BaseModel):
    text: str
    link: str | None = None


class EntryIn(BaseModel):
    kind: str = Field(description=" | ".join(APPEND_KINDS))
    text: str
    link: str | None = Field(None, description="scheme:id, e.g. execution:<id>, entry:7 (a correction)")
    at: datetime | None = None


class LinkAlertIn(BaseModel):
    alert_id: Id
    version: Version | None = None


class LinkEventsIn(BaseModel):
    event_ids: list[str]
    version: Version | None = None


class MemberIn(BaseModel):
    name: str
    role: str
    version: Version | None = None


class IncidentIndicatorIn(BaseModel):
    kind: str = Field(description=" | ".join(INDICATOR_KINDS))
    value: str


class IndicatorsIn(BaseModel):
    indicators: list[IncidentIndicatorIn]
    source: str | None = None
    version: Version | None = None


class SectionIn(BaseModel):
    text: str = Field(description="Markdown-ish text; empty: back to the generated section")
    version: int


class EscalateIn(BaseModel):
    incident_id: Id | None = Field(None, description="join this open incident; default: open a new one")
    version: Version | None = None


class EscalationOut(BaseModel):
    incident: IncidentOut
    created: bool
    events_linked: int
    indicators_added: int


class MeanOut(BaseModel):
    seconds: float | None
    hours: float | None
    incidents: int


class TypeCount(BaseModel):
    type: str
    count: int


class ReportOut(BaseModel):
    total: int
    open: int
    by_phase: dict[str, int]
    by_type: dict[str, int]
    by_tag: dict[str, int]
    by_technique: dict[str, int]
    by_month: dict[str, int]
    mean_time_to_contain: MeanOut
    mean_time_to_close: MeanOut
    top_types: list[TypeCount]


# -- errors (answered by the app's one handler: each error carries its status) ----------------------------
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "a malformed value or a refused phase change"},
    404: {"model": ErrorOut, "description": "no such incident, alert, event or entry"},
}
STALE: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    409: {"model": StaleOut, "description": "the incident changed since `version`"},
}


# -- the router -------------------------------------------------------------------------------------------
def incidents_router(services: CaseServices) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["incidents"], responses=ERRORS)

    def cases() -> CaseServices:
        return services

    def out(incident: Incident, *, timeline: bool = True, events: int = 0) -> dict[str, Any]:
        body = incident.as_dict()
        if timeline:
            body["timeline"] = [e.as_dict() for e in cases().incidents.timeline(incident.id)]
        if events:
            store = cases().events
            if store is not None:
                store.refresh()
            body["events"] = [
                {"id": i, "event": store.get(i) if store is not None else None}
                for i in incident.event_ids[:events]
            ]
        return body

    @router.get("/incidents", response_model=IncidentList, dependencies=[allow(Permission.READ)])
    def list_incidents(
        phase: str | None = Query(None, description=" | ".join(PHASES)),
        open_only: bool = Query(False, alias="open", description="only incidents not closed"),
        severity: str | None = None,
        tag: str | None = None,
        category: str | None = None,
        owner: str | None = None,
        limit: int = Query(100, ge=1, le=10_000),
    ) -> dict[str, Any]:
        """Incidents, newest first, matching every filter given."""
        found = cases().incidents.list(
            phase=phase,
            open_only=open_only,
            severity=severity,
            tag=tag,
            category=category,
            owner=owner,
            limit=limit,
        )
        return {"incidents": [out(i, timeline=False) for i in found], "count": len(found)}

    @router.post("/incidents", response_model=IncidentOut, status_code=201)
    def create_incident(body: IncidentCreate, who: CanTriage) -> dict[str, Any]:
        """Open an incident by hand (in Identification)."""
        incident = cases().incidents.open_incident(
            body.title,
            who.name,
            summary=body.summary,
            severity=body.severity,
            category=body.category,
            tags=body.tags,
            owner=body.owner,
        )
        return out(incident)

    @router.get("/incidents/reports", response_model=ReportOut, dependencies=[allow(Permission.READ)])
    def incident_report(
        since: Annotated[datetime | None, Query(description="opened at or after (ISO 8601)")] = None,
        until: Annotated[datetime | None, Query(description="opened before (ISO 8601)")] = None,
        top: int = Query(5, ge=1, le=100),
    ) -> dict[str, Any]:
        """By phase, type, tag, technique and month; mean time from opened to contained and to closed."""
        return report(cases().incidents.list(since=since, until=until), top=top).as_dict()

    @router.get("/incidents/{incident_id}", response_model=IncidentOut, dependencies=[allow(Permission.READ)])
    def get_incident(
        incident_id: Id,
        events: int = Query(
            0, ge=0, le=MAX_SHOWN_EVENTS, description="resolve this many linked events from the event store"
        ),
    ) -> dict[str, Any]:
        """The incident with its timeline (and, with `events`, its linked events as stored)."""
        return out(cases().incidents.get(incident_id), events=events)

    @router.get(
        "/incidents/{incident_id}/timeline",
        response_model=list[EntryOut],
        dependencies=[allow(Permission.READ)],
    )
    def get_timeline(incident_id: Id) -> list[dict[str, Any]]:
        return [e.as_dict() for e in cases().incidents.timeline(incident_id)]

    @router.patch("/incidents/{incident_id}", response_model=IncidentOut, responses=STALE)
    def set_fields(incident_id: Id, body: FieldsIn, who: CanTriage) -> dict[str, Any]:
        """Set fields (the ones sent; lists replace the old list), against `version`."""
        changes = body.model_dump(exclude_unset=True, exclude={"version"})
        incident = cases().incidents.set_fields(incident_id, who.name, changes, expected_version=body.version)
        return out(incident)

    @router.post("/incidents/{incident_id}/phase", response_model=IncidentOut, responses=STALE)
    def change_phase(incident_id: Id, body: PhaseIn, who: CanTriage) -> dict[str, Any]:
        """Move to the next phase, or back; further forward only with `force` and a `reason`."""
        incident = cases().incidents.change_phase(
            incident_id,
            body.phase,
            who.name,
            reason=body.reason,
            force=body.force,
            skip_lessons=body.skip_lessons,
            expected_version=body.version,
        )
        return out(incident)

    @router.post("/incidents/{incident_id}/close", response_model=IncidentOut, responses=STALE)
    def close_incident(incident_id: Id, body: CloseIn, who: CanTriage) -> dict[str, Any]:
        """Record the lessons (when given) and close, in one step."""
        incident = cases().incidents.close(
            incident_id,
            who.name,
            lessons=body.lessons,
            skip_lessons=body.skip_lessons,
            reason=body.reason,
            force=body.force,
            expected_version=body.version,
        )
        return out(incident)

    @router.post("/incidents/{incident_id}/notes", response_model=EntryOut, status_code=201)
    def add_note(incident_id: Id, body: NoteIn, who: CanTriage) -> dict[str, Any]:
        return cases().incidents.note(incident_id, who.name, body.text, body.link).as_dict()

    @router.post("/incidents/{incident_id}/entries", response_model=EntryOut, status_code=201)
    def add_entry(incident_id: Id, body: EntryIn, who: CanTriage) -> dict[str, Any]:
        """Append a note, playbook step, notification, correction (link `entry:<id>`) or evidence."""
        store = cases().incidents
        entry_id = store.add_entry(incident_id, body.kind, who.name, body.text, body.link, body.at)
        return next(e for e in store.timeline(incident_id) if e.id == entry_id).as_dict()

    @router.post("/incidents/{incident_id}/alerts", response_model=EscalationOut, responses=STALE)
    def link_alert(incident_id: Id, body: LinkAlertIn, who: CanTriage) -> dict[str, Any]:
        """Link an alert: the same as escalating it into this incident."""
        return _escalation(body.alert_id, who.name, incident_id, body.version)

    @router.post("/incidents/{incident_id}/events", response_model=IncidentOut, responses=STALE)
    def link_events(incident_id: Id, body: LinkEventsIn, who: CanTriage) -> dict[str, Any]:
        """Link stored events by id; their indicators come along."""
        incident = (
            cases()
            .escalator()
            .link_events(incident_id, body.event_ids, who.name, expected_version=body.version)
        )
        return out(incident)

    @router.post("/incidents/{incident_id}/members", response_model=IncidentOut, responses=STALE)
    def add_member(incident_id: Id, body: MemberIn, who: CanTriage) -> dict[str, Any]:
        """Add a team member with a role (or change a member's role)."""
        incident = cases().incidents.add_member(
            incident_id, body.name, body.role, who.name, expected_version=body.version
        )
        return out(incident)

    @router.delete("/incidents/{incident_id}/members/{name}", response_model=IncidentOut, responses=STALE)
    def remove_member(incident_id: Id, name: str, version: Version, who: CanTriage) -> dict[str, Any]:
        return out(cases().incidents.remove_member(incident_id, name, who.name, expected_version=version))

    @router.post("/incidents/{incident_id}/indicators", response_model=IncidentOut, responses=STALE)
    def add_indicators(incident_id: Id, body: IndicatorsIn, who: CanTriage) -> dict[str, Any]:
        incident = cases().incidents.add_indicators(
            incident_id,
            [(i.kind, i.value) for i in body.indicators],
            who.name,
            source=body.source,
            expected_version=body.version,
        )
        return out(incident)

    @router.get(
        "/incidents/{incident_id}/postmortem",
        dependencies=[allow(Permission.READ)],
        response_class=Response,
        responses={200: {"content": {"text/markdown": {}, "text/html": {}}}},
    )
    def postmortem(incident_id: Id, format: Literal["markdown", "html"] = Query("markdown")) -> Response:
        """The postmortem as Markdown or as a standalone HTML page."""
        store = cases().incidents
        document = build(store.get(incident_id), store.timeline(incident_id))
        if format == "html":
            return Response(to_html(document), media_type="text/html; charset=utf-8")
        return Response(to_markdown(document), media_type="text/markdown; charset=utf-8")

    @router.put(
        "/incidents/{incident_id}/postmortem/{section}",
        response_model=IncidentOut,
        responses=STALE,
        description="Sections: " + ", ".join(POSTMORTEM_SECTIONS),
    )
    def set_section(incident_id: Id, section: str, body: SectionIn, who: CanTriage) -> dict[str, Any]:
        """Keep an edited postmortem section (empty text: back to the generated one)."""
        incident = cases().incidents.set_postmortem_section(
            incident_id, section, body.text, who.name, expected_version=body.version
        )
        return out(incident)

    def _escalation(alert_id: int, by: str, incident_id: int | None, version: int | None) -> dict[str, Any]:
        done = cases().escalator().escalate(alert_id, by, incident_id, expected_version=version)
        return {
            "incident": out(done.incident),
            "created": done.created,
            "events_linked": done.events_linked,
            "indicators_added": done.indicators_added,
        }

    @router.post("/alerts/{alert_id}/escalate", response_model=EscalationOut, responses=STALE)
    def escalate(alert_id: Id, body: EscalateIn, who: CanTriage) -> dict[str, Any]:
        """The alert becomes an incident, or joins the open incident `incident_id`: its events, their
        indicators and a suggested runbook come along; the alert's status becomes `escalated`."""
        return _escalation(alert_id, who.name, body.incident_id, body.version)

    return router
