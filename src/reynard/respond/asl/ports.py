"""What the interpreter needs from outside, as small protocols: a clock (real timers in production, a
clock the tests move) and a box of task tokens (the state database's table, or memory).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...

    def sleep(self, seconds: float, wake: threading.Event) -> None:
        """Wait `seconds`, returning early when `wake` is set."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float, wake: threading.Event) -> None:
        wake.wait(max(0.0, seconds))


@dataclass(frozen=True)
class Answer:
    """What came back for a task token: success with `output`, or failure with `error` and `cause`."""

    status: str  # SUCCEEDED or FAILED
    output: Any = None
    error: str | None = None
    cause: str | None = None


@dataclass(frozen=True)
class TokenState:
    answer: Answer | None  # None while nobody answered
    heartbeat: datetime | None  # the last heartbeat, if any


class TokenBox(Protocol):
    def register(self, token: str, execution_id: str, state: str) -> None:
        """A task now waits for `token` (before its resource is invoked, so no answer is lost)."""
        ...

    def look(self, tokens: list[str]) -> dict[str, TokenState]:
        """The answers and heartbeats of these tokens."""
        ...

    def close(self, token: str, status: str) -> None:
        """The task is done with `token` (CONSUMED, TIMED_OUT, ABORTED): later answers are refused."""
        ...


@dataclass
class MemoryTokenBox:
    """Tokens in memory: for an interpreter used on its own (tests, a one-off run)."""

    states: dict[str, TokenState] = field(default_factory=dict)
    closed: dict[str, str] = field(default_factory=dict)

    def register(self, token: str, execution_id: str, state: str) -> None:
        self.states.setdefault(token, TokenState(None, None))

    def look(self, tokens: list[str]) -> dict[str, TokenState]:
        return {t: self.states[t] for t in tokens if t in self.states}

    def close(self, token: str, status: str) -> None:
        self.closed[token] = status

    def answer(self, token: str, answer: Answer) -> None:
        if token not in self.states or token in self.closed or self.states[token].answer is not None:
            raise KeyError(f"no task waits for token {token}")
        self.states[token] = TokenState(answer, self.states[token].heartbeat)

    def heartbeat(self, token: str, at: datetime) -> None:
        self.states[token] = TokenState(self.states[token].answer, at)


def later(moment: datetime, seconds: float) -> datetime:
    return moment + timedelta(seconds=seconds)
