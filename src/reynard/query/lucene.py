"""Kibana/Lucene query strings to the query AST, through luqum's parser and a tree visitor.

>>> parse_query('details.eventName:StopLogging AND NOT details.sourceipaddress:10.0.0.0/8')
Bool(must=(Term(field='details.eventname', value='StopLogging', case_insensitive=False),), should=(), \
must_not=(Cidr(field='details.sourceipaddress', network='10.0.0.0/8'),), minimum_should_match=None)
>>> parse_query('details.bytes:>=1000')
Range(field='details.bytes', gte=1000, gt=None, lte=None, lt=None)

What each form becomes:

- `field:value` is a `Term` (values stay text as typed: `port:22` is `Term("port", "22")`, which matches
  the number 22); field names are lowercased, since stored keys are (`details.eventName` is
  `details.eventname`). A value with a `/` that is an IP network is a `Cidr` (`ip:10.0.0.0/8`).
- `field:"a b"` is a `Phrase`; `field:/re/` a `Regex` (RE2 syntax, see query/regex.py; anchored, `.`
  spans newlines; what RE2 cannot run, a backreference or lookaround, is refused with its position);
  `field:fo*` a `Prefix` (one trailing `*`), `field:f?o*` a `Wildcard`; `field:*` and `_exists_:field`
  are `Exists`. Escaped `\\*` and `\\?` are literal (a pattern mixing them with wildcards becomes a
  `Regex`, as `Wildcard` has no escapes).
- Bare terms and phrases search `summary` only (not every field, as ES's `query_string` does): `word` is
  `Match("summary", "word")`, `"a b"` is `Phrase("summary", "a b")`, `/re/` and `fo*` match the whole
  summary (like `summary:fo*`, not one token of it as in ES). A word that is several summary tokens
  (`10.1.2.3`, `ldap_count_entries`), bare or as `summary:10.1.2.3`, is the `Phrase` of them: ES kept
  such a word as one token (`summary_words`).
- `[a TO b]`, `{a TO b}`, `[a TO b}`, `*` as an open bound, and `>=`, `>`, `<=`, `<` are a `Range`; numeric
  bounds become int/float, timestamps and IPs stay text; `[* TO *]` is `Exists`. A numeric bound no
  64-bit float can hold (`1e400`, 400 digits) is a `QueryError` at its position ("out of range").
- `field:(a OR b c)` of plain terms is `Terms`; any other field group is a `Bool` over that field.
- `AND`/`&&`, `OR`/`||`, `NOT`/`!` are boolean logic, `AND` binding tighter than `OR` (luqum's precedence;
  ES's Lucene parser has none, so write parentheses when mixing). Clauses without an operator are OR'ed,
  and `+`/`-` make them must/must_not as in Lucene: `a b -c` is (a OR b) AND NOT c, `+a b` needs only a.
  `NOT a` alone matches everything but a; `x:-5` is NOT x:5 (the value -5 is `x:\\-5`). Boosts (`^2`) are
  ignored; fuzzy and proximity (`~`) are refused.
- `''`, `*` and `*:*` match everything.

A bad query raises `QueryError` with the 0-based `position`, and the message shows the query with a caret
under that place. A query string only ever becomes data: nothing in it runs.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from luqum import parser as luqum_parser
from luqum import tree as lq
from luqum.exceptions import IllegalCharacterError, ParseSyntaxError
from luqum.head_tail import TokenValue
from luqum.visitor import TreeVisitor, camel_to_lower

from reynard.events.ips import network as parse_network
from reynard.query.ast import (
    Bool,
    Cidr,
    Exists,
    Match,
    MatchAll,
    Node,
    Phrase,
    Prefix,
    Range,
    Regex,
    Term,
    Terms,
    Wildcard,
)
from reynard.query.errors import QueryError
from reynard.query.regex import RegexInvalid, RegexUnsupported, check_regex
from reynard.query.values import bound_kind, tokens
from reynard.query.wildcard import Part, Wild, regex_of, split_wildcard

__all__ = ["MAX_DEPTH", "MAX_QUERY_CHARS", "MAX_TOKENS", "parse_query", "summary_words"]

MAX_QUERY_CHARS = 100_000
MAX_DEPTH = 100  # nested parentheses, field groups, unary operators and boosts
MAX_TOKENS = 10_000  # luqum merges operands quadratically: 10,000 tokens parse in well under a second
MAX_NUMBER_DIGITS = 309  # an integer bound with more digits is beyond any 64-bit float
SUMMARY = "summary"

_LOCK = threading.Lock()  # PLY's lexer and parser keep state on themselves
_LEXER = luqum_parser.lexer.clone()
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_AT_POSITION = re.compile(r"at position (\d+)!?\Z")
_OPERATORS = {"AND_OP", "OR_OP", "NOT", "PLUS", "MINUS"}


def parse_query(text: str) -> Node:
    """The AST of a Kibana/Lucene query string; `QueryError` (with `position`) when it is not one."""
    if not isinstance(text, str):
        raise QueryError(f"a query string must be text, not {type(text).__name__}")
    if len(text) > MAX_QUERY_CHARS:
        raise _error(
            text, MAX_QUERY_CHARS, f"query too long: {len(text):,} characters, at most {MAX_QUERY_CHARS:,}"
        )
    if not text.strip():
        return MatchAll()
    with _LOCK:
        tokens = _lex(text)
        tree = _parse(text, tokens)
    _check_depth(text, tree)
    return _Builder(text).build(tree, None)


# -- lexing and parsing ---------------------------------------------------------------------------------
def _lex(text: str) -> list:
    """luqum's tokens, with `&&`, `||` and `!` turned into AND, OR and NOT; parentheses checked."""
    _LEXER.input(text)
    tokens: list = []
    opened: list[int] = []
    try:
        while (token := _LEXER.token()) is not None:
            if token.type == "TERM" and token.value.value in ("&&", "||"):
                token.type = "AND_OP" if token.value.value == "&&" else "OR_OP"
                token.value = _token_value(token.value, token.value.value)
            elif token.type == "TERM" and token.value.value.startswith("!"):
                while token.type == "TERM" and token.value.value.startswith("!"):
                    bang = _split_bang(token)
                    if bang is not token:
                        tokens.append(bang)
            elif token.type == "APPROX":
                raise _error(
                    text,
                    token.lexpos,
                    "fuzzy and proximity search ('~') are not supported (a literal '~' is written '\\~')",
                )
            elif token.type == "BOOST":
                token.value.value = None  # boosts only rank, and luqum fails on a force such as "."
            elif token.type == "LPAREN":
                opened.append(token.lexpos)
                if len(opened) > MAX_DEPTH:
                    raise _error(text, token.lexpos, f"query nested too deeply: more than {MAX_DEPTH} levels")
            elif token.type == "RPAREN":
                if not opened:
                    raise _error(text, token.lexpos, "unbalanced parenthesis: this ')' closes nothing")
                opened.pop()
            tokens.append(token)
            if len(tokens) > MAX_TOKENS:
                raise _error(
                    text, token.lexpos, f"query too long: more than {MAX_TOKENS:,} terms and operators"
                )
    except IllegalCharacterError as e:
        position = _position(str(e), text)
        raise _error(text, position, _illegal(text, position)) from None
    if opened:
        raise _error(text, opened[-1], "unbalanced parenthesis: this '(' is never closed")
    return tokens


def _token_value(word: lq.Word, value: str) -> TokenValue:
    out = TokenValue(value)
    out.pos, out.size, out.head, out.tail = word.pos, word.size, word.head, word.tail
    return out


def _split_bang(token):
    """`!a` is NOT then `a`: returns the NOT token, to go before `token`, which keeps the rest (and so
    receives the whitespace that follows, as luqum's lexer appends it to the last token). A lone `!`
    becomes NOT in place and the returned token is the same one (the caller appends it once)."""
    word = token.value
    bang = luqum_parser.lex.LexToken()
    bang.type, bang.lineno, bang.lexpos, bang.lexer = "NOT", token.lineno, token.lexpos, token.lexer
    bang.value = TokenValue("!")
    bang.value.pos, bang.value.size, bang.value.head = token.lexpos, 1, word.head
    rest = word.value[1:]
    if not rest:
        bang.value.tail = word.tail
        token.type, token.value = "NOT", bang.value
        return token
    token.lexpos += 1
    reserved = luqum_parser.reserved.get(rest)
    token.type = reserved or "TERM"
    token.value = _token_value(word, rest) if reserved else lq.Word(rest)
    token.value.pos, token.value.size, token.value.head, token.value.tail = (
        token.lexpos,
        word.size - 1,
        "",
        word.tail,
    )
    return bang


def _parse(text: str, tokens: list) -> lq.Item:
    consumed: list = []
    feed = iter(tokens)

    def next_token():
        token = next(feed, None)
        if token is not None:
            consumed.append(token)
        return token

    try:
        return luqum_parser.parser.parse(None, lexer=_LEXER, tokenfunc=next_token)
    except ParseSyntaxError as e:
        at_end = "at the end" in str(e) and not _AT_POSITION.search(str(e))
        if at_end:
            position, found, before = len(text), None, consumed
        else:
            position, found, before = _position(str(e), text), consumed[-1], consumed[:-1]
        raise _error(text, position, _syntax(text, found, before)) from None


def _position(message: str, text: str) -> int:
    """The offset luqum's message ends with ("... at position 12!"), or the end of the text."""
    found = _AT_POSITION.search(message)
    return min(int(found.group(1)), len(text)) if found else len(text)


def _illegal(text: str, position: int) -> str:
    char = text[position] if position < len(text) else ""
    if char == '"':
        return "unterminated phrase: this '\"' is never closed"
    if char == "/":
        return "unterminated regex: this '/' is never closed (a literal '/' is written '\\/')"
    if char == "\\":
        return "the query ends with an escape character '\\'"
    if char == "'":
        return "a term cannot start with ' (quote phrases with \")"
    return f"unexpected character {char!r}" if char else "the query ends too early"


def _show(text: str, token) -> str:
    start = token.lexpos
    return text[start : start + (token.value.size or 1)]


def _syntax(text: str, found, before: list) -> str:
    """What was wrong and what was expected, from the token luqum refused and the ones before it."""
    previous = before[-1] if before else None
    ptype = previous.type if previous is not None else None
    got = f"found '{_show(text, found)}'" if found is not None else "found the end of the query"
    in_range = False
    for token in before:
        if token.type == "LBRACKET":
            in_range = True
        elif token.type == "RBRACKET":
            in_range = False
    if found is not None and found.type == "COLUMN":
        return "unexpected ':' (write a ':' inside a value as '\\:' or quote the value)"
    if ptype == "COLUMN":
        field = _show(text, before[-2]) if len(before) > 1 else ""
        return f"expected a value after '{field}:', {got}"
    if ptype in _OPERATORS:
        return f"expected a term, a phrase or '(' after '{_show(text, previous)}', {got}"
    if ptype in ("GREATERTHAN", "LESSTHAN"):
        return f"expected a value after '{_show(text, previous)}', {got}"
    if ptype == "TO" or ptype == "LBRACKET":
        return f"expected a range bound after '{_show(text, previous)}', {got}"
    if in_range:
        if found is not None and found.type == "TO":
            return f"expected ']' or '}}' to end the range, {got}"
        return f"expected 'TO' between the range bounds, {got}"
    if found is None:
        return "the query ends too early"
    if found.type in ("AND_OP", "OR_OP") and previous is None:
        return f"expected a term before '{_show(text, found)}'"
    if found.type == "RPAREN" and ptype == "LPAREN":
        return "empty parentheses"
    return f"unexpected '{_show(text, found)}'"


def _error(text: str, position: int, what: str) -> QueryError:
    return QueryError(f"{what} (position {position})\n{_caret(text, position)}", position=position)


def _caret(text: str, position: int, width: int = 40) -> str:
    """Two lines: the query around `position` (control characters as spaces) and a caret under it."""
    start = max(0, position - width)
    shown = "".join(" " if not ch.isprintable() else ch for ch in text[start : position + width])
    lead = "..." if start else ""
    tail = "..." if position + width < len(text) else ""
    return f"    {lead}{shown}{tail}\n    {' ' * (len(lead) + position - start)}^"


def _check_depth(text: str, tree: lq.Item) -> None:
    """Refuse trees nested more than MAX_DEPTH levels (walked without recursion), so building the AST
    recursively stays far from Python's recursion limit."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (lq.Group, lq.FieldGroup, lq.UnaryOperator, lq.Boost)):
            depth += 1
            if depth > MAX_DEPTH:
                raise _error(text, node.pos or 0, f"query nested too deeply: more than {MAX_DEPTH} levels")
        stack.extend((child, depth) for child in node.children)


# -- the visitor ----------------------------------------------------------------------------------------
class _Builder(TreeVisitor):
    """Builds the AST from luqum's tree. Methods follow luqum's naming (`visit_` + the snake-case class
    name, found through the class's MRO) but return one AST node instead of yielding, so that each level
    of the tree costs one Python frame. `field` is the field in effect (None outside `field:...`)."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text
        self.methods: dict[type, Callable[[lq.Item, str | None], Node]] = {}

    def build(self, node: lq.Item, field: str | None) -> Node:
        method = self.methods.get(type(node))
        if method is None:
            for cls in type(node).__mro__:
                method = getattr(self, f"visit_{camel_to_lower(cls.__name__)}", None)
                if method is not None:
                    break
            else:
                raise self.error(node, f"unsupported query syntax: {node}")
            self.methods[type(node)] = method
        return method(node, field)

    def error(self, node: lq.Item, what: str) -> QueryError:
        return _error(self.text, node.pos or 0, what)

    # fields and groups
    def visit_search_field(self, node: lq.SearchField, field: str | None) -> Node:
        if field is not None:
            raise self.error(
                node,
                f"a field cannot be searched inside the value of '{field}' (in a value, ':' is '\\:')",
            )
        name = _unescape(node.name)
        if name == "_exists_":
            if not isinstance(node.expr, lq.Word) or _scan(node.expr.value)[1]:
                raise self.error(node, "_exists_ takes one field name: _exists_:details.username")
            return Exists(_unescape(node.expr.value).lower())
        if node.name == "*":
            if isinstance(node.expr, lq.Word) and node.expr.value == "*":
                return MatchAll()
            raise self.error(node, "searching every field ('*:') is not supported: name the field")
        if _scan(node.name)[1]:
            raise self.error(node, "wildcards in field names are not supported")
        return self.build(node.expr, name.lower())

    def visit_group(self, node: lq.Group, field: str | None) -> Node:
        return self.build(node.expr, field)

    def visit_field_group(self, node: lq.FieldGroup, field: str | None) -> Node:
        built = self.build(node.expr, field)
        if (
            isinstance(built, Bool)
            and built.should
            and not built.must
            and not built.must_not
            and built.minimum_should_match is None
            and all(type(c) is Term and c.field == field for c in built.should)
        ):
            return Terms(field, tuple(c.value for c in built.should))
        return built

    def visit_boost(self, node: lq.Boost, field: str | None) -> Node:
        return self.build(node.expr, field)  # scoring only: nothing to filter on

    # values
    def visit_word(self, node: lq.Word, field: str | None) -> Node:
        raw = node.value
        if raw == "*":
            return MatchAll() if field is None else Exists(field)
        target = field if field is not None else SUMMARY
        parts, wild = _scan(raw)
        if wild:
            return _pattern(target, parts)
        value = "".join(parts)
        if target == SUMMARY and (phrases := summary_words(value)) is not None:
            return phrases
        if field is None:
            return Match(SUMMARY, value, "or")
        network = _network(value)
        return Cidr(field, network) if network else Term(field, value)

    def visit_phrase(self, node: lq.Phrase, field: str | None) -> Node:
        text = _unescape(node.value[1:-1])
        if field is not None and field != SUMMARY and (network := _network(text)):
            return Cidr(field, network)
        return Phrase(field if field is not None else SUMMARY, text)

    def visit_regex(self, node: lq.Regex, field: str | None) -> Node:
        pattern = node.value[1:-1].replace("\\/", "/")
        try:
            check_regex(pattern, dotall=True)
        except (RegexInvalid, RegexUnsupported) as e:
            offset = 0
            if e.offset is not None:  # in the query text: after the opening '/', each '\/' one longer
                offset = 1 + e.offset + pattern[: e.offset].count("/")
            raise _error(self.text, (node.pos or 0) + offset, e.message) from None
        except QueryError as e:
            raise _error(self.text, node.pos or 0, e.message) from None
        return Regex(field if field is not None else SUMMARY, pattern, dotall=True)

    def visit_range(self, node: lq.Range, field: str | None) -> Node:
        if field is None:
            raise self.error(node, "a range needs a field: details.bytes:[1000 TO *]")
        low, high = self.bound(node.low), self.bound(node.high)
        self.same_kind(node, low, high)
        if low is None and high is None:
            return Exists(field)
        return Range(
            field,
            gte=low if node.include_low else None,
            gt=None if node.include_low else low,
            lte=high if node.include_high else None,
            lt=None if node.include_high else high,
        )

    def visit_open_range(self, node: lq.OpenRange, field: str | None) -> Node:
        if field is None:
            raise self.error(node, f"a range needs a field: details.bytes:{node.op}1000")
        bound = self.bound(node.a)
        if bound is None:
            return Exists(field)
        key = ("gt" if node.op == ">" else "lt") + ("e" if node.include else "")
        return Range(field, **{key: bound})

    def bound(self, node: lq.Item) -> int | float | str | None:
        if isinstance(node, lq.Word) and node.value == "*":
            return None
        if isinstance(node, lq.Prohibit) and isinstance(node.a, lq.Word):  # luqum reads "-5" as "NOT 5"
            text = "-" + _unescape(node.a.value)
        elif isinstance(node, lq.Phrase):
            text = _unescape(node.value[1:-1])
        elif isinstance(node, lq.Word):
            text = _unescape(node.value)
        else:
            raise self.error(node, "a range bound is a number, a timestamp or an IP address")
        if _INT.fullmatch(text) or _FLOAT.fullmatch(text):
            return self.number(node, text)
        try:
            bound_kind(text)
        except ValueError:
            hint = " (date math such as 'now-1d' is not supported)" if text.startswith("now") else ""
            raise self.error(
                node, f"range bound {text!r} is not a number, a timestamp (ISO 8601) or an IP address{hint}"
            ) from None
        return text

    def number(self, node: lq.Item, text: str) -> int | float:
        """A numeric bound: an int, or a float, when a 64-bit float can hold it (the predicate and the
        stores compare numbers as floats); a number beyond ±1.8e308 (`1e400`, 400 digits) is out of
        range, an error at its place."""
        digits = len(text.lstrip("+-"))
        value: int | float
        try:
            if _INT.fullmatch(text):
                if digits > MAX_NUMBER_DIGITS:
                    raise OverflowError
                value = int(text)
                float(value)  # OverflowError beyond a float
            else:
                value = float(text)
                if value in (float("inf"), float("-inf")):
                    raise OverflowError
        except OverflowError:
            shown = text if len(text) <= 40 else f"{text[:20]}...({digits} digits)"
            raise self.error(
                node, f"range bound {shown} is out of range: numbers go to ±1.8e308 (64-bit floats)"
            ) from None
        return value

    def same_kind(self, node: lq.Range, low: object, high: object) -> None:
        if low is not None and high is not None and bound_kind(low) != bound_kind(high):
            raise self.error(
                node, f"range bounds of different kinds: {bound_kind(low)} and {bound_kind(high)}"
            )

    # operators
    def visit_plus(self, node: lq.Plus, field: str | None) -> Node:
        return self.build(node.a, field)

    def visit_not(self, node: lq.Not | lq.Prohibit, field: str | None) -> Node:
        return Bool(must=(MatchAll(),), must_not=(self.build(node.a, field),))

    visit_prohibit = visit_not

    def visit_and_operation(self, node: lq.AndOperation, field: str | None) -> Node:
        return _all_of([self.build(operand, field) for operand in node.operands])

    def visit_or_operation(self, node: lq.OrOperation, field: str | None) -> Node:
        return _any_of([self.build(operand, field) for operand in node.operands])

    def visit_unknown_operation(self, node: lq.UnknownOperation, field: str | None) -> Node:
        """Implicit operator: OR, except that `+`/`-`/`NOT` clauses are must/must_not (Lucene's rule)."""
        must: list[Node] = []
        should: list[Node] = []
        must_not: list[Node] = []
        for operand in node.operands:
            inner = operand
            while isinstance(inner, lq.Boost):
                inner = inner.expr
            if isinstance(inner, lq.Plus):
                must.append(self.build(inner.a, field))
            elif isinstance(inner, (lq.Prohibit, lq.Not)):
                must_not.append(self.build(inner.a, field))
            else:
                should.append(self.build(operand, field))
        if not must and not must_not:
            return _any_of(should)
        if not must and not should:
            must.append(MatchAll())
        return Bool(must=tuple(must), should=tuple(should), must_not=tuple(must_not))

    def visit_base_operation(self, node: lq.BaseOperation, field: str | None) -> Node:
        raise self.error(node, f"unsupported operator in {node}")


# -- helpers --------------------------------------------------------------------------------------------
def summary_words(text: str) -> Node | None:
    """A summary match for `text` when a word of it is several summary tokens, else None (the caller's
    token match is right then).

    Summary tokens are runs of letters and digits, so `10.1.2.3`, `ldap_count_entries` and
    `host.example.com` are several tokens each, where Elasticsearch's standard analyzer kept each of
    them whole. Matching any of their pieces would find every summary with a `10` in it; such a word
    matches as the phrase of its pieces instead. The other words of `text` still match any token.
    """
    words = text.split()
    split = [word for word in words if len(tokens(word)) > 1]
    if not split:
        return None
    parts: list[Node] = [Phrase(SUMMARY, word) for word in split]
    single = " ".join(word for word in words if len(tokens(word)) == 1)
    if single:
        parts.append(Match(SUMMARY, single, "or"))
    return parts[0] if len(parts) == 1 else Bool(should=tuple(parts), minimum_should_match=1)


def _unescape(raw: str) -> str:
    return _ESCAPED.sub(r"\1", raw)


def _scan(raw: str) -> tuple[list[Part], bool]:
    """Split a raw term into unescaped literal runs and `*`/`?` wildcards; `(parts, has_wildcard)`."""
    parts = split_wildcard(raw, escapes=True)
    return parts, any(isinstance(part, Wild) for part in parts)


def _pattern(field: str, parts: list[Part]) -> Node:
    if parts[-1] is Wild.RUN and not any(isinstance(part, Wild) for part in parts[:-1]):
        return Prefix(field, "".join(parts[:-1]))
    if any(not isinstance(part, Wild) and ("*" in part or "?" in part) for part in parts):
        return Regex(field, regex_of(parts), dotall=True)  # escaped wildcard characters: only a regex
    return Wildcard(field, "".join(parts))


def _network(value: str) -> str | None:
    """The network of a CIDR value (`10.0.0.1/8` is `10.0.0.0/8`), else None."""
    if "/" not in value:
        return None
    try:
        return str(parse_network(value))
    except ValueError:
        return None


def _all_of(parts: list[Node]) -> Node:
    must: list[Node] = []
    must_not: list[Node] = []
    for part in parts:
        if isinstance(part, Bool) and not part.should and part.minimum_should_match is None:
            must.extend(part.must)
            must_not.extend(part.must_not)
        else:
            must.append(part)
    must = [m for m in must if not isinstance(m, MatchAll)]
    if not must_not:
        if not must:
            return MatchAll()
        if len(must) == 1:
            return must[0]
    return Bool(must=tuple(must) or (MatchAll(),), must_not=tuple(must_not))


def _any_of(parts: list[Node]) -> Node:
    should: list[Node] = []
    for part in parts:
        if isinstance(part, MatchAll):
            return MatchAll()
        if (
            isinstance(part, Bool)
            and part.should
            and not part.must
            and not part.must_not
            and part.minimum_should_match is None
        ):
            should.extend(part.should)
        else:
            should.append(part)
    return should[0] if len(should) == 1 else Bool(should=tuple(should))
