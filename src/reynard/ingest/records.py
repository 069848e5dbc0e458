"""What a source yields: a draft event with its origin, or a rejection with its reason."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Record:
    """One record read from an input, as a MozDef-shaped draft event.

    `origin` names the input (a file path, `-` for stdin, `http`); `position` is the 1-based line number
    for line-oriented inputs and the 1-based record number inside a JSON document otherwise. `key` is
    the record's identity within its source (a CloudTrail eventID, a GuardDuty finding id and update
    time, or the raw text of a line): it makes the event's id stable across re-ingestion.
    """

    draft: dict
    source: str
    origin: str
    position: int
    key: str
    # The record as read (the line, or the JSON item re-serialized): kept for the dead-letter store when
    # the event fails later (pipeline drop is not a failure; an invalid timestamp is).
    raw: bytes = b""


@dataclass(slots=True)
class Rejected:
    """A record that could not become an event: kept whole in the dead-letter store, with the reason."""

    source: str
    origin: str
    position: int
    reason: str
    raw: bytes

    def message(self) -> str:
        unit = "record" if self.position else "input"
        where = f"{self.origin}:{self.position}" if self.position else self.origin
        return f"{where}: {unit} rejected: {self.reason}"
