"""`Runner`: starts executions and continues them, the one place where the interpreter meets the store.

`start` validates the definition (and that every Task's resource has a handler), records the execution
and runs it until it ends or parks; `resume` continues a parked one (any process, any time later: the
snapshot is in the database); `resume_due` continues every execution whose wait elapsed or whose task
token was answered. `send_task_success`/`failure`/`heartbeat` answer a `.waitForTaskToken` task; an
execution this runner is running right now is woken at once, a parked one waits for `resume`.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from reynard.respond.asl.definition import StateMachine, load_definition
from reynard.respond.asl.interpreter import TOKEN_SUFFIX, Interpreter
from reynard.respond.asl.ports import Answer, Clock, SystemClock
from reynard.respond.errors import DefinitionError
from reynard.respond.executions import Execution, ExecutionStore, lease
from reynard.respond.resources import TaskInvoker

DEFAULT_LEASE_SECONDS = 60.0


def unsupported_resources(machine: StateMachine, invoker: TaskInvoker) -> DefinitionError | None:
    """The first Task whose resource no handler takes (when the invoker can tell), as an error."""
    supports = getattr(invoker, "supports", None)
    if supports is None:
        return None
    for state in machine.states.values():
        if state.type == "Task":
            resource = state.spec["Resource"].removesuffix(TOKEN_SUFFIX)
            if not supports(resource):
                return DefinitionError(
                    f"no handler is registered for {resource!r}", state=state.where, field="Resource"
                )
    for child in machine.children.values():
        problem = unsupported_resources(child, invoker)
        if problem:
            return problem
    return None


class Runner:
    def __init__(
        self,
        store: ExecutionStore,
        invoker: TaskInvoker,
        *,
        clock: Clock | None = None,
        max_sleep: float | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        owner: str | None = None,
        task_workers: int = 8,
        token_poll_seconds: float = 0.5,
        rng: Any = None,
    ):
        self.store, self.invoker = store, invoker
        self.clock = clock or SystemClock()
        self.max_sleep = max_sleep  # None: sleep through every Wait; 0: park at once
        self.lease_seconds = lease_seconds
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.token_poll_seconds = token_poll_seconds
        self.rng = rng
        self.executor = ThreadPoolExecutor(max_workers=task_workers, thread_name_prefix="reynard-task")
        self._active: dict[str, Interpreter] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    # -- starting and continuing ------------------------------------------------------------------------
    def start(
        self,
        definition: str,
        input: Any,
        *,
        playbook: str,
        started_by: str,
        name: str | None = None,
        dry_run: bool = False,
        run: bool = True,
    ) -> Execution:
        """Record a new execution of `definition` (ASL text), started by `started_by` (a user's or token's
        name, the CLI's actor, `trigger:<name>`), and run it (unless `run` is false)."""
        machine = load_definition(definition, where=playbook)
        problem = unsupported_resources(machine, self.invoker)
        if problem:
            raise problem
        execution_id = str(uuid.uuid4())
        now = self.clock.now()
        self.store.create(
            execution_id,
            name=name or execution_id,
            playbook=playbook,
            definition=definition,
            input=input,
            dry_run=dry_run,
            started=now,
            started_by=started_by,
            owner=self.owner,
            lease_until=lease(now, self.lease_seconds),
        )
        interpreter = self._interpreter(machine, execution_id)
        snapshot = interpreter.start(
            input, execution_id=execution_id, name=name, machine_name=playbook, dry_run=dry_run
        )
        interpreter.flush()
        if run:
            return self._run(interpreter, snapshot, execution_id)
        self.store.release(execution_id, self.owner)  # RUNNING and free: any runner may take it (due)
        return self.store.get(execution_id)

    def resume(self, execution_id: str) -> Execution | None:
        """Continue a parked execution here; None when another process holds it."""
        now = self.clock.now()
        if not self.store.claim(execution_id, self.owner, lease(now, self.lease_seconds), now):
            return None
        record = self.store.get(execution_id)
        if record.snapshot is None:
            self.store.release(execution_id, self.owner)
            return record
        machine = load_definition(record.definition, where=record.playbook)
        return self._run(self._interpreter(machine, execution_id), record.snapshot, execution_id)

    def resume_due(self) -> list[Execution]:
        """Continue every execution whose wait elapsed or whose task token got an answer."""
        done = []
        for execution_id in self.store.due(self.clock.now()):
            record = self.resume(execution_id)
            if record is not None:
                done.append(record)
        return done

    # -- task tokens and stopping -----------------------------------------------------------------------
    def send_task_success(self, token: str, output: Any) -> str:
        return self._answer(token, Answer("SUCCEEDED", output=output))

    def send_task_failure(self, token: str, error: str | None = None, cause: str | None = None) -> str:
        return self._answer(token, Answer("FAILED", error=error, cause=cause))

    def send_task_heartbeat(self, token: str) -> str:
        execution_id = self.store.heartbeat(token)
        self._wake(execution_id)
        return execution_id

    def stop(
        self,
        execution_id: str,
        error: str | None = None,
        cause: str | None = None,
        *,
        by: str | None = None,
    ) -> Execution:
        record = self.store.abort(execution_id, error, cause, by=by)
        self._wake(execution_id)
        return record

    def _answer(self, token: str, answer: Answer) -> str:
        execution_id = self.store.answer(token, answer)
        self._wake(execution_id)
        return execution_id

    def _wake(self, execution_id: str) -> None:
        with self._lock:
            interpreter = self._active.get(execution_id)
        if interpreter is not None:
            interpreter.wake.set()

    # -- internals --------------------------------------------------------------------------------------
    def _interpreter(self, machine: StateMachine, execution_id: str) -> Interpreter:
        def progress(snapshot: dict[str, Any], events: list[dict[str, Any]]) -> bool:
            until = lease(self.clock.now(), self.lease_seconds)
            return self.store.save(execution_id, snapshot, events, owner=self.owner, lease_until=until)

        kwargs = {"rng": self.rng} if self.rng is not None else {}
        return Interpreter(
            machine,
            self.invoker,
            clock=self.clock,
            tokens=self.store,
            executor=self.executor,
            on_progress=progress,
            token_poll_seconds=self.token_poll_seconds,
            **kwargs,
        )

    def _run(self, interpreter: Interpreter, snapshot: dict[str, Any], execution_id: str) -> Execution:
        with self._lock:
            self._active[execution_id] = interpreter
        try:
            interpreter.run(snapshot, max_sleep=self.max_sleep)
        finally:
            with self._lock:
                self._active.pop(execution_id, None)
            self.store.release(execution_id, self.owner)
        return self.store.get(execution_id)


__all__ = ["Runner", "unsupported_resources"]
