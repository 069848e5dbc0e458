"""The contract every source (parser) fulfils."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, Protocol

from reynard.ingest.reader import DEFAULT_MAX_RECORD_BYTES, Input
from reynard.ingest.records import Record, Rejected


@dataclass(frozen=True)
class ReadOptions:
    """What a parser may need beyond the bytes: set once per run from the settings and the CLI."""

    # Year-less timestamps (RFC 3164 syslog) resolve to the latest date not after this moment (+2 days).
    reference_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES


class Source(Protocol):
    """A parser for one kind of log.

    `sniff` looks at the first bytes of an input and returns a confidence from 0 (not mine) to 100; the
    source with the highest score reads the input when `--source` is not given. `read` yields one
    `Record` (a MozDef-shaped draft) or one `Rejected` per record, streaming, and never raises for a
    bad record; damage to the container itself (truncated gzip, broken JSON around the records) is
    raised as `reader.InputError` and handled by the caller.
    """

    name: ClassVar[str]

    def sniff(self, head: bytes) -> int: ...

    def read(self, inp: Input, options: ReadOptions) -> Iterator[Record | Rejected]: ...
