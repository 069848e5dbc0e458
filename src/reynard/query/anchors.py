"""Anchors: the values an event must hold at one field for a query to match it.

A streaming matcher with hundreds of rules should not run every rule's predicate on every event. If a
rule's query can only match events whose `details.eventname` is `StopLogging`, the matcher files the rule
under that value and looks each event's `details.eventname` up in the table: only the rules filed under
a value the event has (and the rules with no anchor) are evaluated.

`anchor(node)` is conservative. When it returns `Anchor(field, values, case_insensitive)`, every event
the predicate (`reynard.query.predicate`) accepts has a leaf at `field` whose term text (lowercased when
`case_insensitive`) is one of `values`; when it cannot promise that, it returns None. The tests check
the promise against the predicate on random events and queries.
"""

from __future__ import annotations

from dataclasses import dataclass

from reynard.events.fields import ANY_IP
from reynard.query.ast import Bool, Match, Node, Phrase, Term, Terms
from reynard.query.values import term_text

SUMMARY = "summary"  # token-matched, so a value's whole text is not what the event holds


@dataclass(frozen=True)
class Anchor:
    field: str
    values: frozenset[str]
    case_insensitive: bool = False

    def key(self, text: str) -> str:
        """An event's term text as it is looked up in `values`."""
        return text.lower() if self.case_insensitive else text


def _texts(values: tuple, case_insensitive: bool) -> frozenset[str] | None:
    texts = [term_text(v) for v in values]
    if any(t is None for t in texts):
        return None
    return frozenset(t.lower() if case_insensitive else t for t in texts)  # type: ignore[union-attr]


def anchors(node: Node) -> tuple[Anchor, ...]:
    """Every anchor of `node` (each holds on its own); empty when there is none."""
    match node:
        case Term(field=field, value=value, case_insensitive=ci) if field not in (SUMMARY, ANY_IP):
            texts = _texts((value,), ci)
            return () if texts is None else (Anchor(field, texts, ci),)
        case Terms(field=field, values=values, case_insensitive=ci) if field not in (SUMMARY, ANY_IP):
            texts = _texts(tuple(values), ci)
            return () if not texts else (Anchor(field, texts, ci),)
        case Match(field=field, text=text) | Phrase(field=field, text=text) if field not in (SUMMARY, ANY_IP):
            return (Anchor(field, frozenset((text,)), False),)  # on a keyword field: the whole value
        case Bool():
            return _bool_anchors(node)
    return ()


def _bool_anchors(node: Bool) -> tuple[Anchor, ...]:
    # Each must clause's anchors hold for the whole.
    found = [a for child in node.must for a in anchors(child)]
    # A match also satisfies at least one should clause (when one is required): for a field that every
    # should clause is anchored on, the union of their values holds.
    if node.required_should() >= 1 and node.should:
        per_clause = [anchors(child) for child in node.should]
        common = set.intersection(*({(a.field, a.case_insensitive) for a in clause} for clause in per_clause))
        for field, ci in sorted(common):
            values: set[str] = set()
            for clause in per_clause:
                values |= min(
                    (a for a in clause if (a.field, a.case_insensitive) == (field, ci)), key=_width
                ).values
            found.append(Anchor(field, frozenset(values), ci))
    return tuple(dict.fromkeys(found))


def _width(a: Anchor) -> int:
    return len(a.values)


def anchor(node: Node) -> Anchor | None:
    """The narrowest anchor of `node` when nothing else is known (fewest values; a `details` field
    before top-level ones such as `source`, which most events share), or None."""
    found = anchors(node)
    return min(found, key=lambda a: (len(a.values), not a.field.startswith("details."))) if found else None


__all__ = ["Anchor", "anchor", "anchors"]
