"""Event storage: the `EventStore` protocol and its backends (tantivy embedded; OpenSearch later)."""

from reynard.store.base import EventStore, WriteResult

__all__ = ["EventStore", "WriteResult"]
