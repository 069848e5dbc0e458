"""What every built-in action shares: checked arguments, a report of what it changed and what it read back,
and the rule that a verification that fails is an error, never "done".

An action's result (JSON, PascalCase like the AWS results beside it in a playbook's data):

    {"Action": "protect-instance", "DryRun": false,
     "Changed": true,            # this run changed something
     "AlreadyDone": false,       # nothing needed changing (a second run says so)
     "Changes": [{"Resource": "i-0abc", "Change": "DisableApiTermination", "From": false, "To": true,
                  "Applied": true}],
     "Verified": true,           # every check below passed on a fresh read
     "Checks": [{"Resource": "i-0abc", "Check": "DisableApiTermination", "Expected": true, "Actual": true,
                 "Ok": true}],
     ...}                        # the action's own keys

In a dry run nothing is changed: `Changes` lists what would change (`Applied` false), the checks run on the
current state, and `Verified` says whether that state already is the wanted one. A dry run without AWS
credentials reads nothing: `Changes` says what the action does to the resource its arguments name,
`Verified` is null and `Unverified` says why (`Action.unread`).

`AlreadyDone` is true only when nothing needed changing and the checks say so; a resource that does not
exist is never "done": it is `Reynard.ResourceNotFound`, naming it (`not_found`).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from ..aws_access import ACCESS_DENIED, AWS_CREDENTIALS, NoAwsCredentials
from ..aws_sdk import AwsClients
from ..errors import StatesError
from ..permissions import UNDECLARED_AWS_CALL
from ..resources import ACTION_PREFIX, TaskContext
from .config import RespondConfig

INVALID_ARGUMENTS = "Reynard.InvalidArguments"
VERIFICATION_FAILED = "Reynard.VerificationFailed"
PRECONDITION_FAILED = "Reynard.PreconditionFailed"
NOT_CONFIGURED = "Reynard.NotConfigured"
WAIT_TIMEOUT = "Reynard.WaitTimeout"
NOTIFY_FAILED = "Reynard.NotifyFailed"
RESOURCE_NOT_FOUND = "Reynard.ResourceNotFound"

# Errors no retry can fix: a playbook's Retry should list these with MaxAttempts 0 before States.ALL.
PERMANENT_ERRORS = (
    INVALID_ARGUMENTS,
    PRECONDITION_FAILED,
    NOT_CONFIGURED,
    UNDECLARED_AWS_CALL,
    RESOURCE_NOT_FOUND,
    AWS_CREDENTIALS,
    ACCESS_DENIED,
)
NOT_READ = "no AWS credentials: nothing was read, so this says what the action does, not what it found to do"


def not_found(what: str, region: str | None = None) -> StatesError:
    """`Reynard.ResourceNotFound`: `what` (`instance i-0abc`) does not exist (in `region`, when given)."""
    where = f" in {region}" if region else ""
    return StatesError(RESOURCE_NOT_FOUND, f"{what} does not exist{where}")


@dataclass
class ActionEnv:
    """What actions are given instead of reaching for globals: AWS clients, settings, a clock, a sleep."""

    clients: AwsClients
    config: RespondConfig
    incidents: Any = None  # an IncidentSink (see incident.py), wired at the merge
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


class Arguments:
    """An action's arguments, checked: a missing, mistyped, unknown or refused key (`refused`: key ->
    why) is `Reynard.InvalidArguments`."""

    def __init__(
        self, action: str, values: Any, known: frozenset[str], refused: Mapping[str, str] | None = None
    ):
        self.action = action
        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            self.fail(f"arguments must be an object, not {type(values).__name__}")
        refused = refused or {}
        for key in sorted(set(values) & set(refused)):
            self.fail(f"argument {key!r} is not accepted: {refused[key]}")
        unknown = sorted(set(values) - known)
        if unknown:
            self.fail(f"unknown argument(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        self.values = dict(values)

    def fail(self, message: str) -> None:
        raise StatesError(INVALID_ARGUMENTS, f"{self.action}: {message}")

    def _get(self, key: str, types: type | tuple[type, ...], default: Any, required: bool) -> Any:
        if key not in self.values or self.values[key] is None:
            if required:
                self.fail(f"missing argument {key!r}")
            return default
        value = self.values[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
            self.fail(f"argument {key!r} has the wrong type {type(value).__name__}")
        return value

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self._get(key, str, default, required)
        if required and not value:
            self.fail(f"argument {key!r} is empty")
        return value

    def flag(self, key: str, default: bool) -> bool:
        return bool(self._get(key, bool, default, False))

    def number(self, key: str, default: float) -> float:
        value = self._get(key, (int, float), default, False)
        if value < 0:
            self.fail(f"argument {key!r} must not be negative")
        return float(value)

    def texts(self, key: str, default: list[str] | None = None, *, required: bool = False) -> list[str]:
        value = self._get(key, (list, str), default, required)
        items = [value] if isinstance(value, str) else list(value or [])
        if not all(isinstance(item, str) and item for item in items):
            self.fail(f"argument {key!r} must be a list of strings")
        if required and not items:
            self.fail(f"argument {key!r} is empty")
        return items

    def mapping(self, key: str) -> dict[str, Any]:
        return dict(self._get(key, Mapping, {}, False))

    def any(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


@dataclass(frozen=True)
class Check:
    resource: str
    check: str
    expected: Any
    actual: Any
    ok: bool

    @classmethod
    def equal(cls, resource: str, check: str, expected: Any, actual: Any) -> Check:
        return cls(resource, check, expected, actual, expected == actual)

    def as_dict(self) -> dict[str, Any]:
        return {
            "Resource": self.resource,
            "Check": self.check,
            "Expected": self.expected,
            "Actual": self.actual,
            "Ok": self.ok,
        }


class Report:
    """Records an action's changes and checks as it runs, and turns them into its result."""

    def __init__(self, action: str, context: TaskContext, env: ActionEnv):
        self.action, self.context, self.env = action, context, env
        self.dry_run = context.dry_run
        self.changes: list[dict[str, Any]] = []
        self.checks: list[Check] = []
        self.verified: bool | None = False
        self.unverified: str | None = None  # why nothing could be read (dry runs only)
        self.extra: dict[str, Any] = {}

    def apply(
        self, resource: str, change: str, fn: Callable[[], Any], before: Any = None, after: Any = None
    ) -> Any:
        """Record a change and make it (`fn()`), unless this is a dry run; returns what `fn` returned."""
        record = {"Resource": resource, "Change": change, "From": before, "To": after, "Applied": False}
        self.changes.append(record)
        if self.dry_run:
            return None
        result = fn()
        record["Applied"] = True
        return result

    def record(self, resource: str, change: str) -> None:
        """Note a change that is not made here (a dry run's, or one nobody can read back): never applied."""
        self.changes.append(
            {"Resource": resource, "Change": change, "From": None, "To": None, "Applied": False}
        )

    def verify(self, read: Callable[[], list[Check]]) -> None:
        """Run `read` (fresh reads of the resources, turned into checks) until every check passes.

        AWS APIs are eventually consistent, so a failed check is read again up to the configured number of
        attempts before the action fails with `Reynard.VerificationFailed`; a dry run reads once, never fails.
        No check at all is not a verification: nothing was read back.
        """
        attempts = 1 if self.dry_run else self.env.config.verify_attempts
        for attempt in range(attempts):
            self.checks = read()
            if self.checks and all(check.ok for check in self.checks):
                break
            if attempt + 1 < attempts:
                self.env.sleep(self.env.config.verify_delay_seconds)
        self.verified = bool(self.checks) and all(check.ok for check in self.checks)
        if not self.verified and not self.dry_run:
            failed = "; ".join(
                f"{c.resource} {c.check}: expected {c.expected!r}, found {c.actual!r}"
                for c in self.checks
                if not c.ok
            )
            raise StatesError(VERIFICATION_FAILED, f"{self.action}: {failed or 'nothing was read back'}")

    def applied(self) -> list[dict[str, Any]]:
        return [change for change in self.changes if change["Applied"]]

    def result(self) -> dict[str, Any]:
        unverified = {"Unverified": self.unverified} if self.unverified else {}
        return {
            "Action": self.action,
            "DryRun": self.dry_run,
            "Changed": bool(self.applied()),
            "AlreadyDone": not self.changes and self.verified is True,
            "Changes": self.changes,
            "Verified": self.verified,
            **unverified,
            "Checks": [check.as_dict() for check in self.checks],
            **self.extra,
        }


class Action(ABC):
    """A built-in action, the handler of `reynard:<name>`.

    To add one: subclass, set `name` and `parameters` (every argument it takes; any other is refused), and
    implement `run`: read the resources, `report.apply(...)` each change only where the state differs (that
    is what makes a second run safe and say `AlreadyDone`), then `report.verify(...)` with checks built
    from fresh reads, and put the action's own result keys in `report.extra`. Raise `StatesError` for
    failures; AWS calls go through `aws_sdk.call`, which names AWS errors as Step Functions does.

    Set `aws_actions` to every AWS call `run` can make, reads included (`ec2:DescribeInstances`: the
    service's signing name and the operation, as botocore names them): run by a playbook, the action may
    make no other call. `refused_parameters` names arguments refused with a reason of their own.

    An action on AWS also sets `target` (the argument naming what it acts on), `would` (what it does to
    it, for a dry run that can read nothing: `unread`) and `result_keys` (its own result keys). `run` must
    check its arguments before its first `self.env.clients.client(...)`, which is where a missing
    credential is found. A resource that does not exist is `not_found(...)`, never "already done".
    """

    name: ClassVar[str]
    parameters: ClassVar[frozenset[str]]
    aws_actions: ClassVar[frozenset[str]] = frozenset()
    refused_parameters: ClassVar[Mapping[str, str]] = {}
    target: ClassVar[str | None] = None
    would: ClassVar[str] = ""
    result_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, env: ActionEnv):
        self.env = env

    @property
    def resource(self) -> str:
        return ACTION_PREFIX + self.name

    def aws_calls(self, resource: str) -> frozenset[str]:
        return self.aws_actions

    def invoke(self, resource: str, arguments: Any, context: TaskContext) -> Any:
        args = Arguments(self.name, arguments, self.parameters, self.refused_parameters)
        report = Report(self.name, context, self.env)
        try:
            self.run(args, report, context)
        except NoAwsCredentials:
            if context.dry_run and not report.changes and not report.checks:
                return self.unread(args, report)
            raise
        except StatesError as exc:
            done = report.applied()
            if not done:
                raise
            summary = ", ".join(f"{c['Change']} on {c['Resource']}" for c in done)
            raise StatesError(exc.error, f"{exc.cause} (already applied: {summary})") from None
        return report.result()

    @abstractmethod
    def run(self, args: Arguments, report: Report, context: TaskContext) -> None: ...

    def intent(self, args: Arguments) -> list[tuple[str, str]]:
        """(resource, what the action does to it) from the arguments alone, for `unread`."""
        assert self.target is not None, f"{self.name} names no target argument"
        return [(args.text(self.target, required=True), self.would)]

    def unread(self, args: Arguments, report: Report) -> dict[str, Any]:
        """A dry run's result when nothing can be read (no AWS credentials): what the action does to the
        resource its arguments name, `Verified` null and `Unverified` saying why; no read is claimed."""
        for resource, change in self.intent(args):
            report.record(resource, change)
        report.verified, report.unverified = None, NOT_READ
        report.extra = dict.fromkeys(self.result_keys)
        if self.target is not None:
            report.extra[self.target] = args.any(self.target)
        return report.result()


def wait_until(
    env: ActionEnv, what: str, done: Callable[[], bool], timeout: float, interval: float = 5.0
) -> None:
    """Poll `done()` every `interval` seconds until it is true; `Reynard.WaitTimeout` after `timeout`.

    Counted in polls rather than read off a clock, so an injected sleep makes the wait instant in tests.
    """
    polls = max(1, int(timeout // interval)) if interval > 0 else 1
    for poll in range(polls + 1):
        if done():
            return
        if poll < polls:
            env.sleep(interval)
    raise StatesError(WAIT_TIMEOUT, f"{what}: not done after {timeout:g}s")


def effective_timeout(requested: float, context: TaskContext) -> float:
    """A wait never outlasts the state's own TimeoutSeconds."""
    if context.timeout_seconds is not None:
        return min(requested, context.timeout_seconds)
    return requested
