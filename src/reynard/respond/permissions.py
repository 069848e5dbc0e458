"""What a playbook may call in AWS: each Task's handler declares the API calls it makes, and while it runs
no other call leaves the process.

A call is named `service:Operation` from botocore's service model: the service's signing name and the
operation's name (`ec2:DescribeInstances`, `elasticloadbalancing:DeregisterTargets`, `states:StartExecution`
for the `sfn` service). For most services that is also the IAM action, but it is botocore's name, not IAM's.

The check: `Dispatch.invoke` runs a handler inside `scope(...)`, a context variable, so each task's thread
has its own; every client `AwsClients` makes runs `check_call` on botocore's `before-call` event, after the
parameters are checked and before the request is signed or sent. An undeclared call fails the task with
`Reynard.UndeclaredAwsCall`, which no retry can fix. Calls made outside a task are not limited.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from botocore.model import OperationModel, ServiceModel

from .asl.definition import StateMachine
from .asl.interpreter import TOKEN_SUFFIX
from .errors import StatesError

UNDECLARED_AWS_CALL = "Reynard.UndeclaredAwsCall"


def call_name(service: ServiceModel, operation: str) -> str:
    """`ec2:DescribeInstances`: the service's signing name and the operation's name in its model."""
    return f"{service.signing_name}:{operation}"


@dataclass(frozen=True)
class CallScope:
    """The task running in this context: where it is, its resource, and the calls that resource declares."""

    task: str
    resource: str
    allowed: frozenset[str]


_SCOPE: ContextVar[CallScope | None] = ContextVar("reynard_aws_call_scope", default=None)


@contextmanager
def scope(task: str, resource: str, allowed: Iterable[str]) -> Iterator[None]:
    """Limit the AWS calls of this context (this thread) to `allowed` until the block ends."""
    token = _SCOPE.set(CallScope(task, resource, frozenset(allowed)))
    try:
        yield
    finally:
        _SCOPE.reset(token)


def check_call(model: OperationModel, **_: Any) -> None:
    """botocore's `before-call` handler: refuse a call the running task's resource does not declare."""
    current = _SCOPE.get()
    if current is None:
        # Not inside a task run by Dispatch: no playbook is running. Code that uses the clients or an
        # action directly (tests reading back what an action changed, tools) is not limited.
        return
    name = call_name(model.service_model, model.name)
    if name not in current.allowed:
        declared = ", ".join(sorted(current.allowed)) or "none"
        raise StatesError(
            UNDECLARED_AWS_CALL,
            f"{current.task}: {name} is not among the AWS calls {current.resource} declares ({declared})",
        )


# -- what a definition may call ----------------------------------------------------------------------------


def task_resources(machine: StateMachine) -> dict[str, str]:
    """Each Task state's resource (without `.waitForTaskToken`), by its place (`Outer/Branches[0]/Inner`),
    in definition order, with the states of Parallel branches and Map processors after their state."""
    found: dict[str, str] = {}
    for state in machine.states.values():
        if state.type == "Task":
            found[state.where] = state.spec["Resource"].removesuffix(TOKEN_SUFFIX)
        for key, child in machine.children.items():
            if key.rpartition("#")[0] == state.name:
                found.update(task_resources(child))
    return found


def declared_aws_calls(machine: StateMachine, invoker: Any) -> dict[str, frozenset[str]]:
    """The AWS calls each Task state may make, by place, as the invoker's handlers declare them
    (`Dispatch.aws_calls`); none for every state when the invoker cannot tell."""
    declared = getattr(invoker, "aws_calls", None)
    return {
        place: frozenset(declared(resource)) if declared else frozenset()
        for place, resource in task_resources(machine).items()
    }


def aws_calls_summary(declared: Mapping[str, frozenset[str]]) -> dict[str, Any]:
    """As JSON: `{"tasks": {place: [calls, sorted]}, "all": [their union, sorted]}`."""
    return {
        "tasks": {place: sorted(calls) for place, calls in declared.items()},
        "all": sorted(set().union(*declared.values())),
    }


__all__ = [
    "UNDECLARED_AWS_CALL",
    "CallScope",
    "aws_calls_summary",
    "call_name",
    "check_call",
    "declared_aws_calls",
    "scope",
    "task_resources",
]
