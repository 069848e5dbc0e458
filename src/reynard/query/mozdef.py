"""MozDef's query models (`mozdef_util.query_models`) with MozDef's signatures, building the query AST.

An alert ported from MozDef keeps its query code; only running it differs:

>>> from datetime import UTC, datetime
>>> search_query = SearchQuery(minutes=15)
>>> search_query.add_must([TermMatch("source", "cloudtrail"), TermMatch("details.eventName", "StopLogging")])
>>> search_query.add_must_not(TermMatch("errorcode", "AccessDenied"))
>>> search = search_query.to_search(datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
>>> search.query.must[1], search.window.start.isoformat(), search.window.either_timestamp
(Term(field='details.eventname', value='StopLogging', case_insensitive=False), \
'2024-05-01T11:45:00+00:00', True)

In MozDef each model returned an elasticsearch-dsl query; here each returns an AST node (MozDef's alerts
only ever pass them to `add_must` and friends or to `BooleanMatch`). Field names are lowercased
(`details.sourceIPAddress` is `details.sourceipaddress`), as stored keys are.

Kept from MozDef:

- `TermMatch` is an ES `match`: exact on keyword fields (`Term`), a token match on `summary`
  (`Match("summary", value, "or")`: any token of the value). Summary tokens are finer than ES's (a
  `.` or `_` splits them), so a word of several tokens, such as an address, matches as their phrase.
- The window of `SearchQuery(minutes=15)` holds an event when its `utctimestamp` *or* its
  `receivedtimestamp` is in it (`TimeWindow(either_timestamp=True)`).
- MozDef searched in filter context on ES 6, where a bool with `should` clauses needs at least one of
  them even next to `must` clauses (`add_must(category) + add_should(domains)` means one of the
  domains): `BooleanMatch` and `SearchQuery` set `minimum_should_match=1` when there are `should` clauses.
- `SearchQuery` with no clause and no aggregation is an error when it is run (here: `QueryError`).
- `QueryStringMatch` takes a Lucene query string (see `reynard.query.lucene`: bare terms search `summary`
  only, where ES searched every field).
- The models combine as elasticsearch-dsl's queries did: `a | b` is either, `a & b` and `a + b` both,
  `~a` not (`summary_query |= PhraseMatch(...)` in MozDef's alerts); every AST node has these operators.

Differs:

- No 1,000-hit cap: `to_search(now, limit=None)` returns every match, and aggregations count every event.
- The window has no end (MozDef's ended at the time of the search); `now` is passed in, not read.
- `SearchQuery({'hours': 1})` (MozDef's own alert plugins wrote this) is taken as `SearchQuery(hours=1)`;
  MozDef ignored positional arguments and searched without a window.
- `SubnetMatch` takes IPv6 networks too and a network with host bits (`10.0.0.1/8` is `10.0.0.0/8`).
- `execute` comes with the alert engine; here `to_search` and `to_aggregate` build the requests.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, get_args

from reynard.events.ips import network as parse_network
from reynard.query.ast import (
    Aggregate,
    Bool,
    Cidr,
    Exists,
    Match,
    Node,
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
from reynard.query.lucene import parse_query, summary_words
from reynard.query.values import bound_kind, term_text, tokens

__all__ = [
    "Aggregation",
    "BooleanMatch",
    "ExistsMatch",
    "LessThanMatch",
    "PhraseMatch",
    "QueryStringMatch",
    "RangeMatch",
    "SearchQuery",
    "SubnetMatch",
    "TermMatch",
    "TermsMatch",
    "WildcardMatch",
]

SUMMARY = "summary"
_NODE_TYPES = get_args(Node)


# The models keep MozDef's CamelCase function names, so ported alerts read the same.


def TermMatch(key: str, value: Any) -> Node:
    """ES `match`: `Term` on a keyword field, any token of `value` on `summary`; a word of `value` that
    is several summary tokens (`10.1.2.3`) matches as their phrase (`lucene.summary_words`)."""
    field = _field(key, "TermMatch")
    if field == SUMMARY:
        text = _text(value, "TermMatch")
        return summary_words(text) or Match(SUMMARY, text, "or")
    return Term(field, _scalar(value, "TermMatch"))


def TermsMatch(key: str, value: list | tuple) -> Node:
    """ES `terms`: any of the values (a list); on `summary`, any token, and a value that is several
    tokens as their phrase (see `TermMatch`)."""
    if not isinstance(value, (list, tuple)):
        raise QueryError(f"TermsMatch takes a list of values, not {type(value).__name__}: {value!r}")
    field = _field(key, "TermsMatch")
    values = tuple(_scalar(v, "TermsMatch") for v in value)
    if field != SUMMARY:
        return Terms(field, values)
    split = [v for v in values if len(tokens(_text(v, "TermsMatch"))) > 1]
    if not split:
        return Terms(field, values)
    parts: list[Node] = [Phrase(SUMMARY, _text(v, "TermsMatch")) for v in split]
    if rest := tuple(v for v in values if v not in split):
        parts.append(Terms(SUMMARY, rest))
    return parts[0] if len(parts) == 1 else Bool(should=tuple(parts), minimum_should_match=1)


def PhraseMatch(key: str, value: Any) -> Phrase:
    """ES `match_phrase`: consecutive tokens on `summary`, the whole value elsewhere."""
    return Phrase(_field(key, "PhraseMatch"), _text(value, "PhraseMatch"))


def WildcardMatch(key: str, value: str) -> Wildcard:
    """ES `wildcard`: `*` any run, `?` one character, matching the whole value."""
    if not isinstance(value, str):
        raise QueryError(f"WildcardMatch takes a pattern string, not {value!r}")
    return Wildcard(_field(key, "WildcardMatch"), value)


def ExistsMatch(field_name: str) -> Exists:
    return Exists(_field(field_name, "ExistsMatch"))


def QueryStringMatch(query_str: str) -> Node:
    """ES `query_string`: a Lucene query (`reynard.query.lucene.parse_query`)."""
    return parse_query(query_str)


def RangeMatch(field_name: str, from_value: Any, to_value: Any) -> Range:
    """ES `range` with `gte`/`lte`: numbers, timestamps (datetimes or ISO 8601) or IP addresses."""
    return Range(
        _field(field_name, "RangeMatch"),
        gte=_bound(from_value, "RangeMatch"),
        lte=_bound(to_value, "RangeMatch"),
    )


def LessThanMatch(field_name: str, to_value: Any) -> Range:
    """ES `range` with `lt`."""
    return Range(_field(field_name, "LessThanMatch"), lt=_bound(to_value, "LessThanMatch"))


def SubnetMatch(key: str, value: str) -> Cidr:
    """IP values inside the network `value` (`10.0.0.0/8`)."""
    try:
        network = parse_network(value)
    except (TypeError, ValueError):
        raise QueryError(f"SubnetMatch takes a network such as 10.0.0.0/8, not {value!r}") from None
    return Cidr(_field(key, "SubnetMatch"), str(network))


def BooleanMatch(must: Any = None, must_not: Any = None, should: Any = None) -> Bool:
    """ES `bool` in filter context: every `must`, no `must_not`, and at least one `should` if any."""
    should_nodes = _nodes(should, "BooleanMatch")
    return Bool(
        must=_nodes(must, "BooleanMatch"),
        should=should_nodes,
        must_not=_nodes(must_not, "BooleanMatch"),
        minimum_should_match=1 if should_nodes else None,
    )


def Aggregation(field_name: str, aggregation_size: int = 20) -> TermsAgg:
    """ES `terms` aggregation: the `aggregation_size` most common values of the field, with counts."""
    if isinstance(aggregation_size, bool) or not isinstance(aggregation_size, int) or aggregation_size < 1:
        raise QueryError(f"Aggregation size must be a positive integer, not {aggregation_size!r}")
    return TermsAgg(_field(field_name, "Aggregation"), size=aggregation_size)


_MICROSECOND = timedelta(microseconds=1)


class SearchQuery:
    """Clauses and aggregations over a time window ending now: `SearchQuery(minutes=15)` (any
    `timedelta` arguments; none: no window).

    `add_must`, `add_must_not`, `add_should` and `add_aggregation` each take one object or a list;
    `to_search(now)` and `to_aggregate(now)` build the requests the store answers."""

    def __init__(self, *args: Any, **kwargs: Any):
        if len(args) == 1 and isinstance(args[0], dict) and not kwargs:
            kwargs = dict(args[0])
        elif args:
            raise QueryError(f"SearchQuery takes timedelta arguments such as minutes=15, not {args!r}")
        self.date_timedelta = dict(kwargs)
        try:
            self.delta = timedelta(**kwargs)
        except (TypeError, ValueError, OverflowError) as e:
            raise QueryError(f"SearchQuery takes timedelta arguments such as minutes=15: {e}") from None
        if self.delta < timedelta(0):
            raise QueryError(f"SearchQuery window must not be negative: {kwargs}")
        self.must: list[Node] = []
        self.must_not: list[Node] = []
        self.should: list[Node] = []
        self.aggregation: list[TermsAgg] = []

    def add_must(self, input_obj: Any) -> None:
        self.must.extend(_nodes(input_obj, "add_must"))

    def add_must_not(self, input_obj: Any) -> None:
        self.must_not.extend(_nodes(input_obj, "add_must_not"))

    def add_should(self, input_obj: Any) -> None:
        self.should.extend(_nodes(input_obj, "add_should"))

    def add_aggregation(self, input_obj: Any) -> None:
        items = input_obj if isinstance(input_obj, (list, tuple)) else [input_obj]
        for item in items:
            if not isinstance(item, TermsAgg):
                raise QueryError(f"add_aggregation takes Aggregation(field), not {item!r}")
        self.aggregation.extend(items)

    def query(self) -> Bool:
        """The clauses as one `Bool` (MozDef's `BooleanMatch(must, must_not, should)`)."""
        if not (self.must or self.must_not or self.should or self.aggregation):
            raise QueryError("SearchQuery needs a must, must_not or should clause, or an aggregation")
        return BooleanMatch(must=self.must, must_not=self.must_not, should=self.should)

    def window(self, now: datetime, event_time: bool = False) -> TimeWindow:
        """From `now` minus the delta, on utctimestamp or receivedtimestamp (MozDef's window, open at the
        end); with `event_time`, on utctimestamp only and ending at `now` (inclusive), so a window slid
        over old logs holds the events that happened in it. None without a delta."""
        if not isinstance(now, datetime) or now.tzinfo is None:
            raise QueryError(f"now must be a timezone-aware datetime, not {now!r}")
        if not self.date_timedelta:
            return TimeWindow()
        start = now.astimezone(UTC) - self.delta
        if event_time:
            return TimeWindow(start=start, end=now.astimezone(UTC) + _MICROSECOND)
        return TimeWindow(start=start, end=None, either_timestamp=True)

    def to_search(self, now: datetime, limit: int | None = None, event_time: bool = False) -> Search:
        """The matching events in the window, newest first; `limit=None` returns them all."""
        return Search(query=self.query(), window=self.window(now, event_time), limit=limit)

    def to_aggregate(self, now: datetime, event_time: bool = False) -> Aggregate:
        """The aggregations over the matching events in the window, keyed by field name."""
        return Aggregate(
            query=self.query(),
            window=self.window(now, event_time),
            aggs={agg.field: agg for agg in self.aggregation},
        )


# -- checks ---------------------------------------------------------------------------------------------
def _field(key: Any, model: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise QueryError(f"{model} takes a field name such as details.sourceipaddress, not {key!r}")
    return key.strip().lower()


def _scalar(value: Any, model: str) -> str | int | float | bool:
    if term_text(value) is None:
        raise QueryError(f"{model} takes a string, number or boolean value, not {value!r}")
    return value


def _text(value: Any, model: str) -> str:
    text = term_text(value)
    if text is None:
        raise QueryError(f"{model} takes a string, number or boolean value, not {value!r}")
    return text


def _bound(value: Any, model: str) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # naive means UTC, as for event timestamps
    try:
        bound_kind(value)
    except ValueError:
        raise QueryError(
            f"{model} bounds are numbers, timestamps (datetime or ISO 8601) or IP addresses, not {value!r}"
        ) from None
    return value


def _nodes(value: Any, method: str) -> tuple[Node, ...]:
    """One query node or a list of them (MozDef's `append_to_array`), checked."""
    if value is None:
        return ()
    items = value if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if not isinstance(item, _NODE_TYPES):
            raise QueryError(f"{method} takes query models such as TermMatch(key, value), not {item!r}")
    return tuple(items)
