"""Incidents in the state database: every write one transaction, every change a timeline entry.

Concurrency is optimistic. Each incident has a `version`, one more with each change (a phase, a field,
a link, a member, a postmortem section); appending a note, a playbook step or a notification does not
change the incident and leaves it alone, so the response engine writing steps never makes an analyst's
edit stale. A write may name the version it was made against (`expected_version`, the API's `version`):
if the incident has moved on, it is refused with StaleIncident, which lists what changed since. Without
it the write applies to the current state, never to a stale copy: the version is taken with a
compare-and-swap (`UPDATE ... WHERE version = <read>`) before the change is checked and written, so two
writers never interleave, and the workflow checks always see the phase as it is.

A unit of work (`change`, `opening`) is a context manager yielding an `IncidentChange`; escalation uses
them to open or join an incident, link the alert, its events and their indicators in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from reynard.cases import values
from reynard.cases.change import FIELDS, IncidentChange, check_fields, insert_entry
from reynard.cases.errors import CaseError, InvalidValue, NotFound, StaleIncident
from reynard.cases.loading import entry_of, load
from reynard.cases.model import Incident, TimelineEntry
from reynard.cases.phases import CLOSED, IDENTIFICATION, PHASES, parse_phase
from reynard.state.tables import (
    incident_alerts,
    incident_entries,
    incident_tags,
    incidents,
)

TAKE_ATTEMPTS = 5
# An entry's id in a link (`entry:17`): ASCII digits, at most 18, so it fits the database's 64-bit
# INTEGER. Anything else names no entry (`str.isdigit` also takes "²", which `int()` refuses, and "١").
_ENTRY_ID = re.compile(r"[0-9]{1,18}")


class _Unchanged(Exception):
    """The unit of work changed nothing: roll the version back."""


class IncidentStore:
    """Incidents in the state database. `clock` gives the time of each change (tests pass their own).

    The response engine opens incidents and appends its steps through `PlaybookIncidents`
    (`cases/playbook_sink.py`), which calls `open_incident` and `add_entry`."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None):
        self.engine = engine
        self.clock = clock or (lambda: datetime.now(UTC))

    # -- units of work ----------------------------------------------------------------------------------
    @contextmanager
    def change(
        self, incident_id: int, by: str, expected_version: int | None = None
    ) -> Iterator[IncidentChange]:
        """One transaction on one incident: its version taken (or StaleIncident), the change written by
        the body, committed at the end; rolled back if the body raises or changes nothing."""
        by = values.required_text(by, "who makes the change (by)")
        try:
            with self.engine.begin() as connection:
                now = self.clock()
                row = self._take(connection, incident_id, expected_version, now)
                change = IncidentChange(connection, row, by, now, row.version + 1)
                yield change
                if not change.entries:
                    raise _Unchanged
        except _Unchanged:
            pass

    @contextmanager
    def opening(
        self,
        title: str,
        by: str,
        *,
        summary: str = "",
        severity: str = "medium",
        category: str | None = None,
        owner: str | None = None,
        link: str | None = None,
        text: str | None = None,
    ) -> Iterator[IncidentChange]:
        """A new incident in Identification, at version 1, and a change on it in the same transaction."""
        by = values.required_text(by, "who opens the incident (by)")
        row_values = {
            "title": values.title(title),
            "summary": str(summary or "").strip(),
            "severity": values.parse_severity(severity),
            "category": (category or "").strip() or None,
            "phase": IDENTIFICATION,
            "owner": (owner or "").strip() or None,
            "root_cause": "",
            "lessons": "",
            "mitigations": "[]",
            "references": "[]",
            "runbook": None,
            "created_by": by,
            "version": 1,
        }
        link = values.parse_link(link)
        with self.engine.begin() as connection:
            now = self.clock()
            incident_id = int(
                connection.execute(
                    insert(incidents).values(**row_values, created=now, updated=now).returning(incidents.c.id)
                ).scalar_one()
            )
            row = connection.execute(select(incidents).where(incidents.c.id == incident_id)).one()
            change = IncidentChange(connection, row, by, now, 1)
            change.entry(
                "opened",
                text or f"incident opened: {row_values['title']}",
                link=link,
                data={"to": IDENTIFICATION, "severity": row_values["severity"]},
            )
            yield change

    def _take(self, connection: Connection, incident_id: int, expected: int | None, now: datetime) -> Any:
        """The incident's row, its version taken by compare-and-swap (see the module's docstring)."""
        for _ in range(TAKE_ATTEMPTS):
            row = connection.execute(select(incidents).where(incidents.c.id == incident_id)).first()
            if row is None:
                raise NotFound(f"no incident with id {incident_id}")
            if expected is not None and row.version != expected:
                raise self._stale(connection, incident_id, expected, row.version)
            taken = connection.execute(
                update(incidents)
                .where(incidents.c.id == incident_id, incidents.c.version == row.version)
                .values(version=row.version + 1, updated=now)
            ).rowcount
            if taken:
                return row
        raise CaseError(f"incident {incident_id} is changing too fast to write: try again")

    def _stale(self, connection: Connection, incident_id: int, expected: int, current: int) -> StaleIncident:
        rows = connection.execute(
            select(incident_entries)
            .where(
                incident_entries.c.incident_id == incident_id,
                incident_entries.c.version > expected,
                incident_entries.c.kind.in_(values.CHANGE_KINDS),
            )
            .order_by(incident_entries.c.id)
        )
        changes = [f"{r.by} (version {r.version}): {r.text}" for r in rows]
        return StaleIncident(incident_id, expected, current, changes)

    def open_incident(
        self,
        title: str,
        by: str,
        *,
        summary: str = "",
        severity: str = "medium",
        category: str | None = None,
        tags: Sequence[str] = (),
        owner: str | None = None,
        link: str | None = None,
    ) -> Incident:
        checked = values.parse_tags(tags)
        with self.opening(
            title, by, summary=summary, severity=severity, category=category, owner=owner, link=link
        ) as change:
            if checked:
                change._write_tags(checked)
            if owner:
                change.add_member(owner, "owner")
        return self.get(change.incident_id)

    def add_entry(
        self,
        incident_id: int,
        kind: str,
        by: str,
        text: str,
        link: str | None = None,
        at: datetime | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> int:
        """Append a note, playbook step, notification, correction or evidence entry; its id.

        The incident does not change (no new version). A correction links to the entry it corrects
        (`link="entry:17"`, an entry of this incident). `at`: when it happened (default now); `data`:
        structured details kept with it (a playbook step's result)."""
        kind = values.append_kind(kind)
        by = values.required_text(by, "who writes the entry (by)")
        text = values.required_text(text, "the entry's text")
        link = values.parse_link(link)
        if kind == "correction" and not (link or "").startswith("entry:"):
            raise InvalidValue("a correction links to the entry it corrects: link='entry:<id>'")
        if at is not None and at.tzinfo is None:
            raise InvalidValue("an entry's time needs a time zone (UTC)")
        with self.engine.begin() as connection:
            version = connection.execute(
                select(incidents.c.version).where(incidents.c.id == incident_id)
            ).scalar()
            if version is None:
                raise NotFound(f"no incident with id {incident_id}")
            if link and link.startswith("entry:"):
                self._check_entry(connection, incident_id, link)
            return insert_entry(
                connection,
                incident_id,
                at or self.clock(),
                by,
                kind,
                text,
                link,
                version,
                dict(data) if data is not None else None,
            )

    def _check_entry(self, connection: Connection, incident_id: int, link: str) -> None:
        target = link.removeprefix("entry:")
        owner = None
        if _ENTRY_ID.fullmatch(target):
            owner = connection.execute(
                select(incident_entries.c.incident_id).where(incident_entries.c.id == int(target))
            ).scalar()
        if owner != incident_id:
            raise NotFound(f"incident {incident_id} has no timeline entry {target}")

    # -- reading ----------------------------------------------------------------------------------------
    def get(self, incident_id: int) -> Incident:
        with self.engine.connect() as connection:
            row = connection.execute(select(incidents).where(incidents.c.id == incident_id)).first()
            if row is None:
                raise NotFound(f"no incident with id {incident_id}")
            return load(connection, [row])[0]

    def list(
        self,
        *,
        phase: str | None = None,
        open_only: bool = False,
        severity: str | None = None,
        tag: str | None = None,
        category: str | None = None,
        owner: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[Incident]:
        """Incidents matching every filter given, newest first (`since`/`until`: opened in [since, until))."""
        query = select(incidents).order_by(incidents.c.created.desc(), incidents.c.id.desc())
        if phase is not None:
            query = query.where(incidents.c.phase == parse_phase(phase))
        if open_only:
            query = query.where(incidents.c.phase != CLOSED)
        if severity is not None:
            query = query.where(incidents.c.severity == values.parse_severity(severity))
        if tag is not None:
            tagged = select(incident_tags.c.incident_id).where(incident_tags.c.tag == values.parse_tag(tag))
            query = query.where(incidents.c.id.in_(tagged))
        if category is not None:
            query = query.where(func.lower(incidents.c.category) == category.lower())
        if owner is not None:
            query = query.where(incidents.c.owner == owner)
        if since is not None:
            query = query.where(incidents.c.created >= since)
        if until is not None:
            query = query.where(incidents.c.created < until)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            return load(connection, connection.execute(query).all())

    def timeline(self, incident_id: int) -> list[TimelineEntry]:
        """Every entry, in the order written."""
        with self.engine.connect() as connection:
            if (
                connection.execute(select(incidents.c.id).where(incidents.c.id == incident_id)).first()
                is None
            ):
                raise NotFound(f"no incident with id {incident_id}")
            rows = connection.execute(
                select(incident_entries)
                .where(incident_entries.c.incident_id == incident_id)
                .order_by(incident_entries.c.id)
            )
            return [entry_of(r) for r in rows]

    def incident_with_link(self, link: str, incident_id: int | None = None) -> int | None:
        """The incident one of whose timeline entries links `link` (only `incident_id`, when given)."""
        query = select(incident_entries.c.incident_id).where(incident_entries.c.link == link)
        if incident_id is not None:
            query = query.where(incident_entries.c.incident_id == incident_id)
        with self.engine.connect() as connection:
            return connection.execute(query.limit(1)).scalar()

    def open_incident_with_link(self, link: str) -> int | None:
        """The newest incident that is not closed one of whose timeline entries links `link`."""
        query = (
            select(incident_entries.c.incident_id)
            .join(incidents, incidents.c.id == incident_entries.c.incident_id)
            .where(incident_entries.c.link == link, incidents.c.phase != CLOSED)
            .order_by(incident_entries.c.incident_id.desc())
        )
        with self.engine.connect() as connection:
            return connection.execute(query.limit(1)).scalar()

    def incident_of_alert(self, alert_id: int) -> int | None:
        with self.engine.connect() as connection:
            return connection.execute(
                select(incident_alerts.c.incident_id).where(incident_alerts.c.alert_id == alert_id)
            ).scalar()

    # -- changes ----------------------------------------------------------------------------------------
    def change_phase(
        self,
        incident_id: int,
        phase: str,
        by: str,
        *,
        reason: str | None = None,
        force: bool = False,
        skip_lessons: bool = False,
        expected_version: int | None = None,
    ) -> Incident:
        """Move to `phase`: the next one, or back to any earlier one; further forward only with `force`
        and a reason. Closing needs lessons, or `skip_lessons` and a reason."""
        parse_phase(phase)
        with self.change(incident_id, by, expected_version) as change:
            change.move(phase, reason=reason, force=force, skip_lessons=skip_lessons)
        return self.get(incident_id)

    def close(
        self,
        incident_id: int,
        by: str,
        *,
        lessons: str | None = None,
        skip_lessons: bool = False,
        reason: str | None = None,
        force: bool = False,
        expected_version: int | None = None,
    ) -> Incident:
        """Record the lessons (when given) and close, in one transaction."""
        with self.change(incident_id, by, expected_version) as change:
            if lessons is not None and lessons.strip():
                change.set(lessons=lessons)
            change.move(CLOSED, reason=reason, force=force, skip_lessons=skip_lessons)
        return self.get(incident_id)

    def set_fields(
        self, incident_id: int, by: str, changes: Mapping[str, Any], *, expected_version: int | None = None
    ) -> Incident:
        """Set any of FIELDS (lists replace the old list); one `field` entry for each that changed."""
        check_fields(changes)
        with self.change(incident_id, by, expected_version) as change:
            change.set(**changes)
        return self.get(incident_id)

    def add_tags(
        self, incident_id: int, tags: Iterable[str], by: str, *, expected_version: int | None = None
    ) -> Incident:
        checked = values.parse_tags(tags)
        with self.change(incident_id, by, expected_version) as change:
            change.add_tags(checked)
        return self.get(incident_id)

    def add_member(
        self, incident_id: int, name: str, role: str, by: str, *, expected_version: int | None = None
    ) -> Incident:
        """Add a team member with a role (or change a member's role)."""
        with self.change(incident_id, by, expected_version) as change:
            change.add_member(name, role)
        return self.get(incident_id)

    def remove_member(
        self, incident_id: int, name: str, by: str, *, expected_version: int | None = None
    ) -> Incident:
        with self.change(incident_id, by, expected_version) as change:
            change.remove_member(name)
        return self.get(incident_id)

    def add_indicators(
        self,
        incident_id: int,
        found: Iterable[tuple[str, str]],
        by: str,
        *,
        source: str | None = None,
        expected_version: int | None = None,
    ) -> Incident:
        """Add indicators given as (kind, value) pairs, each checked (see `values.indicator`)."""
        checked = [values.indicator(kind, value) for kind, value in found]
        with self.change(incident_id, by, expected_version) as change:
            change.add_indicators(checked, values.parse_link(source))
        return self.get(incident_id)

    def link_events(
        self,
        incident_id: int,
        event_ids: Iterable[str],
        by: str,
        *,
        source: str | None = None,
        expected_version: int | None = None,
    ) -> Incident:
        """Link events by id (checking they exist is the caller's: see `Escalator.link_events`)."""
        with self.change(incident_id, by, expected_version) as change:
            change.link_events(event_ids, source)
        return self.get(incident_id)

    def note(self, incident_id: int, by: str, text: str, link: str | None = None) -> TimelineEntry:
        entry_id = self.add_entry(incident_id, "note", by, text, link)
        return next(e for e in self.timeline(incident_id) if e.id == entry_id)

    def set_postmortem_section(
        self, incident_id: int, section: str, text: str, by: str, *, expected_version: int | None = None
    ) -> Incident:
        """Keep an edited postmortem section (empty text: back to the generated one); on the timeline."""
        values.postmortem_section(section)
        with self.change(incident_id, by, expected_version) as change:
            change.set_section(section, text)
        return self.get(incident_id)


__all__ = ["FIELDS", "PHASES", "IncidentChange", "IncidentStore"]
