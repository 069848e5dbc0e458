"""Python actions: functions a playbook calls through `arn:aws:states:::lambda:invoke` by `FunctionName`, so a
playbook written for Reynard deploys to AWS unchanged once a Lambda of the same name exists.

    from reynard.respond.actions import register_python_action

    def enrich(event, context):          # event: the Payload; context: the TaskContext
        return {"owner": lookup_owner(event["InstanceId"])}

    register_python_action("enrich-instance", enrich)

A function that can honour a dry run itself (by reading `context.dry_run`) is registered with
`dry_run_safe=True`; any other is not called in a dry run.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..resources import TaskContext

PythonFunction = Callable[[Any, TaskContext], Any]
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what Lambda accepts as a function name


@dataclass(frozen=True)
class PythonAction:
    name: str
    function: PythonFunction
    dry_run_safe: bool = False


class PythonActions:
    """The table of Python actions, by name; a name is registered once."""

    def __init__(self) -> None:
        self._actions: dict[str, PythonAction] = {}
        self._lock = threading.Lock()

    def register(self, name: str, function: PythonFunction, *, dry_run_safe: bool = False) -> None:
        if not _NAME.match(name):
            raise ValueError(
                f"a Python action's name must be a Lambda function name (A-Z a-z 0-9 - _), not {name!r}"
            )
        if not callable(function):
            raise TypeError(f"Python action {name!r} must be callable")
        with self._lock:
            if name in self._actions:
                raise ValueError(f"a Python action named {name!r} is already registered")
            self._actions[name] = PythonAction(name, function, dry_run_safe)

    def get(self, function_name: str) -> PythonAction | None:
        """The action for a FunctionName: the bare name, or the name inside a Lambda ARN."""
        name = function_name.split(":function:", 1)[-1].split(":", 1)[0]
        return self._actions.get(name)

    def names(self) -> list[str]:
        return sorted(self._actions)


DEFAULT_PYTHON_ACTIONS = PythonActions()


def register_python_action(name: str, function: PythonFunction, *, dry_run_safe: bool = False) -> None:
    """Register `function` as the Lambda `name` in the default table (the one `register_all` uses)."""
    DEFAULT_PYTHON_ACTIONS.register(name, function, dry_run_safe=dry_run_safe)
