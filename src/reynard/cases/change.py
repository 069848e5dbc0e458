"""A change to one incident inside its transaction (the store's unit of work): each method checks its
input, writes, and records the timeline entry that says what it did. The store takes the incident's
new version before handing one out (`IncidentStore.change`, `opening`), so nothing here races."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, insert, select, update

from reynard.cases import values
from reynard.cases.errors import CaseError, InvalidValue, NotFound
from reynard.cases.phases import CLOSED, check_move, parse_phase
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


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return repr(text if len(text) <= SHOWN else text[: SHOWN - 1] + "…")


def check_fields(changes: Mapping[str, Any]) -> dict[str, Any]:
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
        entry_id = insert_entry(
            self.connection, self.incident_id, self.now, self.by, kind, text, link, self.version, data
        )
        self.entries.append(entry_id)
        return entry_id

    def set(self, **changes: Any) -> list[str]:
        """Set fields (checked as `set_fields` does); one `field` entry per field that changed. The
        names of those fields."""
        changed = []
        for name, value in check_fields(changes).items():
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


def insert_entry(
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


__all__ = ["FIELDS", "IncidentChange", "check_fields", "insert_entry"]
