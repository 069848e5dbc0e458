"""The query strategies draw valid requests that match some events: the store property tests rely on it."""

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from reynard.query.ast import (
    Bool,
)
from reynard.query.predicate import compile_predicate
from reynard.query.reference import aggregate_events, search_events, sort_key
from reynard.query.values import as_time
from strategies import aggregates, event_lists, events, leaf_strategies, queries, searches

# find: stop at the first example, no shrinking (the point is that one exists)
_FIND = settings(max_examples=5000, database=None, phases=[Phase.generate], derandomize=True)
_SLOW = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_SLOW
@given(event_lists(), queries())
def test_drawn_queries_compile_and_run(evs, query):
    test = compile_predicate(query)
    negated = compile_predicate(Bool(must_not=(query,)))
    for event in evs:
        assert test(event) is not negated(event)


@_SLOW
@given(events())
def test_drawn_events_are_stored_events(event):
    assert len(event["id"]) == 32 and int(event["id"], 16) >= 0
    assert as_time(event["utctimestamp"]) is not None and event["utctimestamp"].endswith("+00:00")
    assert event["summary"].isascii() and isinstance(event["details"], dict)


@_SLOW
@given(event_lists(), searches())
def test_drawn_searches_run(evs, search):
    found = search_events(evs, search)
    assert [sort_key(e) for e in found] == sorted((sort_key(e) for e in found), reverse=True)
    if search.limit is not None:
        assert len(found) <= search.limit


@_SLOW
@given(event_lists(), aggregates())
def test_drawn_aggregates_run(evs, aggregate):
    assert set(aggregate_events(evs, aggregate)) == set(aggregate.aggs)


@pytest.mark.parametrize("kind", list(leaf_strategies()), ids=lambda kind: kind.__name__)
def test_every_node_kind_is_drawn_and_matches_some_drawn_event(kind):
    find(
        st.tuples(events(), leaf_strategies()[kind]),
        lambda pair: compile_predicate(pair[1])(pair[0]),
        settings=_FIND,
    )


def test_bools_nest_to_max_depth():
    def depth(node):
        if not isinstance(node, Bool):
            return 0
        return 1 + max((depth(child) for child in (*node.must, *node.should, *node.must_not)), default=0)

    find(queries(max_depth=3), lambda q: depth(q) == 3, settings=_FIND)
