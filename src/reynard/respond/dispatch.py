"""`Dispatch`: the `TaskInvoker` that routes a Task's resource to the handler registered for it.

A handler is `handler(resource, arguments, context) -> result` (JSON-compatible), raising
`StatesError(name, cause)` with the name Step Functions would give. Register exact resources
(`arn:aws:states:::sns:publish`, `reynard:isolate-instance`) or prefixes, which end in `:`
(`arn:aws:states:::aws-sdk:` takes every SDK call); an exact name wins over a prefix, a longer prefix
over a shorter one. A resource nobody registered is `States.Runtime`, which no `Catch` takes: the
runner also refuses such a definition before it starts.

`default_dispatch(settings)` is what the CLI and the server use: `reynard:approval` (a task that only
waits for a person's answer), then each module of `PROVIDERS` that exists is asked to
`register(dispatch, settings)` its handlers (the AWS integrations and built-in actions live there).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from reynard.respond.asl.names import RUNTIME
from reynard.respond.errors import StatesError
from reynard.respond.resources import TaskContext

Handler = Callable[[str, Any, TaskContext], Any]

# Modules that register handlers when they are installed: `register(dispatch, settings)` in each.
PROVIDERS = ("reynard.respond.aws_sdk", "reynard.respond.actions")
APPROVAL = "reynard:approval"


def approval(resource: str, arguments: Any, context: TaskContext) -> Any:
    """`reynard:approval.waitForTaskToken`: wait for a person's answer (approve/reject), nothing else.

    The token is in `reynard playbook show` and the API; a task that should also notify someone uses a
    notification action with `$$.Task.Token` in its parameters instead.
    """
    if context.task_token is None:
        raise StatesError(RUNTIME, f"{APPROVAL} waits for an answer: use {APPROVAL}.waitForTaskToken")
    return {"taskToken": context.task_token, "request": arguments}


class Dispatch:
    def __init__(self) -> None:
        self._exact: dict[str, Handler] = {}
        self._prefixes: dict[str, Handler] = {}

    def register(self, prefix_or_name: str, handler: Handler) -> Dispatch:
        """Route `prefix_or_name` (a prefix when it ends in `:`) to `handler`; returns self to chain."""
        if not prefix_or_name:
            raise ValueError("a resource name or prefix cannot be empty")
        table = self._prefixes if prefix_or_name.endswith(":") else self._exact
        table[prefix_or_name] = handler
        return self

    def handler_for(self, resource: str) -> Handler | None:
        if resource in self._exact:
            return self._exact[resource]
        prefixes = [p for p in self._prefixes if resource.startswith(p)]
        return self._prefixes[max(prefixes, key=len)] if prefixes else None

    def supports(self, resource: str) -> bool:
        return self.handler_for(resource) is not None

    def registered(self) -> list[str]:
        return sorted([*self._exact, *(f"{p}*" for p in self._prefixes)])

    def invoke(self, resource: str, arguments: Any, context: TaskContext) -> Any:
        handler = self.handler_for(resource)
        if handler is None:
            known = ", ".join(self.registered()) or "none"
            raise StatesError(
                RUNTIME, f"no handler is registered for resource {resource!r} (registered: {known})"
            )
        return handler(resource, arguments, context)


def default_dispatch(settings: Any) -> Dispatch:
    """A Dispatch with the handlers of every installed provider module."""
    dispatch = Dispatch().register(APPROVAL, approval)
    for name in PROVIDERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue
        module.register(dispatch, settings)
    return dispatch


__all__ = ["APPROVAL", "PROVIDERS", "Dispatch", "Handler", "approval", "default_dispatch"]
