"""Dotted field paths over nested event dicts: the one place that walks them.

A path is dot-separated keys (`details.useridentity.arn`). What "the value at a path" means depends on
the reader, so there are three readings, each written once:

- `get_path(doc, path)`: the value at a path as a person reads it (a table cell, a projected field, a
  MozDef alert's `getValueByPath`): whatever is there, a dict or a list included, or `default`. A list on
  the way yields the values of its dict items, one level (`lists=False`: a list on the way is missing).
- `reacher(path)`: every value at a path (scalar, list or dict) for the query's meaning: a list anywhere
  on the way fans out, nested lists flattened, so "any element matches" is a loop. `PathTrie` reads many
  paths this way in one walk of the event.
- `leaf_getter(path)` / `values_at(event, path)`: the scalar leaves among those values (`leaves`): what
  terms, ranges and patterns compare. Hot: the predicate and the streaming matcher call the compiled
  getter for every event, so it takes the usual case (dicts down to one scalar) in one loop.

`ANY_IP` is a virtual field: every valid address under the `details` keys in `IP_KEYS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any, Generic, TypeVar

from reynard.events.ips import as_ip

T = TypeVar("T")
Getter = Callable[[dict], list[Any]]

_MISSING = object()
_SCALARS = (str, int, float, bool)

# `details` keys that hold IP addresses. Their valid addresses also make up the virtual field `ip`
# ("every address in the event"), which queries can use like any other field: `ip:203.0.113.9`.
IP_KEYS = (
    "sourceipaddress",
    "destinationipaddress",
    "sourceipv4address",
    "destinationipv4address",
    "sourceipv6address",
    "destinationipv6address",
    "ipaddress",
    "ipaddressv4",
    "privateipaddress",
    "publicip",
)
ANY_IP = "ip"


def split_path(path: str) -> tuple[str, ...]:
    """The keys of a dotted path: `details.useridentity.arn` -> ("details", "useridentity", "arn")."""
    return tuple(path.split("."))


# -- the value at a path --------------------------------------------------------------------------------
def get_path(doc: Mapping, path: str, default: Any = None, *, lists: bool = True) -> Any:
    """`get_path(e, "details.useridentity.arn")`: the value at a path, or `default` when a key is missing.

    With `lists` (the default), a list on the way yields the values of its dict items at the rest of the
    path (`a.b` of `{"a": [{"b": 1}, {"b": 2}, {}]}` is [1, 2]); without, a list on the way is missing."""
    value: Any = doc
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part, _MISSING)
        elif lists and isinstance(value, list):
            found = [item.get(part, _MISSING) for item in value if isinstance(item, Mapping)]
            value = [v for v in found if v is not _MISSING] or _MISSING
        else:
            value = _MISSING
        if value is _MISSING:
            return default
    return value


# -- every value, and the scalar leaves, at a path ------------------------------------------------------
def leaves(value: Any) -> list[Any]:
    """The scalar values in a value: a list contributes its scalar elements (nested lists flattened);
    None and dicts contribute nothing."""
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            out.extend(leaves(item))
        return out
    if value is None or isinstance(value, dict):
        return []
    return [value]


def _flatten(items: list) -> Iterable[Any]:
    for item in items:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item


def reach(doc: Any, parts: tuple[str, ...]) -> list[Any]:
    """Every value (scalar, list or dict) at `parts` under `doc`; lists on the way fan out."""
    current = [doc]
    for part in parts:
        found = []
        for value in current:
            if isinstance(value, dict):
                if part in value:
                    found.append(value[part])
            elif isinstance(value, list):
                found.extend(
                    item[part] for item in _flatten(value) if isinstance(item, dict) and part in item
                )
        if not found:
            return []
        current = found
    return current


def ip_values(event: dict) -> list[Any]:
    """The virtual field `ip`: every valid address under the details keys that hold addresses."""
    details = event.get("details")
    if type(details) is not dict:
        return []
    found = []
    for key in IP_KEYS:
        value = details.get(key)
        if value is not None:
            found.extend(v for v in leaves(value) if as_ip(v) is not None)
    return found


def reacher(path: str) -> Getter:
    """`reach` compiled for one path (None values left out): `reacher(path)(event)`."""
    if path == ANY_IP:
        return ip_values
    parts = split_path(path)

    def reach_any(event: dict) -> list[Any]:
        value: Any = event
        for i, part in enumerate(parts):
            if type(value) is dict:
                value = value.get(part)
                if value is None:
                    return []
            elif isinstance(value, list):
                return reach(value, parts[i:])
            else:
                return []
        return [value]

    def reach_dicts(event: dict) -> list[Any]:
        """`reach_any` for the usual case, dicts all the way, in as few steps as Python allows (a
        streamed event looks up a dozen paths); anything else takes the general walk."""
        value: Any = event
        for part in parts:
            if type(value) is not dict:
                return reach_any(event)
            value = value.get(part)
            if value is None:
                return []
        return [value]

    return reach_dicts


@lru_cache(maxsize=4_096)
def leaf_getter(path: str) -> Getter:
    """The scalar leaves at a path, compiled once for callers that look up many events:
    `leaf_getter("details.tags")(event)` -> ["a", "b"]; [] when absent."""
    reach_path = reacher(path)

    def get(event: dict) -> list[Any]:
        found = reach_path(event)
        if len(found) == 1 and type(found[0]) in _SCALARS:
            return found
        out: list[Any] = []
        for value in found:
            out.extend(leaves(value))
        return out

    if path == ANY_IP:
        return get
    parts = split_path(path)

    def get_scalar(event: dict) -> list[Any]:
        """`get` in one step for the usual case, one scalar under dicts all the way."""
        value: Any = event
        for part in parts:
            if type(value) is not dict:
                return get(event)
            value = value.get(part)
            if value is None:
                return []
        return [value] if type(value) in _SCALARS else get(event)

    return get_scalar


def values_at(event: dict, path: str) -> list[Any]:
    """The scalar leaves at a dotted path: `values_at(e, "details.tags")` -> ["a", "b"]; [] when absent.

    Unlike `get_path`, a list anywhere on the way contributes all its elements, so "any element
    matches" is a loop over this list."""
    return leaf_getter(path)(event)


# -- many paths in one walk -----------------------------------------------------------------------------
class PathTrie(Generic[T]):
    """Many paths read in one walk of an event: `details.useridentity` is visited once for the seven
    paths under it, not seven times. Each path carries a tag (what the caller wants to know of it).

    `reach(doc)` lists `(tags, value)` for every value the walk reaches at the end of some paths, in
    walk order (the paths' order, depth first): the values are those of `reacher(path)` for each path
    (lists on the way fanning out the same way), None left out."""

    __slots__ = ("_root",)

    def __init__(self, tagged: Iterable[tuple[T, str]]):
        # Built as nested dicts, then frozen: a branch is a tuple of (key, tags of the paths ending there,
        # the branch below or None), in the paths' order.
        tree: dict = {}
        for tag, path in tagged:
            node = tree
            for part in split_path(path):
                node = node.setdefault(part, {})
            node[_TAGS] = (*node.get(_TAGS, ()), tag)
        self._root = _frozen(tree)

    def reach(self, doc: Any) -> list[tuple[tuple[T, ...], Any]]:
        out: list[tuple[tuple[T, ...], Any]] = []
        if self._root:
            _descend(self._root, doc, out.append)
        return out


_TAGS = object()  # the key of the tags in a node of the tree PathTrie builds
_Branch = tuple[tuple[str, tuple, "_Branch | None"], ...]


def _frozen(tree: dict) -> _Branch:
    return tuple(
        (part, sub.get(_TAGS, ()), _frozen(sub) if len(sub) > (_TAGS in sub) else None)
        for part, sub in tree.items()
        if part is not _TAGS
    )


def _descend(branch: _Branch, value: Any, emit: Callable[[tuple], None]) -> None:
    kind = type(value)
    if kind is dict:
        for part, tags, children in branch:
            inner = value.get(part)
            if inner is None:
                continue
            if tags:
                emit((tags, inner))
            if children is not None:
                _descend(children, inner, emit)
    elif kind is list:  # a list on the way: each element continues the path
        for item in value:
            _descend(branch, item, emit)


__all__ = [
    "ANY_IP",
    "IP_KEYS",
    "PathTrie",
    "get_path",
    "ip_values",
    "leaf_getter",
    "leaves",
    "reach",
    "reacher",
    "split_path",
    "values_at",
]
