"""What the incident workflow offers playbooks: `IncidentSink`, the three calls the response actions
(`reynard:open-incident`, `reynard:add-timeline-entry`) make, and the values they exchange.

`PlaybookIncidents` (playbook_sink.py) serves it on Reynard's incidents; `MemoryIncidentSink` in memory,
for tests. The runtime wires the first into the actions.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Opened:
    incident_id: str
    created: bool  # False: an incident with that key existed, and was updated
    joined: bool = False  # someone else's incident (an escalated alert's): its title and summary kept


@dataclass(frozen=True)
class PlaybookEntry:
    key: str
    text: str
    details: Mapping[str, Any]


@dataclass(frozen=True)
class IncidentRecord:
    incident_id: str
    key: str
    title: str
    severity: str
    entries: tuple[PlaybookEntry, ...]
    keys: tuple[str, ...] = ()  # every playbook key it is the incident of (`key` is the first)

    def has_key(self, key: str) -> bool:
        return key == self.key or key in self.keys


@runtime_checkable
class IncidentSink(Protocol):
    """Where incidents live. `open` opens the incident of `key` or updates it (title, severity, summary),
    of `category` when it opens one; `details["FindingId"]`, a GuardDuty finding's id, makes it the
    finding's incident, the one its alerts are escalated to. `add_entry` appends to its timeline unless an
    entry with `key` exists (returns False then), keeping `details`; `read` gives the incident with its
    timeline, or None."""

    def open(
        self,
        key: str,
        title: str,
        severity: str,
        summary: str,
        details: Mapping[str, Any],
        *,
        category: str | None = None,
    ) -> Opened: ...

    def add_entry(self, incident_id: str, key: str, text: str, details: Mapping[str, Any]) -> bool: ...

    def read(self, incident_id: str) -> IncidentRecord | None: ...


@dataclass
class MemoryIncidentSink:
    """An IncidentSink in memory: for dry runs, demos and tests; it forgets everything on exit."""

    incidents: dict[str, IncidentRecord] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def open(
        self,
        key: str,
        title: str,
        severity: str,
        summary: str,
        details: Mapping[str, Any],
        *,
        category: str | None = None,
    ) -> Opened:
        with self._lock:
            existing = next((i for i in self.incidents.values() if i.key == key), None)
            incident_id = existing.incident_id if existing else f"incident-{len(self.incidents) + 1}"
            entries = existing.entries if existing else ()
            self.incidents[incident_id] = IncidentRecord(incident_id, key, title, severity, entries)
            return Opened(incident_id, existing is None)

    def add_entry(self, incident_id: str, key: str, text: str, details: Mapping[str, Any]) -> bool:
        with self._lock:
            incident = self.incidents[incident_id]
            if any(entry.key == key for entry in incident.entries):
                return False
            entry = PlaybookEntry(key, text, dict(details))
            self.incidents[incident_id] = IncidentRecord(
                incident.incident_id,
                incident.key,
                incident.title,
                incident.severity,
                (*incident.entries, entry),
            )
            return True

    def read(self, incident_id: str) -> IncidentRecord | None:
        return self.incidents.get(incident_id)
