"""Sigma rules as Reynard runs them: plain, checked values between the loader and the engine.

The loader (`loader.py`) parses YAML with pySigma, applies Reynard's processing pipeline (`pipeline.py`:
Sigma's field names to the normalized event's, `logsource` to the events a rule may see) and converts
each detection to the query AST (`backend.py`). What comes out is one of these two values; nothing
downstream sees pySigma's objects.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from reynard.query import ast

# Sigma's levels as the RFC 5424 severities alerts carry (MozDef's alert severities).
SEVERITY = {
    "informational": "INFO",
    "low": "NOTICE",
    "medium": "WARNING",
    "high": "ERROR",
    "critical": "CRITICAL",
}

CorrelationType = Literal[
    "event_count", "value_count", "temporal", "temporal_ordered", "value_sum", "value_avg"
]

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
    "neq": operator.ne,
}


@dataclass(frozen=True)
class RuleMeta:
    """What every Sigma rule has: who it is, where it came from, how it alerts."""

    title: str
    id: str | None = None
    name: str | None = None
    level: str | None = None
    status: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    falsepositives: tuple[str, ...] = ()
    path: str = ""  # the file it was loaded from
    document: int = 0  # its index among the YAML documents of that file
    # Whether matches alert on their own: True for a detection rule unless only correlations use it
    # (and none of them says `generate: true`); True for a correlation rule.
    generates: bool = True

    @property
    def key(self) -> str:
        """The rule's stable name in the registry and in alerts: its id, else its name, else its title."""
        return self.id or self.name or self.title

    @property
    def severity(self) -> str:
        return SEVERITY.get((self.level or "").lower(), "WARNING")


@dataclass(frozen=True)
class DetectionRule:
    """A Sigma detection rule: `query` is the AST of its condition, `logsource` selection included."""

    meta: RuleMeta
    logsource: tuple[str | None, str | None, str | None]  # product, service, category
    query: ast.Node


@dataclass(frozen=True)
class Threshold:
    """A correlation's condition: every `(operator, value)` must hold (`gte: 10, lte: 20` is a range)."""

    bounds: tuple[tuple[str, float], ...]

    def __post_init__(self) -> None:
        for op, _value in self.bounds:
            if op not in _COMPARE:
                raise ValueError(f"unknown condition operator {op!r} (one of {', '.join(_COMPARE)})")

    def holds(self, value: float) -> bool:
        return all(_COMPARE[op](value, bound) for op, bound in self.bounds)


@dataclass(frozen=True)
class CorrelationRule:
    """A Sigma correlation rule over detection rules (by their `meta.key`).

    `group_by[key]` are the event fields (normalized paths, aliases resolved) that make the group of a
    match of rule `key`, in the order of the rule's `group-by`; `value_field[key]` the field counted
    (`value_count`) or summed and averaged (`value_sum`, `value_avg`) for matches of rule `key`.
    """

    meta: RuleMeta
    type: CorrelationType
    rules: tuple[str, ...]
    timespan: timedelta
    threshold: Threshold
    group_by: dict[str, tuple[str, ...]] = field(default_factory=dict)
    value_field: dict[str, str] = field(default_factory=dict)


SigmaRule = DetectionRule | CorrelationRule

__all__ = ["SEVERITY", "CorrelationRule", "DetectionRule", "RuleMeta", "SigmaRule", "Threshold"]
