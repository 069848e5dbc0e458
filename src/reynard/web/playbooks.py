"""`/api/playbooks/...` and `/api/executions/...`: playbooks and their executions over HTTP.

Starting an execution and answering a task token return at once (202): the execution runs on the
playbook service's workers (the runtime's, started with the app); poll `GET /api/executions/{id}`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from reynard.respond.asl.definition import load_definition
from reynard.respond.errors import DefinitionError
from reynard.respond.service import PlaybookService
from reynard.runtime import Runtime


class StartBody(BaseModel):
    input: Any = Field(default_factory=dict, description="The execution's input (any JSON)")
    name: str | None = Field(None, description="Unique per playbook; default: the execution's id")
    dry_run: bool = False
    definition: dict[str, Any] | None = Field(None, description="Run this ASL definition instead of the file")


class SuccessBody(BaseModel):
    output: Any = Field(default_factory=dict, description="The task's result (any JSON)")


class FailureBody(BaseModel):
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

    @router.get("/api/playbooks")
    def list_playbooks() -> dict:
        found = [p.as_dict() for p in service().catalog.list()]
        return {"playbooks": found, "count": len(found)}

    @router.post("/api/playbooks/validate")
    def validate(definition: dict[str, Any]) -> dict:
        """Check a definition: `{"valid": true}`, or the error naming the state and the field."""
        try:
            machine = load_definition(definition)
        except DefinitionError as e:
            return {"valid": False, "error": str(e), "state": e.state, "field": e.field}
        return {"valid": True, "states": len(machine.states)}

    @router.post("/api/playbooks/{name}/executions", status_code=202)
    def start(name: str, body: StartBody) -> dict:
        """Start an execution of playbook NAME (or of the `definition` given, recorded under NAME)."""
        playbooks = service()
        if body.definition is not None:
            definition = json.dumps(body.definition)
        else:
            name, definition = playbooks.catalog.resolve(name)
        execution = playbooks.start(name, definition, body.input, name=body.name, dry_run=body.dry_run)
        return execution.as_dict()

    @router.get("/api/executions")
    def list_executions(
        status: str | None = Query(
            None, description="RUNNING, WAITING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED"
        ),
        playbook: str | None = None,
        limit: int = Query(100, ge=1, le=10_000),
    ) -> dict:
        found = service().store.list(status=status, playbook=playbook, limit=limit)
        return {"executions": [e.as_dict() for e in found], "count": len(found)}

    @router.get("/api/executions/{execution_id}")
    def get_execution(execution_id: str, history: bool = False) -> dict:
        store = service().store
        body = store.get(execution_id).as_dict(definition=True)
        if history:
            body["history"] = store.history(execution_id)
        return body

    @router.get("/api/executions/{execution_id}/history")
    def get_history(execution_id: str) -> dict:
        events = service().store.history(execution_id)
        return {"events": events, "count": len(events)}

    @router.post("/api/executions/{execution_id}/stop")
    def stop(execution_id: str, body: StopBody) -> dict:
        return service().stop(execution_id, body.error, body.cause).as_dict()

    @router.post("/api/executions/tokens/{token}/approve", status_code=202)
    def approve(token: str, body: SuccessBody) -> dict:
        """SendTaskSuccess: the waiting task succeeds with `output`; its execution goes on."""
        return service().send_task_success(token, body.output).as_dict()

    @router.post("/api/executions/tokens/{token}/reject", status_code=202)
    def reject(token: str, body: FailureBody) -> dict:
        """SendTaskFailure: the waiting task fails with `error` and `cause` (its Catch may take them)."""
        return service().send_task_failure(token, body.error, body.cause).as_dict()

    @router.post("/api/executions/tokens/{token}/heartbeat")
    def heartbeat(token: str) -> dict:
        return service().send_task_heartbeat(token).as_dict()

    return router


__all__ = ["playbooks_router"]
