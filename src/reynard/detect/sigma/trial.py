"""Sigma rules tried on events in memory (`reynard sigma test`): the alerts they would raise, nothing stored;
and the settings' placeholder values for `|expand`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from reynard.detect.sigma.correlation import evaluate
from reynard.detect.sigma.loader import LoadResult
from reynard.detect.sigma.model import CorrelationRule, DetectionRule
from reynard.query.predicate import compile_predicate
from reynard.settings import Settings


def placeholders(settings: Settings) -> dict[str, list[str]]:
    """`sigma_placeholders` of the settings file: values for `|expand` (`%admins%`)."""
    return {name: list(values) for name, values in settings.sigma_placeholders.items()}


def trial(result: LoadResult, events: list[dict], now: datetime) -> Iterator[dict[str, Any]]:
    """What each loaded rule of `result` raises over `events` (sorted here by time and id) at `now`: one
    dict per alert (title, id, level, kind, the matching events; a correlation's type, group, value and
    window)."""
    events = sorted(events, key=lambda e: (e["utctimestamp"], e["id"]))
    matches: dict[str, list[dict]] = {}
    for rule in result.rules:
        if isinstance(rule, DetectionRule):
            test = compile_predicate(rule.query)
            matches[rule.meta.key] = [e for e in events if test(e)]

    for rule in result.rules:
        meta = rule.meta
        head: dict[str, Any] = {"title": meta.title, "id": meta.id, "level": meta.level}
        if isinstance(rule, DetectionRule):
            if meta.generates and matches[meta.key]:
                yield {**head, "kind": "detection", "events": matches[meta.key]}
            continue
        assert isinstance(rule, CorrelationRule)
        for firing in evaluate(rule, {k: matches.get(k, []) for k in rule.rules}, now=now):
            yield {
                **head,
                "kind": "correlation",
                "type": rule.type,
                "group": dict(zip(_group_names(rule), firing.group, strict=False)),
                "value": firing.value,
                "window": [firing.start.isoformat(), firing.end.isoformat()],
                "events": list(firing.events),
            }


def _group_names(rule: CorrelationRule) -> tuple[str, ...]:
    first = rule.group_by.get(rule.rules[0], ()) if rule.rules else ()
    return tuple(first)


__all__ = ["placeholders", "trial"]
