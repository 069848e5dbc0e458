"""Executions in the state database: each one's row (status, outcome, snapshot), its history events,
and its task tokens (`TokenBox` for the interpreter; answered by approve/reject from any process).

Each `save` writes the snapshot and the new events in one transaction, so what a restart finds is a
position the interpreter really reached. A process runs an execution only while it holds its lease
(`claim`); a crashed process's lease runs out and another process can take the execution over.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, or_, select, update

from reynard.errors import NotFound, ReynardError
from reynard.events.timestamps import iso_or_none
from reynard.respond.asl.ports import Answer, TokenState
from reynard.respond.asl.timestamps import parse_timestamp
from reynard.state.tables import EXECUTION_STATUSES, execution_events, executions, task_tokens

ACTIVE = ("RUNNING", "WAITING")


class ExecutionError(ReynardError):
    """A task token that does not exist, or an execution that cannot take what was asked."""


class UnknownExecution(ExecutionError, NotFound):
    """An execution id that does not exist."""


class NoWaitingTask(ExecutionError, NotFound):
    """No task of an execution waits for an answer at that state."""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def definition_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Execution:
    id: str
    name: str
    playbook: str
    status: str
    input: Any
    output: Any
    error: str | None
    cause: str | None
    started: str
    stopped: str | None
    dry_run: bool
    wake_at: str | None
    started_by: str | None  # who: a user's or token's name, the CLI's actor, `trigger:<name>`; None: unknown
    definition: str = field(repr=False)
    snapshot: dict[str, Any] | None = field(default=None, repr=False)
    waiting_for: tuple[dict[str, str], ...] = ()  # the task tokens it waits for: {"token", "state"}

    def as_dict(self, *, definition: bool = False) -> dict[str, Any]:
        body = {
            "executionId": self.id,
            "name": self.name,
            "playbook": self.playbook,
            "status": self.status,
            "input": self.input,
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
            "started": self.started,
            "stopped": self.stopped,
            "dryRun": self.dry_run,
            "wakeAt": self.wake_at,
            "startedBy": self.started_by,
            "waitingFor": list(self.waiting_for),
        }
        if definition:
            body["definition"] = json.loads(self.definition)
        return body


class ExecutionStore:
    def __init__(self, engine: Engine, clock: Any = None):
        self.engine = engine
        self.now = clock.now if clock is not None else lambda: datetime.now(UTC)

    # -- executions -------------------------------------------------------------------------------------
    def create(
        self,
        execution_id: str,
        *,
        name: str,
        playbook: str,
        definition: str,
        input: Any,
        dry_run: bool,
        started: datetime,
        started_by: str,
        owner: str,
        lease_until: datetime,
    ) -> None:
        with self.engine.begin() as connection:
            taken = connection.execute(
                select(executions.c.id).where(executions.c.playbook == playbook, executions.c.name == name)
            ).first()
            if taken:
                raise ExecutionError(f"playbook {playbook} already has an execution named {name!r}")
            connection.execute(
                insert(executions).values(
                    id=execution_id,
                    name=name,
                    playbook=playbook,
                    definition_hash=definition_hash(definition),
                    definition=definition,
                    input=_dumps(input),
                    status="RUNNING",
                    dry_run=dry_run,
                    started=started,
                    started_by=started_by,
                    owner=owner,
                    lease_until=lease_until,
                )
            )

    def save(
        self,
        execution_id: str,
        snapshot: dict[str, Any],
        events: list[dict[str, Any]],
        *,
        owner: str,
        lease_until: datetime,
    ) -> bool:
        """Record the snapshot and `events`; False when the execution was stopped meanwhile (abort)."""
        status = snapshot["status"]
        ended = status not in ACTIVE
        wake = parse_timestamp(snapshot.get("wake_at")) if snapshot.get("wake_at") else None
        with self.engine.begin() as connection:
            current = connection.execute(
                select(executions.c.status).where(executions.c.id == execution_id)
            ).scalar_one()
            if current == "ABORTED":
                return False
            if events:
                seq = connection.execute(
                    select(func.coalesce(func.max(execution_events.c.seq), 0)).where(
                        execution_events.c.execution_id == execution_id
                    )
                ).scalar_one()
                rows = []
                for number, event in enumerate(events, seq + 1):
                    rows.append(
                        {
                            "execution_id": execution_id,
                            "seq": number,
                            "type": event["type"],
                            "at": parse_timestamp(event["at"]),
                            "state": event["state"],
                            "frame": event["frame"],
                            "details": _dumps(event["details"]),
                        }
                    )
                connection.execute(insert(execution_events), rows)
            values: dict[str, Any] = {
                "status": status,
                "snapshot": None if ended else _dumps(snapshot),
                "wake_at": wake,
                "owner": None if ended or status == "WAITING" else owner,
                "lease_until": None if ended or status == "WAITING" else lease_until,
            }
            if ended:
                values.update(
                    output=_dumps(snapshot["output"]) if "output" in snapshot else None,
                    error=snapshot.get("error"),
                    cause=snapshot.get("cause"),
                    stopped=self.now(),
                )
            connection.execute(update(executions).where(executions.c.id == execution_id).values(**values))
        return True

    def claim(self, execution_id: str, owner: str, lease_until: datetime, now: datetime) -> bool:
        """Take the lease on an active execution (free, expired, or already ours)."""
        with self.engine.begin() as connection:
            result = connection.execute(
                update(executions)
                .where(
                    executions.c.id == execution_id,
                    executions.c.status.in_(ACTIVE),
                    or_(
                        executions.c.owner.is_(None),
                        executions.c.owner == owner,
                        executions.c.lease_until < now,
                    ),
                )
                .values(owner=owner, lease_until=lease_until, status="RUNNING")
            )
            return result.rowcount == 1

    def release(self, execution_id: str, owner: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(executions)
                .where(executions.c.id == execution_id, executions.c.owner == owner)
                .values(owner=None, lease_until=None)
            )

    def abort(
        self, execution_id: str, error: str | None, cause: str | None, *, by: str | None = None
    ) -> Execution:
        """Stop an active execution (ABORTED); its tokens refuse answers from now on. Who stopped it
        (`by`) is in the `ExecutionAborted` event of its history."""
        with self.engine.begin() as connection:
            result = connection.execute(
                update(executions)
                .where(executions.c.id == execution_id, executions.c.status.in_(ACTIVE))
                .values(
                    status="ABORTED",
                    error=error,
                    cause=cause,
                    stopped=self.now(),
                    snapshot=None,
                    wake_at=None,
                    owner=None,
                    lease_until=None,
                )
            )
            if result.rowcount != 1:
                self.get(execution_id)  # raises when unknown
                raise ExecutionError(f"execution {execution_id} has already ended")
            connection.execute(
                update(task_tokens)
                .where(task_tokens.c.execution_id == execution_id, task_tokens.c.status == "WAITING")
                .values(status="ABORTED")
            )
            seq = connection.execute(
                select(func.coalesce(func.max(execution_events.c.seq), 0)).where(
                    execution_events.c.execution_id == execution_id
                )
            ).scalar_one()
            connection.execute(
                insert(execution_events).values(
                    execution_id=execution_id,
                    seq=seq + 1,
                    type="ExecutionAborted",
                    at=self.now(),
                    state=None,
                    frame="",
                    details=_dumps({"error": error, "cause": cause, "by": by}),
                )
            )
        return self.get(execution_id)

    def get(self, execution_id: str) -> Execution:
        with self.engine.connect() as connection:
            row = (
                connection.execute(select(executions).where(executions.c.id == execution_id))
                .mappings()
                .first()
            )
            if row is None:
                raise UnknownExecution(f"no execution with id {execution_id}")
            waiting = self._waiting(connection, [execution_id]).get(execution_id, ())
        return self._execution(row, waiting)

    def list(
        self, *, status: str | None = None, playbook: str | None = None, limit: int | None = 100
    ) -> list[Execution]:
        if status is not None and status not in EXECUTION_STATUSES:
            raise ExecutionError(f"status must be one of {', '.join(EXECUTION_STATUSES)}, got {status!r}")
        query = select(executions).order_by(executions.c.started.desc(), executions.c.id)
        if status:
            query = query.where(executions.c.status == status)
        if playbook:
            query = query.where(executions.c.playbook == playbook)
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
            waiting = self._waiting(connection, [r["id"] for r in rows])
        return [self._execution(row, waiting.get(row["id"], ())) for row in rows]

    def history(self, execution_id: str) -> list[dict[str, Any]]:
        self.get(execution_id)
        query = (
            select(execution_events)
            .where(execution_events.c.execution_id == execution_id)
            .order_by(execution_events.c.seq)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [
            {
                "id": row["seq"],
                "type": row["type"],
                "timestamp": iso_or_none(row["at"]),
                "state": row["state"],
                "frame": row["frame"],
                "details": json.loads(row["details"]),
            }
            for row in rows
        ]

    def due(self, now: datetime) -> list[str]:
        """WAITING executions to continue: a timer elapsed, or a task token was answered."""
        answered = select(task_tokens.c.execution_id).where(task_tokens.c.status.in_(("SUCCEEDED", "FAILED")))
        query = select(executions.c.id).where(
            executions.c.status == "WAITING",
            or_(executions.c.wake_at <= now, executions.c.id.in_(answered)),
        )
        stale = select(executions.c.id).where(
            executions.c.status == "RUNNING",
            or_(executions.c.owner.is_(None), executions.c.lease_until < now),
        )  # not started yet, or a process died while running it
        with self.engine.connect() as connection:
            found = [r[0] for r in connection.execute(query)] + [r[0] for r in connection.execute(stale)]
        return list(dict.fromkeys(found))

    def _waiting(self, connection: Any, ids: list[str]) -> dict[str, tuple[dict[str, str], ...]]:
        if not ids:
            return {}
        rows = connection.execute(
            select(task_tokens.c.execution_id, task_tokens.c.token, task_tokens.c.state)
            .where(task_tokens.c.execution_id.in_(ids), task_tokens.c.status == "WAITING")
            .order_by(task_tokens.c.created)
        )
        out: dict[str, list[dict[str, str]]] = {}
        for execution_id, token, state in rows:
            out.setdefault(execution_id, []).append({"token": token, "state": state})
        return {k: tuple(v) for k, v in out.items()}

    def _execution(self, row: Any, waiting: tuple[dict[str, str], ...]) -> Execution:
        return Execution(
            id=row["id"],
            name=row["name"],
            playbook=row["playbook"],
            status=row["status"],
            input=json.loads(row["input"]),
            output=json.loads(row["output"]) if row["output"] is not None else None,
            error=row["error"],
            cause=row["cause"],
            started=iso_or_none(row["started"]) or "",
            stopped=iso_or_none(row["stopped"]),
            dry_run=bool(row["dry_run"]),
            wake_at=iso_or_none(row["wake_at"]),
            started_by=row["started_by"],
            definition=row["definition"],
            snapshot=json.loads(row["snapshot"]) if row["snapshot"] else None,
            waiting_for=waiting if row["status"] in ACTIVE else (),
        )

    def tokens_of(self, execution_id: str) -> set[str]:
        """Every task token an execution was given (to keep them out of what leaves the server)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(task_tokens.c.token).where(task_tokens.c.execution_id == execution_id)
            ).all()
        return {row[0] for row in rows}

    def waiting_token(self, execution_id: str, state: str) -> str:
        """The token of the task waiting for an answer at `state` of an active execution."""
        record = self.get(execution_id)
        for waiting in record.waiting_for:
            if waiting["state"] == state:
                return waiting["token"]
        states = ", ".join(repr(w["state"]) for w in record.waiting_for) or "none"
        raise NoWaitingTask(
            f"execution {execution_id} waits for no answer at state {state!r} (it waits at: {states})"
        )

    # -- task tokens (the interpreter's TokenBox) -------------------------------------------------------
    def register(self, token: str, execution_id: str, state: str) -> None:
        with self.engine.begin() as connection:
            exists = connection.execute(
                select(task_tokens.c.token).where(task_tokens.c.token == token)
            ).first()
            if not exists:
                connection.execute(
                    insert(task_tokens).values(
                        token=token,
                        execution_id=execution_id,
                        state=state,
                        status="WAITING",
                        created=self.now(),
                    )
                )

    def look(self, tokens: list[str]) -> dict[str, TokenState]:
        with self.engine.connect() as connection:
            rows = (
                connection.execute(select(task_tokens).where(task_tokens.c.token.in_(tokens)))
                .mappings()
                .all()
            )
        out = {}
        for row in rows:
            answer = None
            if row["status"] in ("SUCCEEDED", "FAILED"):
                output = json.loads(row["output"]) if row["output"] is not None else None
                answer = Answer(row["status"], output, row["error"], row["cause"])
            out[row["token"]] = TokenState(answer, row["heartbeat"])
        return out

    def close(self, token: str, status: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(task_tokens).where(task_tokens.c.token == token).values(status=status))

    def answer(self, token: str, answer: Answer) -> str:
        """Record the answer to a waiting task; the id of its execution (to resume it)."""
        with self.engine.begin() as connection:
            result = connection.execute(
                update(task_tokens)
                .where(task_tokens.c.token == token, task_tokens.c.status == "WAITING")
                .values(
                    status=answer.status,
                    output=_dumps(answer.output) if answer.status == "SUCCEEDED" else None,
                    error=answer.error,
                    cause=answer.cause,
                    answered=self.now(),
                )
            )
            row = connection.execute(
                select(task_tokens.c.execution_id, task_tokens.c.status).where(task_tokens.c.token == token)
            ).first()
        if row is None:
            raise ExecutionError("no task waits for this token (TaskDoesNotExist)")
        if result.rowcount != 1:
            why = {"TIMED_OUT": "timed out", "ABORTED": "was stopped"}.get(row[1], "was already answered")
            raise ExecutionError(f"the task of this token {why} (TaskTimedOut)")
        return row[0]

    def heartbeat(self, token: str) -> str:
        with self.engine.begin() as connection:
            result = connection.execute(
                update(task_tokens)
                .where(task_tokens.c.token == token, task_tokens.c.status == "WAITING")
                .values(heartbeat=self.now())
            )
            row = connection.execute(
                select(task_tokens.c.execution_id).where(task_tokens.c.token == token)
            ).first()
        if row is None or result.rowcount != 1:
            raise ExecutionError("no task waits for this token")
        return row[0]


def lease(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)


__all__ = ["ACTIVE", "Execution", "ExecutionError", "ExecutionStore", "definition_hash", "lease"]
