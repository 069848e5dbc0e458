"""The embedded event store: daily tantivy indices (`store.py`), their schema, the compiler from the query
AST (`compiler.py`), exact search and aggregation (`search.py`, `dictionary.py`), the one-writer lock."""

from reynard.store.tantivy.store import TantivyEventStore

__all__ = ["TantivyEventStore"]
