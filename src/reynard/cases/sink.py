"""What the response engine needs of incidents: open one, append to its timeline. A playbook action
(respond) depends on this protocol only; `IncidentStore` satisfies it.

    open(title, by, *, summary="", severity="medium", category=None, tags=(), link=None) -> int
        A new incident in Identification; its id. `severity`: critical, high, medium or low; `tags`:
        free text or MITRE ATT&CK ids (T1234, T1234.001); `link`: what opened it (`execution:<id>`,
        `alert:12`), kept on the `opened` entry.

    add_entry(incident_id, kind, by, text, link=None, at=None) -> int
        Append an entry; its id. `kind`: note, playbook (a step ran: link `execution:<id>`),
        notification (one was sent: link `delivery:<id>` or the channel), correction (link
        `entry:<id>` of the entry it corrects) or evidence (a snapshot, a memory capture: link its
        ARN). `at`: when it happened, timezone-aware (default: now). The incident's version does not
        change, so appending never makes an analyst's edit stale.

Both raise a `CaseError` (NotFound for an unknown incident, InvalidValue for a bad kind or link).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class IncidentSink(Protocol):
    def open(
        self,
        title: str,
        by: str,
        *,
        summary: str = "",
        severity: str = "medium",
        category: str | None = None,
        tags: Sequence[str] = (),
        link: str | None = None,
    ) -> int: ...

    def add_entry(
        self,
        incident_id: int,
        kind: str,
        by: str,
        text: str,
        link: str | None = None,
        at: datetime | None = None,
    ) -> int: ...


__all__ = ["IncidentSink"]
