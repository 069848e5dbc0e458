"""Pattern leaves on `details` paths answered from a day's distinct values (store/tantivy/dictionary.py): the
answer is the predicate's, the index decides it alone when it can list the values exactly, and values
it cannot read back exactly (huge numbers, long texts, booleans) fall back to checking candidates."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reynard.events.event import finalize
from reynard.query import ast
from reynard.query.reference import aggregate_events, search_events
from reynard.store.tantivy import dictionary
from reynard.store.tantivy.search import for_day, plan
from reynard.store.tantivy.store import TantivyEventStore
from store_backends import RECEIVED, Loaded, batches, ids
from strategies import KEYWORD_FIELDS, leaf_strategies

PATTERNS = (ast.Wildcard, ast.Regex, ast.Prefix, ast.Suffix, ast.Contains)
DETAILS_FIELDS = [f for f in KEYWORD_FIELDS if f.startswith("details.")] + [
    "details.extra",
    "details.eventtime",
    "details.sourceipaddress",
]


def _on_details(leaf: ast.Node, field: str) -> ast.Node:
    return type(leaf)(field, *[getattr(leaf, name) for name in leaf.__dataclass_fields__ if name != "field"])


@st.composite
def pattern_leaves(draw: st.DrawFn) -> ast.Node:
    leaf = draw(st.one_of(*(leaf_strategies()[kind] for kind in PATTERNS)))
    return _on_details(leaf, draw(st.sampled_from(DETAILS_FIELDS)))


def pattern_queries(depth: int = 2) -> st.SearchStrategy:
    """Pattern leaves on details paths, combined (negations included) with each other and anything."""
    if depth <= 0:
        return st.one_of(pattern_leaves(), pattern_leaves(), st.one_of(*leaf_strategies().values()))
    clauses = st.lists(pattern_queries(depth - 1), max_size=3).map(tuple)
    bools = st.builds(ast.Bool, clauses, clauses, clauses, st.one_of(st.none(), st.integers(0, 2)))
    return st.one_of(pattern_leaves(), bools)


PROPERTY = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@PROPERTY
@given(docs=batches, query=pattern_queries())
def test_pattern_queries_agree_with_the_predicate(docs, query):
    with Loaded(docs) as loaded:
        request = ast.Search(query, limit=None)
        expected = ids(search_events(loaded.docs, request))
        assert ids(loaded.store.search(request).events) == expected
        assert loaded.store.count(query) == len(expected)
        aggregate = ast.Aggregate(query, ast.TimeWindow(), {"a": ast.TermsAgg("source", samples=1)})
        assert loaded.store.aggregate(aggregate) == aggregate_events(loaded.docs, aggregate)


def event(i: int, **details) -> dict:
    return finalize(
        {
            "id": f"{i:032x}",
            "utctimestamp": f"2026-11-20T10:00:{i:02d}Z",
            "summary": f"event {i}",
            "source": "cloudtrail",
            "details": details,
        },
        received=RECEIVED,
    )


@pytest.fixture
def store(tmp_path):
    s = TantivyEventStore(tmp_path / "events", writable=True)
    yield s
    s.close()


def _day_plan(store, query):
    plan_ = plan(store, query, ast.TimeWindow())
    (day,) = store.index_days()
    return for_day(plan_, store.searcher(day))


def _check(store, docs, query):
    request = ast.Search(query, limit=None)
    expected = ids(search_events(docs, request))
    assert ids(store.search(request).events) == expected
    assert store.count(query) == len(expected)
    return expected


ARN = "details.useridentity.arn"
ARNS = ["arn:aws:sts::1:assumed-role/aws:ec2-instance/i-1", "arn:aws:iam::1:user/alice", "AWS Internal"]


def test_a_regex_on_a_details_path_is_decided_by_the_index(store):
    docs = [event(i, useridentity={"arn": ARNS[i % 3]}) for i in range(30)]
    store.write(docs, commit=True)
    query = ast.Bool(
        must=(ast.Term("source", "cloudtrail"), ast.Regex(ARN, ".+:assumed-role/aws:.+")),
        must_not=(ast.Contains(ARN, "INTERNAL", case_insensitive=True),),
    )
    assert _day_plan(store, query).predicate is None
    assert len(_check(store, docs, query)) == 10
    no_match = ast.Contains(ARN, "nobody")
    assert _day_plan(store, no_match).predicate is None
    assert _check(store, docs, no_match) == []


@pytest.mark.parametrize(
    "values",
    [
        [2**53 + 1, -1, 2**63 + 5, 7],  # beyond what a float column keeps; i64 and u64 in one column
        ["x" * 70_000, "x" * 65_535 + "y", "short"],  # texts that fast columns and terms cut
        ["é" * 40_000, "é"],  # a long text cut inside a UTF-8 sequence: tantivy panics aggregating it
        [True, False, 1, 0, "true", "1"],  # booleans come back from a fast column as 0 and 1
        ["2026-11-20T10:00:00Z", "2026-11-20", "not a time"],  # texts the index stores as dates
    ],
    ids=["huge numbers", "long texts", "long multibyte text", "booleans", "timestamps"],
)
@pytest.mark.parametrize(
    "leaf",
    [
        ast.Regex("details.v", ".*1"),
        ast.Wildcard("details.v", "*y"),
        ast.Contains("details.v", "TRUE", case_insensitive=True),
        ast.Prefix("details.v", "2026", case_insensitive=True),
        ast.Suffix("details.v", "é"),
        ast.Regex("details.v", r"\d+"),
    ],
)
def test_values_the_dictionary_cannot_read_exactly_still_give_the_exact_answer(store, values, leaf):
    docs = [event(i, v=value) for i, value in enumerate(values)] + [event(len(values), v=[values[0], "z"])]
    store.write(docs, commit=True)
    for query in (leaf, ast.Bool(must=(ast.MatchAll(),), must_not=(leaf,))):
        _check(store, docs, query)
        aggregate = ast.Aggregate(query, ast.TimeWindow(), {"a": ast.TermsAgg("details.v", samples=1)})
        assert store.aggregate(aggregate) == aggregate_events(docs, aggregate)


def test_too_many_distinct_values_leave_the_leaf_to_the_predicate(store, monkeypatch):
    monkeypatch.setattr(dictionary, "MAX_VALUES", 3)
    docs = [event(i, useridentity={"arn": f"arn:aws:iam::1:user/u{i}"}) for i in range(5)]
    store.write(docs, commit=True)
    query = ast.Suffix(ARN, "u3")
    assert _day_plan(store, query).predicate is not None
    assert len(_check(store, docs, query)) == 1


def test_terms_of_a_boolean_field_count_booleans_as_true_and_false(store):
    docs = [event(i, success=value) for i, value in enumerate([True, True, False, 1, 0, "true"])]
    store.write(docs, commit=True)
    request = ast.Aggregate(
        ast.MatchAll(),
        ast.TimeWindow(),
        {
            "terms": ast.TermsAgg("details.success", size=None),
            "distinct": ast.DistinctCount("details.success"),
        },
    )
    found = store.aggregate(request)
    assert found == aggregate_events(docs, request)
    assert [(b["value"], b["count"]) for b in found["terms"]] == [
        ("true", 3),
        ("0", 1),
        ("1", 1),
        ("false", 1),
    ]
    assert found["distinct"] == 4
