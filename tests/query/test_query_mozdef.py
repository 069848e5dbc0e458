"""MozDef's query models build the AST MozDef's semantics call for; SearchQuery builds the requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from reynard.query.ast import (
    Aggregate,
    Bool,
    Cidr,
    Exists,
    Match,
    MatchAll,
    Phrase,
    Range,
    Search,
    Term,
    Terms,
    TermsAgg,
    TimeWindow,
    Wildcard,
)
from reynard.query.errors import QueryError
from reynard.query.mozdef import (
    Aggregation,
    BooleanMatch,
    ExistsMatch,
    LessThanMatch,
    PhraseMatch,
    QueryStringMatch,
    RangeMatch,
    SearchQuery,
    SubnetMatch,
    TermMatch,
    TermsMatch,
    WildcardMatch,
)
from reynard.query.predicate import compile_predicate

NOW = datetime(2017, 1, 1, 1, 0, tzinfo=UTC)  # the time MozDef's alert tests freeze

MODELS = [
    (TermMatch("category", "authentication"), Term("category", "authentication")),
    (TermMatch("details.sourceIPAddress", "1.2.3.4"), Term("details.sourceipaddress", "1.2.3.4")),
    (TermMatch("details.success", False), Term("details.success", False)),
    (TermMatch("details.destinationport", 22), Term("details.destinationport", 22)),
    (TermMatch("summary", "Failed password"), Match("summary", "Failed password", "or")),
    (TermMatch("Summary", 22.0), Match("summary", "22", "or")),
    (TermsMatch("hostname", ["sensor1", "sensor2"]), Terms("hostname", ("sensor1", "sensor2"))),
    (TermsMatch("summary", ["login", "invalid"]), Terms("summary", ("login", "invalid"))),
    (TermMatch("summary", "10.1.2.3"), Phrase("summary", "10.1.2.3")),
    (
        TermMatch("summary", "failed from 10.1.2.3"),
        Bool(should=(Phrase("summary", "10.1.2.3"), Match("summary", "failed from")), minimum_should_match=1),
    ),
    (TermsMatch("summary", ["host.example.com"]), Phrase("summary", "host.example.com")),
    (TermsMatch("details.port", (22, 2222)), Terms("details.port", (22, 2222))),
    (TermsMatch("hostname", []), Terms("hostname", ())),
    (PhraseMatch("summary", "session opened"), Phrase("summary", "session opened")),
    (PhraseMatch("details.program", "sshd"), Phrase("details.program", "sshd")),
    (WildcardMatch("details.dev", "veth*"), Wildcard("details.dev", "veth*")),
    (ExistsMatch("details.sourceIPAddress"), Exists("details.sourceipaddress")),
    (QueryStringMatch("details.sourceipaddress: 10.0.0.0/8"), Cidr("details.sourceipaddress", "10.0.0.0/8")),
    (QueryStringMatch('summary:"session opened"'), Phrase("summary", "session opened")),
    (
        RangeMatch("utctimestamp", "2017-01-01T00:00:00+00:00", "2017-01-01T01:00:00+00:00"),
        Range("utctimestamp", gte="2017-01-01T00:00:00+00:00", lte="2017-01-01T01:00:00+00:00"),
    ),
    (RangeMatch("details.bytes", 10, 20), Range("details.bytes", gte=10, lte=20)),
    (RangeMatch("details.bytes", 10, None), Range("details.bytes", gte=10)),
    (
        RangeMatch("receivedtimestamp", datetime(2017, 1, 1), NOW),
        Range("receivedtimestamp", gte=datetime(2017, 1, 1, tzinfo=UTC), lte=NOW),
    ),
    (
        LessThanMatch("utctimestamp", "2016-12-31T01:00:00+00:00"),
        Range("utctimestamp", lt="2016-12-31T01:00:00+00:00"),
    ),
    (SubnetMatch("details.sourceipaddress", "10.0.0.0/8"), Cidr("details.sourceipaddress", "10.0.0.0/8")),
    (
        SubnetMatch("details.sourceipaddress", "192.168.1.7/24"),
        Cidr("details.sourceipaddress", "192.168.1.0/24"),
    ),
    (
        SubnetMatch("details.sourceipaddress", "2001:db8::/32"),
        Cidr("details.sourceipaddress", "2001:db8::/32"),
    ),
    (BooleanMatch(), Bool()),
    (BooleanMatch(must=[TermMatch("a", "1")]), Bool(must=(Term("a", "1"),))),
    (BooleanMatch(must=TermMatch("a", "1")), Bool(must=(Term("a", "1"),))),
    (
        BooleanMatch(must=[TermMatch("a", "1")], must_not=[ExistsMatch("b")], should=[TermMatch("c", "2")]),
        Bool(
            must=(Term("a", "1"),), must_not=(Exists("b"),), should=(Term("c", "2"),), minimum_should_match=1
        ),
    ),
    (
        BooleanMatch(should=[TermMatch("c", "2"), TermMatch("c", "3")]),
        Bool(should=(Term("c", "2"), Term("c", "3")), minimum_should_match=1),
    ),
    (Aggregation("details.sourceIPAddress"), TermsAgg("details.sourceipaddress", size=20)),
    (Aggregation("hostname", aggregation_size=5), TermsAgg("hostname", size=5)),
]


@pytest.mark.parametrize(("built", "expected"), MODELS, ids=[repr(e)[:60] for _, e in MODELS])
def test_model_builds_the_ast(built, expected):
    assert built == expected


BAD_MODELS = [
    (lambda: TermMatch("", "x"), "takes a field name"),
    (lambda: TermMatch(None, "x"), "takes a field name"),
    (lambda: TermMatch("a", None), "string, number or boolean"),
    (lambda: TermMatch("a", ["x"]), "string, number or boolean"),
    (lambda: TermMatch("summary", {"x": 1}), "string, number or boolean"),
    (lambda: TermsMatch("a", "sensor1"), "takes a list of values"),
    (lambda: TermsMatch("a", ["x", None]), "string, number or boolean"),
    (lambda: WildcardMatch("a", 5), "pattern string"),
    (lambda: RangeMatch("utctimestamp", "now-1d", "now"), "bounds are numbers, timestamps"),
    (lambda: RangeMatch("details.x", True, 5), "bounds are numbers, timestamps"),
    (lambda: LessThanMatch("details.x", "abc"), "bounds are numbers, timestamps"),
    (lambda: SubnetMatch("details.sourceipaddress", "10.0.0.0/33"), "takes a network"),
    (lambda: SubnetMatch("details.sourceipaddress", None), "takes a network"),
    (lambda: QueryStringMatch("details.x:("), "unbalanced parenthesis"),
    (lambda: BooleanMatch(must=["category:authentication"]), "takes query models"),
    (lambda: Aggregation("hostname", 0), "positive integer"),
    (lambda: Aggregation("hostname", "20"), "positive integer"),
    (lambda: SearchQuery(15), "timedelta arguments"),
    (lambda: SearchQuery(minutes="15"), "timedelta arguments"),
    (lambda: SearchQuery(mins=15), "timedelta arguments"),
    (lambda: SearchQuery(minutes=-15), "must not be negative"),
    (lambda: SearchQuery(minutes=1).add_must("summary:failed"), "takes query models"),
    (lambda: SearchQuery(minutes=1).add_aggregation("hostname"), "takes Aggregation(field)"),
    (lambda: SearchQuery(minutes=1).to_search(NOW), "needs a must, must_not or should clause"),
    (lambda: SearchQuery().to_aggregate(NOW), "needs a must, must_not or should clause"),
    (lambda: _one_clause(SearchQuery(minutes=1)).to_search(datetime(2017, 1, 1)), "timezone-aware"),
]


def _one_clause(search_query: SearchQuery) -> SearchQuery:
    search_query.add_must(TermMatch("category", "x"))
    return search_query


@pytest.mark.parametrize(("build", "fragment"), BAD_MODELS, ids=[f for _, f in BAD_MODELS])
def test_bad_model_arguments_are_query_errors(build, fragment):
    with pytest.raises(QueryError) as caught:
        build()
    assert fragment in str(caught.value)


# -- SearchQuery ----------------------------------------------------------------------------------------
WINDOWS = [
    ({"minutes": 15}, datetime(2017, 1, 1, 0, 45, tzinfo=UTC)),
    ({"hours": 24}, datetime(2016, 12, 31, 1, 0, tzinfo=UTC)),
    ({"days": 10}, datetime(2016, 12, 22, 1, 0, tzinfo=UTC)),
    ({"seconds": 10}, datetime(2017, 1, 1, 0, 59, 50, tzinfo=UTC)),
    ({"hours": 1, "minutes": 30}, datetime(2016, 12, 31, 23, 30, tzinfo=UTC)),
    ({"minutes": 0}, NOW),
]


@pytest.mark.parametrize(("delta", "start"), WINDOWS, ids=[str(d) for d, _ in WINDOWS])
def test_search_window_starts_delta_before_now_on_either_timestamp(delta, start):
    search_query = _one_clause(SearchQuery(**delta))
    window = search_query.to_search(NOW).window
    assert window == TimeWindow(start=start, end=None, either_timestamp=True)


def test_search_window_with_a_dict_argument_as_mozdef_plugins_write_it():
    search_query = _one_clause(SearchQuery({"hours": 1}))
    assert search_query.to_search(NOW).window.start == datetime(2017, 1, 1, 0, 0, tzinfo=UTC)


def test_search_without_delta_has_no_window():
    assert _one_clause(SearchQuery()).to_search(NOW).window == TimeWindow()


def test_search_now_in_another_zone_is_taken_in_utc():
    now = datetime(2017, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=1)))
    window = _one_clause(SearchQuery(minutes=15)).to_search(now).window
    assert window.start == datetime(2017, 1, 1, 0, 45, tzinfo=UTC)
    assert window.start.tzinfo == UTC


def test_search_collects_clauses_one_or_a_list_at_a_time():
    """bruteforce_ssh's query, as MozDef wrote it, and the dedup filter AlertTask adds."""
    search_query = SearchQuery(minutes=2)
    search_query.add_must(
        [
            PhraseMatch("summary", "failed"),
            TermMatch("details.program", "sshd"),
            TermsMatch("summary", ["login", "invalid", "ldap_count_entries", "publickey", "keyboard"]),
        ]
    )
    search_query.add_must_not(PhraseMatch("summary", "10.22.75.203"))
    search_query.add_must_not(TermMatch("alert_names", "AlertBruteforceSsh"))
    search = search_query.to_search(NOW)
    assert search == Search(
        query=Bool(
            must=(
                Phrase("summary", "failed"),
                Term("details.program", "sshd"),
                Bool(
                    should=(
                        Phrase("summary", "ldap_count_entries"),  # one word, three summary tokens
                        Terms("summary", ("login", "invalid", "publickey", "keyboard")),
                    ),
                    minimum_should_match=1,
                ),
            ),
            must_not=(Phrase("summary", "10.22.75.203"), Term("alert_names", "AlertBruteforceSsh")),
        ),
        window=TimeWindow(start=datetime(2017, 1, 1, 0, 58, tzinfo=UTC), either_timestamp=True),
        limit=None,
    )


def test_search_should_clauses_are_required_next_to_must_clauses():
    """proxy_exfil_domains: category must be proxy and the host one of the domains (ES 6 filter context)."""
    search_query = SearchQuery(minutes=20)
    search_query.add_must([TermMatch("category", "proxy")])
    for domain in ("pastebin.com", "mega.nz"):
        search_query.add_should([TermMatch("details.host", domain)])
    query = search_query.to_search(NOW).query
    assert query == Bool(
        must=(Term("category", "proxy"),),
        should=(Term("details.host", "pastebin.com"), Term("details.host", "mega.nz")),
        minimum_should_match=1,
    )
    assert query.required_should() == 1


def test_search_limit_is_passed_through():
    assert _one_clause(SearchQuery(minutes=1)).to_search(NOW, limit=5).limit == 5


def test_search_keeps_mozdef_attributes():
    search_query = SearchQuery(hours=1)
    search_query.add_must([TermMatch("a", "1"), TermMatch("b", "2")])
    search_query.add_aggregation(Aggregation("hostname"))
    assert search_query.date_timedelta == {"hours": 1}
    assert search_query.must == [Term("a", "1"), Term("b", "2")]
    assert search_query.must_not == [] and search_query.should == []
    assert search_query.aggregation == [TermsAgg("hostname", size=20)]


def test_aggregate_keys_aggregations_by_field():
    search_query = SearchQuery(minutes=15)
    search_query.add_must(ExistsMatch("details.sourceipaddress"))
    search_query.add_aggregation([Aggregation("details.sourceipaddress"), Aggregation("hostname", 5)])
    assert search_query.to_aggregate(NOW) == Aggregate(
        query=Bool(must=(Exists("details.sourceipaddress"),)),
        window=TimeWindow(start=datetime(2017, 1, 1, 0, 45, tzinfo=UTC), either_timestamp=True),
        aggs={
            "details.sourceipaddress": TermsAgg("details.sourceipaddress", size=20),
            "hostname": TermsAgg("hostname", size=5),
        },
    )


def test_aggregation_alone_is_a_valid_query_over_everything():
    search_query = SearchQuery(minutes=15)
    search_query.add_aggregation(Aggregation("hostname"))
    aggregate = search_query.to_aggregate(NOW)
    assert aggregate.query == Bool()
    assert aggregate.query.required_should() == 0  # an empty Bool matches every event


# -- elasticsearch-dsl's operators, as MozDef's alerts use them --------------------------------------------
def test_models_combine_with_or_and_plus_and_not():
    """ssh_access_signreleng-style `|=`, exclusions joined with `+`, and `~`: plain AST nodes result."""
    summary_query = PhraseMatch("summary", "Accepted publickey for ")
    summary_query |= PhraseMatch("summary", "Accepted keyboard-interactive/pam for ")
    assert summary_query == Bool(
        should=(
            Phrase("summary", "Accepted publickey for "),
            Phrase("summary", "Accepted keyboard-interactive/pam for "),
        ),
        minimum_should_match=1,
    )
    summary_query |= TermMatch("hostname", "h")  # one should list, not nested
    assert len(summary_query.should) == 3
    exclusion = PhraseMatch("details.username", "ann") + PhraseMatch("details.sourceipaddress", "10.0.0.1")
    exclusion = exclusion + TermMatch("hostname", "h")
    assert exclusion == Bool(
        must=(
            Phrase("details.username", "ann"),
            Phrase("details.sourceipaddress", "10.0.0.1"),
            Term("hostname", "h"),
        )
    )
    assert (TermMatch("a", "1") & ~TermMatch("b", "2")) == Bool(
        must=(Term("a", "1"),), must_not=(Term("b", "2"),)
    )
    assert ~ExistsMatch("x") == Bool(must=(MatchAll(),), must_not=(Exists("x"),))


def test_combined_models_match_as_elasticsearch_did():
    either = PhraseMatch("summary", "session opened for ann") | PhraseMatch(
        "summary", "session opened for bob"
    )
    both_not = ~(TermMatch("hostname", "a") + TermMatch("details.username", "root"))
    events = [
        {"summary": "session opened for bob", "hostname": "a", "details": {"username": "root"}},
        {"summary": "session opened for bob", "hostname": "b", "details": {"username": "root"}},
        {"summary": "session opened for carol", "hostname": "b", "details": {}},
    ]
    test = compile_predicate(Bool(must=(either, both_not)))
    assert [test(e) for e in events] == [False, True, False]


def test_combined_models_are_equal_hash_and_pickle_as_plain_nodes():
    import pickle

    assert TermMatch("a", "1") == Term("a", "1") and Term("a", "1") == TermMatch("a", "1")
    assert hash(TermMatch("a", "1")) == hash(Term("a", "1"))
    assert ExistsMatch("x") in [Exists("x")]
    assert TermMatch("a", "1") != Term("a", "2") and TermMatch("a", "1") != Exists("a")
    assert pickle.loads(pickle.dumps(TermMatch("a", "1") | TermMatch("b", "2"))) == Bool(
        should=(Term("a", "1"), Term("b", "2")), minimum_should_match=1
    )
    with pytest.raises(QueryError, match="combine with other query nodes"):
        TermMatch("a", "1") | "b:2"


def test_a_word_of_several_summary_tokens_is_not_any_of_them():
    """`10.88.77.54` in a query is that address, not every summary with a `10` in it."""
    scan = {"summary": "Scan::Address_Scan source 10.252.25.90 destination unknown"}
    login = {"summary": "Accepted publickey for ann from 10.88.77.54 port 22"}
    for node in (QueryStringMatch("10.88.77.54"), TermMatch("summary", "10.88.77.54")):
        test = compile_predicate(node)
        assert (test(scan), test(login)) == (False, True)
