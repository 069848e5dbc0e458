"""The dead-letter store: rejected records kept whole, with the reason, the input and the position.

Nothing ingest refuses is lost: `reynard ingest --dead-letters` lists them and `--replay` runs them
through the parsers again (after a fix, or with `--source` when detection guessed wrong).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, func, insert, select, update

from reynard.ingest.records import Rejected
from reynard.state.tables import dead_letters


@dataclass(frozen=True)
class DeadLetter:
    id: int
    created: datetime
    source: str
    origin: str
    position: int
    reason: str
    raw: bytes
    attempts: int

    def summary(self) -> dict:
        """The listing form (raw shown as text, cut to 200 characters)."""
        text = self.raw.decode("utf-8", errors="replace")
        return {
            "id": self.id,
            "created": self.created.isoformat(),
            "source": self.source,
            "origin": self.origin,
            "position": self.position,
            "reason": self.reason,
            "bytes": len(self.raw),
            "raw": text if len(text) <= 200 else text[:200] + "…",
            "attempts": self.attempts,
        }


class DeadLetterStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    def add(self, rejected: Iterable[Rejected]) -> int:
        rows = [
            {
                "created": datetime.now(UTC),
                "source": r.source,
                "origin": r.origin,
                "position": r.position,
                "reason": r.reason,
                "raw": r.raw,
                "attempts": 1,
            }
            for r in rejected
        ]
        if rows:
            with self.engine.begin() as connection:
                connection.execute(insert(dead_letters), rows)
        return len(rows)

    def list(self, ids: Iterable[int] | None = None, limit: int | None = None) -> Iterator[DeadLetter]:
        query = select(dead_letters).order_by(dead_letters.c.id)
        if ids is not None:
            query = query.where(dead_letters.c.id.in_(list(ids)))
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            for row in connection.execute(query):
                yield DeadLetter(
                    row.id,
                    row.created,
                    row.source,
                    row.origin,
                    row.position,
                    row.reason,
                    row.raw,
                    row.attempts,
                )

    def count(self) -> int:
        with self.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(dead_letters)).scalar_one()

    def resolve(self, letter_id: int) -> None:
        """The record was replayed into the store: forget it."""
        with self.engine.begin() as connection:
            connection.execute(delete(dead_letters).where(dead_letters.c.id == letter_id))

    def retried(self, letter_id: int, reason: str) -> None:
        """A replay failed again: keep the record with the newest reason."""
        with self.engine.begin() as connection:
            connection.execute(
                update(dead_letters)
                .where(dead_letters.c.id == letter_id)
                .values(reason=reason, attempts=dead_letters.c.attempts + 1)
            )


class CollectedDeadLetters:
    """A dead-letter store that only remembers: for replays (the original row is updated instead) and for
    `reynard rules test` (which stores nothing)."""

    def __init__(self) -> None:
        self.items: list[Rejected] = []

    def add(self, rejected: Iterable[Rejected]) -> int:
        items = list(rejected)
        self.items.extend(items)
        return len(items)
