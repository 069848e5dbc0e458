"""EventBridge event patterns: what starts a playbook.

A pattern is a JSON object shaped like the documents it matches. Each key names a field; its value is
either a nested pattern (an object) or a list of conditions on a leaf, any of which may match. Every key
of the pattern must match (a field the document lacks matches nothing, except `exists: false`); `$or`
lists sub-patterns at the same level, any of which may match. The conditions, as EventBridge has them:

- `"text"`, `5`, `true`, `null`: that exact value (numbers by their JSON text: `300` is not `300.0`);
- `{"prefix": "p"}`, `{"suffix": "s"}`: a string starting (ending) with it, also
  `{"prefix": {"equals-ignore-case": "p"}}`; `{"equals-ignore-case": "x"}`: equal, case aside;
- `{"wildcard": "a*b"}`: `*` any run (never two in a row), `\\*` a literal star;
- `{"anything-but": x}`: anything present but `x`, a value or a list of values, or `{"prefix": p}`,
  `{"suffix": s}`, `{"equals-ignore-case": x or [x, ...]}`, `{"wildcard": w or [w, ...]}`;
- `{"numeric": [">", 0, "<=", 5]}`: a number in range (`=`, `<`, `<=`, `>`, `>=`, bounds within ±5e9);
- `{"cidr": "10.0.0.0/24"}`: an IP address string inside the network;
- `{"exists": true}` / `{"exists": false}`: the field is present (a null counts) / absent; leaves only.

A document value that is a list matches when any of its elements does; a list of objects under a nested
pattern matches when any element matches it. `compile_pattern` checks a pattern once (a bad one is a
`PatternError` naming the path in it) and returns a `Pattern` whose `matches(document)` is cheap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reynard.errors import ReynardError
from reynard.events.ips import ip_address
from reynard.events.ips import network as parse_network
from reynard.query.wildcard import wildcard_regex

Test = Callable[[Any], bool]  # a condition on one present value
MAX_NUMBER = 5e9
_MISSING = object()
_OPS = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class PatternError(ReynardError):
    """A pattern EventBridge would refuse, naming where in it (`detail.severity[0].numeric`)."""


@dataclass(frozen=True)
class Pattern:
    source: dict
    _match: Callable[[Any], bool]

    def matches(self, document: Any) -> bool:
        return self._match(document)


def compile_pattern(pattern: Any) -> Pattern:
    if not isinstance(pattern, dict) or not pattern:
        raise PatternError("a pattern is a non-empty JSON object")
    return Pattern(pattern, _object(pattern, ""))


def matches(pattern: dict, document: Any) -> bool:
    """One-off check; compile once to test many documents."""
    return compile_pattern(pattern).matches(document)


# -- structure -------------------------------------------------------------------------------------------
def _where(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _object(pattern: dict, path: str) -> Callable[[Any], bool]:
    """A test on a document object: every key of the pattern matches."""
    parts: list[Callable[[dict], bool]] = []
    for key, value in pattern.items():
        where = _where(path, key)
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise PatternError("$or takes a list of at least two patterns", where=where)
            alternatives = []
            for i, sub in enumerate(value):
                if not isinstance(sub, dict) or not sub:
                    raise PatternError("each $or alternative is a non-empty object", where=f"{where}[{i}]")
                alternatives.append(_object(sub, f"{where}[{i}]"))
            parts.append(lambda doc, alts=tuple(alternatives): any(a(doc) for a in alts))
        elif isinstance(value, dict):
            if not value:
                raise PatternError("an empty object matches nothing", where=where)
            parts.append(_nested(key, _object(value, where)))
        elif isinstance(value, list):
            parts.append(_leaf(key, value, where))
        else:
            raise PatternError(f"a field's conditions are a list, not {json.dumps(value)}", where=where)

    def check(document: Any) -> bool:
        return isinstance(document, dict) and all(part(document) for part in parts)

    return check


def _nested(key: str, inner: Callable[[Any], bool]) -> Callable[[dict], bool]:
    def check(document: dict) -> bool:
        value = document.get(key, _MISSING)
        if isinstance(value, list):
            return any(inner(item) for item in value)
        return value is not _MISSING and inner(value)

    return check


def _leaf(key: str, conditions: list, where: str) -> Callable[[dict], bool]:
    if not conditions:
        raise PatternError("an empty list matches nothing", where=where)
    tests: list[Test] = []
    exists: bool | None = None
    for i, condition in enumerate(conditions):
        at = f"{where}[{i}]"
        if isinstance(condition, dict) and "exists" in condition:
            if len(condition) != 1 or not isinstance(condition["exists"], bool):
                raise PatternError("exists takes true or false, alone", where=at)
            exists = condition["exists"]
        else:
            tests.append(_condition(condition, at))

    def check(document: dict) -> bool:
        value = document.get(key, _MISSING)
        if value is _MISSING:
            return exists is False
        if exists is True:
            return True
        if isinstance(value, dict):
            return False  # conditions are on leaves
        values = value if isinstance(value, list) else [value]
        return any(test(v) for v in values for test in tests)

    return check


# -- conditions ------------------------------------------------------------------------------------------
def _json_text(value: Any) -> str:
    return json.dumps(value)


def _literal(expected: Any) -> Test:
    if isinstance(expected, bool) or expected is None:
        return lambda v: v is expected
    if isinstance(expected, (int, float)):
        text = _json_text(expected)
        return lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and _json_text(v) == text
    if isinstance(expected, str):
        return lambda v: isinstance(v, str) and v == expected
    raise PatternError(f"not a value EventBridge matches: {json.dumps(expected)}")


def _string_test(kind: str, operand: Any, where: str) -> Test:
    """prefix / suffix / equals-ignore-case / wildcard, as a test on strings."""
    if kind in ("prefix", "suffix") and isinstance(operand, dict):
        if set(operand) != {"equals-ignore-case"} or not isinstance(operand["equals-ignore-case"], str):
            raise PatternError(f"{kind} takes a string or {{'equals-ignore-case': string}}", where=where)
        text = operand["equals-ignore-case"].lower()
        if kind == "prefix":
            return lambda v: isinstance(v, str) and v.lower().startswith(text)
        return lambda v: isinstance(v, str) and v.lower().endswith(text)
    if not isinstance(operand, str):
        raise PatternError(f"{kind} takes a string, not {json.dumps(operand)}", where=where)
    if kind == "prefix":
        return lambda v: isinstance(v, str) and v.startswith(operand)
    if kind == "suffix":
        return lambda v: isinstance(v, str) and v.endswith(operand)
    if kind == "equals-ignore-case":
        lowered = operand.lower()
        return lambda v: isinstance(v, str) and v.lower() == lowered
    return _wildcard(operand, where)


def _wildcard(pattern: str, where: str) -> Test:
    if "**" in pattern.replace("\\*", ""):
        raise PatternError("a wildcard cannot have two * in a row", where=where)
    compiled = re.compile(wildcard_regex(pattern, one=False, escapes="*\\"), re.DOTALL)
    return lambda v: isinstance(v, str) and compiled.fullmatch(v) is not None


def _numeric(spec: Any, where: str) -> Test:
    if not isinstance(spec, list) or not spec or len(spec) % 2 or len(spec) > 4:
        raise PatternError("numeric takes one or two [operator, number] pairs", where=where)
    checks = []
    for op, bound in zip(spec[::2], spec[1::2], strict=True):
        if op not in _OPS:
            raise PatternError(f"numeric operator {op!r} is not one of {', '.join(_OPS)}", where=where)
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or abs(bound) > MAX_NUMBER:
            raise PatternError(f"numeric bound {json.dumps(bound)} is not a number within ±5e9", where=where)
        checks.append((_OPS[op], bound))
    return lambda v: (
        isinstance(v, (int, float)) and not isinstance(v, bool) and all(f(v, b) for f, b in checks)
    )


def _cidr(spec: Any, where: str) -> Test:
    try:
        network = parse_network(spec)
    except (TypeError, ValueError) as e:
        raise PatternError(f"cidr {json.dumps(spec)} is not a network ({e})", where=where) from None

    def inside(value: Any) -> bool:  # the address as written: an IPv4-mapped IPv6 one stays IPv6
        if not isinstance(value, str):
            return False
        address = ip_address(value)
        return address is not None and address in network

    return inside


def _anything_but(spec: Any, where: str) -> Test:
    if isinstance(spec, dict):
        if len(spec) != 1:
            raise PatternError("anything-but takes one operator", where=where)
        ((kind, operand),) = spec.items()
        if kind not in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
            raise PatternError(f"anything-but cannot take {kind!r}", where=where)
        operands = (
            operand if isinstance(operand, list) and kind in ("equals-ignore-case", "wildcard") else [operand]
        )
        if isinstance(operand, list) and not operands:
            raise PatternError(f"anything-but {kind} takes a non-empty list", where=where)
        tests = [_string_test(kind, o, where) for o in operands]
        return lambda v: isinstance(v, str) and not any(t(v) for t in tests)
    values = spec if isinstance(spec, list) else [spec]
    if not values:
        raise PatternError("anything-but takes a non-empty list", where=where)
    excluded = [_literal(v) for v in values]
    return lambda v: not any(t(v) for t in excluded)


def _condition(condition: Any, where: str) -> Test:
    if not isinstance(condition, dict):
        try:
            return _literal(condition)
        except PatternError as e:
            raise PatternError(e.message, where=where) from None
    if len(condition) != 1:
        raise PatternError("a condition object has one operator", where=where)
    ((kind, operand),) = condition.items()
    at = f"{where}.{kind}"
    if kind in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
        return _string_test(kind, operand, at)
    if kind == "numeric":
        return _numeric(operand, at)
    if kind == "cidr":
        return _cidr(operand, at)
    if kind == "anything-but":
        return _anything_but(operand, at)
    raise PatternError(f"unknown operator {kind!r}", where=where)


__all__ = ["Pattern", "PatternError", "compile_pattern", "matches"]
