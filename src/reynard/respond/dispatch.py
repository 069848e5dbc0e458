"""`Dispatch`: the `TaskInvoker` that routes a Task's resource to the handler registered for it.

A handler is `handler(resource, arguments, context) -> result` (JSON-compatible), raising
`StatesError(name, cause)` with the name Step Functions would give. Register exact resources
(`arn:aws:states:::sns:publish`, `reynard:isolate-instance`) or prefixes, which end in `:`
(`arn:aws:states:::aws-sdk:` takes every SDK call); an exact name wins over a prefix, a longer prefix
over a shorter one. A resource nobody registered is `States.Runtime`, which no `Catch` takes: the
runner also refuses such a definition before it starts.

A handler is a function or an object with that `invoke` method (a `TaskInvoker`). A resource is
registered once: a second registration of the same name is a mistake, refused.

An object handler declares the AWS calls it may make for a resource with `aws_calls(resource)`
(`service:Operation` names, `permissions.py`); a function, or an object without that method, declares
none. While a handler runs, a call through Reynard's AWS clients that its resource does not declare is
refused before it is sent (`Reynard.UndeclaredAwsCall`).

`default_dispatch(settings)` is what the CLI and the server use: `reynard:approval` (a task that only
waits for a person's answer), the AWS integrations and the built-in actions
(`reynard.respond.actions.register_all`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from reynard.cases.sink import IncidentSink
from reynard.respond.asl.names import RUNTIME
from reynard.respond.errors import StatesError
from reynard.respond.permissions import scope
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


@dataclass(frozen=True)
class _Route:
    invoke: Handler
    declares: Callable[[str], Iterable[str]] | None  # the handler's aws_calls, if it has one


class Dispatch:
    def __init__(self) -> None:
        self._exact: dict[str, _Route] = {}
        self._prefixes: dict[str, _Route] = {}

    def register(self, prefix_or_name: str, handler: Handler | Any) -> Dispatch:
        """Route `prefix_or_name` (a prefix when it ends in `:`) to `handler`; returns self to chain."""
        if not prefix_or_name:
            raise ValueError("a resource name or prefix cannot be empty")
        table = self._prefixes if prefix_or_name.endswith(":") else self._exact
        if prefix_or_name in table:
            raise ValueError(f"task resource {prefix_or_name!r} is already registered")
        table[prefix_or_name] = _Route(
            getattr(handler, "invoke", handler), getattr(handler, "aws_calls", None)
        )
        return self

    def _route(self, resource: str) -> _Route | None:
        if resource in self._exact:
            return self._exact[resource]
        prefixes = [p for p in self._prefixes if resource.startswith(p)]
        return self._prefixes[max(prefixes, key=len)] if prefixes else None

    def handler_for(self, resource: str) -> Handler | None:
        route = self._route(resource)
        return route.invoke if route else None

    def aws_calls(self, resource: str) -> frozenset[str]:
        """The AWS calls (`service:Operation`) the handler of `resource` declares: none for a handler that
        declares nothing, or for a resource nobody registered."""
        route = self._route(resource)
        if route is None or route.declares is None:
            return frozenset()
        return frozenset(route.declares(resource))

    def supports(self, resource: str) -> bool:
        return self.handler_for(resource) is not None

    def registered(self) -> list[str]:
        return sorted([*self._exact, *(f"{p}*" for p in self._prefixes)])

    def invoke(self, resource: str, arguments: Any, context: TaskContext) -> Any:
        """Run the handler, limited to the AWS calls its resource declares. The limit is set here, in the
        thread that runs the task (the interpreter runs each task on a worker thread)."""
        route = self._route(resource)
        if route is None:
            known = ", ".join(self.registered()) or "none"
            raise StatesError(
                RUNTIME, f"no handler is registered for resource {resource!r} (registered: {known})"
            )
        with scope(context.state, resource, self.aws_calls(resource)):
            return route.invoke(resource, arguments, context)


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
