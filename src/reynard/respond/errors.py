"""The two kinds of playbook error: a definition that is not valid ASL (a user's mistake, refused before
it runs) and an error raised while an execution runs (data: the specification's error name and cause,
which `Retry` and `Catch` match on and an execution records)."""

from __future__ import annotations

from reynard.errors import ReynardError


class DefinitionError(ReynardError):
    """An invalid state machine definition, naming the state and the field (`States.Check: Next: ...`)."""

    def __init__(
        self, message: str, *, state: str | None = None, field: str | None = None, where: str | None = None
    ):
        self.state, self.field = state, field
        place = ": ".join(p for p in (state, field) if p)
        super().__init__(f"{place}: {message}" if place else message, where=where)


class StatesError(Exception):
    """A runtime error of an execution: `error` is its ASL name (`States.TaskFailed`, `States.Timeout`,
    `Ec2.InvalidInstanceID.NotFound`, a Fail state's own), `cause` the human text."""

    def __init__(self, error: str, cause: str | None = None):
        self.error, self.cause = error, cause
        super().__init__(f"{error}: {cause}" if cause else error)
