"""Opening the event store the settings name (`event_store`): one table from name to opener.

Adding a backend is a row here and its name in `settings.EVENT_STORES` (docs/store.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from reynard.errors import ConfigError
from reynard.settings import EVENT_STORES, Settings
from reynard.store.base import EventStore
from reynard.store.memory import MemoryEventStore


def _tantivy(settings: Settings, writable: bool) -> EventStore:
    from reynard.store.tantivy.store import TantivyEventStore

    budget = settings.query_timeout_seconds or None
    if writable:
        return TantivyEventStore(
            settings.events_dir, writable=True, heap_bytes=settings.writer_heap_bytes, query_timeout=budget
        )
    return TantivyEventStore(settings.events_dir, query_timeout=budget)


_memory_stores: dict[Path, MemoryEventStore] = {}
_memory_lock = threading.Lock()


def _memory(settings: Settings, writable: bool) -> EventStore:
    """One store per events directory for the life of the process: a writer and the readers opened in
    one process share it (and so see each other's commits), and reopening finds the events again.
    Nothing is written to the directory, and a read-only open is not enforced."""
    key = Path(settings.events_dir).resolve()
    with _memory_lock:
        store = _memory_stores.get(key)
        if store is None:
            store = _memory_stores[key] = MemoryEventStore()
        store.query_timeout = settings.query_timeout_seconds or None  # the settings of the latest opener
    return store


OPENERS: dict[str, Callable[[Settings, bool], EventStore]] = {"tantivy": _tantivy, "memory": _memory}


def open_event_store(settings: Settings, *, writable: bool) -> EventStore:
    """The event store `settings.event_store` names, on `settings.events_dir`. `writable=True` asks for
    the writer (tantivy: the writer lock, or WriterBusy when another process holds it)."""
    opener = OPENERS.get(settings.event_store)
    if opener is None:  # loaded settings are checked; these may have been built by hand
        raise ConfigError(
            f"setting event_store: unknown event store {settings.event_store!r} "
            f"(known: {', '.join(EVENT_STORES)})"
        )
    return opener(settings, writable)
