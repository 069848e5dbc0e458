"""Dotted field paths: the three readings of a path (events/fields.py) and the many-paths walk."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reynard.events.fields import (
    ANY_IP,
    PathTrie,
    get_path,
    leaf_getter,
    leaves,
    reach,
    reacher,
    split_path,
    values_at,
)

EVENT = {
    "hostname": "web1",
    "details": {
        "useridentity": {"arn": "arn:aws:iam::1:user/alice", "type": "IAMUser"},
        "items": [{"id": "i-1"}, {"id": "i-2"}, {"other": 1}, "loose"],
        "tags": ["a", ["b", None], {"c": 1}],
        "nested": [[{"id": "deep"}]],
        "empty": [],
        "none": None,
        "sourceipaddress": "::ffff:10.0.0.1",
        "destinationipaddress": "not an address",
        "publicip": ["203.0.113.9", 7],
    },
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("hostname", "web1"),
        ("details.useridentity", EVENT["details"]["useridentity"]),
        ("details.useridentity.arn", "arn:aws:iam::1:user/alice"),
        ("details.items.id", ["i-1", "i-2"]),  # one level: the dict items of the list
        ("details.tags", ["a", ["b", None], {"c": 1}]),
        ("details.nested.id", None),  # a list of lists is not walked
        ("details.none", None),
        ("details.missing", None),
        ("hostname.x", None),
    ],
)
def test_get_path_is_the_value_a_person_reads(path, value):
    assert get_path(EVENT, path) == value


def test_get_path_default_and_lists_off():
    assert get_path(EVENT, "details.missing", "-") == "-"
    assert get_path(EVENT, "details.none", "-") is None  # present, so not the default
    assert get_path(EVENT, "details.items.id", {}, lists=False) == {}
    assert get_path(EVENT, "details.useridentity.type", {}, lists=False) == "IAMUser"


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("details.useridentity.arn", ["arn:aws:iam::1:user/alice"]),
        ("details.items.id", ["i-1", "i-2"]),
        ("details.tags", ["a", "b"]),  # leaves: nested lists flattened, None and dicts left out
        ("details.nested.id", ["deep"]),  # every list on the way fans out
        ("details.empty", []),
        ("details.none", []),
        ("details.useridentity", []),
        ("hostname.x", []),
        (ANY_IP, ["::ffff:10.0.0.1", "203.0.113.9"]),  # the virtual field: valid addresses only
    ],
)
def test_values_at_are_the_scalar_leaves(path, found):
    assert values_at(EVENT, path) == found
    assert leaf_getter(path)(EVENT) == found


def test_reacher_keeps_containers():
    assert reacher("details.useridentity")(EVENT) == [EVENT["details"]["useridentity"]]
    assert reacher("details.items")(EVENT) == [EVENT["details"]["items"]]
    assert reacher("details.nested.id")(EVENT) == ["deep"]
    assert reacher("details.missing")(EVENT) == []


def test_split_path():
    assert split_path("details.useridentity.arn") == ("details", "useridentity", "arn")
    assert split_path("hostname") == ("hostname",)


# -- properties: the fast paths agree with the general walk ---------------------------------------------
KEYS = ["a", "b", "c"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["x", "y", ""]))


def containers(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3))


docs = st.recursive(scalars, containers, max_leaves=12)
events = st.dictionaries(st.sampled_from(KEYS), docs, max_size=3)
paths = st.lists(st.sampled_from(KEYS), min_size=1, max_size=4).map(".".join)


@given(events, paths)
def test_leaf_getter_is_the_leaves_of_the_general_walk(event, path):
    expected = [leaf for value in reach(event, split_path(path)) for leaf in leaves(value)]
    assert leaf_getter(path)(event) == expected


@given(events, paths)
def test_reacher_is_the_general_walk_without_nulls(event, path):
    general = [v for v in reach(event, split_path(path)) if v is not None]
    assert [v for v in reacher(path)(event) if v is not None] == general


@given(events, st.lists(paths, min_size=1, max_size=5))
def test_a_trie_reads_each_path_as_reacher_does(event, many):
    trie = PathTrie(enumerate(many))
    found: dict[int, list] = {i: [] for i in range(len(many))}
    for tags, value in trie.reach(event):
        for tag in tags:
            found[tag].append(value)
    for i, path in enumerate(many):
        assert found[i] == [v for v in reacher(path)(event) if v is not None]


def test_a_trie_reports_shared_paths_once_with_every_tag():
    trie = PathTrie([("domain", "hostname"), ("principal", "details.useridentity.arn"), ("x", "hostname")])
    assert trie.reach(EVENT) == [
        (("domain", "x"), "web1"),
        (("principal",), "arn:aws:iam::1:user/alice"),
    ]
    assert PathTrie([]).reach(EVENT) == []
