"""Hypothesis strategies for query tests: MozDef events and query ASTs drawn from the same small pools.

Events and queries share their values (hostnames, words, ports, addresses, times) so that a random query
matches some random events often; a query over values no event has would test only "nothing matches".
The pools hold the cases backends get wrong: 22 vs "22" vs 22.0, case variants ("root"/"Root"), lists
of scalars and of objects, nulls and empty lists, numbers next to numeric strings, IPv4, IPv6 and
IPv4-mapped IPv6, equal timestamps (for pagination ties). Summaries are ASCII only; tokenizer edge cases
have their own tests.

Entry points: `events()`, `event_lists()` (unique ids), `queries(max_depth)`, `searches()`,
`aggregates()`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from reynard.events.timestamps import isoformat
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
from reynard.query.values import term_text

# -- pools ----------------------------------------------------------------------------------------------
SOURCES = ["cloudtrail", "syslog", "vpcflow", "guardduty"]
CATEGORIES = ["AwsApiCall", "authentication", "Authentication", "vpcflow", "guardduty"]
HOSTNAMES = ["web1", "web2", "Web1", "db1", "bastion.example.com"]
PROCESSNAMES = ["sshd", "cloudtrail", "kernel", "sudo"]
PROCESSIDS = ["UNKNOWN", "22", "1234", "4242"]
SEVERITIES = ["INFO", "WARNING", "ERROR", "NOTICE"]
TYPES = ["event", "alert"]
TAGS = ["ssh", "aws", "prod", "Prod", "tz-assumed-utc", "22"]
PLUGINS = ["lower_keys", "ipfixup", "geoip", "cloudtrail"]
MOZDEFHOSTNAMES = ["reynard1", "reynard2"]

WORDS = [
    "Failed", "failed", "password", "for", "root", "Root", "from", "Accepted", "publickey", "invalid",
    "user", "admin", "session", "opened", "closed", "port", "22", "ssh2", "ConsoleLogin",
    "DescribeInstances", "1.2.3.4", "10.0.0.1", "error", "ERROR", "web1", "db1",
]  # fmt: skip
PUNCTUATION = ["", "", "", ":", ",", ".", "[", "]", "'", "=", "-", "(", ")", "!"]

STRINGS = ["root", "Root", "admin", "alice", "22", "443", "22.0", "true", "ConsoleLogin", "DescribeInstances",
           "", "web1", "10.0.0.1", "arn:aws:iam::123456789012:user/alice", "IAMUser", "Root"]  # fmt: skip
INTS = [0, 1, 22, 443, -1, 3389, 65535]
FLOATS = [22.0, 0.5, 1.5, -2.25, 443.0, 1e-7]
IPV4 = [
    "10.0.0.1",
    "10.0.0.2",
    "10.1.2.3",
    "192.168.1.10",
    "1.2.3.4",
    "8.8.8.8",
    "0.0.0.0",
    "255.255.255.255",
]
IPV6 = ["2001:db8::1", "2001:db8::2", "2001:db8:1::5", "fe80::1", "::1", "::ffff:10.0.0.1"]
IPV6_BOUNDS = [ip for ip in IPV6 if not ip.startswith("::ffff:")]  # a mapped address is IPv4 in a range
NETWORKS = ["10.0.0.0/8", "10.0.0.0/24", "10.0.0.1/32", "192.168.0.0/16", "1.2.3.0/24", "0.0.0.0/0",
            "2001:db8::/32", "2001:db8::/64", "fe80::/10", "::/0", "10.0.0.7/8"]  # fmt: skip

START = datetime(2026, 11, 18, tzinfo=UTC)
END = datetime(2026, 11, 21, 23, 59, 59, tzinfo=UTC)
# A few fixed moments so that equal timestamps (pagination ties, shared histogram buckets) are common.
MOMENTS = [
    datetime(2026, 11, 19, 12, 0, tzinfo=UTC),
    datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
    datetime(2026, 11, 20, 10, 0, 0, 500_000, tzinfo=UTC),
    datetime(2026, 11, 20, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2026, 11, 21, 0, 0, tzinfo=UTC),
]

WILDCARDS = ["*root*", "ro?t", "10.0.*", "*Login", "Fail*", "*", "?", "*password*for*", "web?",
             "*.example.com", "2?", "*:*", "", "*2*2*", "*thentication", "AwsApi*", "ssh*", "?NFO", "i-?",
             "*example*", "*a*"]  # fmt: skip
REGEXES = [".*root.*", "[a-z]+", r"10\.0\..*", "web[0-9]", ".*[Pp]assword.*", r"\d+", "Failed.*",
           "(?:admin|root)", r"(\d{1,3}\.){3}\d{1,3}", "", ".*"]  # fmt: skip

SUBKEYS = ["arn", "type", "username", "items", "instanceid", "name", "value"]

KEYWORD_FIELDS = [
    "category", "source", "hostname", "processname", "processid", "severity", "type", "tags", "plugins",
    "mozdefhostname", "details.username", "details.eventname", "details.success", "details.error",
    "details.destinationport", "details.sourceport", "details.tags", "details.useridentity.arn",
    "details.useridentity.type", "details.useridentity.username",
    "details.requestparameters.items.instanceid", "details.extra", "details.extra.name",
    "details.nosuchfield", "nosuchfield",
]  # fmt: skip
NUMERIC_FIELDS = [
    "details.sourceport",
    "details.destinationport",
    "details.count",
    "details.ratio",
    "processid",
]
TIME_FIELDS = ["utctimestamp", "receivedtimestamp", "details.eventtime"]
# Pairs of fields whose values meet often: 22 vs "22" vs 22.0, "root" vs "Root", lists, addresses.
FIELD_REFS = [
    ("details.username", "details.useridentity.username"),
    ("details.username", "details.useridentity.arn"),
    ("details.sourceport", "details.destinationport"),
    ("details.sourceport", "processid"),
    ("details.sourceipaddress", "details.destinationipaddress"),
    ("ip", "details.extra"),
    ("details.tags", "tags"),
    ("hostname", "details.extra.name"),
    ("details.error", "details.username"),
    ("summary", "details.username"),
    ("details.count", "details.nosuchfield"),
]
# Parts of the pool's moments (MOMENTS and the START..END range), so that time parts match often.
TIME_PARTS = {
    "minute": [0, 30, 59],
    "hour": [0, 10, 12, 23],
    "day": [18, 19, 20, 21],
    "week": [47, 48],
    "month": [11, 12],
    "year": [2026, 2025],
}
IP_FIELDS = ["details.sourceipaddress", "details.destinationipaddress", "details.extra", "ip"]


# -- events ---------------------------------------------------------------------------------------------
def moments() -> st.SearchStrategy[datetime]:
    return st.one_of(
        st.sampled_from(MOMENTS),
        st.datetimes(START.replace(tzinfo=None), END.replace(tzinfo=None), timezones=st.just(UTC)),
    )


def scalars() -> st.SearchStrategy:
    return st.one_of(st.sampled_from(STRINGS), st.sampled_from(INTS), st.sampled_from(FLOATS), st.booleans())


def detail_values() -> st.SearchStrategy:
    """Any JSON a details key may hold: scalars, nulls, lists (of objects too) and nested objects."""
    return st.recursive(
        st.one_of(scalars(), st.none()),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(st.sampled_from(SUBKEYS), inner, max_size=3),
        ),
        max_leaves=6,
    )


def summaries() -> st.SearchStrategy[str]:
    word = st.tuples(st.sampled_from(PUNCTUATION), st.sampled_from(WORDS), st.sampled_from(PUNCTUATION))
    return st.lists(word.map("".join), min_size=1, max_size=10).map(" ".join)


def _ips() -> st.SearchStrategy[str]:
    return st.sampled_from(IPV4 + IPV6)


def details() -> st.SearchStrategy[dict]:
    ports = st.one_of(st.sampled_from(INTS), st.sampled_from(["22", "443"]), st.sampled_from(FLOATS))
    event_times = st.one_of(moments().map(isoformat), st.sampled_from(["2026-11-20", "not a time", "22"]))
    return st.fixed_dictionaries(
        {},
        optional={
            "sourceipaddress": _ips(),
            "destinationipaddress": _ips(),
            "sourceport": ports,
            "destinationport": ports,
            "username": st.one_of(st.sampled_from(STRINGS), st.none()),
            "eventname": st.sampled_from(["ConsoleLogin", "DescribeInstances", "PutObject"]),
            "success": st.one_of(st.booleans(), st.sampled_from(["true", "false"])),
            "error": st.one_of(st.none(), st.sampled_from(STRINGS)),
            "count": st.one_of(st.sampled_from(INTS), st.sampled_from(FLOATS), st.sampled_from(["22"])),
            "ratio": st.sampled_from(FLOATS),
            "eventtime": event_times,
            "tags": st.lists(st.sampled_from(TAGS), max_size=3),
            "useridentity": st.fixed_dictionaries(
                {},
                optional={
                    "arn": st.sampled_from(STRINGS),
                    "type": st.sampled_from(["IAMUser", "Root", "AssumedRole"]),
                    "username": st.sampled_from(STRINGS),
                },
            ),
            "requestparameters": st.fixed_dictionaries(
                {
                    "items": st.lists(
                        st.fixed_dictionaries({"instanceid": st.sampled_from(["i-1", "i-2", "i-3"])}),
                        max_size=3,
                    )
                }
            ),
            "extra": detail_values(),
        },
    )


@st.composite
def events(draw: st.DrawFn) -> dict:
    """One stored MozDef event (the shape `reynard.events.event.finalize` produces)."""
    moment = draw(moments())
    received = moment + draw(st.sampled_from([timedelta(0), timedelta(seconds=1), timedelta(hours=30)]))
    utc = isoformat(moment)
    return {
        "id": draw(st.binary(min_size=16, max_size=16)).hex(),
        "utctimestamp": utc,
        "timestamp": utc,
        "receivedtimestamp": isoformat(received),
        "category": draw(st.sampled_from(CATEGORIES)),
        "source": draw(st.sampled_from(SOURCES)),
        "hostname": draw(st.sampled_from(HOSTNAMES)),
        "processname": draw(st.sampled_from(PROCESSNAMES)),
        "processid": draw(st.sampled_from(PROCESSIDS)),
        "severity": draw(st.sampled_from(SEVERITIES)),
        "summary": draw(summaries()),
        "tags": draw(st.lists(st.sampled_from(TAGS), max_size=3)),
        "type": draw(st.sampled_from(TYPES)),
        "plugins": draw(st.lists(st.sampled_from(PLUGINS), max_size=3, unique=True)),
        "mozdefhostname": draw(st.sampled_from(MOZDEFHOSTNAMES)),
        "details": draw(details()),
    }


def event_lists(min_size: int = 0, max_size: int = 30) -> st.SearchStrategy[list[dict]]:
    """Events with distinct ids, as a store holds them."""
    return st.lists(events(), min_size=min_size, max_size=max_size, unique_by=lambda e: e["id"])


# -- queries --------------------------------------------------------------------------------------------
def _ci() -> st.SearchStrategy[bool]:
    return st.booleans()


def _summary_text() -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from([*WORDS, "nosuchword", "!!"]), min_size=1, max_size=3).map(" ".join)


def _term_values() -> st.SearchStrategy:
    return st.one_of(scalars(), st.sampled_from(HOSTNAMES + CATEGORIES + TAGS + SOURCES + ["IAMUser", "i-2"]))


def _field_values() -> dict[str, list]:
    """Each keyword field with the values its events hold, so that terms on it match often."""
    ports = INTS + FLOATS + ["22", "443"]
    return {
        "category": CATEGORIES,
        "source": SOURCES,
        "hostname": HOSTNAMES,
        "processname": PROCESSNAMES,
        "processid": [*PROCESSIDS, 22, 1234],
        "severity": SEVERITIES,
        "type": TYPES,
        "tags": [*TAGS, 22],
        "plugins": PLUGINS,
        "mozdefhostname": MOZDEFHOSTNAMES,
        "details.username": STRINGS,
        "details.eventname": ["ConsoleLogin", "DescribeInstances", "PutObject"],
        "details.success": [True, False, "true", "false"],
        "details.sourceport": ports,
        "details.destinationport": ports,
        "details.tags": TAGS,
        "details.useridentity.type": ["IAMUser", "Root", "AssumedRole"],
        "details.useridentity.arn": STRINGS,
        "details.requestparameters.items.instanceid": ["i-1", "i-2", "i-3"],
    }


@st.composite
def _field_and_values(draw: st.DrawFn, min_size: int, max_size: int) -> tuple[str, tuple]:
    """A keyword field and values for it: mostly its own pool, sometimes anything (to miss)."""
    pools = _field_values()
    field = draw(st.sampled_from(sorted(pools) + KEYWORD_FIELDS))
    values = st.sampled_from(pools[field]) if field in pools and draw(st.integers(0, 3)) else _term_values()
    return field, tuple(draw(st.lists(values, min_size=min_size, max_size=max_size)))


def _ftv(node: type, min_size: int, max_size: int, single: bool, extra: st.SearchStrategy):
    """`node(field, value_or_values, *extra)` over `_field_and_values`; Match and Phrase get text."""
    as_text = node in (Match, Phrase)

    def build(pair: tuple[str, tuple], more: tuple) -> object:
        field, values = pair
        value = values[0] if single else values
        return node(field, term_text(value) if as_text else value, *more)

    return st.builds(build, _field_and_values(min_size, max_size), extra)


def _number_bounds() -> st.SearchStrategy:
    return st.one_of(st.sampled_from(INTS), st.sampled_from(FLOATS), st.sampled_from(["22", "443.5", "-1"]))


def _time_bounds() -> st.SearchStrategy:
    return st.one_of(
        moments(),
        moments().map(isoformat),
        st.sampled_from(["2026-11-20", "2026-11-20T10:00:00Z", "2026-11-20T12:00:00+02:00"]),
    )


@st.composite
def ranges(draw: st.DrawFn) -> Range:
    """A range with one to four bounds of one kind (sometimes inverted, so it matches nothing)."""
    kind = draw(st.sampled_from(["number", "time", "ip"]))
    if kind == "number":
        field, bounds = draw(st.sampled_from(NUMERIC_FIELDS)), _number_bounds()
    elif kind == "time":
        field, bounds = draw(st.sampled_from(TIME_FIELDS)), _time_bounds()
    else:
        field, bounds = (
            draw(st.sampled_from(IP_FIELDS)),
            st.sampled_from(draw(st.sampled_from([IPV4, IPV6_BOUNDS]))),
        )
    names = draw(st.lists(st.sampled_from(["gte", "gt", "lte", "lt"]), min_size=1, max_size=4, unique=True))
    return Range(field=field, **{name: draw(bounds) for name in names})


def leaf_strategies() -> dict[type, st.SearchStrategy]:
    """A strategy per leaf node kind, over the event pools (tests ask for one kind at a time)."""
    keyword = st.sampled_from(KEYWORD_FIELDS)
    text_fields = st.sampled_from([*KEYWORD_FIELDS, "summary"])
    operators = st.sampled_from(["or", "and"])
    return {
        Term: st.one_of(
            _ftv(Term, 1, 1, True, st.tuples(_ci())),
            st.builds(Term, st.just("summary"), st.sampled_from(WORDS), _ci()),
            st.builds(Term, st.sampled_from(IP_FIELDS), st.sampled_from(IPV4 + IPV6 + ["nonsense"]), _ci()),
        ),
        Terms: st.one_of(
            _ftv(Terms, 1, 3, False, st.tuples(_ci())),
            st.builds(Terms, keyword, st.lists(_term_values(), max_size=3).map(tuple), _ci()),
            st.builds(Terms, st.just("summary"), st.lists(st.sampled_from(WORDS), max_size=3).map(tuple)),
        ),
        Match: st.one_of(
            st.builds(Match, st.just("summary"), _summary_text(), operators),
            _ftv(Match, 1, 1, True, st.tuples(operators)),
        ),
        Phrase: st.one_of(
            st.builds(Phrase, st.just("summary"), _summary_text()),
            _ftv(Phrase, 1, 1, True, st.just(())),
        ),
        Wildcard: st.builds(Wildcard, text_fields, st.sampled_from(WILDCARDS), _ci()),
        Regex: st.builds(Regex, text_fields, st.sampled_from(REGEXES), _ci(), st.booleans(), st.booleans()),
        Prefix: st.builds(
            Prefix, text_fields, st.sampled_from(["ro", "Ro", "10.", "web", "", "Fail"]), _ci()
        ),
        Suffix: st.builds(Suffix, text_fields, st.sampled_from(["ot", "OT", "Login", ".1", "", "2"]), _ci()),
        Contains: st.builds(
            Contains, text_fields, st.sampled_from(["oo", "password for", "0.0", "", "T"]), _ci()
        ),
        Exists: st.builds(Exists, st.sampled_from([*KEYWORD_FIELDS, *IP_FIELDS, *TIME_FIELDS, "details"])),
        Range: ranges(),
        Cidr: st.builds(Cidr, st.sampled_from(IP_FIELDS), st.sampled_from(NETWORKS)),
        FieldRef: st.builds(
            lambda pair, ci, flip: FieldRef(*(pair[::-1] if flip else pair), ci),
            st.sampled_from(FIELD_REFS),
            _ci(),
            st.booleans(),
        ),
        TimePart: st.sampled_from(sorted(TIME_PARTS)).flatmap(
            lambda part: st.builds(
                TimePart,
                st.sampled_from([*TIME_FIELDS, "details.extra", "summary"]),
                st.just(part),
                st.sampled_from(TIME_PARTS[part]),
            )
        ),
        MatchAll: st.just(MatchAll()),
    }


def leaf_queries() -> st.SearchStrategy:
    """Every leaf node kind."""
    return st.one_of(*leaf_strategies().values())


def queries(max_depth: int = 3) -> st.SearchStrategy:
    """Query ASTs of every node kind, `Bool` nested up to `max_depth` levels."""
    if max_depth <= 0:
        return leaf_queries()
    inner = queries(max_depth - 1)
    clauses = st.lists(inner, max_size=3).map(tuple)
    bools = st.builds(Bool, clauses, clauses, clauses, st.one_of(st.none(), st.integers(0, 3)))
    return st.one_of(leaf_queries(), bools)


# -- requests -------------------------------------------------------------------------------------------
def windows() -> st.SearchStrategy[TimeWindow]:
    return st.builds(
        TimeWindow, st.one_of(st.none(), moments()), st.one_of(st.none(), moments()), st.booleans()
    )


def searches(max_depth: int = 2) -> st.SearchStrategy[Search]:
    after = st.one_of(
        st.none(),
        st.tuples(moments().map(isoformat), st.binary(min_size=16, max_size=16).map(bytes.hex)),
        st.tuples(moments().map(isoformat), st.sampled_from(["0" * 32, "f" * 32, "8" + "0" * 31])),
    )
    limits = st.one_of(st.none(), st.integers(0, 20))
    return st.builds(Search, queries(max_depth), windows(), limits, after)


def _simple_aggs() -> st.SearchStrategy:
    return st.one_of(
        st.builds(DistinctCount, st.sampled_from(KEYWORD_FIELDS)),
        st.builds(DateHistogram, st.sampled_from([1, 7, 60, 900, 3600, 86400, 7 * 86400])),
        st.builds(Stats, st.sampled_from([*NUMERIC_FIELDS, "details.extra", "details.success"])),
    )


def _terms_aggs(sub: st.SearchStrategy) -> st.SearchStrategy[TermsAgg]:
    return st.builds(
        TermsAgg,
        st.sampled_from(KEYWORD_FIELDS),
        st.one_of(st.none(), st.integers(1, 5)),
        st.integers(1, 3),
        st.integers(0, 3),
        st.one_of(st.none(), sub),
    )


def aggs() -> st.SearchStrategy:
    """Any aggregation; a terms aggregation may hold one level of sub-aggregation."""
    return st.one_of(_simple_aggs(), _terms_aggs(st.one_of(_simple_aggs(), _terms_aggs(st.none()))))


def aggregates(max_depth: int = 2) -> st.SearchStrategy[Aggregate]:
    named = st.dictionaries(
        st.sampled_from(["a", "b", "by_host", "per_hour"]), aggs(), min_size=1, max_size=3
    )
    return st.builds(Aggregate, queries(max_depth), windows(), named)


# -- query strings, valid or not (for "parses or is a QueryError" properties) -----------------------------
_QUERY_FIELDS = ["details.n", "summary", "hostname", "utctimestamp", "ip", "details.g",
                 "details.sourceipaddress", "_exists_", "*", "details.*", "Details.N"]  # fmt: skip
_QUERY_VALUES = [
    "1", "-5", "1.5", "1e400", "-1e400", "1e309", "9" * 25, "9" * 400, "123456789012345678901234567890",
    "0x10", "1_000", "nan", "inf", "Infinity", "-0", ".5", "5.", "1e-400", "2026-11-20", "2026-13-45T99:00",
    "2026-11-20T10:00:00Z", '"2026-11-20T10:00:00+00:00"', "10.0.0.1", "10.0.0.0/8", "10.0.0.0/33", "::1",
    '"::1/129"', "/(a|a)*c/", "/(a)\\1/", "/[/", "/a(?=b)/", "/\\/x/", "a*", "?", "*", "fo?o*", '"a b"',
    "\\:", "now-1d", "web1", "", "'x'", "\\", "TO", "\\*",
]  # fmt: skip
_QUERY_GLUE = [" ", " AND ", " OR ", " NOT ", " && ", " || ", " !", " +", " -", "(", ")", "^2", "~", ":", ">",
               ">=", "<", "<=", "[", "]", "{", "}", " TO ", '"']  # fmt: skip


@st.composite
def _query_clause(draw: st.DrawFn) -> str:
    field = draw(st.sampled_from(_QUERY_FIELDS))
    if draw(st.booleans()):
        low, high = draw(st.sampled_from(_QUERY_VALUES)), draw(st.sampled_from(_QUERY_VALUES))
        opening, closing = draw(st.sampled_from("[{")), draw(st.sampled_from("]}"))
        return f"{field}:{opening}{low} TO {high}{closing}"
    operator = draw(st.sampled_from([":", ":>", ":>=", ":<", ":<="]))
    return f"{field}{operator}{draw(st.sampled_from(_QUERY_VALUES))}"


def query_texts() -> st.SearchStrategy[str]:
    """Query strings made of real fields, operators and awkward values (huge numbers, bad regexes, bad
    networks), glued together right or wrong."""
    pieces = st.one_of(_query_clause(), st.sampled_from(_QUERY_VALUES), st.sampled_from(_QUERY_GLUE))
    return st.lists(pieces, min_size=1, max_size=8).map("".join) | st.lists(_query_clause(), max_size=4).map(
        " AND ".join
    )
