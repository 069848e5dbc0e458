"""Lucene/Kibana query strings to the AST: a table of queries and the AST each must give, a table of bad
queries and where their error points, and a property: any text gives a node or a QueryError."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reynard.query.ast import (
    Bool,
    Cidr,
    Exists,
    Match,
    MatchAll,
    Phrase,
    Prefix,
    Range,
    Regex,
    Term,
    Terms,
    Wildcard,
)
from reynard.query.errors import QueryError
from reynard.query.lucene import parse_query


def _not(node):
    return Bool(must=(MatchAll(),), must_not=(node,))


def _summary(word):
    return Match("summary", word, "or")


VALID = [
    # field:value, values as typed, field names lowercased
    ("category:authentication", Term("category", "authentication")),
    ("details.eventName:StopLogging", Term("details.eventname", "StopLogging")),
    ("details.destinationport:22", Term("details.destinationport", "22")),
    ("details.sourceipaddress: 1.2.3.4", Term("details.sourceipaddress", "1.2.3.4")),
    ("summary:failed", Term("summary", "failed")),
    ("  hostname:web1  ", Term("hostname", "web1")),
    # phrases
    ('summary:"session opened"', Phrase("summary", "session opened")),
    ('details.username:"Jane Doe"', Phrase("details.username", "Jane Doe")),
    ('f:"say \\"hi\\""', Phrase("f", 'say "hi"')),
    # bare terms and phrases search summary
    ("failed", _summary("failed")),
    ('"Failed password"', Phrase("summary", "Failed password")),
    ("fail*", Prefix("summary", "fail")),
    ("/fail.*/", Regex("summary", "fail.*", dotall=True)),
    # a word of several summary tokens is their phrase (ES kept it one token)
    ("10.88.77.54", Phrase("summary", "10.88.77.54")),
    ("summary:ldap_count_entries", Phrase("summary", "ldap_count_entries")),
    (
        "details.ip:10.0.0.1 OR 10.0.0.2",
        Bool(should=(Term("details.ip", "10.0.0.1"), Phrase("summary", "10.0.0.2"))),
    ),
    # wildcards
    ("details.dev:veth*", Prefix("details.dev", "veth")),
    ("hostname:web?.example.*", Wildcard("hostname", "web?.example.*")),
    ("hostname:*.example.com", Wildcard("hostname", "*.example.com")),
    ("details.username:*", Exists("details.username")),
    ("f:a\\*b", Term("f", "a*b")),
    ("f:a\\*b*", Prefix("f", "a*b")),
    ("f:a\\?b?", Regex("f", "a\\?b.", dotall=True)),
    # regex
    ("hostname:/web[0-9]+/", Regex("hostname", "web[0-9]+", dotall=True)),
    ("details.path:/\\/etc\\/.*/", Regex("details.path", "/etc/.*", dotall=True)),
    # ranges
    ("details.bytes:[1000 TO 5000]", Range("details.bytes", gte=1000, lte=5000)),
    ("details.bytes:{1000 TO 5000}", Range("details.bytes", gt=1000, lt=5000)),
    ("details.bytes:[1000 TO 5000}", Range("details.bytes", gte=1000, lt=5000)),
    ("details.bytes:[1.5 TO *]", Range("details.bytes", gte=1.5)),
    ("details.bytes:[* TO 10]", Range("details.bytes", lte=10)),
    ("details.x:[-5 TO 5]", Range("details.x", gte=-5, lte=5)),
    ("details.x:[* TO *]", Exists("details.x")),
    ("details.bytes:>=1000", Range("details.bytes", gte=1000)),
    ("details.bytes:>1000", Range("details.bytes", gt=1000)),
    ("details.bytes:<=1e3", Range("details.bytes", lte=1000.0)),
    ("details.bytes:<1000", Range("details.bytes", lt=1000)),
    (
        "utctimestamp:[2024-05-01T00:00:00Z TO 2024-05-02]",
        Range("utctimestamp", gte="2024-05-01T00:00:00Z", lte="2024-05-02"),
    ),
    ('utctimestamp:>="2024-05-01T10:00:00+00:00"', Range("utctimestamp", gte="2024-05-01T10:00:00+00:00")),
    ("utctimestamp:<2024-05-01T10:00:00Z", Range("utctimestamp", lt="2024-05-01T10:00:00Z")),
    ('utctimestamp:["2024-05-01 10:00" TO *]', Range("utctimestamp", gte="2024-05-01 10:00")),
    ("details.ip:[10.0.0.0 TO 10.0.0.255]", Range("details.ip", gte="10.0.0.0", lte="10.0.0.255")),
    # CIDR
    ("details.sourceipaddress:10.0.0.0/8", Cidr("details.sourceipaddress", "10.0.0.0/8")),
    ("details.sourceipaddress:10.1.2.3/16", Cidr("details.sourceipaddress", "10.1.0.0/16")),
    ('details.sourceipaddress:"2001:db8::/32"', Cidr("details.sourceipaddress", "2001:db8::/32")),
    ("details.path:a/b", Term("details.path", "a/b")),
    # exists
    ("_exists_:details.userName", Exists("details.username")),
    # boolean operators
    ("a:1 AND b:2", Bool(must=(Term("a", "1"), Term("b", "2")))),
    ("a:1 && b:2", Bool(must=(Term("a", "1"), Term("b", "2")))),
    ("a:1 OR b:2", Bool(should=(Term("a", "1"), Term("b", "2")))),
    ("a:1 || b:2", Bool(should=(Term("a", "1"), Term("b", "2")))),
    ("NOT a:1", _not(Term("a", "1"))),
    ("!a:1", _not(Term("a", "1"))),
    ("-a:1", _not(Term("a", "1"))),
    ("+a:1", Term("a", "1")),
    ("a:1 AND NOT b:2", Bool(must=(Term("a", "1"),), must_not=(Term("b", "2"),))),
    ("a:1 AND -b:2", Bool(must=(Term("a", "1"),), must_not=(Term("b", "2"),))),
    ("a:1 OR NOT b:2", Bool(should=(Term("a", "1"), _not(Term("b", "2"))))),
    ("a:1 OR b:2 AND c:3", Bool(should=(Term("a", "1"), Bool(must=(Term("b", "2"), Term("c", "3")))))),
    ("(a:1 OR b:2) AND c:3", Bool(must=(Bool(should=(Term("a", "1"), Term("b", "2"))), Term("c", "3")))),
    ("a:1 AND (b:2 AND c:3)", Bool(must=(Term("a", "1"), Term("b", "2"), Term("c", "3")))),
    ("((a:1))", Term("a", "1")),
    # implicit operator: OR, with +/- as must/must_not
    ("a:1 b:2", Bool(should=(Term("a", "1"), Term("b", "2")))),
    ("failed password", Bool(should=(_summary("failed"), _summary("password")))),
    (
        "a b -c +d",
        Bool(must=(_summary("d"),), should=(_summary("a"), _summary("b")), must_not=(_summary("c"),)),
    ),
    ("-a:1 -b:2", Bool(must=(MatchAll(),), must_not=(Term("a", "1"), Term("b", "2")))),
    ("a NOT b", Bool(should=(_summary("a"),), must_not=(_summary("b"),))),
    # field groups
    ("hostname:(web1 OR web2)", Terms("hostname", ("web1", "web2"))),
    ("hostname:(web1 web2 web3)", Terms("hostname", ("web1", "web2", "web3"))),
    ("Source:(a OR (b OR c))", Terms("source", ("a", "b", "c"))),
    ("hostname:(web1 AND web2)", Bool(must=(Term("hostname", "web1"), Term("hostname", "web2")))),
    ("hostname:(web1 OR web*)", Bool(should=(Term("hostname", "web1"), Prefix("hostname", "web")))),
    ("f:(a -b)", Bool(should=(Term("f", "a"),), must_not=(Term("f", "b"),))),
    ("hostname:(web1)", Term("hostname", "web1")),
    # escapes
    ("details.url:http\\://x", Term("details.url", "http://x")),
    ("details.name:a\\ b", Term("details.name", "a b")),
    ("f:\\-5", Term("f", "-5")),
    ("a\\:b", Phrase("summary", "a:b")),  # one word, two summary tokens
    # boosts rank only
    ("a:1^2", Term("a", "1")),
    # everything
    ("", MatchAll()),
    ("   ", MatchAll()),
    ("*", MatchAll()),
    ("*:*", MatchAll()),
    ("a:1 OR *", MatchAll()),
    ("* AND a:1", Term("a", "1")),
]


@pytest.mark.parametrize(("query", "expected"), VALID, ids=[q or "<empty>" for q, _ in VALID])
def test_valid_query_gives_the_ast(query, expected):
    assert parse_query(query) == expected


INVALID = [
    ("(a:1 OR b:2", 0, "unbalanced parenthesis: this '(' is never closed"),
    ("a:1 OR b:2)", 10, "unbalanced parenthesis: this ')' closes nothing"),
    ("a:1 AND", 7, "expected a term, a phrase or '(' after 'AND', found the end of the query"),
    ("AND a:1", 0, "expected a term before 'AND'"),
    ("a:1 OR OR b:2", 7, "expected a term, a phrase or '(' after 'OR', found 'OR'"),
    ("NOT", 3, "after 'NOT'"),
    ('summary:"failed password', 8, "unterminated phrase"),
    ("hostname:/web", 9, "unterminated regex"),
    ("a:1\\", 3, "ends with an escape character"),
    ("details.username:", 17, "expected a value after 'details.username:'"),
    (":x", 0, "unexpected ':'"),
    ("ip:2001:db8::1", 12, "unexpected ':' (write a ':' inside a value as '\\:' or quote the value)"),
    ("ip:2001:db8", 3, "a field cannot be searched inside the value of 'ip'"),
    ("utctimestamp:>=2024-05-01T10:00:00+00:00", 37, "or quote the value"),
    ("x:[1 TO ]", 8, "expected a range bound after 'TO', found ']'"),
    ("x:[1 TO 2", 9, "expected 'TO' between the range bounds, found the end of the query"),
    ("x:[1 2]", 5, "expected 'TO' between the range bounds"),
    ("x:[1 TO now]", 8, "date math such as 'now-1d' is not supported"),
    ("x:[a TO b]", 3, "range bound 'a' is not a number, a timestamp (ISO 8601) or an IP address"),
    ("x:[1 TO 10.0.0.1]", 2, "range bounds of different kinds: number and ip"),
    ("[1 TO 2]", 0, "a range needs a field"),
    (">=5", 0, "a range needs a field"),
    ("f:/a(/", 4, "invalid regex"),
    ("x:(y:z)", 3, "a field cannot be searched inside the value of 'x'"),
    ("_exists_:(a b)", 0, "_exists_ takes one field name"),
    ("*:x", 0, "searching every field ('*:') is not supported"),
    ("details.*:x", 0, "wildcards in field names are not supported"),
    ("a~2", 1, "fuzzy and proximity search ('~') are not supported"),
    ('"a b"~3', 5, "fuzzy and proximity search"),
    ("()", 1, "empty parentheses"),
    ("'a b'", 0, "a term cannot start with '"),
    ("x" * 1_000_000, 100_000, "query too long: 1,000,000 characters, at most 100,000"),
    ("(" * 500 + "a" + ")" * 500, 100, "nested too deeply: more than 100 levels"),
    ("(" * 500 + "a", 100, "nested too deeply"),
    ("-" * 500 + "a", 100, "nested too deeply"),
    ("NOT " * 101 + "a", 400, "nested too deeply"),
    ("a^1" + "^1" * 200, 0, "nested too deeply"),
    ("a " * 10_001, 20_000, "more than 10,000 terms and operators"),
]


@pytest.mark.parametrize(("query", "position", "fragment"), INVALID, ids=[q[:40] for q, _, _ in INVALID])
def test_invalid_query_names_the_position(query, position, fragment):
    started = time.perf_counter()
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert time.perf_counter() - started < 2, "a bad query must fail fast"
    error = caught.value
    assert error.position == position
    assert fragment in str(error)
    assert f"(position {position})" in str(error)
    _, shown, caret = str(error).split("\n")
    # the caret stands under the character at the position, in a window of the query
    assert caret.strip() == "^"
    assert len(shown) < 100
    if position < len(query) and query[position].isprintable():
        assert shown[caret.index("^")] == query[position]


def test_caret_line_points_into_the_query():
    with pytest.raises(QueryError) as caught:
        parse_query("category:authentication AND")
    assert str(caught.value).splitlines()[1:] == [
        "    category:authentication AND",
        "                               ^",
    ]


def test_not_a_string_is_a_query_error():
    with pytest.raises(QueryError, match="must be text"):
        parse_query(b"a:1")  # type: ignore[arg-type]


def test_largest_accepted_queries_parse_quickly():
    for query in ("a " * 4_999 + "a", "hostname:(" + " OR ".join(f"h{i}" for i in range(3_000)) + ")"):
        started = time.perf_counter()
        parse_query(query)
        assert time.perf_counter() - started < 2
    nested = "(" * 100 + "a:1" + ")" * 100
    assert parse_query(nested) == Term("a", "1")


QUERY_PIECES = st.sampled_from(
    [*"ab1.:*?\"/\\()[]{}<>=+-!&|^~ '\n", "AND", "OR", "NOT", "TO", "_exists_", "&&", "||", "10.0.0.0/8"]
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), st.lists(QUERY_PIECES, max_size=30).map("".join)))
def test_any_text_gives_a_node_or_a_query_error(text):
    try:
        parse_query(text)
    except QueryError as e:
        if e.position is not None:
            assert 0 <= e.position <= len(text)


def test_parsing_from_many_threads_gives_each_its_own_answer():
    """PLY keeps its state on shared objects: concurrent API requests must not mix their queries."""
    cases = [case for case in VALID if case[0].strip()][:16]

    def parse_all(_):
        return all(parse_query(query) == expected for _ in range(30) for query, expected in cases)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(parse_all, range(8)))
