"""`Dispatch`: the `TaskInvoker` that routes a Task's resource to the handler registered for it.

A handler is `handler(resource, arguments, context) -> result` (JSON-compatible), raising
`StatesError(name, cause)` with the name Step Functions would give. Register exact resources
(`arn:aws:states:::sns:publish`, `reynard:isolate-instance`) or prefixes, which end in `:`
(`arn:aws:states:::aws-sdk:` takes every SDK call); an exact name wins over a prefix, a longer prefix
over a shorter one. A resource nobody registered is `States.Runtime`, which no `Catch` takes: the
runner also refuses such a definition before it starts.

A handler is a function or an object with that `invoke` method (a `TaskInvoker`). A resource is
registered once: a second registration of the same name is a mistake, refused.

`default_dispatch(settings)` is what the CLI and the server use: `reynard:approval` (a task that only
waits for a person's answer), the AWS integrations and the built-in actions
(`reynard.respond.actions.register_all`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reynard.cases.sink import IncidentSink
from reynard.respond.asl.names import RUNTIME
from reynard.respond.errors import StatesError
from reynard.respond.resources import TaskContext
from reynard.settings import Settings

Handler = Callable[[str, Any, TaskContext], Any]

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

    def register(self, prefix_or_name: str, handler: Handler | Any) -> Dispatch:
        """Route `prefix_or_name` (a prefix when it ends in `:`) to `handler`; returns self to chain."""
        if not prefix_or_name:
            raise ValueError("a resource name or prefix cannot be empty")
        table = self._prefixes if prefix_or_name.endswith(":") else self._exact
        if prefix_or_name in table:
            raise ValueError(f"task resource {prefix_or_name!r} is already registered")
        table[prefix_or_name] = getattr(handler, "invoke", handler)
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


def default_dispatch(
    settings: Settings, endpoint_url: str | None = None, incidents: IncidentSink | None = None
) -> Dispatch:
    """A Dispatch with every task resource: approvals, the AWS integrations (aws-sdk, sns:publish,
    lambda:invoke; at `endpoint_url` when given) and the built-in actions, whose incident steps write
    to `incidents` (the runtime gives Reynard's; without one they fail as not configured)."""
    from reynard.respond.actions import register_all

    dispatch = Dispatch().register(APPROVAL, approval)
    register_all(dispatch, settings, endpoint_url, incidents=incidents)
    return dispatch


__all__ = ["APPROVAL", "Dispatch", "Handler", "approval", "default_dispatch"]
