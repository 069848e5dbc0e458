"""Wildcards (query/wildcard.py): one reading of `*` and `?`, agreeing with fnmatch where they should."""

from __future__ import annotations

import re
import time
from fnmatch import fnmatchcase

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reynard.query.wildcard import Wild, regex_of, split_wildcard, wildcard_regex, wildcard_test
from reynard.store.tantivy.compiler import rust_escape

RUN, ONE = Wild.RUN, Wild.ONE


@pytest.mark.parametrize(
    ("pattern", "options", "parts"),
    [
        ("a*b?c", {}, ["a", RUN, "b", ONE, "c"]),
        ("**x", {}, [RUN, RUN, "x"]),
        ("", {}, []),
        ("a?b", {"one": False}, ["a?b"]),
        ("a\\*b", {}, ["a\\", RUN, "b"]),  # no escapes: the backslash is a literal
        ("a\\*b\\?c\\d*", {"escapes": True}, ["a*b?cd", RUN]),  # Lucene, ASL: any character
        ("a\\*b\\\\c\\d", {"escapes": "*\\", "one": False}, ["a*b\\c\\d"]),  # EventBridge: * and \ only
        ("end\\", {"escapes": True}, ["end\\"]),  # a trailing backslash is itself
    ],
)
def test_split(pattern, options, parts):
    found = split_wildcard(pattern, **options)
    assert found == parts
    assert [isinstance(p, Wild) for p in found] == [isinstance(p, Wild) for p in parts]


def test_an_escaped_star_is_a_literal_not_a_wildcard():
    (literal,) = split_wildcard("\\*", escapes=True)
    assert literal == "*" and not isinstance(literal, Wild)


@pytest.mark.parametrize(
    ("pattern", "options", "regex"),
    [
        ("a*b?c", {}, "a.*b.c"),
        ("a**b", {}, "a.*b"),  # a run of stars is one
        ("1.2*", {}, "1\\.2.*"),
        ("x?", {"one": False}, "x\\?"),
        ("a*b?", {"any_run": r"[\s\S]*", "any_one": r"[\s\S]"}, r"a[\s\S]*b[\s\S]"),
        ("a.b-c*~", {"escape": rust_escape}, "a\\.b\\-c.*\\~"),  # Rust regex: `-` and `~` escaped too
        ("arn:*:user/*", {"one": False}, "arn:.*:user/.*"),
    ],
)
def test_regex(pattern, options, regex):
    assert wildcard_regex(pattern, **options) == regex


def test_regex_of_parts_built_elsewhere():
    assert regex_of(["a.", RUN, RUN, ONE, "b"]) == "a\\..*.b"
    assert "".join([RUN, "x", ONE]) == "*x?"  # parts write the pattern back


# -- properties: the same meaning as fnmatch ------------------------------------------------------------
# fnmatch's `*` and `?` are ours; its `[...]` classes are not a wildcard here, so patterns leave `[` out.
PATTERN_CHARS = "ab.*?\\+(\n"
TEXT_CHARS = "abAB.*?\\+(\n"
patterns = st.text(alphabet=PATTERN_CHARS, max_size=10)
texts = st.text(alphabet=TEXT_CHARS, max_size=12)


@given(patterns, texts)
def test_the_regex_agrees_with_fnmatch(pattern, text):
    expected = fnmatchcase(text, pattern)
    assert (re.fullmatch(wildcard_regex(pattern), text, re.DOTALL) is not None) == expected
    assert wildcard_test(pattern)(text) == expected


@given(patterns, texts)
def test_question_mark_off_is_fnmatch_with_a_literal_question_mark(pattern, text):
    expected = fnmatchcase(text, pattern.replace("?", "[?]"))
    assert (re.fullmatch(wildcard_regex(pattern, one=False), text, re.DOTALL) is not None) == expected


def _fnmatch_literal(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


literals = st.text(alphabet="ab*?\\.", min_size=1, max_size=3)
parts_lists = st.lists(st.one_of(st.sampled_from([RUN, ONE]), literals))


def _normal(parts: list) -> list[tuple[bool, str]]:
    """(is a wildcard, text) of each part, adjacent literals merged."""
    out: list[tuple[bool, str]] = []
    for p in parts:
        if not isinstance(p, Wild) and out and not out[-1][0]:
            out[-1] = (False, out[-1][1] + p)
        else:
            out.append((isinstance(p, Wild), str(p)))
    return out


@given(parts_lists, texts)
def test_escaped_patterns_read_back_and_match_as_fnmatch(parts, text):
    pattern = "".join(p if isinstance(p, Wild) else re.sub(r"([*?\\])", r"\\\1", p) for p in parts)
    split = split_wildcard(pattern, escapes=True)
    assert _normal(split) == _normal(parts)
    fn_pattern = "".join(p if isinstance(p, Wild) else _fnmatch_literal(p) for p in parts)
    assert (re.fullmatch(regex_of(split), text, re.DOTALL) is not None) == fnmatchcase(text, fn_pattern)


def test_the_test_does_not_backtrack():
    test = wildcard_test("*a*a*a*a*a*a*a*a*a*a*a*a*b")
    began = time.perf_counter()
    assert not test("a" * 100_000)
    assert time.perf_counter() - began < 1.0
