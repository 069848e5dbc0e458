"""Anchors (the values an event must hold for a query to match) never leave out a matching event."""

from hypothesis import HealthCheck, given, settings

from reynard.events.fields import values_at
from reynard.query.anchors import Anchor, anchor, anchors
from reynard.query.ast import Bool, Exists, Match, Prefix, Term, Terms
from reynard.query.predicate import compile_predicate
from reynard.query.values import term_text
from strategies import event_lists, queries

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def holds(found: Anchor, event: dict) -> bool:
    texts = (term_text(leaf) for leaf in values_at(event, found.field))
    return any(text is not None and found.key(text) in found.values for text in texts)


@PROPERTY
@given(queries(), event_lists(max_size=20))
def test_every_matching_event_holds_the_anchor(query, events):
    found = anchors(query)
    if not found:
        return
    predicate = compile_predicate(query)
    for event in events:
        if predicate(event):
            for each in found:
                assert holds(each, event), (query, each, event)


def test_anchors_of_simple_queries():
    name = "details.eventname"
    assert anchor(Term(name, "StopLogging")) == Anchor(name, frozenset({"StopLogging"}))
    assert anchor(Term(name, "StopLogging", case_insensitive=True)) == Anchor(
        name, frozenset({"stoplogging"}), True
    )
    assert anchor(Terms("details.destinationport", (22, 22.0, "2222"))) == Anchor(
        "details.destinationport", frozenset({"22", "2222"})
    )
    assert anchor(Term("summary", "failed")) is None  # token matched
    assert anchor(Term("ip", "10.0.0.1")) is None  # addresses compare as addresses
    assert anchor(Prefix(name, "Stop")) is None
    # The narrowest must clause; a should-only Bool when every clause is on one field.
    both = Bool(must=(Terms(name, ("A", "B", "C")), Term("source", "cloudtrail"), Exists("details.x")))
    assert anchor(both) == Anchor("source", frozenset({"cloudtrail"}))
    either = Bool(should=(Term(name, "A"), Match(name, "B")))
    assert anchor(either) == Anchor(name, frozenset({"A", "B"}))
    assert anchor(Bool(should=(Term(name, "A"), Term("source", "x")))) is None
    assert anchor(Bool(should=(Term(name, "A"),), minimum_should_match=0)) is None
    assert anchor(Bool(must_not=(Term(name, "A"),))) is None


def test_every_anchor_of_a_conjunction():
    name = "details.eventname"
    query = Bool(must=(Term("source", "cloudtrail"), Term(name, "StopLogging")))
    assert set(anchors(query)) == {
        Anchor("source", frozenset({"cloudtrail"})),
        Anchor(name, frozenset({"StopLogging"})),
    }
    assert anchor(query) == Anchor(name, frozenset({"StopLogging"}))  # details before top-level fields
    nested = Bool(should=(Bool(must=(Term(name, "A"), Term("source", "s"))), Term(name, "B")))
    assert anchors(nested) == (Anchor(name, frozenset({"A", "B"})),)
