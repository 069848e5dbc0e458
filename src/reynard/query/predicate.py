"""The in-memory predicate: the reference meaning of a query, and the engine of streaming detection.

`compile_predicate(node)` walks the AST once and returns a closure `event -> bool`. All the work that
does not depend on the event (regex compilation, tokenizing the query, parsing bounds and networks) is
done there, so the per-event cost is a field lookup and a few comparisons. Every backend compiler is
tested against this module: where the store and the predicate disagree, the store is wrong.

Decisions where the AST docstring leaves room (docs/query.md should say the same):

- `Term`/`Terms` on `summary` are token matches like `Match(operator="or")`: a value that tokenizes into
  several tokens matches when any of them is a summary token (MozDef's TermMatch is an ES `match`).
  `case_insensitive` changes nothing there, tokens are lowercase already. A value with no tokens
  ("!!!") matches nothing, as ES's `match` does with `zero_terms_query: none`.
- `Match` and `Phrase` with no tokens match nothing.
- `Wildcard`, `Regex`, `Prefix`, `Suffix` and `Contains` match the *whole value* on every field,
  `summary` included (only Term, Match and Phrase are token-based): a Sigma `summary|contains:
  "Failed password"` means a substring of the line, which no single token could hold.
- `Wildcard` has no escapes: every character other than `*` and `?` is literal. `case_insensitive`
  lowercases pattern and value, so `?` stands for one character of the lowercased value.
- `Regex` runs on RE2 (`query/regex.py`): time linear in the value whatever the pattern, so no pattern
  can run away. A pattern over 1,000 characters, or one using what RE2 cannot run (backreferences,
  lookaround...), is refused with `QueryError` when the predicate is compiled, never while matching.
- `Exists`: at least one non-null scalar at or under the path. An empty list, a list of nulls and an
  empty object do not exist (an index has nothing to find for them).
- `Range` with no bound, with bounds of different kinds, or IPv4 and IPv6 bounds together is a
  `QueryError`. Bounds combine with AND, so an inverted range matches nothing.
- `Bool` with a negative `minimum_should_match` is a `QueryError`; more than the number of `should`
  clauses matches nothing.
- `FieldRef` compares the term texts of the leaves at both paths (the whole `summary`, not its tokens;
  `ip` as the texts of the addresses); a field with no value equals nothing.
- `TimePart` reads the leaves that `Range` takes for timestamps (ISO 8601 strings, UTC); a `part` that
  is not one of `TIME_UNITS` or a `value` that is not an integer is a `QueryError`. A value out of
  the part's range (hour 24) matches nothing.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from reynard.events.fields import ANY_IP, ip_values, leaf_getter, leaves, reacher
from reynard.events.ips import as_ip
from reynard.events.ips import network as parse_network
from reynard.events.timestamps import TimestampError, parse_timestamp
from reynard.query.ast import (
    TIME_UNITS,
    Bool,
    Cidr,
    Contains,
    Exists,
    FieldRef,
    Match,
    MatchAll,
    Node,
    Phrase,
    Prefix,
    Range,
    Regex,
    Suffix,
    Term,
    Terms,
    TimePart,
    Wildcard,
)
from reynard.query.errors import QueryError
from reynard.query.regex import regex_test
from reynard.query.values import as_number, as_time, bound_kind, term_text, tokens
from reynard.query.wildcard import wildcard_test

Predicate = Callable[[dict], bool]

SUMMARY = "summary"
REMEMBERED = 1_024  # distinct values whose regex answer each regex leaf remembers
REMEMBERED_CHARS = 256


# -- exists ---------------------------------------------------------------------------------------------
def _has_value(value: Any) -> bool:
    if isinstance(value, list):
        return any(_has_value(item) for item in value)
    if isinstance(value, dict):
        return any(_has_value(item) for item in value.values())
    return value is not None


# -- summary tokens -------------------------------------------------------------------------------------
# One entry: a Bool with several summary clauses tokenizes the summary once. Keyed on the string object
# itself (held by the cache, so its identity cannot be reused); one tuple assignment, so thread-safe.
_token_cache: tuple[str | None, list[str]] = (None, [])


def _tokens_of(text: str) -> list[str]:
    global _token_cache
    cached = _token_cache
    if cached[0] is text:
        return cached[1]
    found = tokens(text)
    _token_cache = (text, found)
    return found


def _summary_token_lists(event: dict) -> list[list[str]]:
    """The token list of each summary value (normally exactly one)."""
    value = event.get(SUMMARY)
    if type(value) is str:
        return [_tokens_of(value)]
    out = []
    for leaf in leaves(value):
        text = term_text(leaf)
        if text is not None:
            out.append(_tokens_of(text))
    return out


# -- compiler -------------------------------------------------------------------------------------------
def _never(event: dict) -> bool:
    return False


def _always(event: dict) -> bool:
    return True


def _text(value: Any, field: str) -> str:
    text = term_text(value)
    if text is None:
        if type(value) is int:
            raise QueryError(f"{field}: an integer of {value.bit_length()} bits is too long to compare")
        raise QueryError(f"{field}: {value!r} is not a string, number or boolean")
    return text


def compile_predicate(node: Node) -> Predicate:
    """The closure that tells whether an event matches `node`; QueryError for an invalid query."""
    match node:
        case MatchAll():
            return _always
        case Bool():
            return _compile_bool(node)
        case Term(field=field, value=value, case_insensitive=ci):
            return _compile_terms(field, (value,), ci)
        case Terms(field=field, values=values, case_insensitive=ci):
            return _compile_terms(field, tuple(values), ci)
        case Match(field=field, text=text, operator=op):
            if op not in ("or", "and"):
                raise QueryError(f"{field}: match operator must be 'or' or 'and', not {op!r}")
            if field == SUMMARY:
                return _compile_summary_match(text, op)
            return _compile_terms(field, (text,), False)
        case Phrase(field=field, text=text):
            if field == SUMMARY:
                return _compile_summary_phrase(text)
            return _compile_terms(field, (text,), False)
        case Wildcard() | Regex() | Prefix() | Suffix() | Contains():
            test, ci = _pattern_test(node)
            return _compile_text_test(node.field, test, ci)
        case Exists(field=field):
            reach = reacher(field)
            return lambda event: any(_has_value(value) for value in reach(event))
        case Range():
            return _compile_range(node)
        case Cidr(field=field, network=network):
            return _compile_cidr(field, network)
        case FieldRef():
            return _compile_field_ref(node)
        case TimePart():
            return _compile_time_part(node)
        case _:
            raise TypeError(f"not a query node: {node!r}")


PatternLeaf = Wildcard | Regex | Prefix | Suffix | Contains


def _pattern_test(node: PatternLeaf) -> tuple[Callable[[str], bool], bool]:
    """A pattern leaf's test of one term text, and whether the text is lowercased before the test."""
    match node:
        case Wildcard(field=field, pattern=pattern, case_insensitive=ci):
            return wildcard_test(_fold(_text(pattern, field), ci)), ci
        case Regex():
            test = regex_test(node.pattern, node.case_insensitive, node.multiline, node.dotall)
            return _remembering(test), False
        case Prefix(field=field, value=value, case_insensitive=ci):
            wanted = _fold(_text(value, field), ci)
            return (lambda text: text.startswith(wanted)), ci
        case Suffix(field=field, value=value, case_insensitive=ci):
            wanted = _fold(_text(value, field), ci)
            return (lambda text: text.endswith(wanted)), ci
        case Contains(field=field, value=value, case_insensitive=ci):
            wanted = _fold(_text(value, field), ci)
            return (lambda text: wanted in text), ci
    raise TypeError(f"not a pattern leaf: {node!r}")


def _remembering(test: Callable[[str], bool]) -> Callable[[str], bool]:
    """`test` remembering its answer for the last `REMEMBERED` distinct short values.

    A stream brings the same values back (a few hundred ARNs among thousands of events), and a regex
    costs a microsecond or two a value (RE2 through its bindings: the value is encoded to UTF-8 each
    time): remembered, an answer costs a dictionary look-up. Values over `REMEMBERED_CHARS`
    characters are tested every time, so what is held stays small."""
    remembered = lru_cache(maxsize=REMEMBERED)(test)

    def check(text: str) -> bool:
        return remembered(text) if len(text) <= REMEMBERED_CHARS else test(text)

    return check


def text_test(node: PatternLeaf) -> Callable[[str], bool]:
    """Whether one term text passes a pattern leaf (a wildcard, regex, prefix, suffix or substring):
    an event matches the leaf when a leaf value at its field passes. The predicate uses this very test,
    so a store that tests a field's distinct values with it (store/tantivy/dictionary.py) agrees with it."""
    test, ci = _pattern_test(node)
    if not ci:
        return test
    return lambda text: test(text.lower())


def matches(node: Node, event: dict) -> bool:
    """One-off check; compile once with `compile_predicate` when testing many events."""
    return compile_predicate(node)(event)


def _fold(text: str, ci: bool) -> str:
    return text.lower() if ci else text


def _compile_bool(node: Bool) -> Predicate:
    must = [compile_predicate(child) for child in node.must]
    should = [compile_predicate(child) for child in node.should]
    must_not = [compile_predicate(child) for child in node.must_not]
    required = node.required_should()
    if required < 0:
        raise QueryError(f"minimum_should_match must not be negative: {required}")
    if required > len(should):
        return _never

    def check(event: dict) -> bool:
        for test in must:
            if not test(event):
                return False
        for test in must_not:
            if test(event):
                return False
        if not required:
            return True
        count = 0
        for test in should:
            if test(event):
                count += 1
                if count >= required:
                    return True
        return False

    return check


def _compile_terms(field: str, values: tuple[Any, ...], ci: bool) -> Predicate:
    texts = [_text(value, field) for value in values]
    if field == ANY_IP:
        # The virtual address field compares addresses, not text: ip:10.0.0.1 finds "::ffff:10.0.0.1".
        addresses = frozenset(a for a in map(as_ip, texts) if a is not None)
        if not addresses:
            return _never

        def same_address(event: dict) -> bool:
            return any(as_ip(leaf) in addresses for leaf in ip_values(event))

        return same_address
    if field == SUMMARY:
        wanted = frozenset(token for text in texts for token in tokens(text))
        if not wanted:
            return _never

        def any_token(event: dict) -> bool:
            return any(not wanted.isdisjoint(found) for found in _summary_token_lists(event))

        return any_token

    get = leaf_getter(field)
    if ci:
        folded = frozenset(text.lower() for text in texts)

        def equal_folded(event: dict) -> bool:
            for leaf in get(event):
                text = term_text(leaf)
                if text is not None and text.lower() in folded:
                    return True
            return False

        return equal_folded

    exact = frozenset(texts)

    def equal(event: dict) -> bool:
        return any((leaf if type(leaf) is str else term_text(leaf)) in exact for leaf in get(event))

    return equal


def _compile_summary_match(text: str, op: str) -> Predicate:
    wanted = frozenset(tokens(text))
    if not wanted:
        return _never
    if op == "or":
        return _compile_terms(SUMMARY, (text,), False)

    def all_tokens(event: dict) -> bool:
        found: set[str] = set()
        for token_list in _summary_token_lists(event):
            found.update(token_list)
        return wanted <= found

    return all_tokens


def _compile_summary_phrase(text: str) -> Predicate:
    wanted = tokens(text)
    if not wanted:
        return _never
    first, size = wanted[0], len(wanted)

    def phrase(event: dict) -> bool:
        for found in _summary_token_lists(event):
            for i in range(len(found) - size + 1):
                if found[i] == first and found[i : i + size] == wanted:
                    return True
        return False

    return phrase


def _compile_text_test(field: str, test: Callable[[str], bool], ci: bool) -> Predicate:
    """Any leaf whose term text (lowercased when `ci`) passes `test`."""
    get = leaf_getter(field)

    def check(event: dict) -> bool:
        for leaf in get(event):
            text = leaf if type(leaf) is str else term_text(leaf)
            if text is not None and test(text.lower() if ci else text):
                return True
        return False

    return check


# -- ranges and networks --------------------------------------------------------------------------------
_OPS = (("gte", operator.ge), ("gt", operator.gt), ("lte", operator.le), ("lt", operator.lt))


def _time_bound(bound: Any) -> datetime:
    try:
        return parse_timestamp(bound)[0]
    except TimestampError as e:
        raise QueryError(f"range bound {bound!r}: {e}") from None


def _compile_range(node: Range) -> Predicate:
    given = [(name, op, getattr(node, name)) for name, op in _OPS if getattr(node, name) is not None]
    if not given:
        raise QueryError(f"{node.field}: range has no bound")
    kinds = set()
    for name, _op, bound in given:
        try:
            kinds.add(bound_kind(bound))
        except ValueError as e:
            raise QueryError(f"{node.field}: range {name}: {e}") from None
    if len(kinds) > 1:
        raise QueryError(f"{node.field}: range bounds of different kinds ({', '.join(sorted(kinds))})")
    kind = kinds.pop()
    convert: Callable[[Any], Any]
    extract: Callable[[Any], Any]
    if kind == "number":
        convert, extract = float, as_number
    elif kind == "ip":
        convert, extract = as_ip, as_ip
    else:
        convert, extract = _time_bound, as_time
    checks = [(op, convert(bound)) for _name, op, bound in given]
    get = leaf_getter(node.field)

    if kind == "ip":
        versions = {bound.version for _op, bound in checks}
        if len(versions) > 1:
            raise QueryError(f"{node.field}: range mixes IPv4 and IPv6 bounds")
        version = versions.pop()

        def in_ip_range(event: dict) -> bool:
            for leaf in get(event):
                address = as_ip(leaf)
                if (
                    address is not None
                    and address.version == version
                    and all(op(address, bound) for op, bound in checks)
                ):
                    return True
            return False

        return in_ip_range

    def in_range(event: dict) -> bool:
        for leaf in get(event):
            value = extract(leaf)
            if value is not None and all(op(value, bound) for op, bound in checks):
                return True
        return False

    return in_range


def _compile_cidr(field: str, network: str) -> Predicate:
    try:
        net = parse_network(network)
    except (ValueError, TypeError) as e:
        raise QueryError(f"{field}: not a network: {network!r} ({e})") from None
    version, low, high = net.version, int(net.network_address), int(net.broadcast_address)
    get = leaf_getter(field)

    def inside(event: dict) -> bool:
        for leaf in get(event):
            address = as_ip(leaf)
            if address is not None and address.version == version and low <= int(address) <= high:
                return True
        return False

    return inside


# -- field references and time parts --------------------------------------------------------------------
def _compile_field_ref(node: FieldRef) -> Predicate:
    get, get_other = leaf_getter(node.field), leaf_getter(node.other)
    ci = node.case_insensitive

    def texts(found: list[Any]) -> set[str]:
        return {_fold(text, ci) for text in map(term_text, found) if text is not None}

    def same(event: dict) -> bool:
        mine = texts(get(event))
        return bool(mine) and not mine.isdisjoint(texts(get_other(event)))

    return same


_TIME_PARTS: dict[str, Callable[[datetime], int]] = {
    "minute": lambda moment: moment.minute,
    "hour": lambda moment: moment.hour,
    "day": lambda moment: moment.day,
    "week": lambda moment: moment.isocalendar().week,
    "month": lambda moment: moment.month,
    "year": lambda moment: moment.year,
}


def _compile_time_part(node: TimePart) -> Predicate:
    part = _TIME_PARTS.get(node.part) if isinstance(node.part, str) else None
    if part is None:
        raise QueryError(f"{node.field}: time part must be one of {', '.join(TIME_UNITS)}, not {node.part!r}")
    if type(node.value) is not int:
        raise QueryError(f"{node.field}: {node.part} must be an integer, not {node.value!r}")
    wanted = node.value
    get = leaf_getter(node.field)

    def at(event: dict) -> bool:
        for leaf in get(event):
            moment = as_time(leaf)
            if moment is not None and part(moment) == wanted:
                return True
        return False

    return at
