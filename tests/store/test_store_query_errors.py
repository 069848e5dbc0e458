"""A query a user wrote either answers or is a clear error: whatever a query string parses to, every
backend compiles and answers it (search, count, stream, aggregate) or raises a `ReynardError` (a 400 or
a 503 over HTTP, one line on the command line), never another exception (a 500, a traceback)."""

import contextlib
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reynard.errors import ReynardError
from reynard.events.event import finalize
from reynard.query import ast
from reynard.query.errors import QueryError
from reynard.query.lucene import parse_query
from store_backends import BACKENDS
from strategies import query_texts

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RECEIVED = "2026-11-28T00:00:00.000000+00:00"
DETAILS = [
    {"n": 5, "g": "a" * 40, "sourceipaddress": "10.0.0.1"},
    {"n": 1.5e300, "g": "b", "sourceipaddress": "::1"},
    {"n": "123456789012345678901234567890", "g": ["a", "c"], "when": "2026-11-20T10:00:00Z"},
    {"n": -(2**63), "g": None, "sourceipaddress": "2001:db8::1"},
    {"n": 2**64 - 1, "g": True},
]


@pytest.fixture(scope="module", params=list(BACKENDS.values()), ids=list(BACKENDS))
def store(request):
    folder = Path(tempfile.mkdtemp(prefix="reynard-fuzz-"))
    opened = request.param.open(folder, True)
    events = [
        finalize(
            {
                "id": f"{i:032x}",
                "utctimestamp": f"2026-11-2{i}T10:00:00Z",
                "summary": f"Failed password for root from 10.0.0.{i}",
                "hostname": f"web{i}",
                "details": details,
            },
            received=RECEIVED,
        )
        for i, details in enumerate(DETAILS)
    ]
    opened.write(events, commit=True)
    yield opened
    opened.close()
    shutil.rmtree(folder, ignore_errors=True)


def answer(store, node: ast.Node) -> None:
    store.search(ast.Search(node, limit=3))
    store.count(node)
    list(store.stream(ast.Search(node)))
    store.aggregate(
        ast.Aggregate(node, aggs={"a": ast.TermsAgg("details.n", samples=1), "b": ast.Stats("details.n")})
    )


@FUZZ
@given(text=st.text(max_size=60) | query_texts())
def test_any_parsed_query_answers_or_raises_a_reynard_error(store, text):
    try:
        node = parse_query(text)
    except QueryError:
        return
    with contextlib.suppress(ReynardError):
        answer(store, node)


@pytest.mark.parametrize(
    "node",
    [
        ast.Range("details.n", gte=10**400),
        ast.Range("details.n", gt=float("inf")),
        ast.Range("details.n", lte="1e400"),
        ast.Term("details.n", 10**5000),
        ast.Regex("details.g", "(a)\\1"),
    ],
    ids=["int beyond a float", "inf", "text beyond a float", "5000 digits", "backreference"],
)
def test_trees_no_query_string_makes_are_query_errors_too(store, node):
    with pytest.raises(QueryError):
        answer(store, node)


def test_terms_of_any_integer_answer():
    # Equality needs no float: integers of any size compare as their text (docs/query.md).
    node = ast.Terms("details.n", (10**400, 2**64, -(2**63) - 1, 123456789012345678901234567890))
    for backend in BACKENDS.values():
        folder = Path(tempfile.mkdtemp(prefix="reynard-fuzz-"))
        opened = backend.open(folder, True)
        try:
            event = {"id": "1" * 32, "utctimestamp": "2026-11-20T10:00:00Z", "summary": "x"}
            opened.write(
                [finalize({**event, "details": {"n": "123456789012345678901234567890"}}, received=RECEIVED)],
                commit=True,
            )
            assert [e["id"] for e in opened.search(ast.Search(node)).events] == ["1" * 32]
        finally:
            opened.close()
            shutil.rmtree(folder, ignore_errors=True)
