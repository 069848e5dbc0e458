"""Property: for random events and random queries, every backend's answer is the predicate's answer.

The predicate (reynard.query.predicate / reference) is the definition of the semantics; each store of
tests/store_backends.py must agree with it on matches, order, counts, windows, pagination, field
selection, streams and aggregations.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reynard.query import ast
from reynard.query.reference import aggregate_events, search_events
from reynard.query.render import project
from store_backends import BACKENDS, Loaded, batches, ids
from strategies import aggregates, queries, searches

PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
backends = pytest.mark.parametrize("backend", list(BACKENDS.values()), ids=list(BACKENDS))


@backends
@PROPERTY
@given(docs=batches, query=queries())
def test_search_and_count_agree_with_the_predicate(backend, docs, query):
    with Loaded(docs, backend) as loaded:
        request = ast.Search(query, limit=None)
        expected = ids(search_events(loaded.docs, request))
        assert ids(loaded.store.search(request).events) == expected
        assert loaded.store.count(query) == len(expected)


@backends
@PROPERTY
@given(docs=batches, request=searches())
def test_windows_limits_and_after_agree_with_the_predicate(backend, docs, request):
    with Loaded(docs, backend) as loaded:
        expected = search_events(loaded.docs, request)
        result = loaded.store.search(request)
        assert ids(result.events) == ids(expected)
        full = request.limit is not None and request.limit > 0 and len(expected) == request.limit
        assert result.next_after == ((expected[-1]["utctimestamp"], expected[-1]["id"]) if full else None)
        everything = search_events(
            loaded.docs, ast.Search(request.query, request.window, None, request.after)
        )
        assert ids(loaded.store.stream(request)) == ids(everything)
        fields = ("id", "details.username", "hostname")
        projected = ast.Search(request.query, request.window, request.limit, request.after, fields)
        assert loaded.store.search(projected).events == [project(e, fields) for e in expected]
        assert loaded.store.count(request.query, request.window) == len(
            search_events(loaded.docs, ast.Search(request.query, request.window, None))
        )


@backends
@PROPERTY
@given(docs=batches, query=queries(), page=st.integers(min_value=1, max_value=7))
def test_pagination_walks_the_same_order(backend, docs, query, page):
    with Loaded(docs, backend) as loaded:
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


@backends
@PROPERTY
@given(docs=batches, request=aggregates())
def test_aggregations_agree_with_the_predicate(backend, docs, request):
    with Loaded(docs, backend) as loaded:
        expected = aggregate_events(loaded.docs, request)
        assert loaded.store.aggregate(request) == expected
