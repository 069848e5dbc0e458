"""Shared by the tests that run the shipped workshop playbook: Reynard's runner and executions on a state
database in a temp dir, the real task resources (`register_all`) at an AWS endpoint (moto in server mode,
or none at all), and the incidents its steps write to. No test lives here; nothing of Reynard's is mocked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asl_support import FakeClock
from respond_support import settings
from reynard.cases.playbook_sink import PlaybookIncidents
from reynard.cases.store import IncidentStore
from reynard.respond.actions import register_all
from reynard.respond.dispatch import Dispatch
from reynard.respond.executions import Execution, ExecutionStore
from reynard.respond.playbooks import definition, example_input
from reynard.respond.runner import Runner
from reynard.state import open_state

NAME = "guardduty_crypto_mining"


def finding(instance_id: str | None = None) -> dict[str, Any]:
    """The shipped example finding event, about `instance_id` (default: the example's own instance)."""
    event = example_input(NAME)
    if instance_id is not None:
        event["detail"]["resource"]["instanceDetails"]["instanceId"] = instance_id
    return event


@dataclass
class Response:
    """The playbook under Reynard's runner: its executions and the incidents its steps write to."""

    runner: Runner
    store: ExecutionStore
    incidents: IncidentStore
    clock: FakeClock

    def start(self, event: dict, *, dry_run: bool = False) -> Execution:
        return self.runner.start(
            json.dumps(definition(NAME)), event, playbook=NAME, started_by="tests", dry_run=dry_run
        )

    def run(self, event: dict, answer: dict | None, *, dry_run: bool = False) -> tuple[str, Any, list[str]]:
        """Start the playbook on `event`; answer its approval with `answer` (None: let it time out, by
        failing the token as the 24-hour timeout would). Every wait parks the execution (as a restart
        would find it); a timer's wait is passed by moving the clock to its end, then it resumes.
        Returns (status, output or error, states entered)."""
        execution = self.start(event, dry_run=dry_run)
        while execution.status == "WAITING":
            if execution.waiting_for:
                (waiting,) = execution.waiting_for
                if answer is None:
                    self.runner.send_task_failure(waiting["token"], "States.Timeout", "no answer in 24 hours")
                else:
                    self.runner.send_task_success(waiting["token"], answer)
            else:
                wake = datetime.fromisoformat(execution.wake_at)
                self.clock.advance(max(0.0, (wake - self.clock.now()).total_seconds()) + 0.001)
            execution = self.runner.resume(execution.id)
        self.last = execution.id
        history = self.store.history(execution.id)
        entered = [e["state"] for e in history if e["type"].endswith("StateEntered")]
        done = execution.status == "SUCCEEDED"
        return execution.status, execution.output if done else execution.error, entered

    def history(self) -> list[dict[str, Any]]:
        """The last run's history."""
        return self.store.history(self.last)

    def results(self) -> dict[str, Any]:
        """Each task state's last result in the last run, by state."""
        return {e["state"]: e["details"]["output"] for e in self.history() if e["type"] == "TaskSucceeded"}

    def timeline(self) -> list[str]:
        return [e.text for e in self.entries()]

    def entries(self) -> list[Any]:
        (incident,) = self.incidents.list()
        return [e for e in self.incidents.timeline(incident.id) if e.kind == "playbook"]


def response(endpoint: str | None, tmp_path, **respond: Any) -> Response:
    """The playbook's runner with every task resource, its AWS calls to `endpoint` (None: AWS's own)."""
    engine = open_state(f"sqlite:///{tmp_path / 'state.db'}")
    incidents = IncidentStore(engine)
    dispatch = Dispatch()
    register_all(
        dispatch,
        settings(**respond),
        endpoint_url=endpoint,
        incidents=PlaybookIncidents(incidents),
        sleep=lambda seconds: None,
    )
    store = ExecutionStore(engine)
    clock = FakeClock(datetime.now(UTC))  # timers end when the test moves it
    return Response(Runner(store, dispatch, clock=clock, max_sleep=0), store, incidents, clock)
