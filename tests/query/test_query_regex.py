"""Regexes run on RE2 (query/regex.py): linear time whatever the pattern, and what RE2 cannot run is
refused when the query is compiled, naming the construct and, in a query string, its position."""

import time

import pytest

from reynard.query.ast import Regex
from reynard.query.errors import QueryError
from reynard.query.lucene import parse_query
from reynard.query.predicate import compile_predicate
from reynard.query.regex import RegexUnsupported, check_regex

FORTY = "a" * 40


@pytest.mark.parametrize("pattern", ["(a|a)*c", "(a+)+c", "(a*)*c", "(a|aa)+c", "(.*a){20}c", r"(\w+\s?)*c"])
def test_patterns_that_backtrack_for_hours_elsewhere_answer_in_milliseconds(pattern):
    matches = compile_predicate(Regex("details.g", pattern))
    started = time.perf_counter()
    assert not matches({"details": {"g": FORTY}})
    assert not matches({"details": {"g": "a" * 100_000}})
    assert time.perf_counter() - started < 0.05


def test_the_worst_query_string_parses_and_answers_at_once():
    node = parse_query("details.g:/(a|a)*c/")
    assert node == Regex("details.g", "(a|a)*c", dotall=True)
    started = time.perf_counter()
    assert not compile_predicate(node)({"details": {"g": FORTY}})
    assert compile_predicate(node)({"details": {"g": FORTY + "c"}})
    assert time.perf_counter() - started < 0.05


@pytest.mark.parametrize(
    ("query", "position", "construct"),
    [
        (r"details.g:/(a)\1/", 14, "backreference \\1"),
        (r"details.g:/(?P<x>a)(?P=x)/", 19, "named backreference (?P=name)"),
        ("details.g:/a(?=b)/", 12, "lookahead (?=...)"),
        ("details.g:/a(?!b)/", 12, "negative lookahead (?!...)"),
        ("details.g:/(?<=a)b/", 11, "lookbehind (?<=...)"),
        ("details.g:/(?<!a)b/", 11, "negative lookbehind (?<!...)"),
        ("details.g:/(?>a)/", 11, "atomic group (?>...)"),
        ("details.g:/a*+/", 12, "possessive repeat *+"),
        (r"details.g:/\/x(?=b)/", 14, "lookahead (?=...)"),  # after an escaped "/" (two characters)
    ],
)
def test_what_re2_cannot_run_is_refused_with_its_position(query, position, construct):
    with pytest.raises(QueryError) as raised:
        parse_query(query)
    assert raised.value.position == position
    assert f"{construct} is not supported" in str(raised.value)
    assert str(raised.value).splitlines()[-1].index("^") - 4 == position  # the caret is under it


@pytest.mark.parametrize(
    ("pattern", "construct"),
    [(r"(a)\1", "backreference \\1"), ("a(?=b)", "lookahead (?=...)"), ("(?x) a", "verbose flag (?x)")],
)
def test_the_predicate_refuses_them_when_compiled_not_when_matching(pattern, construct):
    with pytest.raises(RegexUnsupported) as raised:
        compile_predicate(Regex("details.g", pattern))
    assert raised.value.construct == construct


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [("a(", "missing )"), ("[a", "missing ]"), ("a{2000}", "repeat count {2000}"), ("x" * 1001, "more than")],
)
def test_invalid_patterns_are_query_errors(pattern, fragment):
    with pytest.raises(QueryError) as raised:
        check_regex(pattern)
    assert fragment in raised.value.message


def test_flags_and_the_syntax_differences_from_python():
    def test(pattern: str, text: str, **flags) -> bool:
        return compile_predicate(Regex("g", pattern, **flags))({"g": text})

    assert test("ab", "AB", case_insensitive=True) and not test("ab", "AB")
    assert test("a.b", "a\nb", dotall=True) and not test("a.b", "a\nb")
    assert test("a$\n^b", "a\nb", multiline=True) and not test("a$\n^b", "a\nb")
    assert test(r"ab\Z", "ab")  # Python's end of text is RE2's \z
    assert test(r"\d+", "123") and not test(r"\d", "٣")  # \d is ASCII on RE2
    assert test(r"\pN", "٣")  # Unicode classes are \p
    assert test("(?i)straße", "STRAßE")
