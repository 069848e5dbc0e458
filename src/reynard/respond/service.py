"""`PlaybookService`: playbooks in a long-running process (the server).

Executions run on a small pool of worker threads, never in a request: `start` and the task-token
answers return at once and hand the execution to a worker. A poller continues, every `poll_seconds`,
the executions whose wait elapsed or whose token was answered from another process (the CLI), and
those a crashed process left behind once their lease ran out.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from reynard.respond.asl.definition import StateMachine
from reynard.respond.catalog import PlaybookCatalog
from reynard.respond.executions import Execution, ExecutionStore
from reynard.respond.permissions import declared_aws_calls
from reynard.respond.resources import TaskInvoker
from reynard.respond.runner import Runner

log = logging.getLogger("reynard.respond.service")


class PlaybookService:
    def __init__(
        self,
        store: ExecutionStore,
        invoker: TaskInvoker,
        catalog: PlaybookCatalog,
        *,
        workers: int = 4,
        poll_seconds: float = 1.0,
        max_sleep: float = 5.0,
        **runner_options: Any,
    ):
        self.store, self.catalog = store, catalog
        self.runner = Runner(store, invoker, max_sleep=max_sleep, **runner_options)
        self.poll_seconds = poll_seconds
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reynard-playbook")
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------------
    def start_background(self) -> None:
        if self._poller is None:
            self._stop.clear()
            self._poller = threading.Thread(target=self._poll, name="reynard-playbook-poller", daemon=True)
            self._poller.start()

    def close(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=5)
            self._poller = None
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.runner.close()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                for execution_id in self.store.due(self.runner.clock.now()):
                    self.schedule(execution_id)
            except Exception:  # a poll that fails (database busy) is tried again next time
                log.exception("resuming due playbook executions failed")

    def schedule(self, execution_id: str) -> None:
        """Continue an execution on a worker (unless one is already on it)."""
        with self._lock:
            if execution_id in self._busy:
                return
            self._busy.add(execution_id)
        self._pool.submit(self._continue, execution_id)

    def _continue(self, execution_id: str) -> None:
        try:
            self.runner.resume(execution_id)
        except Exception:
            log.exception("playbook execution %s failed to continue", execution_id)
        finally:
            with self._lock:
                self._busy.discard(execution_id)

    # -- what the API does ------------------------------------------------------------------------------
    def start(
        self,
        playbook: str,
        definition: str,
        input: Any,
        *,
        started_by: str,
        name: str | None = None,
        dry_run: bool = False,
    ) -> Execution:
        record = self.runner.start(
            definition, input, playbook=playbook, started_by=started_by, name=name, dry_run=dry_run, run=False
        )
        self.schedule(record.id)
        return record

    def send_task_success(self, token: str, output: Any) -> Execution:
        execution_id = self.runner.send_task_success(token, output)
        self.schedule(execution_id)
        return self.store.get(execution_id)

    def send_task_failure(self, token: str, error: str | None, cause: str | None) -> Execution:
        execution_id = self.runner.send_task_failure(token, error, cause)
        self.schedule(execution_id)
        return self.store.get(execution_id)

    def aws_calls(self, machine: StateMachine) -> dict[str, frozenset[str]]:
        """The AWS calls each Task state of `machine` may make, as this service's task resources declare
        them (`permissions.declared_aws_calls`)."""
        return declared_aws_calls(machine, self.runner.invoker)

    def send_task_heartbeat(self, token: str) -> Execution:
        return self.store.get(self.runner.send_task_heartbeat(token))

    def stop(
        self, execution_id: str, error: str | None, cause: str | None, *, by: str | None = None
    ) -> Execution:
        return self.runner.stop(execution_id, error, cause, by=by)


__all__ = ["PlaybookService"]
