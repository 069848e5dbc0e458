"""Alerts in the state database: what the rules found, and who did what about it.

An alert is stored in MozDef's shape (summary, category, severity, tags, channel, notify_mozdefbot, url,
events as `[{documentindex, documentsource, documentid}]`) plus the rule that made it, the value that
made it fire (`group_key`: the aggregation value or the event id), and a triage status (`new`,
`acknowledged`, `escalated`, `closed`) whose every change is kept with who made it and when.

Whatever else a rule puts in its alert dict (a Sigma rule's `sigma` block, with a correlation's group,
value and window; a MozDef alert's own keys) is kept in `extra` and comes back with the alert.

`alerts.events` holds the events shown with the alert (an aggregation's samples); `alert_events` holds
the id of every event the alert stands for (the whole group), each reachable in the event store. That
table is what dedup asks: an event already in an alert of a rule does not alert for it again.

An alert about a GuardDuty finding names it (`finding_ids`): that id is what joins the alert, the
incident it is escalated to and the incident a playbook opens for the finding (`AlertStore.of_finding`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import Connection, CursorResult, Engine, Table, insert, select, update

from reynard.errors import NotFound, ReynardError
from reynard.events.timestamps import iso_or_none
from reynard.state.tables import ALERT_STATUSES, alert_events, alert_status_changes, alerts

# Ids per `IN (...)` look-up: well under SQLite's bound-parameter limit.
LOOKUP_CHUNK = 500


class AlertError(ReynardError):
    """A status that is not one of ALERT_STATUSES."""


class UnknownAlert(AlertError, NotFound):
    """An alert id that does not exist."""


@dataclass(frozen=True)
class NewAlert:
    """An alert to store: the dict a rule made, its rule, what made it fire, every event it stands for
    (default: the ids in `alert["events"]`)."""

    alert: dict
    rule: str
    group_key: str | None = None
    event_ids: Iterable[str] | None = None

    def ids(self) -> list[str]:
        found = _document_ids(self.alert.get("events") or []) if self.event_ids is None else self.event_ids
        return list(dict.fromkeys(str(i) for i in found))


# The keys of an alert dict that have columns of their own (`status` is the triage status, not the
# rule's; `id` and `rule` are the store's), so not kept in `extra`.
COLUMN_KEYS = frozenset(
    {"id", "rule", "classname", "summary", "category", "severity", "tags", "channel", "notify_mozdefbot"}
    | {"url", "events", "group_key", "utctimestamp", "status", "status_by", "status_at", "created"}
)


def _extra(alert: dict) -> str | None:
    """The alert's other keys as JSON (a value JSON cannot hold is kept as its text), or None."""
    extra = {key: value for key, value in alert.items() if key not in COLUMN_KEYS}
    if not extra:
        return None
    return orjson.dumps(extra, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def _row(item: NewAlert) -> dict[str, Any]:
    """The columns of one alert's row that depend on the alert (`_new_row` has those every new alert
    shares)."""
    alert = item.alert
    return {
        "rule": item.rule,
        "classname": alert.get("classname") or item.rule,
        "summary": alert.get("summary") or "",
        "category": alert.get("category"),
        "severity": alert.get("severity"),
        "tags": orjson.dumps(list(alert.get("tags") or [])).decode(),
        "channel": alert.get("channel"),
        "notify_mozdefbot": bool(alert.get("notify_mozdefbot")),
        "url": alert.get("url"),
        "events": orjson.dumps(list(alert.get("events") or [])).decode(),
        "group_key": None if item.group_key is None else str(item.group_key),
        "utctimestamp": alert.get("utctimestamp"),
        "extra": _extra(alert),
    }


def _new_row(now: datetime) -> dict[str, Any]:
    """The columns every alert stored at `now` shares."""
    return {"created": now, "status": "new", "status_by": None, "status_at": None}


class AlertStore:
    """Alerts in the state database. `notify(alert_id, alert)`, when given, is called for each new alert
    (see `notifications.Notifications`) with the alert's `rule`; the deliveries it returns that failed
    are kept in `undelivered` as `(rule, alert id, error)` for the run to report."""

    def __init__(self, engine: Engine, notify: Callable[[int, dict], object] | None = None):
        self.engine = engine
        self.notify = notify
        self.undelivered: list[tuple[str, int, str]] = []

    def add(
        self,
        alert: dict,
        rule: str,
        group_key: str | None = None,
        event_ids: Iterable[str] | None = None,
    ) -> int:
        """Store one alert dict (as `AlertTask.createAlertDict` makes it); returns its id.

        `event_ids`: every event the alert stands for (default: the ids in `alert["events"]`)."""
        return self.add_many([NewAlert(alert, rule, group_key, event_ids)])[0]

    def add_many(self, new: Sequence[NewAlert]) -> list[int]:
        """Store alerts in one transaction (a streamed batch's alerts); their ids, in order. Each is
        notified after the commit."""
        if not new:
            return []
        rows = [_row(item) for item in new]
        with self.engine.begin() as connection:
            ids = _insert_rows(connection, rows, _new_row(datetime.now(UTC)))
            links = [
                {"alert_id": alert_id, "rule": item.rule, "event_id": event_id}
                for alert_id, item in zip(ids, new, strict=True)
                for event_id in item.ids()
            ]
            if links and connection.dialect.name == "sqlite":
                _insert_many(connection, alert_events, links, {})
            elif links:
                connection.execute(insert(alert_events), links)
        if self.notify is not None:
            for alert_id, item in zip(ids, new, strict=True):
                outcomes = self.notify(alert_id, {**item.alert, "rule": item.rule})
                for outcome in outcomes if isinstance(outcomes, list) else ():
                    if getattr(outcome, "ok", True) is False:
                        self.undelivered.append((item.rule, alert_id, str(outcome.error)))
        return ids

    def get(self, alert_id: int) -> dict | None:
        """The alert with `event_ids` (every event it stands for) and its status history (oldest change
        first), or None."""
        with self.engine.connect() as connection:
            row = connection.execute(select(alerts).where(alerts.c.id == alert_id)).first()
            if row is None:
                return None
            changes = connection.execute(
                select(alert_status_changes)
                .where(alert_status_changes.c.alert_id == alert_id)
                .order_by(alert_status_changes.c.id)
            ).all()
            event_ids = connection.execute(
                select(alert_events.c.event_id)
                .where(alert_events.c.alert_id == alert_id)
                .order_by(alert_events.c.id)
            ).scalars()
            result = _as_dict(row)
            result["event_ids"] = list(event_ids)
        result["history"] = [
            {"status": c.status, "by": c.by, "at": iso_or_none(c.at), "comment": c.comment} for c in changes
        ]
        return result

    def list(
        self, since: datetime | None = None, status: str | None = None, limit: int | None = None
    ) -> list[dict]:
        """Alerts created at or after `since`, with `status`, newest first."""
        query = select(alerts).order_by(alerts.c.created.desc(), alerts.c.id.desc())
        if since is not None:
            query = query.where(alerts.c.created >= since)
        if status is not None:
            _check_status(status)
            query = query.where(alerts.c.status == status)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            return [_as_dict(row) for row in connection.execute(query)]

    def set_status(self, alert_id: int, status: str, by: str, comment: str | None = None) -> None:
        """Change an alert's status and record the change (the same status again is recorded too)."""
        _check_status(status)
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(alerts)
                .where(alerts.c.id == alert_id)
                .values(status=status, status_by=by, status_at=now)
            ).rowcount
            if not changed:
                raise UnknownAlert(f"no alert with id {alert_id}")
            connection.execute(
                insert(alert_status_changes).values(
                    alert_id=alert_id, status=status, by=by, at=now, comment=comment
                )
            )

    def of_finding(self, finding_id: str) -> list[dict]:
        """The alerts standing for the GuardDuty finding `finding_id` (`finding_ids`), oldest first.

        No column holds the id: the alerts whose events' text has it are read and each is checked by
        `finding_ids`, so the answer is exact. A scan of the alerts, fine for what calls it (a playbook
        opening its incident, not a query per event)."""
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", finding_id) + "%"
        query = select(alerts).where(alerts.c.events.like(pattern, escape="\\")).order_by(alerts.c.id)
        with self.engine.connect() as connection:
            found = [_as_dict(row) for row in connection.execute(query)]
        return [alert for alert in found if finding_id in finding_ids(alert)]

    def already_alerted(self, rule: str, event_ids: Iterable[str]) -> set[str]:
        """The ids among `event_ids` that are already in an alert of `rule` (so as not to alert twice)."""
        return self.already_alerted_by_rule({rule: event_ids})[rule]

    def already_alerted_by_rule(self, event_ids: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
        """`already_alerted` for several rules over one connection (a streamed batch asks for each rule
        that matched in it: a connection each was most of the time of those look-ups)."""
        wanted = {rule: list(dict.fromkeys(str(i) for i in ids)) for rule, ids in event_ids.items()}
        found: dict[str, set[str]] = {rule: set() for rule in wanted}
        if not any(wanted.values()):
            return found
        with self.engine.connect() as connection:
            for rule, ids in wanted.items():
                for start in range(0, len(ids), LOOKUP_CHUNK):
                    found[rule].update(_alerted(connection, rule, ids[start : start + LOOKUP_CHUNK]))
        return found


def finding_ids(alert: Mapping[str, Any]) -> list[str]:
    """The GuardDuty findings an alert stands for: its own `finding_id`, if its rule set one, and the
    `details.id` of each of its events that is a finding (`source` guardduty)."""
    found: list[Any] = [alert.get("finding_id")]
    for ref in alert.get("events") or ():
        source = ref.get("documentsource") if isinstance(ref, Mapping) else None
        if isinstance(source, Mapping) and source.get("source") == "guardduty":
            details = source.get("details")
            found.append(details.get("id") if isinstance(details, Mapping) else None)
    return list(dict.fromkeys(f for f in found if isinstance(f, str) and f))


def _document_ids(refs: Iterable[Any]) -> list[str]:
    return [
        str(ref["documentid"]) for ref in refs if isinstance(ref, dict) and ref.get("documentid") is not None
    ]


def _alerted(connection: Connection, rule: str, ids: list[str]) -> Iterable[str]:
    """The ids among `ids` that are in an alert of `rule`.

    SQLite: through the driver. SQLAlchemy renders an expanding IN anew for each look-up, which cost
    five times the query itself (a streamed batch looks up each rule that matched)."""
    if connection.dialect.name != "sqlite":
        return connection.execute(
            select(alert_events.c.event_id).where(
                alert_events.c.rule == rule, alert_events.c.event_id.in_(ids)
            )
        ).scalars()
    table, rule_column, id_column = alert_events.name, alert_events.c.rule.name, alert_events.c.event_id.name
    marks = ", ".join("?" * len(ids))
    sql = f"SELECT {id_column} FROM {table} WHERE {rule_column} = ? AND {id_column} IN ({marks})"
    return [row[0] for row in connection.exec_driver_sql(sql, (rule, *ids))]


def _insert_rows(connection: Connection, rows: list[dict[str, Any]], shared: dict[str, Any]) -> list[int]:
    """Insert alert rows, each with the columns in `shared`; their ids, in order.

    SQLite: the first row alone (its id returned), then the rest in one executemany. The first insert
    takes the database's write lock until the commit, and SQLite gives a new row the largest id + 1, so
    the others' ids follow on. Elsewhere: one INSERT ... RETURNING in parameter order."""
    if connection.dialect.name != "sqlite":
        returned = connection.execute(
            insert(alerts).returning(alerts.c.id, sort_by_parameter_order=True),
            [{**row, **shared} for row in rows],
        )
        return [int(i) for i in returned.scalars()]
    first = int(_insert_many(connection, alerts, rows[:1], shared).lastrowid)
    if len(rows) > 1:
        _insert_many(connection, alerts, rows[1:], shared)
    return list(range(first, first + len(rows)))


def _insert_many(
    connection: Connection, table: Table, rows: list[dict[str, Any]], shared: dict[str, Any]
) -> CursorResult:
    """INSERT `rows` (dicts with the same keys), each with the columns in `shared`, in one executemany
    through the driver (one execute for one row, so its `lastrowid` is the new row's). SQLite only.

    The values are what SQLAlchemy would bind (each column's own bind processor), but SQLAlchemy's
    per-row work (a parameter dict checked against the statement, each value through its processor)
    was a third of the time to store a streamed batch's alerts: here the statement is compiled once
    per call, and the values every row shares (the creation time) are processed once."""
    dialect = connection.dialect
    names = [*rows[0], *shared]
    compiled = insert(table).compile(dialect=dialect, column_keys=names)
    order = compiled.positiontup
    assert order is not None, "a positional paramstyle (SQLite's qmark)"
    process = {c.key: c.type.dialect_impl(dialect).bind_processor(dialect) for c in table.columns}
    fixed = {key: value if process[key] is None else process[key](value) for key, value in shared.items()}
    converted = [(key, process[key]) for key in rows[0] if process[key] is not None]
    values = itemgetter(*order) if len(order) > 1 else lambda row: (row[order[0]],)
    params = []
    for row in rows:
        row = {**row, **fixed}
        for key, convert in converted:
            row[key] = convert(row[key])
        params.append(values(row))
    return connection.exec_driver_sql(str(compiled), params[0] if len(params) == 1 else params)


def _check_status(status: str) -> None:
    if status not in ALERT_STATUSES:
        raise AlertError(f"unknown alert status {status!r} (one of: {', '.join(ALERT_STATUSES)})")


def _as_dict(row: Any) -> dict:
    extra = orjson.loads(row.extra) if row.extra else {}
    return {
        **extra,
        "id": row.id,
        "rule": row.rule,
        "classname": row.classname,
        "summary": row.summary,
        "category": row.category,
        "severity": row.severity,
        "tags": orjson.loads(row.tags),
        "channel": row.channel,
        "notify_mozdefbot": bool(row.notify_mozdefbot),
        "url": row.url,
        "events": orjson.loads(row.events),
        "group_key": row.group_key,
        "created": iso_or_none(row.created),
        "utctimestamp": row.utctimestamp,
        "status": row.status,
        "status_by": row.status_by,
        "status_at": iso_or_none(row.status_at),
    }
