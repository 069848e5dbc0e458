"""`/api/playbooks/...` and `/api/executions/...`: playbooks and their executions over HTTP.

Starting an execution and answering a waiting task (by execution and state) return at once (202):
the execution runs on the playbook service's workers (the runtime's, started with the app); poll
`GET /api/executions/{id}`. Task tokens never leave the server: they are not in any answer, and a
history shows them redacted.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from reynard.identity.roles import Permission
from reynard.respond.asl.definition import load_definition
from reynard.respond.catalog import Playbook, PlaybookError, read_text
from reynard.respond.errors import DefinitionError
from reynard.respond.executions import Execution
from reynard.respond.permissions import aws_calls_summary
from reynard.respond.service import PlaybookService
from reynard.runtime import Runtime
from reynard.web.auth import CanRespond, allow


class StartBody(BaseModel):
    input: Any = Field(default_factory=dict, description="The execution's input (any JSON)")
    name: str | None = Field(None, description="Unique per playbook; default: the execution's id")
    dry_run: bool = False


class ApproveBody(BaseModel):
    state: str = Field(description="The state whose task waits for the answer (see `waitingFor`)")
    output: Any = Field(default_factory=dict, description="The task's result (any JSON)")


class RejectBody(BaseModel):
    state: str = Field(description="The state whose task waits for the answer (see `waitingFor`)")
    error: str | None = "Rejected"
    cause: str | None = None


class StopBody(BaseModel):
    error: str | None = None
    cause: str | None = None


def playbooks_router(runtime: Runtime) -> APIRouter:
    def service() -> PlaybookService:
        return runtime.playbooks

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        runtime.playbooks.start_background()  # the runtime stops it when it closes
        yield

    router = APIRouter(lifespan=lifespan, tags=["playbooks"])

    def with_aws_calls(playbook: Playbook) -> dict[str, Any]:
        """A playbook's entry, with the AWS calls it may make (`aws_calls`; null when it is invalid)."""
        entry = playbook.as_dict()
        entry["aws_calls"] = None
        try:
            machine = load_definition(read_text(playbook.path), where=str(playbook.path))
        except (DefinitionError, PlaybookError):  # invalid, or changed since it was listed
            return entry
        entry["aws_calls"] = aws_calls_summary(service().aws_calls(machine))
        return entry

    @router.get("/api/playbooks", dependencies=[allow(Permission.READ)])
    def list_playbooks() -> dict:
        found = [with_aws_calls(p) for p in service().catalog.list()]
        return {"playbooks": found, "count": len(found)}

    @router.post("/api/playbooks/validate", dependencies=[allow(Permission.READ)])
    def validate(definition: dict[str, Any]) -> dict:
        """Check a definition: `{"valid": true, "states", "aws_calls"}` (the AWS calls each Task state may
        make, by place, and their union), or the error naming the state and the field."""
        try:
            machine = load_definition(definition)
        except DefinitionError as e:
            return {"valid": False, "error": str(e), "state": e.state, "field": e.field}
        calls = aws_calls_summary(service().aws_calls(machine))
        return {"valid": True, "states": len(machine.states), "aws_calls": calls}

    @router.post("/api/playbooks/{name}/executions", status_code=202)
    def start(name: str, body: StartBody, who: CanRespond) -> dict:
        """Start an execution of the registered or shipped playbook NAME (never a file or a definition
        sent with the request: registering a playbook is `reynard playbook add`, on the server); its
        `startedBy` is the token's or user's name."""
        playbooks = service()
        name, definition = playbooks.catalog.named(name)
        execution = playbooks.start(
            name, definition, body.input, started_by=who.name, name=body.name, dry_run=body.dry_run
        )
        return _public(execution)

    @router.get("/api/executions", dependencies=[allow(Permission.READ)])
    def list_executions(
        status: str | None = Query(
            None, description="RUNNING, WAITING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED"
        ),
        playbook: str | None = None,
        limit: int = Query(100, ge=1, le=10_000),
    ) -> dict:
        found = service().store.list(status=status, playbook=playbook, limit=limit)
        return {"executions": [_public(e) for e in found], "count": len(found)}

    @router.get("/api/executions/{execution_id}", dependencies=[allow(Permission.READ)])
    def get_execution(execution_id: str, history: bool = False) -> dict:
        store = service().store
        body = _public(store.get(execution_id), definition=True)
        if history:
            body["history"] = _redacted(store.history(execution_id), store.tokens_of(execution_id))
        return body

    @router.get("/api/executions/{execution_id}/history", dependencies=[allow(Permission.READ)])
    def get_history(execution_id: str) -> dict:
        store = service().store
        events = _redacted(store.history(execution_id), store.tokens_of(execution_id))
        return {"events": events, "count": len(events)}

    @router.post("/api/executions/{execution_id}/stop")
    def stop(execution_id: str, body: StopBody, who: CanRespond) -> dict:
        """Stop the execution (ABORTED); its `ExecutionAborted` event names who stopped it."""
        return _public(service().stop(execution_id, body.error, body.cause, by=who.name))

    @router.post(
        "/api/executions/{execution_id}/approve", status_code=202, dependencies=[allow(Permission.RESPOND)]
    )
    def approve(execution_id: str, body: ApproveBody) -> dict:
        """SendTaskSuccess for the task waiting at `state`: it succeeds with `output`; the execution goes
        on. (The task's token never leaves the server: an answer names the execution and the state.)"""
        token = service().store.waiting_token(execution_id, body.state)
        return _public(service().send_task_success(token, body.output))

    @router.post(
        "/api/executions/{execution_id}/reject", status_code=202, dependencies=[allow(Permission.RESPOND)]
    )
    def reject(execution_id: str, body: RejectBody) -> dict:
        """SendTaskFailure for the task waiting at `state`, with `error` and `cause` (its Catch may take
        them)."""
        token = service().store.waiting_token(execution_id, body.state)
        return _public(service().send_task_failure(token, body.error, body.cause))

    return router


REDACTED = "(task token: kept on the server)"


def _public(execution: Execution, *, definition: bool = False) -> dict[str, Any]:
    """An execution as the API shows it: what it waits for by state, without the task tokens."""
    body = execution.as_dict(definition=definition)
    body["waitingFor"] = [{k: v for k, v in w.items() if k != "token"} for w in body["waitingFor"]]
    return body


def _redacted(value: Any, tokens: set[str]) -> Any:
    """`value` with every task token in its texts replaced (a history holds `$$.Task.Token` wherever a
    definition passed it on)."""
    if not tokens:
        return value
    if isinstance(value, str):
        for token in tokens:
            if token in value:
                value = value.replace(token, REDACTED)
        return value
    if isinstance(value, list):
        return [_redacted(item, tokens) for item in value]
    if isinstance(value, dict):
        return {key: _redacted(item, tokens) for key, item in value.items()}
    return value


__all__ = ["playbooks_router"]
