"""The audit trail: every state change and every playbook start, approval and rejection, with who, when,
from where, what and the result. Append-only: this module has no update and no delete, and nothing
else writes the table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select

from reynard.identity.principal import Principal
from reynard.state.tables import audit


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    actor_kind: str
    source: str
    action: str
    target: str | None
    result: str
    detail: str | None

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "actor_kind": self.actor_kind,
            "source": self.source,
            "action": self.action,
            "target": self.target,
            "result": self.result,
            "detail": self.detail,
        }


class AuditTrail:
    def __init__(self, engine: Engine):
        self.engine = engine

    def record(
        self,
        who: Principal,
        source: str,
        action: str,
        result: str,
        target: str | None = None,
        detail: str | None = None,
    ) -> None:
        row = {
            "at": datetime.now(UTC),
            "actor": who.name,
            "actor_kind": who.kind,
            "source": source,
            "action": action,
            "target": target,
            "result": result,
            "detail": detail,
        }
        with self.engine.begin() as connection:
            connection.execute(insert(audit).values(**row))

    def record_attempt(self, name: str, source: str, action: str, result: str) -> None:
        """A refused sign-in: `name` is what was typed (no such user, perhaps), never the password."""
        row = {
            "at": datetime.now(UTC),
            "actor": name[:128],
            "actor_kind": "attempt",
            "source": source[:128],
            "action": action,
            "result": result,
        }
        with self.engine.begin() as connection:
            connection.execute(insert(audit).values(**row))

    def list(
        self, since: datetime | None = None, actor: str | None = None, limit: int | None = 1000
    ) -> list[AuditEntry]:
        """Entries, oldest first (the newest `limit` of them)."""
        query = select(audit).order_by(audit.c.id.desc())
        if since is not None:
            query = query.where(audit.c.at >= since)
        if actor is not None:
            query = query.where(audit.c.actor == actor)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [AuditEntry(*row) for row in reversed(rows)]


__all__ = ["AuditEntry", "AuditTrail"]
