"""The event-store backends the store tests run on (tests/store/), and how to open each in a folder.

The conformance suite (tests/store/test_conformance.py) and the properties (tests/store/test_properties.py)
run once per entry of `BACKENDS`. A new backend adds an entry: `open(folder, writable)` gives a store
whose data lives under `folder` (a fresh temporary folder per test) or, for a service such as
OpenSearch, in indices named after it; `persistent` says whether its commits outlive the process.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from reynard.events.event import finalize
from reynard.settings import Settings
from reynard.store.backends import open_event_store
from reynard.store.base import EventStore
from strategies import events

RECEIVED = "2026-11-28T00:00:00.000000+00:00"


@dataclass(frozen=True)
class Backend:
    name: str
    open: Callable[[Path, bool], EventStore]  # (folder, writable) -> a store on that folder
    persistent: bool  # what is committed survives close, and is seen by other processes

    def __repr__(self) -> str:  # the test ids
        return self.name


def by_setting(name: str) -> Callable[[Path, bool], EventStore]:
    """Open through `open_event_store`, as Reynard does, with `event_store = name`."""

    def open_(folder: Path, writable: bool) -> EventStore:
        return open_event_store(Settings(data_dir=folder, event_store=name), writable=writable)

    return open_


BACKENDS = {
    "memory": Backend("memory", by_setting("memory"), persistent=False),
    "tantivy": Backend("tantivy", by_setting("tantivy"), persistent=True),
}

# Random events with distinct ids, for the properties.
batches = st.lists(events(), min_size=0, max_size=30, unique_by=lambda e: e["id"])


class Loaded:
    """A writable store of `backend` in a temporary folder holding `docs` (finalized as ingest would)."""

    def __init__(self, docs: list[dict], backend: Backend = BACKENDS["tantivy"]):
        self.folder = Path(tempfile.mkdtemp(prefix="reynard-prop-"))
        self.docs = [finalize(dict(d), received=RECEIVED, keep_received=True) for d in docs]
        self.store = backend.open(self.folder, True)
        self.store.write(self.docs, commit=True)

    def __enter__(self) -> Loaded:
        return self

    def __exit__(self, *_: object) -> None:
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def ids(found: list[dict]) -> list[str]:
    return [e["id"] for e in found]
