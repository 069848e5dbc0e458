"""Running ASL definitions in tests: a clock the test moves, plain Python handlers, the history kept."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from reynard.respond.asl.definition import load_definition
from reynard.respond.asl.interpreter import Interpreter
from reynard.respond.asl.ports import Clock, MemoryTokenBox
from reynard.respond.dispatch import Dispatch
from reynard.respond.errors import StatesError

START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


class FakeClock:
    """Time moves only when the interpreter sleeps (instantly) or the test says so."""

    def __init__(self, start: datetime = START):
        self.moment = start
        self.sleeps: list[float] = []
        self.lock = threading.Lock()

    def now(self) -> datetime:
        with self.lock:
            return self.moment

    def sleep(self, seconds: float, wake: threading.Event) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.moment += timedelta(seconds=seconds)


@dataclass
class Outcome:
    snapshot: dict[str, Any]
    events: list[dict[str, Any]]
    interpreter: Interpreter
    tokens: MemoryTokenBox

    @property
    def status(self) -> str:
        return self.snapshot["status"]

    @property
    def output(self) -> Any:
        return self.snapshot.get("output")

    @property
    def error(self) -> str | None:
        return self.snapshot.get("error")

    @property
    def cause(self) -> str | None:
        return self.snapshot.get("cause")

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    def resume(self, max_sleep: float | None = None) -> Outcome:
        self.snapshot = self.interpreter.run(self.snapshot, max_sleep=max_sleep)
        return self


@dataclass
class Calls:
    """A handler that records its calls and answers from a script (values, or exceptions to raise)."""

    script: list[Any] = field(default_factory=list)
    calls: list[tuple[str, Any, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, resource: str, arguments: Any, context: Any) -> Any:
        with self.lock:
            self.calls.append((resource, arguments, context))
            step = self.script.pop(0) if self.script else arguments
        if isinstance(step, BaseException):
            raise step
        if callable(step):
            return step(resource, arguments, context)
        return step


def echo(resource: str, arguments: Any, context: Any) -> Any:
    return arguments


def fails(error: str, cause: str | None = None) -> StatesError:
    return StatesError(error, cause)


def execute(
    definition: dict[str, Any],
    input: Any = None,
    *,
    handlers: dict[str, Callable[..., Any]] | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    max_sleep: float | None = None,
) -> Outcome:
    """Validate and run `definition` on `input` until it ends or parks."""
    machine = load_definition(definition)
    dispatch = Dispatch()
    for name, handler in (handlers or {"echo": echo}).items():
        dispatch.register(name, handler)
    events: list[dict[str, Any]] = []
    tokens = MemoryTokenBox()
    interpreter = Interpreter(
        machine,
        dispatch,
        clock=clock or FakeClock(),
        tokens=tokens,
        rng=rng,
        on_progress=lambda snapshot, new: events.extend(new) or True,
        token_poll_seconds=0.05,
    )
    snapshot = interpreter.start({} if input is None else input, execution_id="exec-1", name="test-run")
    snapshot = interpreter.run(snapshot, max_sleep=max_sleep)
    return Outcome(snapshot, events, interpreter, tokens)


def machine(*states: tuple[str, dict[str, Any]], **top: Any) -> dict[str, Any]:
    """A definition from (name, state) pairs, the first one starting it."""
    return {"StartAt": states[0][0], "States": dict(states), **top}


def single(state: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A one-state definition (End: true added where the type needs it)."""
    body = dict(state)
    if body["Type"] not in ("Choice", "Succeed", "Fail") and "Next" not in body:
        body["End"] = True
    return machine(("S", body), **top)
