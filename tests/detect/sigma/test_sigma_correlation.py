"""The correlation engine (`reynard.detect.sigma.correlation.evaluate`): every type, every operator, window
boundaries, groups, consumption, closed windows, and a brute-force reference it must agree with."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reynard.detect.sigma.correlation import Firing, closed_windows, evaluate
from reynard.detect.sigma.model import CorrelationRule, RuleMeta, Threshold
from reynard.events.timestamps import isoformat

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)  # on a 10-minute (and hour) boundary
SPAN = timedelta(minutes=10)
USER = "details.user"


def ev(n: int, seconds: float, user: object = "bob", **details: object) -> dict:
    """A stored event `seconds` after T0 (ids sort in creation order)."""
    moment = T0 + timedelta(seconds=seconds)
    body = {"user": user, **details} if user is not None else dict(details)
    return {
        "id": f"e{n:04d}",
        "utctimestamp": isoformat(moment),
        "summary": f"event {n}",
        "details": body,
    }


def burst(first: int, count: int, start: float, step: float = 1, **details: object) -> list[dict]:
    return [ev(first + i, start + i * step, **details) for i in range(count)]


def corr(
    kind: str = "event_count",
    condition: dict | None = None,
    rules: tuple[str, ...] = ("a",),
    group: tuple[str, ...] = (USER,),
    value: str | None = None,
    span: timedelta = SPAN,
    group_by: dict | None = None,
) -> CorrelationRule:
    bounds = tuple((op, float(v)) for op, v in (condition or {"gte": 10}).items())
    return CorrelationRule(
        meta=RuleMeta(title=f"{kind} test", id="c-1"),
        type=kind,  # type: ignore[arg-type]
        rules=rules,
        timespan=span,
        threshold=Threshold(bounds),
        group_by=group_by if group_by is not None else {key: group for key in rules},
        value_field={key: value for key in rules} if value else {},
    )


def ids(firing: Firing) -> list[str]:
    return [e["id"] for e in firing.events]


def summary(firings: list[Firing]) -> list[tuple]:
    return [(f.group, f.value, ids(f)) for f in firings]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def names(first: int, count: int) -> list[str]:
    return [f"e{first + i:04d}" for i in range(count)]


# -- reaching conditions: windows, boundaries, operators ----------------------------------------------------
CASES = [
    # (name, rule, matches, expected [(group, value, ids)])
    ("10 in the window", corr(), {"a": burst(0, 10, 0)}, [(("bob",), 10, names(0, 10))]),
    ("9 is not enough", corr(), {"a": burst(0, 9, 0)}, []),
    ("gt 9 is gte 10", corr(condition={"gt": 9}), {"a": burst(0, 10, 0)}, [(("bob",), 10, names(0, 10))]),
    (
        "exactly timespan apart: one window",
        corr(condition={"gte": 2}),
        {"a": [ev(0, 0), ev(1, 600)]},
        [(("bob",), 2, ["e0000", "e0001"])],
    ),
    (
        "one second inside",
        corr(condition={"gte": 2}),
        {"a": [ev(0, 0), ev(1, 599)]},
        [(("bob",), 2, ["e0000", "e0001"])],
    ),
    ("one second outside", corr(condition={"gte": 2}), {"a": [ev(0, 0), ev(1, 601)]}, []),
    (
        "the first window that reaches it fires",
        corr(condition={"gte": 3}),
        {"a": [ev(0, 0), ev(1, 300), ev(2, 601), ev(3, 650)]},
        [(("bob",), 3, ["e0001", "e0002", "e0003"])],
    ),
    (
        "events of two rules count together",
        corr(condition={"gte": 4}, rules=("a", "b")),
        {"a": burst(0, 2, 0), "b": burst(2, 2, 10)},
        [(("bob",), 4, names(0, 4))],
    ),
    (
        "an event matching two rules counts once",
        corr(condition={"gte": 3}, rules=("a", "b")),
        {"a": burst(0, 2, 0), "b": burst(0, 2, 0)},
        [],
    ),
    (
        "value_count: distinct values",
        corr("value_count", {"gte": 3}, value="details.ip"),
        {"a": [ev(0, 0, ip="1"), ev(1, 1, ip="1"), ev(2, 2, ip="2"), ev(3, 3), ev(4, 4, ip="3")]},
        [(("bob",), 3, ["e0000", "e0001", "e0002", "e0004"])],  # e0003 has no value: no part in it
    ),
    (
        "value_count: term text, casefolded",
        corr("value_count", {"gte": 3}, value="details.ip"),
        {"a": [ev(0, 0, ip="Admin"), ev(1, 1, ip="admin"), ev(2, 2, ip=22), ev(3, 3, ip="22")]},
        [],
    ),
    (
        "value_count: a list gives each element",
        corr("value_count", {"gte": 3}, value="details.ip"),
        {"a": [ev(0, 0, ip=["1", "2"]), ev(1, 1, ip=["2", "3"])]},
        [(("bob",), 3, ["e0000", "e0001"])],
    ),
    (
        "value_sum: strings that are numbers count, others do not",
        corr("value_sum", {"gte": 5000}, value="details.bytes"),
        {
            "a": [
                ev(0, 0, bytes="1000"),
                ev(1, 1, bytes="lots"),
                ev(2, 2, bytes=2500),
                ev(3, 3, bytes="1500.5"),
            ]
        },
        [(("bob",), 5000.5, ["e0000", "e0002", "e0003"])],
    ),
    (
        "value_sum: booleans are not numbers",
        corr("value_sum", {"gt": 1}, value="details.bytes"),
        {"a": [ev(0, 0, bytes=True), ev(1, 1, bytes=True)]},
        [],
    ),
    (
        "temporal: every rule, any order",
        corr("temporal", {"gte": 3}, rules=("a", "b", "c")),
        {"a": [ev(0, 0)], "c": [ev(1, 100)], "b": [ev(2, 200)]},
        [(("bob",), 3, ["e0000", "e0001", "e0002"])],
    ),
    (
        "temporal: one rule missing",
        corr("temporal", {"gte": 3}, rules=("a", "b", "c")),
        {"a": [ev(0, 0)], "c": [ev(1, 100)]},
        [],
    ),
    (
        "temporal: a rule too early",
        corr("temporal", {"gte": 3}, rules=("a", "b", "c")),
        {"a": [ev(0, 0)], "b": [ev(1, 601)], "c": [ev(2, 602)]},
        [],
    ),
    (
        "temporal: one event matching two rules is both",
        corr("temporal", {"gte": 2}, rules=("a", "b")),
        {"a": [ev(0, 0)], "b": [ev(0, 0)]},
        [(("bob",), 2, ["e0000"])],
    ),
    (
        "temporal_ordered: out of order does not fire",
        corr("temporal_ordered", {"gte": 3}, rules=("a", "b", "c")),
        {"a": [ev(0, 0)], "c": [ev(1, 100)], "b": [ev(2, 200)]},
        [],
    ),
    (
        "temporal_ordered: in order fires, with the window's matches",
        corr("temporal_ordered", {"gte": 3}, rules=("a", "b", "c")),
        {"a": [ev(0, 0)], "c": [ev(1, 100), ev(3, 300)], "b": [ev(2, 200)]},
        [(("bob",), 3, ["e0000", "e0001", "e0002", "e0003"])],
    ),
    (
        "temporal_ordered: equal timestamps are no order",
        corr("temporal_ordered", {"gte": 2}, rules=("a", "b")),
        {"a": [ev(0, 0)], "b": [ev(1, 0)]},
        [],
    ),
    (
        "temporal_ordered: one event matching both rules is no sequence",
        corr("temporal_ordered", {"gte": 2}, rules=("a", "b")),
        {"a": [ev(0, 0)], "b": [ev(0, 0)]},
        [],
    ),
    (
        "temporal_ordered: one second later is an order",
        corr("temporal_ordered", {"gte": 2}, rules=("a", "b")),
        {"a": [ev(0, 0)], "b": [ev(1, 1)]},
        [(("bob",), 2, ["e0000", "e0001"])],
    ),
    (
        "temporal_ordered: two of three, in order",
        corr("temporal_ordered", {"gte": 2}, rules=("a", "b", "c")),
        {"c": [ev(0, 0)], "a": [ev(1, 10)], "b": [ev(2, 20)]},
        [(("bob",), 2, ["e0000", "e0001", "e0002"])],
    ),
    (
        "temporal_ordered: the sequence must fit in the timespan",
        corr("temporal_ordered", {"gte": 2}, rules=("a", "b")),
        {"a": [ev(0, 0)], "b": [ev(1, 601)]},
        [],
    ),
    (
        "group-by two fields: each pair is a group",
        corr(condition={"gte": 3}, group=(USER, "details.host")),
        {"a": burst(0, 3, 0, host="h1") + burst(3, 2, 0.5, host="h2")},
        [(("bob", "h1"), 3, names(0, 3))],
    ),
    (
        "group-by: case-insensitive, shown as the first event has it",
        corr(condition={"gte": 3}),
        {"a": [ev(0, 0, user="Bob"), ev(1, 1, user="BOB"), ev(2, 2, user="bob")]},
        [(("Bob",), 3, names(0, 3))],
    ),
    (
        "group-by: 22 and '22' are one group",
        corr(condition={"gte": 2}),
        {"a": [ev(0, 0, user=22), ev(1, 1, user="22")]},
        [(("22",), 2, names(0, 2))],
    ),
    (
        "group-by: an event without the field is in no group",
        corr(condition={"gte": 2}, group=(USER, "details.host")),
        {"a": [ev(0, 0, host="h1"), ev(1, 1), ev(2, 2, user=None, host="h1"), ev(3, 3, host="h1")]},
        [(("bob", "h1"), 2, ["e0000", "e0003"])],
    ),
    (
        "group-by: a list puts the event in each element's group",
        corr(condition={"gte": 2}),
        {"a": [ev(0, 0, user=["alice", "bob"]), ev(1, 1, user="bob")]},
        [(("bob",), 2, ["e0000", "e0001"])],
    ),
    (
        "group-by: an event fires once, in the first group that fires",
        corr(condition={"gte": 2}),
        {"a": [ev(0, 0, user=["alice", "bob"]), ev(1, 5, user="alice"), ev(2, 10, user="bob")]},
        [(("alice",), 2, ["e0000", "e0001"])],
    ),
    (
        "no group-by: one group",
        corr(condition={"gte": 3}, group=()),
        {"a": [ev(0, 0, user="x"), ev(1, 1, user="y"), ev(2, 2, user=None)]},
        [((), 3, names(0, 3))],
    ),
    (
        "aliases: each rule its own field",
        corr(
            "temporal_ordered",
            {"gte": 2},
            rules=("a", "b"),
            group_by={"a": ("details.destinationip",), "b": ("details.sourceip",)},
        ),
        {
            "a": [ev(0, 0, destinationip="10.0.0.5", sourceip="1.2.3.4")],
            "b": [ev(1, 5, sourceip="10.0.0.5"), ev(2, 6, sourceip="1.2.3.4")],
        },
        [(("10.0.0.5",), 2, ["e0000", "e0001"])],
    ),
]


@pytest.mark.parametrize(("rule", "matches", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_reaching_conditions(rule, matches, expected):
    assert not closed_windows(rule)
    assert summary(evaluate(rule, matches)) == expected


def test_a_firing_carries_its_window():
    (firing,) = evaluate(corr(condition={"gte": 2}), {"a": [ev(0, 0), ev(1, 90)]})
    assert (firing.start, firing.end) == (at(90) - SPAN, at(90))
    assert firing.rules == ("a",)


def test_rules_lists_the_referenced_rules_that_matched():
    rule = corr(condition={"gte": 2}, rules=("a", "b", "c"))
    (firing,) = evaluate(rule, {"c": [ev(0, 0)], "a": [ev(1, 1)]})
    assert firing.rules == ("a", "c")


def test_value_sum_is_exact():
    rule = corr("value_sum", {"gte": 0.3}, value="details.bytes", group=())
    (firing,) = evaluate(rule, {"a": [ev(0, 0, bytes="0.1"), ev(1, 1, bytes="0.2")]})
    assert firing.value == 0.3  # 0.1 + 0.2 in floats is 0.30000000000000004: exact, then rounded once


def test_events_are_in_time_order_whatever_the_input_order():
    events = [ev(3, 3), ev(0, 0), ev(2, 2), ev(1, 1)]
    (firing,) = evaluate(corr(condition={"gte": 4}), {"a": events})
    assert ids(firing) == names(0, 4)


# -- consumption -------------------------------------------------------------------------------------------
def test_a_burst_of_15_fires_once_and_10_more_fire_again():
    rule = corr()
    first = burst(0, 15, 0)
    assert summary(evaluate(rule, {"a": first})) == [(("bob",), 10, names(0, 10))]
    more = burst(15, 10, 30)  # still within 10 minutes of the first burst's last 5
    firings = evaluate(rule, {"a": first + more})
    assert summary(firings) == [(("bob",), 10, names(0, 10)), (("bob",), 10, names(10, 10))]
    later = burst(15, 10, 3600)  # an hour later: the 5 left over are out of its window
    assert summary(evaluate(rule, {"a": first + later})) == [
        (("bob",), 10, names(0, 10)),
        (("bob",), 10, names(15, 10)),
    ]


def test_leaving_out_what_fired_gives_nothing_new():
    """What the runner's dedup does: the next run's search leaves out the events already alerted."""
    rule = corr()
    events = burst(0, 25, 0, step=7)
    first = evaluate(rule, {"a": events})
    fired = {e["id"] for f in first for e in f.events}
    assert evaluate(rule, {"a": [e for e in events if e["id"] not in fired]}) == []


def test_groups_do_not_consume_each_other():
    rule = corr(condition={"gte": 3})
    events = burst(0, 3, 0, user="bob") + burst(3, 3, 0.5, user="alice")
    assert summary(evaluate(rule, {"a": events})) == [  # by window end: bob's third came first
        (("bob",), 3, names(0, 3)),
        (("alice",), 3, names(3, 3)),
    ]


# -- closed windows: lt, lte, eq, neq, ranges, averages ------------------------------------------------------
CLOSED = [
    ("lt: 3 in the hour's first 10 minutes", corr(condition={"lt": 5}), {"a": burst(0, 3, 0)}, [3]),
    ("lt: a burst of 20 is not few", corr(condition={"lt": 5}), {"a": burst(0, 20, 0)}, []),
    ("lt: one event is fewer than 5", corr(condition={"lt": 5}), {"a": [ev(0, 30)]}, [1]),
    ("lte", corr(condition={"lte": 3}), {"a": burst(0, 3, 0)}, [3]),
    ("lte: over", corr(condition={"lte": 3}), {"a": burst(0, 4, 0)}, []),
    ("eq", corr(condition={"eq": 2}), {"a": burst(0, 2, 0)}, [2]),
    ("eq: one too many", corr(condition={"eq": 2}), {"a": burst(0, 3, 0)}, []),
    ("neq", corr(condition={"neq": 2}), {"a": burst(0, 3, 0)}, [3]),
    ("neq: equal", corr(condition={"neq": 2}), {"a": burst(0, 2, 0)}, []),
    ("range: inside", corr(condition={"gt": 2, "lte": 4}), {"a": burst(0, 4, 0)}, [4]),
    ("range: a burst of 6 is not in it", corr(condition={"gt": 2, "lte": 4}), {"a": burst(0, 6, 0)}, []),
    (
        "windows are aligned: 12:00-12:10 and 12:10-12:20",
        corr(condition={"lt": 5}),
        {"a": burst(0, 3, 595) + burst(3, 10, 700)},
        [3],
    ),
    (
        "the window's end is not in it",
        corr(condition={"eq": 1}),
        {"a": [ev(0, 0), ev(1, 600)]},
        [1, 1],
    ),
    (
        "value_avg gt: the whole window's average",
        corr("value_avg", {"gt": 150}, value="details.bytes"),
        {"a": [ev(0, 0, bytes=100), ev(1, 1, bytes="300"), ev(2, 2, bytes="n/a")]},
        [200],
    ),
    (
        "value_avg: one large value does not make a large average",
        corr("value_avg", {"gt": 150}, value="details.bytes"),
        {"a": [ev(0, 0, bytes=400), ev(1, 1, bytes=10), ev(2, 2, bytes=10)]},
        [],  # 140
    ),
    (
        "value_count lt",
        corr("value_count", {"lt": 2}, value="details.ip"),
        {"a": [ev(0, 0, ip="1"), ev(1, 1, ip="1")]},
        [1],
    ),
    (
        "temporal lt: only some of the rules",
        corr("temporal", {"lt": 2}, rules=("a", "b")),
        {"a": [ev(0, 0)], "b": [ev(1, 700)]},
        [1, 1],
    ),
    (
        "temporal_ordered eq",
        corr("temporal_ordered", {"eq": 2}, rules=("a", "b")),
        {"a": [ev(0, 0)], "b": [ev(1, 10)]},
        [2],
    ),
]


@pytest.mark.parametrize(("rule", "matches", "values"), [c[1:] for c in CLOSED], ids=[c[0] for c in CLOSED])
def test_closed_windows(rule, matches, values):
    assert closed_windows(rule)
    assert [f.value for f in evaluate(rule, matches, now=at(3600))] == values


def test_a_closed_window_is_judged_only_once_it_has_closed():
    rule = corr(condition={"lt": 5})
    matches = {"a": burst(0, 3, 30)}
    assert evaluate(rule, matches, now=at(599)) == []  # 12:09:59: more may come
    (firing,) = evaluate(rule, matches, now=at(600))
    assert (firing.start, firing.end, firing.value, ids(firing)) == (at(0), at(600), 3, names(0, 3))
    assert len(evaluate(rule, matches)) == 1  # no `now`: every window has closed


def test_a_closed_window_fires_once():
    rule = corr(condition={"lt": 5})
    events = burst(0, 3, 30) + burst(3, 2, 900)
    firings = evaluate(rule, {"a": events}, now=at(3600))
    assert [ids(f) for f in firings] == [names(0, 3), names(3, 2)]
    fired = {e["id"] for f in firings for e in f.events}
    assert evaluate(rule, {"a": [e for e in events if e["id"] not in fired]}, now=at(7200)) == []


def test_a_closed_window_measures_what_fired_in_other_groups():
    """e0001 is in the groups of x and y. x holds two events, y one: `lt 2` fires for y only, and x
    judged again without e0001 (alerted) would wrongly hold one: it is measured with it."""
    rule = corr(condition={"lt": 2})
    events = [ev(0, 0, user="x"), ev(1, 0, user=["x", "y"])]
    (firing,) = evaluate(rule, {"a": events}, now=at(600))
    assert (firing.group, ids(firing)) == (("y",), ["e0001"])
    assert evaluate(rule, {"a": events}, now=at(900), fired={"e0001"}) == []


def test_a_late_event_in_a_closed_window_that_fired_is_measured_with_it():
    rule = corr(condition={"lt": 3})
    assert evaluate(rule, {"a": [ev(0, 0), ev(1, 10)]}, now=at(600), fired={"e0000"}) != []
    assert evaluate(rule, {"a": [ev(0, 0), ev(1, 10), ev(2, 20)]}, now=at(600), fired={"e0000"}) == []


def test_matches_after_now_have_not_happened():
    assert evaluate(corr(condition={"gte": 2}), {"a": [ev(0, 0), ev(1, 60)]}, now=at(59)) == []


def test_windows_reaching_before_since_are_left_to_the_run_that_saw_them():
    rule = corr(condition={"gte": 2})
    matches = {"a": [ev(0, 0), ev(1, 60)]}
    assert evaluate(rule, matches, since=at(-600)) != []
    assert evaluate(rule, matches, since=at(-539)) == []  # the window ending at 60 s starts at -540 s
    closed = corr(condition={"lt": 5})
    assert evaluate(closed, {"a": [ev(0, 30)]}, since=at(0)) != []
    assert evaluate(closed, {"a": [ev(0, 30)]}, since=at(1)) == []


# -- errors ------------------------------------------------------------------------------------------------
def test_what_it_refuses():
    with pytest.raises(ValueError, match="positive timespan"):
        evaluate(corr(span=timedelta(0)), {})
    with pytest.raises(ValueError, match="value field"):
        evaluate(corr("value_sum", {"gt": 1}), {"a": [ev(0, 0)]})
    with pytest.raises(ValueError, match="no id"):
        evaluate(corr(), {"a": [{"utctimestamp": T0.isoformat()}]})


def test_matches_without_a_usable_timestamp_are_left_out():
    events = [*burst(0, 2, 0), {"id": "x", "utctimestamp": "yesterday", "details": {"user": "bob"}}]
    assert summary(evaluate(corr(condition={"gte": 3}), {"a": events})) == []


# -- determinism and a brute-force reference -----------------------------------------------------------------
def test_shuffled_input_gives_the_same_firings():
    rng = random.Random(5)
    events = [
        ev(i, rng.randrange(0, 7200), user=rng.choice(["a", "b", "c", ["a", "b"]]), ip=str(rng.randrange(6)))
        for i in range(400)
    ]
    rules = [
        corr(condition={"gte": 7}),
        corr("value_count", {"gte": 4}, value="details.ip"),
        corr("temporal_ordered", {"gte": 2}, rules=("a", "b")),
        corr(condition={"lt": 6}),
    ]
    for rule in rules:
        matches = {"a": events[::2], "b": events[1::2]} if len(rule.rules) == 2 else {"a": events}
        expected = evaluate(rule, matches, now=at(7200))
        assert expected
        for _ in range(3):
            shuffled = {key: rng.sample(value, len(value)) for key, value in matches.items()}
            assert evaluate(rule, shuffled, now=at(7200)) == expected


def _leaves(value: object) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def reference(rule: CorrelationRule, matches: dict, now: datetime | None = None) -> list[tuple]:
    """The semantics, written the slow and obvious way (flat events: `details.user`, `details.v`)."""
    span = rule.timespan
    entries = []  # (time, group, id, slot, values)
    for slot, key in enumerate(rule.rules):
        for event in matches.get(key, []):
            time = datetime.fromisoformat(event["utctimestamp"])
            if now is not None and time > now:
                continue
            users = list(dict.fromkeys(str(u).casefold() for u in _leaves(event["details"].get("user"))))
            raw = _leaves(event["details"].get("v"))
            if rule.type == "value_count":
                values = tuple(dict.fromkeys(str(v).casefold() for v in raw))
            else:
                values = tuple(Fraction(str(v)) for v in raw if str(v).isdigit())
            if rule.type.startswith("value") and not values:
                continue
            groups = [(u,) for u in users] if rule.group_by[key] else [()]
            for group in groups:
                entries.append((time, group, event["id"], slot, values))
    if not rule.type.startswith("temporal"):  # one entry per event and group
        entries = list({(e[1], e[2]): e for e in sorted(entries, key=lambda e: -e[3])}.values())

    def measure(window: list[tuple]) -> float:
        if rule.type == "event_count":
            return len({e[2] for e in window})
        if rule.type == "value_count":
            return len({v for e in window for v in e[4]})
        if rule.type == "temporal":
            return len({e[3] for e in window})
        if rule.type == "temporal_ordered":
            longest: dict[int, int] = {}
            for i, e in enumerate(sorted(window)):
                longest[i] = 1 + max(
                    (longest[j] for j, f in enumerate(sorted(window)[:i]) if f[0] < e[0] and f[3] < e[3]),
                    default=0,
                )
            return max(longest.values(), default=0)
        numbers = [v for e in window for v in e[4]]
        total = sum(numbers, Fraction(0))
        return float(total if rule.type == "value_sum" else total / len(numbers))

    consumed: set[str] = set()
    fired = []
    if closed_windows(rule):
        seconds = span.total_seconds()
        cells = sorted({(int((e[0] - T0).total_seconds() // seconds), e[1]) for e in entries})
        for cell, group in cells:
            start = T0 + cell * span
            if now is not None and start + span > now:
                continue
            window = [e for e in entries if e[1] == group and start <= e[0] < start + span]
            live = [e for e in window if e[2] not in consumed]  # it measures all, carries the new
            if live and rule.threshold.holds(measure(window)):
                fired.append((group, measure(window), sorted({e[2] for e in live})))
                consumed.update(e[2] for e in live)
    else:
        for time, group in sorted({(e[0], e[1]) for e in entries}):
            if all(e[2] in consumed for e in entries if (e[0], e[1]) == (time, group)):
                continue
            window = [e for e in entries if e[1] == group and time - span <= e[0] <= time]
            window = [e for e in window if e[2] not in consumed]
            if rule.threshold.holds(measure(window)):
                fired.append((group, measure(window), sorted({e[2] for e in window})))
                consumed.update(e[2] for e in window)
    return fired


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[CorrelationRule, dict]:
    kind = draw(
        st.sampled_from(
            ["event_count", "value_count", "value_sum", "value_avg", "temporal", "temporal_ordered"]
        )
    )
    rules = ("a", "b", "c") if kind.startswith("temporal") else draw(st.sampled_from([("a",), ("a", "b")]))
    ops = draw(st.sampled_from([("gte",), ("gt",), ("lt",), ("lte",), ("eq",), ("neq",), ("gt", "lte")]))
    bounds = {op: draw(st.integers(0, 5)) for op in ops}
    grouped = draw(st.booleans())
    rule = corr(kind, bounds, rules=rules, group=(USER,) if grouped else (), value="details.v")
    events = []
    for n in range(draw(st.integers(0, 18))):
        user = draw(st.sampled_from(["x", "y", "X", ["x", "y"], None]))
        value = draw(st.sampled_from([1, 2, "3", "z", None, [1, 2]]))
        minutes = draw(st.integers(0, 40)) * 2.5
        events.append(
            (ev(n, minutes * 60, user=user, v=value), draw(st.sets(st.sampled_from(rules), min_size=1)))
        )
    matches = {key: [e for e, keys in events if key in keys] for key in rules}
    return rule, matches


@given(scenarios())
def test_agrees_with_the_reference(scenario):
    rule, matches = scenario
    now = at(7200)
    got = [(f.group, f.value, sorted(ids(f))) for f in evaluate(rule, matches, now=now)]
    # the reference names groups by their casefolded values; the engine shows the first event's
    folded = [(tuple(g.casefold() for g in group), value, names_) for group, value, names_ in got]
    expected = reference(rule, matches, now)
    key = lambda f: (f[2], f[0])  # noqa: E731
    assert sorted(folded, key=key) == sorted(expected, key=key)


@given(scenarios(), st.sampled_from([timedelta(minutes=5), timedelta(minutes=13), timedelta(minutes=40)]))
def test_how_often_it_runs_changes_nothing(scenario, step):
    """Runs every `step`, each over `[now - timespan - lookback, now]` without the events already fired
    (the runner's dedup), fire exactly what one run over everything fires."""
    rule, matches = scenario
    end = at(7200)
    lookback = step
    once = evaluate(rule, matches, now=end)
    fired: set[str] = set()
    runs: list[Firing] = []
    moments = (at(-1800) + step * k for k in itertools.count())
    for now in itertools.takewhile(lambda m: m < end, moments):
        runs.extend(_run(rule, matches, now, lookback, fired))
    runs.extend(_run(rule, matches, end, lookback, fired))
    assert sorted(summary(runs)) == sorted(summary(once))


def _run(
    rule: CorrelationRule, matches: dict, now: datetime, lookback: timedelta, fired: set
) -> list[Firing]:
    """What `CorrelationTask` does: the search's span; alerted events left out for a reaching condition,
    given as `fired` for a closed-window one."""
    since = now - rule.timespan - lookback
    closed = closed_windows(rule)
    seen = {
        key: [
            e
            for e in events
            if (closed or e["id"] not in fired) and since <= datetime.fromisoformat(e["utctimestamp"]) <= now
        ]
        for key, events in matches.items()
    }
    firings = evaluate(rule, seen, now=now, since=since, fired=fired if closed else ())
    fired.update(e["id"] for f in firings for e in f.events)
    return firings
