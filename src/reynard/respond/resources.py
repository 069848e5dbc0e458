"""How the interpreter runs a Task state's `Resource`: one `TaskInvoker` call, nothing else.

The interpreter (`interpreter.py`) knows no AWS and no action; `invoke` gets the resource ARN as the
definition wrote it (`arn:aws:states:::aws-sdk:ec2:describeInstances`, `arn:aws:states:::sns:publish`,
`arn:aws:states:::lambda:invoke`, a built-in action `reynard:isolate-instance`; the `.waitForTaskToken`
suffix already removed and its token in `context.task_token`), the arguments after the data flow
(`Parameters`/`Arguments` evaluated), and returns the result, or raises `StatesError` with the name
Step Functions would give the error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

ACTION_PREFIX = "reynard:"  # built-in actions: "Resource": "reynard:isolate-instance"


@dataclass(frozen=True)
class TaskContext:
    execution_id: str
    state: str
    attempt: int  # 1 for the first try, 2 for the first retry, ...
    task_token: str | None = None  # set for `.waitForTaskToken`: the result comes later, by that token
    dry_run: bool = False  # actions say what they would do and change nothing
    timeout_seconds: float | None = None


class TaskInvoker(Protocol):
    def invoke(self, resource: str, arguments: Any, context: TaskContext) -> Any:
        """The task's result (JSON-compatible), or raise `StatesError(error, cause)`."""
        ...


__all__ = ["ACTION_PREFIX", "TaskContext", "TaskInvoker"]
