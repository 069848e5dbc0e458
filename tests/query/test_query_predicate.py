"""The in-memory predicate and the reference search/aggregate: the meaning every backend must agree with.

Expectations are computed by hand from the four events below, so a change of meaning shows up here first.
"""

import re
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reynard.errors import ReynardError
from reynard.events.fields import values_at
from reynard.query.ast import (
    Aggregate,
    Bool,
    Cidr,
    Contains,
    DateHistogram,
    DistinctCount,
    Exists,
    FieldRef,
    Match,
    MatchAll,
    Phrase,
    Prefix,
    Range,
    Regex,
    Search,
    Stats,
    Suffix,
    Term,
    Terms,
    TermsAgg,
    TimePart,
    TimeWindow,
    Wildcard,
)
from reynard.query.errors import QueryError
from reynard.query.predicate import compile_predicate, matches
from reynard.query.reference import aggregate_events, search_events
from reynard.query.wildcard import wildcard_regex

SSH = {
    "id": "a1",
    "utctimestamp": "2026-11-20T10:00:00.000000+00:00",
    "receivedtimestamp": "2026-11-20T10:00:05.000000+00:00",
    "category": "authentication",
    "source": "syslog",
    "hostname": "bastion1",
    "processname": "sshd",
    "processid": "4242",
    "severity": "INFO",
    "summary": "Failed password for root from 1.2.3.4 port 22 ssh2",
    "tags": ["ssh", "prod"],
    "type": "event",
    "plugins": ["ipfixup"],
    "mozdefhostname": "reynard1",
    "details": {
        "sourceipaddress": "1.2.3.4",
        "sourceport": 22,
        "username": "root",
        "success": False,
        "count": 3,
    },
}
CLOUDTRAIL = {
    "id": "b2",
    "utctimestamp": "2026-11-20T11:30:00.000000+00:00",
    "receivedtimestamp": "2026-11-20T11:35:00.000000+00:00",
    "category": "AwsApiCall",
    "source": "cloudtrail",
    "hostname": "signin.amazonaws.com",
    "processname": "cloudtrail",
    "processid": "UNKNOWN",
    "severity": "INFO",
    "summary": "alice ConsoleLogin from 2001:db8::7 succeeded",
    "tags": ["aws"],
    "type": "event",
    "plugins": [],
    "mozdefhostname": "reynard1",
    "details": {
        "sourceipaddress": "2001:db8::7",
        "eventname": "ConsoleLogin",
        "useridentity": {"arn": "arn:aws:iam::123456789012:user/Alice", "type": "IAMUser"},
        "requestparameters": {"items": [{"instanceid": "i-1"}, {"instanceid": "i-2"}]},
        "sourceport": "22",
        "count": 2.5,
        "success": "true",
        "error": None,
        "tags": [],
    },
}
VPC = {
    "id": "c3",
    "utctimestamp": "2026-11-19T23:59:59.999999+00:00",
    "receivedtimestamp": "2026-11-20T00:10:00.000000+00:00",
    "category": "vpcflow",
    "source": "vpcflow",
    "hostname": "eni-1",
    "processname": "vpcflow",
    "processid": "UNKNOWN",
    "severity": "INFO",
    "summary": "10.0.0.5:443 -> 10.0.1.9:51000 ACCEPT",
    "tags": [],
    "type": "event",
    "plugins": [],
    "mozdefhostname": "reynard2",
    "details": {
        "sourceipaddress": "10.0.0.5",
        "destinationipaddress": "10.0.1.9",
        "destinationport": 443.0,
        "sourceport": 51000,
        "bytes": [100, 200],
        "success": True,
        "eventtime": "2026-11-19T23:59:59Z",
    },
}
ODD = {
    "id": "d4",
    "utctimestamp": "2026-11-21T00:00:00.000000+00:00",
    "receivedtimestamp": "2026-11-21T00:00:01.000000+00:00",
    "category": "Authentication",
    "source": "syslog",
    "hostname": "Bastion1",
    "processname": "login",
    "processid": "77",
    "severity": "NOTICE",
    "summary": "ROOT login: session opened; user=admin",
    "tags": ["Prod", "22"],
    "type": "event",
    "plugins": [],
    "mozdefhostname": "reynard2",
    "details": {
        "username": ["admin", "root"],
        "sourceipaddress": "::ffff:10.0.0.7",
        "destinationport": "443",
        "nested": [{"a": [{"b": "x"}]}, [{"a": {"b": "y"}}]],
        "empty": {},
        "nulls": [None],
        "count": True,
        "eventtime": "yesterday",
        "note": "first line\nsecond line",
    },
}
EVENTS = [SSH, CLOUDTRAIL, VPC, ODD]
ALL = {"a1", "b2", "c3", "d4"}


def _ids(node) -> set[str]:
    test = compile_predicate(node)
    return {event["id"] for event in EVENTS if test(event)}


CASES = [
    # Term: exact and case-sensitive on keywords, term text for numbers and booleans, lists match any
    (Term("category", "authentication"), {"a1"}),
    (Term("category", "Authentication"), {"d4"}),
    (Term("category", "AUTHENTICATION", case_insensitive=True), {"a1", "d4"}),
    (Term("tags", "prod"), {"a1"}),
    (Term("tags", "prod", case_insensitive=True), {"a1", "d4"}),
    (Term("tags", 22), {"d4"}),
    (Term("details.sourceport", 22), {"a1", "b2"}),
    (Term("details.sourceport", "22"), {"a1", "b2"}),
    (Term("details.destinationport", 443), {"c3", "d4"}),
    (Term("details.destinationport", 443.0), {"c3", "d4"}),
    (Term("details.destinationport", "443.0"), set()),
    (Term("details.success", False), {"a1"}),
    (Term("details.success", True), {"b2", "c3"}),
    (Term("details.success", "true"), {"b2", "c3"}),
    (Term("details.count", True), {"d4"}),
    (Term("details.count", 1), set()),
    (Term("details.count", 2.5), {"b2"}),
    (Term("details.username", "root"), {"a1", "d4"}),
    (Term("details.username", "ROOT", case_insensitive=True), {"a1", "d4"}),
    (Term("details.requestparameters.items.instanceid", "i-2"), {"b2"}),
    (Term("details.nested.a.b", "x"), {"d4"}),
    (Term("details.nested.a.b", "y"), {"d4"}),
    (Term("details.useridentity.arn", "arn:aws:iam::123456789012:user/alice"), set()),
    (Term("details.useridentity.arn", "arn:aws:iam::123456789012:user/alice", case_insensitive=True), {"b2"}),
    (Term("details.error", ""), set()),
    (Term("nosuchfield", "x"), set()),
    (Term("details.useridentity", "IAMUser"), set()),
    # Term on summary: a token match; several query tokens are an OR (MozDef's TermMatch)
    (Term("summary", "password"), {"a1"}),
    (Term("summary", "PASSWORD"), {"a1"}),
    (Term("summary", "root"), {"a1", "d4"}),
    (Term("summary", "pass"), set()),
    (Term("summary", 22), {"a1"}),
    (Term("summary", "Failed password"), {"a1"}),
    (Term("summary", "1.2.3.4"), {"a1", "c3"}),  # tokens 1 2 3 4: VPC's summary has the token "1"
    (Term("summary", "!!!"), set()),
    # Terms
    (Terms("hostname", ("bastion1", "eni-1")), {"a1", "c3"}),
    (Terms("hostname", ("BASTION1",), case_insensitive=True), {"a1", "d4"}),
    (Terms("hostname", ()), set()),
    (Terms("details.sourceport", (22, 51000)), {"a1", "b2", "c3"}),
    (Terms("summary", ("succeeded", "opened")), {"b2", "d4"}),
    # Match
    (Match("summary", "root nobody"), {"a1", "d4"}),
    (Match("summary", "root nobody", "and"), set()),
    (Match("summary", "root password", "and"), {"a1"}),
    (Match("summary", "SESSION user", "and"), {"d4"}),
    (Match("summary", "from", "and"), {"a1", "b2"}),
    (Match("summary", ""), set()),
    (Match("hostname", "bastion1"), {"a1"}),
    (Match("hostname", "bastion1 eni-1"), set()),
    # Phrase
    (Phrase("summary", "password for root"), {"a1"}),
    (Phrase("summary", "Password, for ROOT!"), {"a1"}),
    (Phrase("summary", "root for password"), set()),
    (Phrase("summary", "from 1.2.3.4 port"), {"a1"}),
    (Phrase("summary", "login: session"), {"d4"}),
    (Phrase("summary", "10.0.0.5:443"), {"c3"}),
    (Phrase("summary", "ssh2 alice"), set()),
    (Phrase("summary", ""), set()),
    (Phrase("hostname", "bastion1"), {"a1"}),
    (Phrase("hostname", "Bastion"), set()),
    # Wildcard: the whole value, `*` and `?`, everything else literal
    (Wildcard("hostname", "bastion*"), {"a1"}),
    (Wildcard("hostname", "bastion*", case_insensitive=True), {"a1", "d4"}),
    (Wildcard("hostname", "*1"), {"a1", "c3", "d4"}),
    (Wildcard("hostname", "eni-?"), {"c3"}),
    (Wildcard("hostname", "eni?"), set()),
    (Wildcard("hostname", "signin?amazonaws?com"), {"b2"}),
    (Wildcard("hostname", "signin.amazonaws[.]com"), set()),
    (Wildcard("hostname", "signin.amazonaws.co"), set()),
    (Wildcard("details.useridentity.arn", "arn:aws:iam::*:user/Alice"), {"b2"}),
    (Wildcard("details.sourceipaddress", "10.*"), {"c3"}),
    (Wildcard("details.sourceport", "2?"), {"a1", "b2"}),
    (Wildcard("details.username", "*"), {"a1", "d4"}),
    (Wildcard("details.error", "*"), set()),
    (Wildcard("summary", "*password for root*"), {"a1"}),
    (Wildcard("summary", "pass*"), set()),
    (Wildcard("details.note", "first*line"), {"d4"}),
    # Regex: anchored at both ends, flags as asked
    (Regex("hostname", "bastion[0-9]"), {"a1"}),
    (Regex("hostname", "bastion[0-9]", case_insensitive=True), {"a1", "d4"}),
    (Regex("hostname", "bastion"), set()),
    (Regex("summary", ".*root.*"), {"a1"}),
    (Regex("summary", ".*root.*", case_insensitive=True), {"a1", "d4"}),
    (Regex("details.sourceport", r"\d+"), {"a1", "b2", "c3"}),
    (Regex("details.sourceipaddress", r"(\d{1,3}\.){3}\d{1,3}"), {"a1", "c3"}),
    (Regex("details.success", "true|false"), {"a1", "b2", "c3"}),
    (Regex("details.note", ".*second line"), set()),
    (Regex("details.note", ".*second line", dotall=True), {"d4"}),
    (Regex("details.note", "first line$\n^second line"), set()),
    (Regex("details.note", "first line$\n^second line", multiline=True), {"d4"}),
    # Prefix, Suffix, Contains: on term text, the whole value
    (Prefix("hostname", "bas"), {"a1"}),
    (Prefix("hostname", "BAS", case_insensitive=True), {"a1", "d4"}),
    (Prefix("summary", "Failed"), {"a1"}),
    (Prefix("summary", "failed"), set()),
    (Prefix("summary", "failed", case_insensitive=True), {"a1"}),
    (Prefix("details.success", "tr"), {"b2", "c3"}),
    (Suffix("details.useridentity.arn", "/Alice"), {"b2"}),
    (Suffix("hostname", ".com"), {"b2"}),
    (Suffix("details.destinationport", "3"), {"c3", "d4"}),
    (Contains("summary", "password for"), {"a1"}),
    (Contains("details.sourceport", "10"), {"c3"}),
    (Contains("hostname", "ASTION", case_insensitive=True), {"a1", "d4"}),
    (Contains("tags", "ro"), {"a1", "d4"}),
    (Contains("nosuchfield", ""), set()),
    # Exists: some non-null scalar at or under the path
    (Exists("details.sourceipaddress"), ALL),
    (Exists("details.success"), {"a1", "b2", "c3"}),
    (Exists("details.error"), set()),
    (Exists("details.tags"), set()),
    (Exists("details.empty"), set()),
    (Exists("details.nulls"), set()),
    (Exists("details.useridentity"), {"b2"}),
    (Exists("details.nested.a"), {"d4"}),
    (Exists("tags"), {"a1", "b2", "d4"}),
    (Exists("nosuchfield"), set()),
    # Range of numbers: int and float values only, never numeric strings or booleans
    (Range("details.sourceport", gte=22, lte=22), {"a1"}),
    (Range("details.sourceport", gt=22), {"c3"}),
    (Range("details.destinationport", gte=443, lt=444), {"c3"}),
    (Range("details.count", gte=0), {"a1", "b2"}),
    (Range("details.count", gt=2, lt=3), {"b2"}),
    (Range("details.count", gte="2.5", lte="2.5"), {"b2"}),
    (Range("details.bytes", gte=150), {"c3"}),
    (Range("details.bytes", gte=101, lte=199), set()),
    (Range("details.sourceport", gte=100, lte=10), set()),
    (Range("processid", gte=0), set()),
    # Range of timestamps: compared as instants in UTC
    (Range("utctimestamp", gte=datetime(2026, 11, 20, tzinfo=UTC)), {"a1", "b2", "d4"}),
    (Range("utctimestamp", gte=datetime(2026, 11, 20)), {"a1", "b2", "d4"}),
    (Range("utctimestamp", lt="2026-11-20"), {"c3"}),
    (Range("utctimestamp", gte="2026-11-20T12:00:00+02:00", lte="2026-11-20T11:30:00Z"), {"a1", "b2"}),
    (Range("utctimestamp", gt="2026-11-20T10:00:00Z"), {"b2", "d4"}),
    (Range("receivedtimestamp", gte="2026-11-20T00:00:00Z", lt="2026-11-20T10:00:00Z"), {"c3"}),
    (Range("details.eventtime", lte="2026-11-20"), {"c3"}),
    (Range("utctimestamp", gte="2026-11-21", lte="2026-11-20"), set()),
    (Range("summary", gte="2026-01-01"), set()),
    # Range of IP addresses: same version only; IPv4-mapped IPv6 counts as IPv4
    (Range("details.sourceipaddress", gte="10.0.0.0", lte="10.255.255.255"), {"c3", "d4"}),
    (Range("details.sourceipaddress", gte="2001:db8::", lt="2001:db9::"), {"b2"}),
    (Range("details.sourceipaddress", gte="0.0.0.0"), {"a1", "c3", "d4"}),
    (Range("details.sourceipaddress", gte="10.0.0.9", lte="10.0.0.1"), set()),
    # Cidr
    (Cidr("details.sourceipaddress", "10.0.0.0/8"), {"c3", "d4"}),
    (Cidr("details.sourceipaddress", "1.2.3.4/32"), {"a1"}),
    (Cidr("details.sourceipaddress", "1.2.3.77/24"), {"a1"}),
    (Cidr("details.sourceipaddress", "2001:db8::/32"), {"b2"}),
    (Cidr("details.sourceipaddress", "::/0"), {"b2"}),
    (Cidr("details.sourceipaddress", "0.0.0.0/0"), {"a1", "c3", "d4"}),
    (Cidr("details.destinationipaddress", "10.0.1.0/24"), {"c3"}),
    (Cidr("hostname", "10.0.0.0/8"), set()),
    # the virtual field ip: every address of the event
    (Term("ip", "10.0.1.9"), {"c3"}),
    (Term("ip", "10.0.0.7"), {"d4"}),  # compared as addresses: ::ffff:10.0.0.7 is 10.0.0.7
    (Cidr("ip", "10.0.1.0/24"), {"c3"}),
    (Cidr("ip", "10.0.0.0/8"), {"c3", "d4"}),
    (Exists("ip"), ALL),
    # Bool
    (Bool(), ALL),
    (Bool(must=(Term("source", "syslog"),), must_not=(Term("summary", "password"),)), {"d4"}),
    (Bool(should=(Term("hostname", "bastion1"), Term("hostname", "eni-1"))), {"a1", "c3"}),
    (Bool(must=(Term("source", "syslog"),), should=(Term("hostname", "eni-1"),)), {"a1", "d4"}),
    (
        Bool(must=(Term("source", "syslog"),), should=(Term("hostname", "eni-1"),), minimum_should_match=1),
        set(),
    ),
    (
        Bool(should=(Term("tags", "ssh"), Term("tags", "prod"), Term("tags", "aws")), minimum_should_match=2),
        {"a1"},
    ),
    (Bool(should=(Term("tags", "ssh"),), minimum_should_match=2), set()),
    (Bool(must_not=(Term("source", "syslog"),)), {"b2", "c3"}),
    (
        Bool(
            must_not=(Term("source", "syslog"),),
            should=(Term("hostname", "eni-1"), Term("hostname", "bastion1")),
        ),
        {"c3"},
    ),
    (
        Bool(
            should=(
                Bool(must=(Term("source", "cloudtrail"), Exists("details.useridentity"))),
                Cidr("details.sourceipaddress", "10.0.0.0/8"),
            )
        ),
        {"b2", "c3", "d4"},
    ),
    (
        Bool(must=(Term("summary", "root"), Phrase("summary", "session opened"), Match("summary", "x user"))),
        {"d4"},
    ),
    # FieldRef: term texts of two fields meet (lists: any element; the virtual ip field as text)
    (FieldRef("source", "processname"), {"b2", "c3"}),
    (FieldRef("details.sourceipaddress", "ip"), ALL),
    (FieldRef("details.username", "details.username"), {"a1", "d4"}),
    (FieldRef("details.username", "summary"), set()),
    (FieldRef("category", "details.nosuchfield"), set()),
    (FieldRef("hostname", "details.nested.a.b"), set()),
    # TimePart: UTC parts of ISO 8601 timestamps; numbers and other text are not timestamps
    (TimePart("utctimestamp", "hour", 10), {"a1"}),
    (TimePart("utctimestamp", "minute", 59), {"c3"}),
    (TimePart("utctimestamp", "day", 20), {"a1", "b2"}),
    (TimePart("receivedtimestamp", "day", 20), {"a1", "b2", "c3"}),
    (TimePart("utctimestamp", "week", 47), ALL),
    (TimePart("utctimestamp", "month", 11), ALL),
    (TimePart("utctimestamp", "year", 2025), set()),
    (TimePart("details.eventtime", "minute", 59), {"c3"}),
    (TimePart("details.sourceport", "hour", 22), set()),
    (MatchAll(), ALL),
]


@pytest.mark.parametrize(("node", "expected"), CASES, ids=[repr(node)[:90] for node, _ in CASES])
def test_node(node, expected):
    assert _ids(node) == expected


@pytest.mark.parametrize(("node", "_expected"), CASES[::7])
def test_matches_agrees_with_compile_and_negation(node, _expected):
    for event in EVENTS:
        assert matches(node, event) == compile_predicate(node)(event)
        assert matches(Bool(must_not=(node,)), event) == (not matches(node, event))


def test_values_at():
    assert values_at(ODD, "details.nested.a.b") == ["x", "y"]
    assert values_at(VPC, "details.bytes") == [100, 200]
    assert values_at(CLOUDTRAIL, "details.requestparameters.items.instanceid") == ["i-1", "i-2"]
    assert values_at(CLOUDTRAIL, "details.error") == []
    assert values_at(ODD, "details.nulls") == []
    assert values_at(ODD, "details.empty") == []
    assert values_at(SSH, "summary.x") == []
    assert values_at(SSH, "no.such.path") == []
    assert values_at(SSH, "details.success") == [False]


@pytest.mark.parametrize(
    ("node", "message"),
    [
        (Regex("hostname", "["), "invalid regex"),
        (Regex("hostname", r"(a)\1"), "backreference \\1 is not supported"),
        (Regex("hostname", "a(?=b)"), "lookahead (?=...) is not supported"),
        (Regex("hostname", "(?<!a)b"), "negative lookbehind (?<!...) is not supported"),
        (Regex("hostname", "a" * 1001), "more than 1000"),
        (Range("details.count"), "no bound"),
        (Range("details.count", gte=1, lte="10.0.0.1"), "different kinds"),
        (Range("details.count", gte="tomorrow"), "not a number, timestamp or IP"),
        (Range("details.count", gte=True), "not a range bound"),
        (Range("details.sourceipaddress", gte="10.0.0.1", lte="::1"), "IPv4 and IPv6"),
        (Cidr("details.sourceipaddress", "10.0.0.0/33"), "not a network"),
        (Cidr("details.sourceipaddress", "nope"), "not a network"),
        (Term("hostname", None), "not a string, number or boolean"),
        (Term("hostname", float("nan")), "not a string, number or boolean"),
        (Terms("hostname", ("a", [1])), "not a string, number or boolean"),
        (Bool(should=(MatchAll(),), minimum_should_match=-1), "negative"),
        (Bool(must=(Regex("hostname", "("),)), "invalid regex"),
        (TimePart("utctimestamp", "decade", 1), "time part must be one of minute, hour"),
        (TimePart("utctimestamp", "hour", "3"), "hour must be an integer"),
        (TimePart("utctimestamp", "hour", True), "hour must be an integer"),
    ],
)
def test_invalid_queries(node, message):
    with pytest.raises(QueryError, match=re.escape(message)) as raised:
        compile_predicate(node)
    assert isinstance(raised.value, ReynardError)


def test_query_error_carries_where_and_position():
    error = QueryError("unexpected ')'", where="query", position=7)
    assert (str(error), error.where, error.position) == ("query: unexpected ')'", "query", 7)
    assert QueryError("bad").position is None


@pytest.mark.parametrize("node", ["category:x", object(), None, [Term("a", "b")]])
def test_unknown_nodes_are_type_errors(node):
    with pytest.raises(TypeError):
        compile_predicate(node)


def test_wildcard_does_not_backtrack_on_long_values():
    event = {"summary": "a" * 60_000}
    test = compile_predicate(Wildcard("summary", "*a*a*a*a*a*a*a*a*a*a*a*a*b"))
    began = time.perf_counter()
    assert not test(event)
    assert time.perf_counter() - began < 1.0


@given(
    st.text(alphabet="ab.*?", max_size=8),
    st.text(alphabet="abAB.\n", max_size=10),
    st.booleans(),
)
def test_wildcard_agrees_with_its_regex(pattern, value, ci):
    expected = re.fullmatch(
        wildcard_regex(pattern.casefold() if ci else pattern), value.casefold() if ci else value, re.DOTALL
    )
    assert matches(Wildcard("f", pattern, case_insensitive=ci), {"f": value}) == (expected is not None)


# -- search_events --------------------------------------------------------------------------------------
def _event(id_: str, utc: str, received: str | None = None, **fields) -> dict:
    return {"id": id_, "utctimestamp": utc, "receivedtimestamp": received or utc, "summary": "x", **fields}


T9, T10, T11 = (f"2026-11-20T{h}:00:00.000000+00:00" for h in ("09", "10", "11"))
S1 = _event("0001", T10, hostname="web1")
S2 = _event("0002", T10, hostname="web2")
S3 = _event("0003", T10, hostname="web1")
S4 = _event("ffff", T9, "2026-11-20T10:30:00.000000+00:00", hostname="web2")
S5 = _event("0000", T11, hostname="web1")
PAGE = [S1, S4, S2, S5, S3]
NEWEST_FIRST = [S5, S3, S2, S1, S4]


def test_search_orders_newest_first_then_id_descending():
    assert search_events(PAGE, Search(limit=None)) == NEWEST_FIRST
    assert search_events(PAGE, Search(limit=2)) == [S5, S3]
    assert search_events(PAGE, Search(limit=0)) == []
    assert search_events(PAGE, Search(Term("hostname", "web1"))) == [S5, S3, S1]


def test_search_after_continues_within_equal_timestamps():
    assert search_events(PAGE, Search(limit=2, after=(T10, "0003"))) == [S2, S1]
    assert search_events(PAGE, Search(after=(T10, "0001"))) == [S4]
    assert search_events(PAGE, Search(after=(T9, "ffff"))) == []
    # the same instant written another way is the same position
    assert search_events(PAGE, Search(after=("2026-11-20T10:00:00Z", "0002"))) == [S1, S4]


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 6])
def test_paging_through_everything_returns_each_event_once_in_order(size):
    seen, after = [], None
    while True:
        page = search_events(PAGE, Search(limit=size, after=after))
        if not page:
            break
        seen.extend(page)
        after = (page[-1]["utctimestamp"], page[-1]["id"])
    assert seen == NEWEST_FIRST


def test_search_window_is_start_inclusive_end_exclusive():
    window = TimeWindow(
        start=datetime(2026, 11, 20, 10, tzinfo=UTC), end=datetime(2026, 11, 20, 11, tzinfo=UTC)
    )
    assert search_events(PAGE, Search(window=window)) == [S3, S2, S1]
    assert search_events(PAGE, Search(window=TimeWindow(start=datetime(2026, 11, 20, 11)))) == [S5]


def test_search_window_on_either_timestamp():
    window = TimeWindow(
        start=datetime(2026, 11, 20, 10, tzinfo=UTC),
        end=datetime(2026, 11, 20, 11, tzinfo=UTC),
        either_timestamp=True,
    )
    # S4 happened at 09:00 but was received at 10:30; it still sorts by utctimestamp
    assert search_events(PAGE, Search(window=window)) == [S3, S2, S1, S4]


def test_search_rejects_a_bad_after():
    with pytest.raises(QueryError, match="not a timestamp"):
        search_events(PAGE, Search(after=("yesterday", "0001")))


# -- aggregate_events -----------------------------------------------------------------------------------
A1 = _event("01", "2026-11-20T10:00:05.000000+00:00", hostname="web1", tags=["ssh", "ssh", "prod"], port=22)
A2 = _event("02", "2026-11-20T10:59:59.999999+00:00", hostname="web2", tags=["ssh"], port="22")
A3 = _event("03", "2026-11-20T11:00:00.000000+00:00", hostname="web1", tags=["aws"], port=[443, 8443.5, True])
A4 = _event("04", "2026-11-18T23:00:00.000000+00:00", hostname="db1", tags=[], port=None)
A5 = _event("05", "2026-11-20T11:00:00.000000+00:00", hostname="web1", tags=["prod"], port="x")
AGG_EVENTS = [A1, A2, A3, A4, A5]


def _agg(agg, query=None, window=None):
    return aggregate_events(AGG_EVENTS, Aggregate(query or MatchAll(), window or TimeWindow(), {"r": agg}))[
        "r"
    ]


def test_terms_counts_each_value_once_per_event_by_count_then_value():
    assert _agg(TermsAgg("tags", size=None)) == [
        {"value": "prod", "count": 2, "samples": []},
        {"value": "ssh", "count": 2, "samples": []},
        {"value": "aws", "count": 1, "samples": []},
    ]


def test_terms_size_min_count_and_samples_newest_first():
    assert _agg(TermsAgg("hostname", size=1, samples=2)) == [
        {"value": "web1", "count": 3, "samples": [A5, A3]},
    ]
    assert _agg(TermsAgg("hostname", min_count=2, samples=5)) == [
        {"value": "web1", "count": 3, "samples": [A5, A3, A1]},
    ]
    assert _agg(TermsAgg("nosuchfield")) == []


def test_terms_merge_equal_term_texts():
    # 22 and "22" are one value; True is "true", 8443.5 keeps its decimals
    assert [(b["value"], b["count"]) for b in _agg(TermsAgg("port", size=None))] == [
        ("22", 2),
        ("443", 1),
        ("8443.5", 1),
        ("true", 1),
        ("x", 1),
    ]


def test_terms_with_sub_aggregations():
    agg = TermsAgg("hostname", size=None, sub=TermsAgg("tags", sub=DistinctCount("port")))
    assert _agg(agg, query=Exists("tags")) == [
        {
            "value": "web1",
            "count": 3,
            "samples": [],
            "sub": [
                {"value": "prod", "count": 2, "samples": [], "sub": 2},
                {"value": "aws", "count": 1, "samples": [], "sub": 3},
                {"value": "ssh", "count": 1, "samples": [], "sub": 1},
            ],
        },
        {
            "value": "web2",
            "count": 1,
            "samples": [],
            "sub": [{"value": "ssh", "count": 1, "samples": [], "sub": 1}],
        },
    ]


def test_distinct_count():
    assert _agg(DistinctCount("hostname")) == 3
    assert _agg(DistinctCount("port")) == 5
    assert _agg(DistinctCount("tags"), query=Term("hostname", "web1")) == 3
    assert _agg(DistinctCount("nosuchfield")) == 0


def test_date_histogram_buckets_are_aligned_to_the_epoch():
    assert _agg(DateHistogram(3600)) == [
        {"start": "2026-11-18T23:00:00.000000+00:00", "count": 1},
        {"start": "2026-11-20T10:00:00.000000+00:00", "count": 2},
        {"start": "2026-11-20T11:00:00.000000+00:00", "count": 2},
    ]
    # 1970-01-01 was a Thursday: week buckets start on Thursdays
    assert _agg(DateHistogram(7 * 86400)) == [
        {"start": "2026-11-12T00:00:00.000000+00:00", "count": 1},
        {"start": "2026-11-19T00:00:00.000000+00:00", "count": 4},
    ]
    # 10:00:05 is 1795168805 s after the epoch, 3 past a multiple of 7
    assert _agg(DateHistogram(7), query=Term("id", "01")) == [
        {"start": "2026-11-20T10:00:02.000000+00:00", "count": 1}
    ]
    with pytest.raises(QueryError, match="positive"):
        _agg(DateHistogram(0))


def test_stats_over_numeric_values_only():
    assert _agg(Stats("port")) == {"count": 3, "min": 22.0, "max": 8443.5, "sum": 8908.5, "avg": 2969.5}
    assert _agg(Stats("port"), query=Term("hostname", "web2")) == {
        "count": 0,
        "min": None,
        "max": None,
        "sum": None,
        "avg": None,
    }


def test_aggregate_applies_query_and_window_and_names_results():
    window = TimeWindow(start=datetime(2026, 11, 20, tzinfo=UTC))
    result = aggregate_events(
        AGG_EVENTS,
        Aggregate(Term("tags", "ssh"), window, {"hosts": DistinctCount("hostname"), "ports": Stats("port")}),
    )
    assert result == {
        "hosts": 2,
        "ports": {"count": 1, "min": 22.0, "max": 22.0, "sum": 22.0, "avg": 22.0},
    }


def test_a_regex_gives_the_same_answers_when_values_come_back():
    # Regex answers are remembered per value (a stream repeats values): more distinct values than are
    # remembered, values too long to remember, each seen twice, must all be answered as the first time.
    from reynard.query.predicate import REMEMBERED, REMEMBERED_CHARS

    test = compile_predicate(Regex("details.arn", r".+:assumed-role/aws:.+"))
    values = [f"arn:aws:sts::{i}:assumed-role/{'aws' if i % 3 else 'app'}:x" for i in range(REMEMBERED * 2)]
    values.append("arn:aws:sts::1:assumed-role/aws:" + "x" * REMEMBERED_CHARS)
    expected = [":assumed-role/aws:" in value for value in values]
    for _ in range(2):
        assert [test({"details": {"arn": value}}) for value in values] == expected
