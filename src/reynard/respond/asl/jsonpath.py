"""JSONPath as Step Functions evaluates it (Jayway JsonPath semantics), parsed once into a small tree.

A *definite* path (only names and single indexes: `$.items[0].id`) yields the value itself, and a
missing value is an error for the caller to name; an *indefinite* one (wildcards, slices, unions, deep
scans, filters) yields the list of what it matched, possibly empty. The root is the state's data (`$`),
the context object (`$$`) or a variable (`$name`). `ResultPath` takes *reference paths* (definite,
names and indexes only), which `assign` writes into a copy of the input.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


class PathSyntaxError(ValueError):
    """A path that does not parse; the message says where."""


class PathNotFound(LookupError):
    """A definite path whose value is not in the data."""


class ResultPathError(LookupError):
    """`ResultPath` cannot be applied to this input (not an object where the path needs one)."""


# -- the tree ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Child:
    """`.name`, `['name']`, `[0]`, or a union `['a','b']` / `[0,2]` (indefinite when more than one)."""

    keys: tuple[str | int, ...]


@dataclass(frozen=True)
class Wildcard:
    pass


@dataclass(frozen=True)
class Slice:
    start: int | None
    stop: int | None
    step: int | None


@dataclass(frozen=True)
class Descend:
    """`..name` or `..*` (then `keys` is empty): every match at any depth."""

    keys: tuple[str | int, ...]


@dataclass(frozen=True)
class Filter:
    expression: Expr


Segment = Child | Wildcard | Slice | Descend | Filter


@dataclass(frozen=True)
class Path:
    text: str
    root: str  # "$" (the data), "$$" (the context object) or a variable's name
    segments: tuple[Segment, ...]

    @property
    def definite(self) -> bool:
        return all(isinstance(s, Child) and len(s.keys) == 1 for s in self.segments)

    @property
    def is_reference(self) -> bool:
        """A reference path: definite (names and indexes only), as `ResultPath` needs."""
        return self.definite


# Filter expressions: comparisons of operands (relative `@` paths, root `$` paths, literals).
@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Operand:
    relative: bool  # `@...` (the current item) or `$...` (the document)
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    left: Literal | Operand
    right: Literal | Operand | None  # None: an existence test (`[?(@.isbn)]`)


@dataclass(frozen=True)
class BoolOp:
    op: str  # "&&", "||", "!"
    operands: tuple[Expr, ...]


Expr = Compare | BoolOp

_NAME = re.compile(r"[^.\[\]\s()'\"@,=!<>&|?]+")
_INT = re.compile(r"-?\d+")
_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


# -- parsing ----------------------------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def parse(text: str) -> Path:
    """The tree of a path (`$`, `$$`, `$name` roots); raises PathSyntaxError."""
    if not isinstance(text, str) or not text.startswith("$"):
        raise PathSyntaxError(f"{text!r} is not a path: a path starts with $")
    if text.startswith("$$"):
        root, position = "$$", 2
    else:
        variable = _VARIABLE.match(text)
        root, position = (variable.group(1), variable.end()) if variable else ("$", 1)
    segments, position = _Parser(text, position).segments()
    if position != len(text):
        raise PathSyntaxError(f"{text!r}: unexpected {text[position:]!r} at position {position}")
    return Path(text, root, tuple(segments))


class _Parser:
    def __init__(self, text: str, position: int):
        self.text, self.position = text, position

    def fail(self, message: str) -> PathSyntaxError:
        return PathSyntaxError(f"{self.text!r}: {message} at position {self.position}")

    def peek(self, token: str) -> bool:
        return self.text.startswith(token, self.position)

    def skip_spaces(self) -> None:
        while self.position < len(self.text) and self.text[self.position] == " ":
            self.position += 1

    def segments(self, stop: str = "") -> tuple[list[Segment], int]:
        found: list[Segment] = []
        while self.position < len(self.text):
            if stop and self.text[self.position] in stop:
                break
            if self.peek(".."):
                self.position += 2
                if self.peek("*"):
                    self.position += 1
                    found.append(Descend(()))
                elif self.peek("["):
                    selector = self.bracket()
                    if not isinstance(selector, Child):
                        raise self.fail("only names and indexes may follow ..")
                    found.append(Descend(selector.keys))
                else:
                    found.append(Descend((self.name(),)))
            elif self.peek("."):
                self.position += 1
                if self.peek("*"):
                    self.position += 1
                    found.append(Wildcard())
                else:
                    found.append(Child((self.name(),)))
            elif self.peek("["):
                found.append(self.bracket())
            else:
                break
        return found, self.position

    def name(self) -> str:
        match = _NAME.match(self.text, self.position)
        if not match:
            raise self.fail("expected a field name")
        self.position = match.end()
        if self.peek("("):
            raise self.fail(f"functions such as {match.group()}() are not supported")
        return match.group()

    def string(self) -> str:
        quote = self.text[self.position]
        self.position += 1
        out: list[str] = []
        while self.position < len(self.text):
            char = self.text[self.position]
            if char == "\\" and self.position + 1 < len(self.text):
                out.append(self.text[self.position + 1])
                self.position += 2
                continue
            if char == quote:
                self.position += 1
                return "".join(out)
            out.append(char)
            self.position += 1
        raise self.fail("unterminated string")

    def bracket(self) -> Segment:
        self.position += 1  # [
        self.skip_spaces()
        if self.peek("*"):
            self.position += 1
            segment: Segment = Wildcard()
        elif self.peek("?("):
            self.position += 2
            expression = self.expression()
            self.skip_spaces()
            if not self.peek(")"):
                raise self.fail("expected ) to close the filter")
            self.position += 1
            segment = Filter(expression)
        elif self.peek(":") or _INT.match(self.text, self.position):
            segment = self.indexes()
        elif self.peek("'") or self.peek('"'):
            keys: list[str | int] = [self.string()]
            self.skip_spaces()
            while self.peek(","):
                self.position += 1
                self.skip_spaces()
                if not (self.peek("'") or self.peek('"')):
                    raise self.fail("expected a quoted name")
                keys.append(self.string())
                self.skip_spaces()
            segment = Child(tuple(keys))
        else:
            raise self.fail("expected *, an index, a slice, a quoted name or a filter")
        self.skip_spaces()
        if not self.peek("]"):
            raise self.fail("expected ]")
        self.position += 1
        return segment

    def integer(self) -> int | None:
        self.skip_spaces()
        match = _INT.match(self.text, self.position)
        if not match:
            return None
        self.position = match.end()
        self.skip_spaces()
        return int(match.group())

    def indexes(self) -> Segment:
        first = self.integer()
        if self.peek(":"):
            self.position += 1
            stop = self.integer()
            step = None
            if self.peek(":"):
                self.position += 1
                step = self.integer()
                if step == 0:
                    raise self.fail("a slice's step cannot be 0")
            return Slice(first, stop, step)
        keys: list[str | int] = [first] if first is not None else []
        while self.peek(","):
            self.position += 1
            index = self.integer()
            if index is None:
                raise self.fail("expected an index")
            keys.append(index)
        return Child(tuple(keys))

    # filter expressions
    def expression(self) -> Expr:
        left = self.conjunction()
        operands = [left]
        while True:
            self.skip_spaces()
            if not self.peek("||"):
                break
            self.position += 2
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else BoolOp("||", tuple(operands))

    def conjunction(self) -> Expr:
        operands = [self.negation()]
        while True:
            self.skip_spaces()
            if not self.peek("&&"):
                break
            self.position += 2
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else BoolOp("&&", tuple(operands))

    def negation(self) -> Expr:
        self.skip_spaces()
        if self.peek("!") and not self.peek("!="):
            self.position += 1
            return BoolOp("!", (self.negation(),))
        if self.peek("("):
            self.position += 1
            inner = self.expression()
            self.skip_spaces()
            if not self.peek(")"):
                raise self.fail("expected )")
            self.position += 1
            return inner
        left = self.operand()
        self.skip_spaces()
        for token in ("==", "!=", "<=", ">=", "=~", "<", ">", "nin", "in"):
            if self.peek(token):
                self.position += len(token)
                right = self.regex() if token == "=~" else self.operand()
                return Compare(token, left, right)
        if isinstance(left, Literal):
            raise self.fail("a literal alone is not a condition")
        return Compare("exists", left, None)

    def regex(self) -> Literal:
        self.skip_spaces()
        if not self.peek("/"):
            raise self.fail("=~ needs a /regex/")
        end = self.text.find("/", self.position + 1)
        while end != -1 and self.text[end - 1] == "\\":
            end = self.text.find("/", end + 1)
        if end == -1:
            raise self.fail("unterminated /regex/")
        pattern = self.text[self.position + 1 : end]
        self.position = end + 1
        flags = 0
        while self.peek("i") or self.peek("m") or self.peek("s"):
            flags |= {"i": re.I, "m": re.M, "s": re.S}[self.text[self.position]]
            self.position += 1
        try:
            return Literal(re.compile(pattern, flags))
        except re.error as e:
            raise self.fail(f"bad regex: {e}") from None

    def operand(self) -> Literal | Operand:
        self.skip_spaces()
        if self.peek("@") or (self.peek("$") and not self.peek("$$")):
            relative = self.peek("@")
            self.position += 1
            segments, _ = self.segments(stop=" )=!<>&|,]")
            return Operand(relative, tuple(segments))
        if self.peek("'") or self.peek('"'):
            return Literal(self.string())
        if self.peek("["):
            self.position += 1
            items: list[Any] = []
            while True:
                self.skip_spaces()
                if self.peek("]"):
                    self.position += 1
                    return Literal(items)
                item = self.operand()
                if not isinstance(item, Literal):
                    raise self.fail("a list holds literals only")
                items.append(item.value)
                self.skip_spaces()
                if self.peek(","):
                    self.position += 1
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.peek(word):
                self.position += len(word)
                return Literal(value)
        number = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?").match(self.text, self.position)
        if number:
            self.position = number.end()
            text = number.group()
            return Literal(float(text) if any(c in text for c in ".eE") else int(text))
        raise self.fail("expected @, $, a string, a number, true, false or null")


# -- evaluation -------------------------------------------------------------------------------------------
_MISSING = object()


def _child(value: Any, key: str | int) -> Any:
    if isinstance(key, int):
        if isinstance(value, list) and -len(value) <= key < len(value):
            return value[key]
        return _MISSING
    if isinstance(value, dict) and key in value:
        return value[key]
    return _MISSING


def _descendants(value: Any) -> list[Any]:
    """`value` and everything under it, depth first (what `..` scans)."""
    out = [value]
    if isinstance(value, dict):
        for item in value.values():
            out.extend(_descendants(item))
    elif isinstance(value, list):
        for item in value:
            out.extend(_descendants(item))
    return out


def _apply(segment: Segment, nodes: list[Any], document: Any) -> list[Any]:
    out: list[Any] = []
    for node in nodes:
        if isinstance(segment, Child):
            out.extend(v for v in (_child(node, k) for k in segment.keys) if v is not _MISSING)
        elif isinstance(segment, Wildcard):
            if isinstance(node, dict):
                out.extend(node.values())
            elif isinstance(node, list):
                out.extend(node)
        elif isinstance(segment, Slice):
            if isinstance(node, list):
                out.extend(node[segment.start : segment.stop : segment.step])
        elif isinstance(segment, Descend):
            for item in _descendants(node):
                if not segment.keys:
                    if isinstance(item, dict):
                        out.extend(item.values())
                    elif isinstance(item, list):
                        out.extend(item)
                else:
                    out.extend(v for v in (_child(item, k) for k in segment.keys) if v is not _MISSING)
        elif isinstance(segment, Filter):
            items = node if isinstance(node, list) else list(node.values()) if isinstance(node, dict) else []
            out.extend(item for item in items if _test(segment.expression, item, document))
    return out


def _operand(operand: Literal | Operand, item: Any, document: Any) -> Any:
    if isinstance(operand, Literal):
        return operand.value
    nodes = [item if operand.relative else document]
    for segment in operand.segments:
        nodes = _apply(segment, nodes, document)
    definite = all(isinstance(s, Child) and len(s.keys) == 1 for s in operand.segments)
    if definite:
        return nodes[0] if nodes else _MISSING
    return nodes


def _same_kind(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, numbers) and isinstance(b, numbers):
        return True
    return type(a) is type(b)


def _test(expression: Expr, item: Any, document: Any) -> bool:
    if isinstance(expression, BoolOp):
        results = (_test(e, item, document) for e in expression.operands)
        if expression.op == "!":
            return not next(results)
        return all(results) if expression.op == "&&" else any(results)
    left = _operand(expression.left, item, document)
    if expression.op == "exists":
        return left is not _MISSING
    assert expression.right is not None
    right = _operand(expression.right, item, document)
    if left is _MISSING or right is _MISSING:
        return expression.op == "!=" and (left is _MISSING) != (right is _MISSING)
    op = expression.op
    if op == "=~":
        return isinstance(left, str) and bool(right.fullmatch(left))
    if op in ("in", "nin"):
        inside = isinstance(right, list) and any(_same_kind(left, r) and left == r for r in right)
        return inside if op == "in" else not inside
    if op == "==":
        return _same_kind(left, right) and left == right
    if op == "!=":
        return not (_same_kind(left, right) and left == right)
    if not _same_kind(left, right) or not isinstance(left, (int, float, str)) or isinstance(left, bool):
        return False
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def select(path: Path, document: Any) -> Any:
    """The value at a definite path (PathNotFound when absent), or the list an indefinite one matched."""
    nodes = [document]
    for segment in path.segments:
        nodes = _apply(segment, nodes, document)
    if path.definite:
        if not nodes:
            raise PathNotFound(f"{path.text}: no such value in the data")
        return nodes[0]
    return nodes


def exists(path: Path, document: Any) -> bool:
    """Whether a path finds anything (a definite path's value, or at least one match)."""
    try:
        found = select(path, document)
    except PathNotFound:
        return False
    return bool(found) if not path.definite else True


def assign(path: Path, document: Any, value: Any) -> Any:
    """A copy of `document` with `value` at the reference path `path` (`$` replaces it whole)."""
    if not path.segments:
        return value
    result = copy.deepcopy(document)
    if not isinstance(result, (dict, list)):
        raise ResultPathError(f"{path.text}: the input is not an object, so nothing can be set in it")
    node = result
    keys = [s.keys[0] for s in path.segments if isinstance(s, Child)]
    for position, key in enumerate(keys):
        last = position == len(keys) - 1
        if isinstance(key, int):
            if not isinstance(node, list) or not -len(node) <= key < len(node):
                raise ResultPathError(f"{path.text}: no element {key} to set")
            if last:
                node[key] = value
            else:
                node = node[key]
            continue
        if not isinstance(node, dict):
            raise ResultPathError(f"{path.text}: {key!r} is to be set in a value that is not an object")
        if last:
            node[key] = value
        else:
            if key not in node:
                node[key] = {}
            node = node[key]
    return result
