"""The contract between Reynard and wherever events are kept.

Backends: `tantivy` (embedded, one index per UTC day, the default) and, when one machine is not
enough, OpenSearch (daily indices). The query engine compiles its AST against a backend through
`search`; everything else uses only `write`, `get`, `days` and `delete_day`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol


@dataclass
class WriteResult:
    """What a write did: events stored, events already present (same id), and the ids the store refused
    with the reason."""

    stored: int = 0
    duplicates: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def add(self, other: WriteResult) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.failed.extend(other.failed)


class EventStore(Protocol):
    def write(self, events: Sequence[dict], *, commit: bool = False) -> WriteResult:
        """Store finalized events; with `commit`, durable when this returns. Same id twice: stored once."""

    def commit(self) -> None:
        """Make everything written so far durable and visible to readers."""

    def get(self, event_id: str) -> dict | None:
        """The stored event with this id, as it was written."""

    def events(
        self, start: datetime | None = None, end: datetime | None = None, limit: int = 100
    ) -> Iterator[dict]:
        """Events with `start <= utctimestamp < end`, newest first."""

    def count(self, start: datetime | None = None, end: datetime | None = None) -> int:
        """How many events have `start <= utctimestamp < end`."""

    def days(self) -> list[date]:
        """The UTC days that have an index, oldest first."""

    def delete_day(self, day: date) -> None:
        """Retention: remove one day's events."""

    def refresh(self) -> None:
        """See what other processes have committed since the last look."""

    def close(self) -> None: ...
