"""Errors a user can cause with incidents, one class per way it goes wrong, so the API and the CLI can
answer each one the right way (404, 409, 400) from its type alone."""

from __future__ import annotations

from typing import Any

from reynard import errors
from reynard.errors import ReynardError


class CaseError(ReynardError):
    """A value or request the incident workflow refuses (HTTP 400)."""


class NotFound(CaseError, errors.NotFound):
    """An incident, alert, event or timeline entry that does not exist (HTTP 404)."""


class InvalidValue(CaseError):
    """A malformed value: a phase, severity, technique id, indicator or link that is not one."""


class WorkflowError(CaseError):
    """A phase change the workflow does not allow: skipping forward unforced, closing without lessons."""


class StaleIncident(CaseError):
    """A write made against an older version of the incident (HTTP 409): the message names what changed
    since, so the writer can look again instead of silently undoing someone else's change."""

    http_status = 409

    def __init__(self, incident_id: int, expected: int, current: int, changes: list[str]):
        self.incident_id, self.expected, self.current, self.changes = incident_id, expected, current, changes
        since = "; ".join(changes) if changes else "no recorded change"
        super().__init__(
            f"incident {incident_id} is at version {current}, not {expected}: changed since by {since}. "
            "Reload it and apply your change again"
        )

    def payload(self) -> dict[str, Any]:
        return {"error": str(self), "version": self.current, "changes": self.changes}
