"""Event storage: the `EventStore` protocol (base.py) and its backends (tantivy embedded, memory the
reference; OpenSearch later), opened by name from the settings (backends.py)."""

from reynard.store.base import DayCount, EventStore, Prepared, SearchResult, StoreStats, WriteResult

__all__ = ["DayCount", "EventStore", "Prepared", "SearchResult", "StoreStats", "WriteResult"]
