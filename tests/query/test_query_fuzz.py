"""Any text given as a query either parses or is a `QueryError` with its position; nothing else escapes.
A parsed query compiles to a predicate or is a `QueryError` (the stores' side: tests/store/)."""

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reynard.errors import ReynardError
from reynard.query.errors import QueryError
from reynard.query.lucene import parse_query
from reynard.query.predicate import compile_predicate
from strategies import query_texts

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EVENT = {
    "utctimestamp": "2026-11-20T10:00:00.000000+00:00",
    "summary": "Failed password for root from 10.0.0.1",
    "hostname": "web1",
    "details": {"n": 123456789012345678901234567890 // 10**10, "g": "a" * 40, "ip": "10.0.0.1"},
}


def parsed_or_refused(text: str):
    """The AST of `text`, or None when it was refused with a QueryError that says where."""
    try:
        return parse_query(text)
    except QueryError as e:
        assert e.position is not None and 0 <= e.position <= len(text), (text, e)
        assert f"(position {e.position})" in str(e)
        return None


@FUZZ
@given(st.text(max_size=80) | query_texts())
def test_any_text_parses_or_is_a_query_error_with_its_position(text):
    node = parsed_or_refused(text)
    if node is None:
        return
    with contextlib.suppress(ReynardError):
        compile_predicate(node)(EVENT)


@pytest.mark.parametrize(
    ("query", "position"),
    [
        ("details.n:[-1e400 TO 1e400]", 11),
        ("details.n:[0 TO 1e400]", 16),
        ("details.n:>1e309", 11),
        ("details.n:<=\\-1e309", 12),
        ("details.n:[1 TO " + "9" * 400 + "]", 16),
        ("details.n:[1 TO " + "9" * 5000 + "]", 16),
        ("details.n:{" + "1" * 5000 + " TO *}", 11),
    ],
)
def test_numbers_a_query_cannot_represent_are_refused_with_their_position(query, position):
    with pytest.raises(QueryError) as raised:
        parse_query(query)
    assert raised.value.position == position
    assert "out of range" in raised.value.message


def test_huge_numbers_within_a_float_are_fine_bounds_and_any_number_is_a_fine_term():
    assert compile_predicate(parse_query("details.n:[1 TO 1e300]"))(EVENT)
    assert not compile_predicate(parse_query("details.n:" + "9" * 5000))(EVENT)
