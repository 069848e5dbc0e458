"""The one query AST: every way of asking (query strings, MozDef query models, Sigma) builds it, every
backend (tantivy, the in-memory predicate, later OpenSearch) answers it the same way.

Semantics (docs/query.md is the user's copy, with examples):

- A field is a dotted lowercase path into the event (`details.useridentity.arn`, `source`). A list on the
  way matches when any element matches. A field no event has matches nothing; it is not an error.
- Values compare as *term text*: strings as they are, booleans as `true`/`false`, integers in decimal,
  floats in decimal (`22.0` is `22`). So `details.destinationport:22` matches the number 22 and the
  string "22". `case_insensitive` compares both sides lowercased (Unicode lowercase, as the index lowercases).
- `summary` is the only text field: `Term` and `Match` on it match *tokens* (lowercased runs of letters
  and digits, as tantivy's default tokenizer cuts them), `Phrase` matches consecutive tokens. On every
  other field `Term` is exact and case-sensitive.
- `Wildcard` patterns use `*` (any run) and `?` (one character) and match the whole value; `Regex` is
  Python/Rust-compatible syntax matched against the whole value (anchored at both ends).
- `Range` bounds are numbers, timestamps (ISO 8601, compared in UTC) or IP addresses, chosen by the bound's
  form; a value of another kind never falls in a range. `Cidr` matches IP values inside the network.
- `Exists`: the field is present and not null (an empty list does not exist).
- `FieldRef`: some value at `field` equals some value at `other`, as term text (lowercased when
  `case_insensitive`, the default: Sigma's `fieldref`). `summary` compares as its whole text here.
- `TimePart`: the UTC minute, hour, day (of the month), week (ISO 8601), month or year of a timestamp
  value at `field` (an ISO 8601 string, as `Range` reads timestamps) equals `value` (Sigma's time
  modifiers). Neither has an index equivalent: stores narrow and check candidates with the predicate.
- `Bool`: every `must`, none of `must_not`, and at least `minimum_should_match` of `should` (default: 1
  when there are `should` clauses and no `must`, else 0). `MatchAll` matches every event.

Nodes combine as elasticsearch-dsl's queries did (MozDef's alerts write `query |= PhraseMatch(...)`):
`a | b` is either, `a & b` and `a + b` both, `~a` not; flat, so `a | b | c` is one `should` list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from reynard.query.errors import QueryError

Scalar = str | int | float | bool


class Combines:
    """`|`, `&`, `+` and `~` for every node (see the module docstring)."""

    __slots__ = ()

    def __or__(self, other: object) -> Bool:
        return Bool(should=(*_should_of(_node(self)), *_should_of(_node(other))), minimum_should_match=1)

    def __and__(self, other: object) -> Bool:
        must: list[Node] = []
        must_not: list[Node] = []
        for node in (_node(self), _node(other)):
            if isinstance(node, Bool) and not node.should:
                must.extend(m for m in node.must if not isinstance(m, MatchAll))
                must_not.extend(node.must_not)
            else:
                must.append(node)
        return Bool(must=tuple(must) or (MatchAll(),), must_not=tuple(must_not))

    __add__ = __and__

    def __invert__(self) -> Bool:
        return Bool(must=(MatchAll(),), must_not=(_node(self),))


def _node(value: object) -> Node:
    if not isinstance(value, Combines):
        raise QueryError(f"query nodes combine with other query nodes, not {value!r}")
    return value  # type: ignore[return-value]


def _should_of(node: Node) -> tuple[Node, ...]:
    only_should = (
        isinstance(node, Bool) and not node.must and not node.must_not and node.required_should() == 1
    )
    return node.should if only_should else (node,)  # type: ignore[union-attr]


@dataclass(frozen=True)
class Term(Combines):
    field: str
    value: Scalar
    case_insensitive: bool = False


@dataclass(frozen=True)
class Terms(Combines):
    """Any of `values` (an "in" list)."""

    field: str
    values: tuple[Scalar, ...]
    case_insensitive: bool = False


@dataclass(frozen=True)
class Match(Combines):
    """Token match on `summary`: with `operator="or"` any token of `text` (MozDef's TermMatch, an ES
    `match`), with `"and"` all of them."""

    field: str
    text: str
    operator: Literal["or", "and"] = "or"


@dataclass(frozen=True)
class Phrase(Combines):
    """Consecutive tokens on `summary`; on a keyword field, the whole value equals `text`."""

    field: str
    text: str


@dataclass(frozen=True)
class Wildcard(Combines):
    field: str
    pattern: str
    case_insensitive: bool = False


@dataclass(frozen=True)
class Regex(Combines):
    field: str
    pattern: str
    case_insensitive: bool = False
    multiline: bool = False
    dotall: bool = False


@dataclass(frozen=True)
class Prefix(Combines):
    field: str
    value: str
    case_insensitive: bool = False


@dataclass(frozen=True)
class Suffix(Combines):
    field: str
    value: str
    case_insensitive: bool = False


@dataclass(frozen=True)
class Contains(Combines):
    field: str
    value: str
    case_insensitive: bool = False


@dataclass(frozen=True)
class Exists(Combines):
    field: str


Bound = int | float | str | datetime


@dataclass(frozen=True)
class Range(Combines):
    """`gte`/`gt`/`lte`/`lt`, any of them None. Bounds are numbers, timestamps or IP addresses."""

    field: str
    gte: Bound | None = None
    gt: Bound | None = None
    lte: Bound | None = None
    lt: Bound | None = None


@dataclass(frozen=True)
class Cidr(Combines):
    field: str
    network: str


@dataclass(frozen=True)
class FieldRef(Combines):
    """Some value at `field` equals some value at `other` (Sigma's `fieldref`)."""

    field: str
    other: str
    case_insensitive: bool = True


TimeUnit = Literal["minute", "hour", "day", "week", "month", "year"]
TIME_UNITS: tuple[TimeUnit, ...] = ("minute", "hour", "day", "week", "month", "year")


@dataclass(frozen=True)
class TimePart(Combines):
    """The UTC `part` of a timestamp at `field` equals `value`: minute 0-59, hour 0-23, day of the month
    1-31, ISO week 1-53, month 1-12, year."""

    field: str
    part: TimeUnit
    value: int


@dataclass(frozen=True)
class Bool(Combines):
    must: tuple[Node, ...] = ()
    should: tuple[Node, ...] = ()
    must_not: tuple[Node, ...] = ()
    minimum_should_match: int | None = None

    def required_should(self) -> int:
        if self.minimum_should_match is not None:
            return self.minimum_should_match
        return 1 if self.should and not self.must else 0


@dataclass(frozen=True)
class MatchAll(Combines):
    pass


Node = (
    Term
    | Terms
    | Match
    | Phrase
    | Wildcard
    | Regex
    | Prefix
    | Suffix
    | Contains
    | Exists
    | Range
    | Cidr
    | FieldRef
    | TimePart
    | Bool
    | MatchAll
)


# -- requests -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimeWindow:
    """`start <= t < end` on `utctimestamp`; with `either_timestamp`, on utctimestamp OR
    receivedtimestamp (MozDef's SearchQuery window)."""

    start: datetime | None = None
    end: datetime | None = None
    either_timestamp: bool = False


@dataclass(frozen=True)
class Search:
    """Events matching `query` in `window`, newest first (ties by id, descending); `after` is the
    `(utctimestamp, id)` of the last event of the previous page (search-after pagination); `fields`, when
    given, the dotted fields each returned event keeps (None: the whole event)."""

    query: Node = field(default_factory=MatchAll)
    window: TimeWindow = field(default_factory=TimeWindow)
    limit: int | None = 100
    after: tuple[str, str] | None = None
    fields: tuple[str, ...] | None = None


@dataclass(frozen=True)
class TermsAgg:
    """Buckets of the values of `field`, by count descending then value ascending; exact counts.

    `size` buckets at most (None: all), only those with `min_count` or more events; `samples` events per
    bucket (newest first); `sub` aggregates within each bucket (one level)."""

    field: str
    size: int | None = 20
    min_count: int = 1
    samples: int = 0
    sub: Agg | None = None


@dataclass(frozen=True)
class DistinctCount:
    """The exact number of distinct values of `field`."""

    field: str


@dataclass(frozen=True)
class DateHistogram:
    """Event counts per `interval_seconds` bucket of utctimestamp, aligned to the epoch."""

    interval_seconds: int


@dataclass(frozen=True)
class Stats:
    """min, max, sum, avg and count of the numeric values of `field`."""

    field: str


Agg = TermsAgg | DistinctCount | DateHistogram | Stats


@dataclass(frozen=True)
class Aggregate:
    query: Node = field(default_factory=MatchAll)
    window: TimeWindow = field(default_factory=TimeWindow)
    aggs: dict[str, Agg] = field(default_factory=dict)
