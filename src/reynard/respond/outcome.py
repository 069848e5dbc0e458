"""What an execution's history says, step by step, for a person at the command line.

An execution that fails ends in its playbook's own Fail state (the workshop playbook's
`Reynard.ContainmentFailed`), whose cause cannot name the step that failed; the history can. `failures`
gives each task that failed for good (its last attempt: an attempt followed by a retry is left out),
with the error and cause, whether a `Catch` took it or it ended the execution. `step_lines` gives, for
each task that returned, the line its result states (`actions.statement`): in a dry run, what it would
do (a timeline entry's, which repeats its step's line, left out).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .actions.statement import statement


@dataclass(frozen=True)
class Failure:
    state: str
    frame: str
    error: str | None
    cause: str | None
    attempts: int

    def line(self) -> str:
        where = f"{self.frame}/{self.state}" if self.frame else self.state
        tries = f" (after {self.attempts} attempts)" if self.attempts > 1 else ""
        told = ": ".join(part for part in (self.error or "(no error name)", self.cause) if part)
        return f"{where} failed{tries}: {told}"


def failures(history: Iterable[Mapping[str, Any]]) -> list[Failure]:
    """Every task that failed for good, in order (see the module docstring)."""
    events = list(history)
    found: list[Failure] = []
    retries: dict[tuple[str, str], int] = {}
    for index, event in enumerate(events):
        place = (str(event.get("frame") or ""), str(event.get("state") or ""))
        if event["type"] == "RetryScheduled":
            retries[place] = retries.get(place, 0) + 1
            continue
        if event["type"] not in ("TaskFailed", "TaskTimedOut"):
            continue
        following = next(
            (
                e
                for e in events[index + 1 :]
                if (str(e.get("frame") or ""), str(e.get("state") or "")) == place
            ),
            None,
        )
        if following is not None and following["type"] == "RetryScheduled":
            continue
        details = event.get("details") or {}
        found.append(
            Failure(place[1], place[0], details.get("error"), details.get("cause"), retries.pop(place, 0) + 1)
        )
    return found


def step_lines(history: Iterable[Mapping[str, Any]]) -> list[str]:
    """`State: what its result states`, for each task that returned a result that states something."""
    lines = []
    for event in history:
        details = event.get("details") or {}
        if event["type"] == "TaskSubmitted" or (event["type"] == "TaskSucceeded" and "token" not in details):
            output = details.get("output")
            if isinstance(output, Mapping) and output.get("Action") == "add-timeline-entry":
                continue
            said = statement(output)
            if said:
                frame = event.get("frame")
                where = f"{frame}/{event['state']}" if frame else event["state"]
                lines.append(f"{where}: {said}")
    return lines


__all__ = ["Failure", "failures", "step_lines"]
