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

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update

from reynard.cases import values
from reynard.cases.errors import CaseError, InvalidValue, NotFound, StaleIncident
from reynard.cases.loading import entry_of, load
from reynard.cases.model import Incident, TimelineEntry
from reynard.cases.phases import CLOSED, IDENTIFICATION, PHASES, check_move, parse_phase
from reynard.state.tables import (
    alerts,
    incident_alerts,
    incident_entries,
    incident_events,
    incident_indicators,
    incident_members,
    incident_tags,
    incidents,
    postmortem_sections,
)

SCALAR_FIELDS = ("title", "summary", "severity", "category", "owner", "root_cause", "lessons", "runbook")
LIST_FIELDS = ("tags", "mitigations", "references")
FIELDS = SCALAR_FIELDS + LIST_FIELDS
SHOWN = 80  # characters of a value quoted in an entry's text (the whole value is in its data)
TAKE_ATTEMPTS = 5


class _Unchanged(Exception):
    """The unit of work changed nothing: roll the version back."""


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return repr(text if len(text) <= SHOWN else text[: SHOWN - 1] + "…")


def _check_fields(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changes with each value checked and canonical; an unknown field is an error."""
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in FIELDS:
            raise InvalidValue(f"{name!r} is not a field one can set (one of: {', '.join(FIELDS)})")
        if name == "title":
            checked[name] = values.title(value)
        elif name == "severity":
            checked[name] = values.parse_severity(value)
        elif name == "tags":
            checked[name] = values.parse_tags(_strings(value, name))
        elif name in LIST_FIELDS:
            checked[name] = list(dict.fromkeys(s.strip() for s in _strings(value, name) if s.strip()))
        elif name in ("category", "owner", "runbook"):
            checked[name] = str(value).strip() or None if value is not None else None
        else:
            checked[name] = "" if value is None else str(value).strip()
    return checked


def _strings(value: Any, name: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidValue(f"{name} is a list of text")
    return [str(v) for v in value]


class IncidentChange:
    """One write to one incident inside its transaction, its new version already taken. Each method
    checks its input, writes, and records a timeline entry; nothing is visible until the commit."""

    def __init__(self, connection: Connection, row: Any, by: str, now: datetime, version: int):
        self.connection = connection
        self.row = row
        self.incident_id: int = row.id
        self.by = by
        self.now = now
        self.version = version
        self.entries: list[int] = []
        self._values: dict[str, Any] = {}  # columns this change has set

    @property
    def phase(self) -> str:
        return self.current("phase")

    def current(self, name: str) -> Any:
        """A column's value as this change leaves it so far."""
        return self._values[name] if name in self._values else getattr(self.row, name)

    def entry(self, kind: str, text: str, link: str | None = None, data: dict | None = None) -> int:
        entry_id = _insert_entry(
            self.connection, self.incident_id, self.now, self.by, kind, text, link, self.version, data
        )
        self.entries.append(entry_id)
        return entry_id

    def set(self, **changes: Any) -> list[str]:
        """Set fields (checked as `set_fields` does); one `field` entry per field that changed. The
        names of those fields."""
        changed = []
        for name, value in _check_fields(changes).items():
            old = self.tags() if name == "tags" else self._list_or_value(name)
            if old == value:
                continue
            if name == "tags":
                self._write_tags(value)
            else:
                stored = orjson.dumps(value).decode() if name in LIST_FIELDS else value
                self.connection.execute(
                    update(incidents).where(incidents.c.id == self.incident_id).values({name: stored})
                )
                self._values[name] = stored
            self.entry(
                "field",
                f"{name.replace('_', ' ')}: {_short(old)} → {_short(value)}",
                data={"field": name, "old": old, "new": value},
            )
            changed.append(name)
        return changed

    def _list_or_value(self, name: str) -> Any:
        value = self.current(name)
        return orjson.loads(value) if name in LIST_FIELDS else value

    def tags(self) -> list[str]:
        return list(
            self.connection.execute(
                select(incident_tags.c.tag)
                .where(incident_tags.c.incident_id == self.incident_id)
                .order_by(incident_tags.c.position)
            ).scalars()
        )

    def add_tags(self, tags: Iterable[str]) -> list[str]:
        """Add tags not there yet (checked); the ones added."""
        have = self.tags()
        new = [t for t in values.parse_tags(tags) if t not in have]
        if new:
            self.set(tags=have + new)
        return new

    def _write_tags(self, tags: list[str]) -> None:
        self.connection.execute(delete(incident_tags).where(incident_tags.c.incident_id == self.incident_id))
        if tags:
            self.connection.execute(
                insert(incident_tags),
                [{"incident_id": self.incident_id, "tag": t, "position": i} for i, t in enumerate(tags)],
            )

    def move(self, phase: str, *, reason: str | None, force: bool, skip_lessons: bool) -> None:
        target = parse_phase(phase)
        source = self.phase
        move = check_move(
            source,
            target,
            force=force,
            reason=reason,
            has_lessons=bool(self.current("lessons").strip()),
            skip_lessons=skip_lessons,
        )
        self.connection.execute(
            update(incidents).where(incidents.c.id == self.incident_id).values(phase=target)
        )
        self._values["phase"] = target
        how = " (back)" if move.backward else " (forced)" if move.forced else ""
        skipped = target == CLOSED and skip_lessons and not self.current("lessons").strip()
        text = f"phase {source} → {target}{how}"
        if skipped:
            text += ", lessons learned skipped"
        if reason and reason.strip():
            text += f": {reason.strip()}"
        self.entry(
            "phase",
            text,
            link=f"phase:{target}",
            data={
                "from": source,
                "to": target,
                "backward": move.backward,
                "forced": move.forced,
                "skipped_lessons": skipped,
                "reason": (reason or "").strip() or None,
            },
        )

    def link_alert(self, alert_id: int) -> bool:
        """Link an alert (one incident per alert); False when it is linked here already."""
        owner = self.connection.execute(
            select(incident_alerts.c.incident_id).where(incident_alerts.c.alert_id == alert_id)
        ).scalar()
        if owner == self.incident_id:
            return False
        if owner is not None:
            raise CaseError(f"alert {alert_id} is already in incident {owner}")
        found = self.connection.execute(select(alerts.c.summary).where(alerts.c.id == alert_id)).first()
        if found is None:
            raise NotFound(f"no alert with id {alert_id}")
        self.connection.execute(
            insert(incident_alerts).values(
                alert_id=alert_id, incident_id=self.incident_id, linked_at=self.now, linked_by=self.by
            )
        )
        self.entry("alert", f"alert {alert_id} linked: {found.summary}", link=f"alert:{alert_id}")
        return True

    def link_events(self, event_ids: Iterable[str], source: str | None = None) -> list[str]:
        """Link events by id (those not linked yet); one entry for them all. The ids linked."""
        wanted = list(dict.fromkeys(str(i).strip() for i in event_ids if str(i).strip()))
        have = set(
            self.connection.execute(
                select(incident_events.c.event_id).where(incident_events.c.incident_id == self.incident_id)
            ).scalars()
        )
        new = [i for i in wanted if i not in have]
        if not new:
            return []
        self.connection.execute(
            insert(incident_events),
            [
                {"incident_id": self.incident_id, "event_id": i, "source": source, "linked_at": self.now}
                for i in new
            ],
        )
        origin = f" from {source}" if source else ""
        text = f"event {new[0]} linked{origin}" if len(new) == 1 else f"{len(new)} events linked{origin}"
        link = f"event:{new[0]}" if len(new) == 1 else source
        self.entry("event", text, link=link, data={"event_ids": new})
        return new

    def add_indicators(
        self, found: Iterable[values.Indicator], source: str | None = None
    ) -> list[values.Indicator]:
        """Add indicators not there yet (already checked: build them with `values.indicator`)."""
        have = {
            (k, v)
            for k, v in self.connection.execute(
                select(incident_indicators.c.kind, incident_indicators.c.value).where(
                    incident_indicators.c.incident_id == self.incident_id
                )
            )
        }
        new = [i for i in dict.fromkeys(found) if (i.kind, i.value) not in have]
        if not new:
            return []
        self.connection.execute(
            insert(incident_indicators),
            [
                {
                    "incident_id": self.incident_id,
                    "kind": i.kind,
                    "value": i.value,
                    "source": source,
                    "added_at": self.now,
                }
                for i in new
            ],
        )
        shown = ", ".join(f"{i.kind} {i.value}" for i in new[:5])
        more = f" and {len(new) - 5} more" if len(new) > 5 else ""
        origin = f" from {source}" if source else ""
        self.entry(
            "indicator",
            f"indicators{origin}: {shown}{more}",
            link=source,
            data={"indicators": [[i.kind, i.value] for i in new]},
        )
        return new

    def add_member(self, name: str, role: str) -> None:
        name, role = values.required_text(name, "a member's name"), values.required_text(role, "a role")
        old = self.connection.execute(
            select(incident_members.c.role).where(
                incident_members.c.incident_id == self.incident_id, incident_members.c.name == name
            )
        ).scalar()
        if old == role:
            return
        if old is None:
            self.connection.execute(
                insert(incident_members).values(
                    incident_id=self.incident_id, name=name, role=role, added_at=self.now, added_by=self.by
                )
            )
            text = f"member {name} joined as {role}"
        else:
            self.connection.execute(
                update(incident_members)
                .where(incident_members.c.incident_id == self.incident_id, incident_members.c.name == name)
                .values(role=role)
            )
            text = f"member {name}: role {old} → {role}"
        self.entry("member", text, link=f"member:{name}", data={"name": name, "role": role, "old": old})

    def remove_member(self, name: str) -> None:
        gone = self.connection.execute(
            delete(incident_members).where(
                incident_members.c.incident_id == self.incident_id, incident_members.c.name == name
            )
        ).rowcount
        if not gone:
            raise NotFound(f"{name!r} is not a member of incident {self.incident_id}")
        self.entry("member", f"member {name} left", link=f"member:{name}", data={"name": name, "role": None})

    def set_section(self, section: str, text: str) -> None:
        key = values.postmortem_section(section)
        text = str(text).strip()
        where = and_(
            postmortem_sections.c.incident_id == self.incident_id, postmortem_sections.c.section == key
        )
        old = self.connection.execute(select(postmortem_sections.c.text).where(where)).scalar()
        if (old or "") == text:
            return
        self.connection.execute(delete(postmortem_sections).where(where))
        if text:
            self.connection.execute(
                insert(postmortem_sections).values(
                    incident_id=self.incident_id,
                    section=key,
                    text=text,
                    updated_at=self.now,
                    updated_by=self.by,
                )
            )
        heading = values.POSTMORTEM_SECTIONS[key]
        said = f"postmortem {heading}: {_short(text)}" if text else f"postmortem {heading}: back to generated"
        self.entry("postmortem", said, link=f"postmortem:{key}", data={"section": key, "text": text})


def _insert_entry(
    connection: Connection,
    incident_id: int,
    at: datetime,
    by: str,
    kind: str,
    text: str,
    link: str | None,
    version: int,
    data: dict | None,
) -> int:
    return int(
        connection.execute(
            insert(incident_entries)
            .values(
                incident_id=incident_id,
                at=at,
                by=by,
                kind=kind,
                text=text,
                link=link,
                version=version,
                data=orjson.dumps(data).decode() if data is not None else None,
            )
            .returning(incident_entries.c.id)
        ).scalar_one()
    )


class IncidentStore:
    """Incidents in the state database. `clock` gives the time of each change (tests pass their own).

    It is an `IncidentSink` (`cases/sink.py`): the response engine opens incidents and appends its steps
    through `open` and `add_entry`."""

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

    # -- the IncidentSink shape -------------------------------------------------------------------------
    def open(
        self,
        title: str,
        by: str,
        *,
        summary: str = "",
        severity: str = "medium",
        category: str | None = None,
        tags: Sequence[str] = (),
        link: str | None = None,
    ) -> int:
        """Open an incident; its id. (`IncidentSink.open`; `open_incident` returns the incident.)"""
        return self.open_incident(
            title, by, summary=summary, severity=severity, category=category, tags=tags, link=link
        ).id

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
    ) -> int:
        """Append a note, playbook step, notification, correction or evidence entry; its id.

        The incident does not change (no new version). A correction links to the entry it corrects
        (`link="entry:17"`, an entry of this incident). `at`: when it happened (default now)."""
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
            return _insert_entry(
                connection, incident_id, at or self.clock(), by, kind, text, link, version, None
            )

    def _check_entry(self, connection: Connection, incident_id: int, link: str) -> None:
        target = link.removeprefix("entry:")
        owner = None
        if target.isdigit():
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
        _check_fields(changes)
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
