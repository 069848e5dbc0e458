"""Compiling the AST to tantivy queries, with a flag that says whether the index alone is exact.

`TantivyCompiler(schema).compile(node)` returns `Compiled(query, exact)`: `query` selects a superset of
the matching events (None meaning "every event"), and `exact` says the superset is the answer. When it is
not, the store checks each candidate with the in-memory predicate, so results are always exact
(DESIGN.md). What the index answers alone: terms on keyword fields, on `summary` tokens and on `details`
paths (text, numbers and booleans; case-insensitive text on `details_ci` and `details`, schema.py);
phrases; exists; time ranges; IPv4 ranges and CIDRs on the source and destination addresses;
case-insensitive matches and wildcards on keyword fields (as regexes on the terms); boolean combinations
of these. What it narrows and leaves to the predicate: regexes, wildcards, substrings, suffixes and
case-insensitive prefixes on `details` paths (the store may answer those from a day's distinct values,
store/tantivy/dictionary.py), numeric ranges on `details` that its parser cannot take, values that look like
timestamps inside `details` (tantivy indexes those as dates), terms of 32 KiB and more (tantivy leaves
tokens of about 65,530 bytes out of the index), IPv6 ranges, field references (`FieldRef`: the events that
have both fields) and time parts (`TimePart`: the events that have the field)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import tantivy

from reynard.events.fields import ANY_IP
from reynard.events.ips import as_ip, mapped
from reynard.events.ips import network as parse_network
from reynard.query import ast
from reynard.query.errors import QueryError
from reynard.query.values import as_time, bound_kind, term_text, tokens
from reynard.query.wildcard import wildcard_regex
from reynard.store.tantivy.schema import CI_DETAILS, DATE_FIELDS, IP_ROLES, KEYWORD_FIELDS

_KEYWORDS = frozenset((*KEYWORD_FIELDS, "id"))
_IP_FIELDS = {f"details.{key}": role for key, role in IP_ROLES.items()} | {ANY_IP: ANY_IP}
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_INT = re.compile(r"^[+-]?\d{1,18}$")
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_REGEX_META = frozenset("\\.+*?()|[]{}^$#&-~")
MAX_TERM_BYTES = 32_768  # texts this long are not looked up as terms (see `_too_long`)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_IPV4_FIRST, _IPV4_LAST = ipaddress.IPv4Address(0), ipaddress.IPv4Address(2**32 - 1)
_US = timedelta(microseconds=1)

Occur = tantivy.Occur


@dataclass(frozen=True)
class Compiled:
    query: tantivy.Query | None  # None: every event
    exact: bool


ALL = Compiled(None, True)


def rust_escape(text: str) -> str:
    """Escape the regex syntax of Rust's `regex` crate (tantivy's regex queries)."""
    return "".join("\\" + c if c in _REGEX_META else c for c in text)


def _too_long(text: str) -> bool:
    """Whether a text may be too long to be a term: tantivy drops tokens of about 65,530 bytes and
    more from the index (their events are still found by `exists`, from the fast columns), so a term
    look-up would miss them; such a text is left to the predicate."""
    return len(text) >= MAX_TERM_BYTES // 4 and len(text.encode()) >= MAX_TERM_BYTES


def micros(moment: datetime) -> int:
    return (moment.astimezone(UTC) - _EPOCH) // _US


_SIMPLE_PATH = re.compile(r"^details(\.[a-z0-9_]+)+$")


def _ci_path(field: str) -> str:
    """`details.a.b` on `details_ci`, the lowercased copy of the texts of `details` that have upper case."""
    return CI_DETAILS + field.removeprefix("details")


_SIMPLE_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class TantivyCompiler:
    """One compiler per schema; `compile` is pure.

    Ranges on `details` paths exist only in tantivy's query parser (its Query API refuses JSON sub-paths
    in range queries), so those few are written as parser text, from checked parts only: a path of
    `[a-z0-9_]` segments and bounds that are plain numbers or words; anything else is narrowed instead.
    """

    def __init__(self, schema: tantivy.Schema):
        self.schema = schema
        self.nothing = tantivy.Query.empty_query()
        self._parser_index: tantivy.Index | None = None

    def _parse(self, text: str) -> tantivy.Query | None:
        if self._parser_index is None:
            self._parser_index = tantivy.Index(self.schema)  # in memory, only for its query parser
        try:
            return self._parser_index.parse_query(text)
        except ValueError:
            return None

    def compile(self, node: ast.Node) -> Compiled:
        match node:
            case ast.MatchAll():
                return ALL
            case ast.Term(field, value, ci):
                return self._term(field, value, ci)
            case ast.Terms(field, values, ci):
                return self._any([self._term(field, v, ci) for v in values])
            case ast.Match(field, text, operator) if field == "summary":
                words = [self._token(t) for t in dict.fromkeys(tokens(text))]
                if not words:
                    return Compiled(self.nothing, True)
                return self._all(words) if operator == "and" else self._any(words)
            case ast.Match(field, text, _) | ast.Phrase(field, text) if field != "summary":
                return self._term(field, text, False)
            case ast.Phrase(_, text):
                words = tokens(text)
                if not words:
                    return Compiled(self.nothing, True)
                if len(words) == 1:
                    return self._token(words[0])
                return Compiled(tantivy.Query.phrase_query(self.schema, "summary", words), True)
            case ast.Wildcard(field, pattern, ci):
                return self._pattern(field, wildcard_regex(pattern, escape=rust_escape), ci)
            case ast.Prefix(field, value, ci):
                if not ci and field.startswith("details."):
                    return self._json_prefix(field, value)
                return self._pattern(field, rust_escape(value) + ".*", ci)
            case ast.Suffix(field, value, ci):
                return self._pattern(field, ".*" + rust_escape(value), ci)
            case ast.Contains(field, value, ci):
                return self._pattern(field, ".*" + rust_escape(value) + ".*", ci)
            case ast.Regex(field, _, _, _, _):
                return self._narrow(field)
            case ast.Exists(field):
                return self._exists(field)
            case ast.Range():
                return self._range(node)
            case ast.Cidr(field, network):
                return self._cidr(field, network)
            case ast.FieldRef(field, other, _):
                return self._all([self._narrow(field), self._narrow(other)])
            case ast.TimePart(field, _, _):
                return self._narrow(field)
            case ast.Bool():
                return self._bool(node)
        raise TypeError(f"cannot compile {type(node).__name__} for tantivy")

    # -- leaves ---------------------------------------------------------------------------------------
    def _token(self, token: str) -> Compiled:
        return Compiled(tantivy.Query.term_query(self.schema, "summary", token), True)

    def _term(self, field: str, value: ast.Scalar, ci: bool) -> Compiled:
        text = term_text(value)
        if text is None:
            return Compiled(self.nothing, True)
        if _too_long(text) and (field in _KEYWORDS or field.startswith("details.")):
            return self._narrow(field)
        if field in _KEYWORDS:
            if ci:
                return self._regex(field, "(?i)" + rust_escape(text))
            return Compiled(tantivy.Query.term_query(self.schema, field, text), True)
        if field == "summary":
            words = [self._token(t) for t in dict.fromkeys(tokens(text))]
            return self._any(words) if words else Compiled(self.nothing, True)
        if field == ANY_IP:
            address = as_ip(text)
            if address is None:
                return Compiled(self.nothing, True)
            # The virtual address field compares addresses, as the IP field does.
            ip = mapped(address)
            query = tantivy.Query.range_query(self.schema, ANY_IP, tantivy.FieldType.IpAddr, ip, ip)
            return Compiled(query, True)
        if field in DATE_FIELDS:
            moment = as_time(text)
            if moment is None:
                return Compiled(self.nothing, True)
            return self._micros_range(field, micros(moment), micros(moment), True, True)
        if not field.startswith("details."):
            return self._narrow(field)
        if _DATE_LIKE.match(text):
            return self._narrow(field)
        # Case-insensitive: texts that had upper case are on the lowercased copy, the others on `details`
        # as they are (schema.py); numbers and booleans have no case.
        if ci:
            lower = text.lower()
            clauses = [
                tantivy.Query.term_query(self.schema, _ci_path(field), lower),
                tantivy.Query.term_query(self.schema, field, lower),
            ]
        else:
            clauses = [tantivy.Query.term_query(self.schema, field, text)]
        number = _number_term(text)
        if number is _UNDECIDED:
            return self._narrow(field)
        if number is not None:
            clauses.append(tantivy.Query.term_query(self.schema, field, number))
        if (text.lower() if ci else text) in ("true", "false"):
            clauses.append(tantivy.Query.term_query(self.schema, field, text.lower() == "true"))
        if len(clauses) == 1:
            return Compiled(clauses[0], True)
        return Compiled(tantivy.Query.boolean_query([(Occur.Should, c) for c in clauses]), True)

    def _pattern(self, field: str, regex: str, ci: bool) -> Compiled:
        """A wildcard, prefix, suffix or substring as a regex on a keyword field's terms. `(?s)`: a `*`
        runs over line breaks too, as the predicate's does (a keyword value may hold one)."""
        if field in _KEYWORDS:
            return self._regex(field, ("(?si)" if ci else "(?s)") + regex)
        return self._narrow(field)

    def _regex(self, field: str, pattern: str) -> Compiled:
        try:
            return Compiled(tantivy.Query.regex_query(self.schema, field, pattern), True)
        except ValueError:
            return self._narrow(field)

    def _exists(self, field: str) -> Compiled:
        if field in _KEYWORDS:
            return Compiled(tantivy.Query.exists_query(field), True)
        if field == "summary" or field in DATE_FIELDS:
            return ALL
        if field == ANY_IP:
            return Compiled(tantivy.Query.exists_query(ANY_IP), True)
        if field.startswith("details."):
            return Compiled(tantivy.Query.exists_query(field, json_subpaths=True), True)
        return Compiled(None, False)

    def _narrow(self, field: str) -> Compiled:
        """Candidates for a match the index cannot decide: the events that have the field at all."""
        exists = self._exists(field)
        return Compiled(exists.query, False)

    def _micros_range(self, field: str, low: int | None, high: int | None, inc_low: bool, inc_high: bool):
        return Compiled(
            tantivy.Query.range_query(
                self.schema,
                field,
                tantivy.FieldType.Integer,
                low,
                high,
                include_lower=inc_low or low is None,
                include_upper=inc_high or high is None,
            ),
            True,
        )

    def _range(self, node: ast.Range) -> Compiled:
        if (node.gte is not None and node.gt is not None) or (node.lte is not None and node.lt is not None):
            # Two bounds on one side: both hold (AND), so compile them as two ranges.
            parts = (
                ast.Range(node.field, gte=node.gte, lte=node.lte),
                ast.Range(node.field, gt=node.gt, lt=node.lt),
            )
            return self._all([self.compile(p) for p in parts if p != ast.Range(node.field)])
        bounds = [b for b in (node.gte, node.gt, node.lte, node.lt) if b is not None]
        if not bounds:
            return self._narrow(node.field)
        try:
            kinds = {bound_kind(b) for b in bounds}
        except ValueError as e:
            raise QueryError(f"{node.field}: {e}") from None
        if len(kinds) > 1:
            raise QueryError(f"{node.field}: range bounds of different kinds ({', '.join(sorted(kinds))})")
        kind = kinds.pop()
        low = node.gte if node.gte is not None else node.gt
        high = node.lte if node.lte is not None else node.lt
        if kind == "time" and node.field in DATE_FIELDS:
            lo = micros(_moment(low)) if low is not None else None
            hi = micros(_moment(high)) if high is not None else None
            return self._micros_range(node.field, lo, hi, node.gt is None, node.lt is None)
        if kind == "ip" and node.field in _IP_FIELDS:
            lo_ip = as_ip(str(low)) if low is not None else None
            hi_ip = as_ip(str(high)) if high is not None else None
            if all(a is None or a.version == 4 for a in (lo_ip, hi_ip)):
                query = tantivy.Query.range_query(
                    self.schema,
                    _IP_FIELDS[node.field],
                    tantivy.FieldType.IpAddr,
                    mapped(lo_ip or _IPV4_FIRST),
                    mapped(hi_ip or _IPV4_LAST),
                    include_lower=node.gt is None,
                    include_upper=node.lt is None,
                )
                return Compiled(query, True)
        if kind == "number" and node.field.startswith("details."):
            return self._json_number_range(node)
        return self._narrow(node.field)

    def _json_prefix(self, field: str, value: str) -> Compiled:
        """`details.x:Delete*` as the text range [Delete, Deletf): exact for word prefixes that no number,
        boolean or timestamp can start with. (Not on the lowercased copy: tantivy ranges on JSON need a
        fast field, and `details_ci` is not one.)"""
        if not (_SIMPLE_PATH.match(field) and _SIMPLE_WORD.match(value)):
            return self._narrow(field)
        if "true".startswith(value) or "false".startswith(value):
            return self._narrow(field)
        upper = value[:-1] + chr(ord(value[-1]) + 1)
        if upper[-1] not in _WORD_CHARS:
            return self._narrow(field)
        query = self._parse(f"{field}:[{value} TO {upper}}}")
        return Compiled(query, True) if query is not None else self._narrow(field)

    def _json_number_range(self, node: ast.Range) -> Compiled:
        """A numeric range on a `details` path, through the parser (see the class docstring)."""
        if not _SIMPLE_PATH.match(node.field):
            return self._narrow(node.field)

        def number(bound: object) -> str | None:
            value = float(bound)  # type: ignore[arg-type]
            if value != value or abs(value) > 1e15:
                return None
            text = str(int(value)) if value.is_integer() else repr(value)
            return None if "e" in text or "inf" in text else text

        low = node.gte if node.gte is not None else node.gt
        high = node.lte if node.lte is not None else node.lt
        lo = number(low) if low is not None else "*"
        hi = number(high) if high is not None else "*"
        if lo is None or hi is None:
            return self._narrow(node.field)
        if lo == "*" and hi == "*":
            return self._narrow(node.field)
        # One-sided parts only: tantivy 0.27 panics on a two-sided JSON range whose bounds parse to
        # different number types ([0.5 TO 1]), so each side is its own query.
        sides = []
        if lo != "*":
            sides.append(f"{node.field}:{'>=' if node.gt is None else '>'}{lo}")
        if hi != "*":
            sides.append(f"{node.field}:{'<=' if node.lt is None else '<'}{hi}")
        queries = [self._parse(text) for text in sides]
        if any(q is None for q in queries):
            return self._narrow(node.field)
        return self._all([Compiled(q, True) for q in queries])

    def _cidr(self, field: str, network: str) -> Compiled:
        try:
            net = parse_network(network)
        except ValueError as e:
            raise QueryError(f"{field}: not a network: {network!r} ({e})") from None
        if field in _IP_FIELDS:
            if net.version == 4:
                low, high = mapped(net.network_address), mapped(net.broadcast_address)
                exact = True
            else:
                low, high = str(net.network_address), str(net.broadcast_address)
                exact = False
            query = tantivy.Query.range_query(
                self.schema, _IP_FIELDS[field], tantivy.FieldType.IpAddr, low, high
            )
            return Compiled(query, exact)
        return self._narrow(field)

    # -- combinations ---------------------------------------------------------------------------------
    def _all(self, parts: list[Compiled]) -> Compiled:
        queries = [p.query for p in parts if p.query is not None]
        exact = all(p.exact for p in parts)
        if not queries:
            return Compiled(None, exact)
        if len(queries) == 1:
            return Compiled(queries[0], exact)
        return Compiled(tantivy.Query.boolean_query([(Occur.Must, q) for q in queries]), exact)

    def _any(self, parts: list[Compiled]) -> Compiled:
        if not parts:
            return Compiled(self.nothing, True)
        exact = all(p.exact for p in parts)
        if any(p.query is None for p in parts):
            return Compiled(None, exact)
        if len(parts) == 1:
            return parts[0]
        return Compiled(tantivy.Query.boolean_query([(Occur.Should, p.query) for p in parts]), exact)

    def _bool(self, node: ast.Bool) -> Compiled:
        parts = [self.compile(n) for n in node.must]
        required = node.required_should()
        exact = True
        if required > len(node.should):
            return Compiled(self.nothing, True)
        if required > 0:
            any_should = self._any([self.compile(n) for n in node.should])
            parts.append(any_should)
            exact = required == 1
        clauses = [(Occur.Must, p.query) for p in parts if p.query is not None]
        exact = exact and all(p.exact for p in parts)
        for negated in node.must_not:
            compiled = self.compile(negated)
            if not compiled.exact:
                exact = False  # the negation of a superset is not a superset: leave it to the predicate
                continue
            if compiled.query is None:
                return Compiled(self.nothing, True)
            clauses.append((Occur.MustNot, compiled.query))
        if not clauses:
            return Compiled(None, exact)
        if all(occur == Occur.MustNot for occur, _ in clauses):
            clauses.insert(0, (Occur.Must, tantivy.Query.all_query()))
        if len(clauses) == 1:
            return Compiled(clauses[0][1], exact)
        return Compiled(tantivy.Query.boolean_query(clauses), exact)


_UNDECIDED = object()


def _number_term(text: str) -> int | float | object | None:
    """The number a term text also matches in `details` (the predicate compares term texts: the number
    22 has the text "22", 0.5 has "0.5"), None when it matches no number ("1e3", "22.0", "007" match
    only those strings), or `_UNDECIDED` for a text that may equal a number of magnitude 2**53 or more:
    the index may hold such a number coerced to another type (a float with an integer's value is
    indexed as an integer, beyond 2**63 saturated), so the predicate decides."""
    if not _NUMBER.match(text):
        return None
    if len(text) > 16:  # 17 significant characters and more may be 2**53 and more (or round to it)
        return _UNDECIDED
    if _INT.match(text):
        value = int(text)
        if abs(value) >= 2**53:
            return _UNDECIDED
        return value if str(value) == text else None
    number = float(text)
    if number != number or abs(number) == float("inf"):
        return None
    if abs(number) >= 2**53:
        return _UNDECIDED
    return number if term_text(number) == text and not number.is_integer() else None


def _moment(bound: object) -> datetime:
    if isinstance(bound, datetime):
        return bound if bound.tzinfo else bound.replace(tzinfo=UTC)
    moment = as_time(bound)
    if moment is None:
        raise QueryError(f"not a timestamp: {bound!r}")
    return moment
