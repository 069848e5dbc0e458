"""The indicator lists in the state database: add (with dedup), list, expire, remove, history.

Dedup: an indicator is one row per kind and key (`indicators.check`), so adding one that exists updates
that row instead of making a second: the fields given (source, reference, comment, expiry) replace the
stored ones, the others are kept; a removed indicator is restored; one that had expired becomes active
again with no expiry unless one is given (adding says "watch this now"). The creator and the created
time stay the first adder's; the update is recorded in the history with who made it.

Every change bumps the table's `revision` and is recorded in `indicator_changes`. A batch (an import) is
one transaction: every row of it is written, or none. Concurrent writers (the server and a CLI) are
serialized by the database; a write that lost a race for the same new indicator is retried as an update.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from reynard.intel.indicators import (
    KINDS,
    STATES,
    Checked,
    Indicator,
    IndicatorError,
    UnknownIndicator,
    check,
)
from reynard.state.tables import indicator_changes, indicators

ATTEMPTS = 3


@dataclass(frozen=True)
class NewIndicator:
    """What an add or an import brings: a value (kind detected when None) and its attributes.
    `created` is kept when an import brings it (an export from elsewhere); otherwise it is now."""

    value: str
    kind: str | None = None
    expires: datetime | None = None
    source: str | None = None
    reference: str | None = None
    comment: str | None = None
    creator: str | None = None
    created: datetime | None = None


@dataclass(frozen=True)
class Written:
    indicator: Indicator
    created: bool  # False: an existing indicator was updated


def epoch(value: datetime | None) -> float | None:
    """Seconds since the epoch of a stored time (naive means UTC), or None."""
    return None if value is None else _aware(value).timestamp()  # type: ignore[union-attr]


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _indicator(row: Any) -> Indicator:
    return Indicator(
        id=row.id,
        kind=row.kind,
        value=row.value,
        key=row.key,
        source=row.source,
        reference=row.reference,
        comment=row.comment,
        creator=row.creator,
        created=row.created,
        updated=row.updated,
        expires=row.expires,
        removed=row.removed,
        removed_by=row.removed_by,
    )


def state_clause(state: str, now: datetime) -> Any:
    """The SQL condition for one of `STATES` at `now`."""
    if state not in STATES:
        raise IndicatorError(f"unknown state {state!r} (states: {', '.join(STATES)})")
    live = indicators.c.removed.is_(None)
    unexpired = or_(indicators.c.expires.is_(None), indicators.c.expires > now)
    if state == "active":
        return and_(live, unexpired)
    if state == "expired":
        return and_(live, indicators.c.expires <= now)
    if state == "removed":
        return indicators.c.removed.is_not(None)
    return True


class IndicatorStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    # -- writing ----------------------------------------------------------------------------------------
    def add(self, new: NewIndicator, by: str, now: datetime | None = None) -> Written:
        """Add one indicator, or update the one with the same kind and value (see the module docstring).
        Raises IndicatorError when the value is not a valid indicator of its kind."""
        return self.add_checked([(check(new.kind, new.value), new)], by, now)[0]

    def add_checked(
        self,
        items: Sequence[tuple[Checked, NewIndicator]],
        by: str,
        now: datetime | None = None,
    ) -> list[Written]:
        """Write checked indicators in one transaction; one `Written` per item, in order."""
        now = _aware(now) or datetime.now(UTC)
        for attempt in range(ATTEMPTS):
            try:
                with self.engine.begin() as connection:
                    revision = _revision(connection)
                    written = []
                    for checked, new in items:
                        revision += 1
                        written.append(_upsert(connection, checked, new, by, now, revision))
                    return written
            except (IntegrityError, OperationalError):
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def expire(self, indicator_id: int, at: datetime | None = None, *, by: str) -> Indicator:
        """Set the indicator's expiry to `at` (default now): from then on it no longer matches."""
        at = _aware(at) or datetime.now(UTC)
        current = self.get(indicator_id)
        if current.removed is not None:
            raise IndicatorError(f"indicator {indicator_id} was removed; add it again to use it")
        self._change(indicator_id, {"expires": at}, "expired", by, {"expires": at.isoformat()})
        return self.get(indicator_id)

    def remove(self, indicator_id: int, *, by: str, reason: str | None = None) -> Indicator:
        """Take the indicator off the lists. Its row and history stay (recorded, not deleted)."""
        current = self.get(indicator_id)
        if current.removed is not None:
            raise IndicatorError(f"indicator {indicator_id} is already removed")
        now = datetime.now(UTC)
        self._change(indicator_id, {"removed": now, "removed_by": by}, "removed", by, reason)
        return self.get(indicator_id)

    def _change(self, indicator_id: int, values: dict[str, Any], action: str, by: str, detail: Any) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            revision = _revision(connection) + 1
            connection.execute(
                update(indicators)
                .where(indicators.c.id == indicator_id)
                .values(**values, updated=now, revision=revision)
            )
            _record(connection, indicator_id, action, by, now, detail)

    # -- reading ----------------------------------------------------------------------------------------
    def get(self, indicator_id: int) -> Indicator:
        with self.engine.connect() as connection:
            row = connection.execute(select(indicators).where(indicators.c.id == indicator_id)).first()
        if row is None:
            raise UnknownIndicator(f"no indicator with id {indicator_id}")
        return _indicator(row)

    def find(self, kind: str | None, value: str) -> Indicator:
        """The indicator with this kind (detected when None) and value; raises UnknownIndicator."""
        checked = check(kind, value)
        with self.engine.connect() as connection:
            row = connection.execute(
                select(indicators).where(indicators.c.kind == checked.kind, indicators.c.key == checked.key)
            ).first()
        if row is None:
            raise UnknownIndicator(f"no {checked.kind} indicator {checked.value!r}")
        return _indicator(row)

    def list(
        self,
        state: str = "active",
        kind: str | None = None,
        now: datetime | None = None,
        limit: int | None = None,
    ) -> list[Indicator]:
        """Indicators in `state` (active, expired, removed, all), of `kind` when given, oldest first."""
        now = _aware(now) or datetime.now(UTC)
        query = select(indicators).where(state_clause(state, now)).order_by(indicators.c.id)
        if kind is not None:
            if kind not in KINDS:
                raise IndicatorError(f"unknown indicator kind {kind!r} (kinds: {', '.join(KINDS)})")
            query = query.where(indicators.c.kind == kind)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            return [_indicator(row) for row in connection.execute(query)]

    def matchable(self, now: datetime | None = None) -> list[Any]:
        """The active indicators as rows of id, kind, value, key, source, reference and expires (UTC,
        naive on SQLite): what the matcher loads, several times faster than `list`."""
        now = _aware(now) or datetime.now(UTC)
        c = indicators.c
        query = select(c.id, c.kind, c.value, c.key, c.source, c.reference, c.expires).where(
            state_clause("active", now)
        )
        with self.engine.connect() as connection:
            return list(connection.execute(query).all())

    def history(self, indicator_id: int) -> list[dict[str, Any]]:
        """The indicator's changes, oldest first: action, by, at, detail."""
        self.get(indicator_id)
        query = (
            select(indicator_changes)
            .where(indicator_changes.c.indicator_id == indicator_id)
            .order_by(indicator_changes.c.id)
        )
        with self.engine.connect() as connection:
            rows = list(connection.execute(query))
        return [
            {
                "action": row.action,
                "by": row.by,
                "at": row.at.isoformat(),
                "detail": orjson.loads(row.detail) if row.detail else None,
            }
            for row in rows
        ]

    def fingerprint(self) -> tuple[int, int]:
        """(newest revision, row count): changes whenever any indicator is added, changed or removed."""
        with self.engine.connect() as connection:
            newest, count = connection.execute(select(func.max(indicators.c.revision), func.count())).one()
        return int(newest or 0), int(count)


def _revision(connection: Connection) -> int:
    return int(connection.execute(select(func.max(indicators.c.revision))).scalar() or 0)


def _record(
    connection: Connection, indicator_id: int, action: str, by: str, at: datetime, detail: Any
) -> None:
    connection.execute(
        insert(indicator_changes).values(
            indicator_id=indicator_id,
            action=action,
            by=by,
            at=at,
            detail=None if detail is None else orjson.dumps(detail).decode(),
        )
    )


def _given(new: NewIndicator) -> dict[str, Any]:
    fields = {"source": new.source, "reference": new.reference, "comment": new.comment}
    return {k: v for k, v in fields.items() if v not in (None, "")}


def _upsert(
    connection: Connection, checked: Checked, new: NewIndicator, by: str, now: datetime, revision: int
) -> Written:
    row = connection.execute(
        select(indicators).where(indicators.c.kind == checked.kind, indicators.c.key == checked.key)
    ).first()
    expires = _aware(new.expires)
    if row is None:
        values = {
            "kind": checked.kind,
            "value": checked.value,
            "key": checked.key,
            **_given(new),
            "creator": new.creator or by,
            "created": _aware(new.created) or now,
            "updated": now,
            "expires": expires,
            "revision": revision,
        }
        indicator_id = connection.execute(insert(indicators).values(**values)).inserted_primary_key[0]
        detail = {"value": checked.value, **({"expires": expires.isoformat()} if expires else {})}
        _record(connection, indicator_id, "added", by, now, detail)
        created = True
    else:
        indicator_id = row.id
        values = {**_given(new), "updated": now, "revision": revision, "removed": None, "removed_by": None}
        old_expiry = row.expires
        if expires is not None:
            values["expires"] = expires
        elif old_expiry is not None and old_expiry <= now:
            values["expires"] = None
        connection.execute(update(indicators).where(indicators.c.id == indicator_id).values(**values))
        changed = {
            k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in values.items()
            if k not in ("updated", "revision", "removed", "removed_by")
        }
        if row.removed is not None:
            changed["restored"] = True
        _record(connection, indicator_id, "updated", by, now, changed)
        created = False
    found = connection.execute(select(indicators).where(indicators.c.id == indicator_id)).one()
    return Written(_indicator(found), created)
