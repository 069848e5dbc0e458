"""Choice rules (JSONPath): `Variable` and one comparison, or `And`/`Or`/`Not` of rules.

A comparison of values of different types is false (`StringEquals` on a number does not match), as the
specification says; a `Variable` that finds nothing is `States.Runtime`, except for `IsPresent`, which
is what asks that question. Timestamps compare as instants (RFC 3339 with any offset).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from reynard.query.wildcard import wildcard_regex
from reynard.respond.errors import StatesError

from . import jsonpath
from .dataflow import Scope, resolve
from .definition import COMPARISONS, PATH_COMPARISONS
from .names import RUNTIME
from .timestamps import parse_timestamp

_MISSING = object()


def _value(path_text: str, data: Any, scope: Scope) -> Any:
    try:
        return resolve(jsonpath.parse(path_text), data, scope)
    except jsonpath.PathNotFound:
        return _MISSING


def evaluate(rule: dict[str, Any], data: Any, scope: Scope) -> bool:
    """Whether a rule matches the (effective) input `data`."""
    if "And" in rule:
        return all(evaluate(r, data, scope) for r in rule["And"])
    if "Or" in rule:
        return any(evaluate(r, data, scope) for r in rule["Or"])
    if "Not" in rule:
        return not evaluate(rule["Not"], data, scope)
    variable = rule["Variable"]
    value = _value(variable, data, scope)
    if "IsPresent" in rule:
        return (value is not _MISSING) == rule["IsPresent"]
    if value is _MISSING:
        raise StatesError(
            RUNTIME, f"Invalid path {variable!r}: the choice rule's Variable is not in the input"
        )
    for test in ("IsNull", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp"):
        if test in rule:
            return _is(test, value) == rule[test]
    for operator, expected in rule.items():
        if operator in COMPARISONS:
            return compare(operator, value, expected)
        if operator in PATH_COMPARISONS:
            other = _value(expected, data, scope)
            if other is _MISSING:
                raise StatesError(
                    RUNTIME, f"Invalid path {expected!r}: the value to compare is not in the input"
                )
            return compare(operator[: -len("Path")], value, other)
    raise AssertionError(f"validated rule without an operator: {rule}")


def _is(test: str, value: Any) -> bool:
    if test == "IsNull":
        return value is None
    if test == "IsNumeric":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if test == "IsString":
        return isinstance(value, str)
    if test == "IsBoolean":
        return isinstance(value, bool)
    return parse_timestamp(value) is not None


def compare(operator: str, value: Any, expected: Any) -> bool:
    kind = COMPARISONS[operator]
    relation = operator.removeprefix("String").removeprefix("Numeric").removeprefix("Timestamp")
    if kind == "boolean":
        return isinstance(value, bool) and isinstance(expected, bool) and value == expected
    if kind == "number":
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (value, expected))
        return numbers and _relate(relation, value, expected)
    if kind == "timestamp":
        left, right = parse_timestamp(value), parse_timestamp(expected)
        return left is not None and right is not None and _relate(relation, left, right)
    if not isinstance(value, str) or not isinstance(expected, str):
        return False
    if operator == "StringMatches":
        return bool(_wildcard(expected).fullmatch(value))
    return _relate(relation, value, expected)


def _relate(relation: str, left: Any, right: Any) -> bool:
    return {
        "Equals": left == right,
        "LessThan": left < right,
        "GreaterThan": left > right,
        "LessThanEquals": left <= right,
        "GreaterThanEquals": left >= right,
    }[relation]


@lru_cache(maxsize=1024)
def _wildcard(pattern: str) -> re.Pattern[str]:
    """`*` matches any run of characters; `\\*` is a literal star and `\\\\` a backslash."""
    return re.compile(wildcard_regex(pattern, one=False, escapes=True), re.S)
