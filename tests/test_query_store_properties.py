"""Property: for random events and random queries, the store's answer is the predicate's answer.

The predicate (reynard.query.predicate / reference) is the definition of the semantics; the tantivy
store must agree with it on matches, order, counts, pagination and aggregations.
"""

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reynard.events.event import finalize
from reynard.query import ast
from reynard.query.reference import aggregate_events, search_events
from reynard.store.tantivy.store import TantivyEventStore
from strategies import aggregates, events, queries

RECEIVED = "2026-11-28T00:00:00.000000+00:00"
PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
batches = st.lists(events(), min_size=0, max_size=30, unique_by=lambda e: e["id"])


class Loaded:
    """A store in a temporary folder holding `docs` (finalized as ingest would)."""

    def __init__(self, docs: list[dict]):
        self.folder = Path(tempfile.mkdtemp(prefix="reynard-prop-"))
        self.docs = [finalize(dict(d), received=RECEIVED, keep_received=True) for d in docs]
        self.store = TantivyEventStore(self.folder / "events", writable=True)
        self.store.write(self.docs, commit=True)

    def __enter__(self) -> "Loaded":
        return self

    def __exit__(self, *_: object) -> None:
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def ids(found: list[dict]) -> list[str]:
    return [e["id"] for e in found]


@PROPERTY
@given(docs=batches, query=queries())
def test_search_and_count_agree_with_the_predicate(docs, query):
    with Loaded(docs) as loaded:
        request = ast.Search(query, limit=None)
        expected = ids(search_events(loaded.docs, request))
        assert ids(loaded.store.search(request).events) == expected
        assert loaded.store.count_matching(query) == len(expected)


@PROPERTY
@given(docs=batches, query=queries(), page=st.integers(min_value=1, max_value=7))
def test_pagination_walks_the_same_order(docs, query, page):
    with Loaded(docs) as loaded:
        expected = ids(search_events(loaded.docs, ast.Search(query, limit=None)))
        walked: list[str] = []
        after = None
        for _ in range(len(expected) + 2):
            result = loaded.store.search(ast.Search(query, limit=page, after=after))
            walked.extend(ids(result.events))
            after = result.next_after
            if after is None:
                break
        assert walked == expected


@PROPERTY
@given(docs=batches, request=aggregates())
def test_aggregations_agree_with_the_predicate(docs, request):
    with Loaded(docs) as loaded:
        expected = aggregate_events(loaded.docs, request)
        assert loaded.store.aggregate(request) == expected
