"""lower_keys: every key of the draft, at every depth, in lowercase and without a leading `@`.

Why: the house format says `details` keys are lowercase, so that a field path such as
`details.useridentity.arn` means one thing whatever casing the source used (CloudTrail writes
`userIdentity`, Logstash envelopes write `@timestamp`). It runs first (priority 4) so that every later
plugin reads lowercase keys only.

Cost: it sees every key of every event, so it is written for speed. The new name of a key is
remembered in a bounded table (logs repeat the same few hundred key names), and a dict or list whose
keys are already clean is returned as the very same object, without a copy (the fast path for sources
that already write lowercase keys).

Collisions: when two keys of one object lowercase to the same name (`Name` and `name`), a key that was
already clean keeps its name and a renamed one gets the first name among `name_1`, `name_2`, ... that
no other key has (renamed keys in the object's order). No value is ever dropped. Keys that are not
strings (possible only in drafts built in Python) become their `str()`.
"""

from __future__ import annotations

from itertools import islice
from typing import ClassVar

from reynard.settings import Settings

_CACHE_MAX = 65_536
_MISSING = object()
# key -> its new name, or None when the key is already clean. Only string keys are remembered.
_renamed: dict[str, str | None] = {}


def _learn(key: object) -> str | None:
    text = key if type(key) is str else str(key)
    name = text.lower()
    if name[:1] == "@" and len(name) > 1:
        name = name[1:]
    result = None if (name == key and type(key) is str) else name
    if type(key) is str and len(_renamed) < _CACHE_MAX:
        _renamed[key] = result
    return result


def _value(value: object) -> object:
    kind = type(value)
    if kind is dict:
        return lower_dict(value)  # type: ignore[arg-type]
    if kind is list:
        return _lower_list(value)  # type: ignore[arg-type]
    return value


def _free_name(name: str, new: dict, old: dict) -> str:
    """The first of `name_1`, `name_2`, ... taken neither in the new dict nor by an original key."""
    n = 1
    while f"{name}_{n}" in new or f"{name}_{n}" in old:
        n += 1
    return f"{name}_{n}"


def lower_dict(d: dict) -> dict:
    """`d` with clean keys at every depth: `d` itself when nothing changes, else a new dict."""
    get = _renamed.get
    items = iter(d.items())
    clean = 0
    for key, value in items:
        new_key = get(key, _MISSING)
        if new_key is _MISSING:
            new_key = _learn(key)
        kind = type(value)
        new_value = lower_dict(value) if kind is dict else _lower_list(value) if kind is list else value
        if new_key is None and new_value is value:
            clean += 1
            continue
        # Slow path: something changes. Copy the clean prefix, then go on with the same iterator.
        new = dict(islice(d.items(), clean)) if clean else {}
        if new_key is None:
            new[key] = new_value
        elif new_key in new or new_key in d:  # the name belongs to an original key
            new[_free_name(new_key, new, d)] = new_value
        else:
            new[new_key] = new_value
        for key, value in items:
            new_key = get(key, _MISSING)
            if new_key is _MISSING:
                new_key = _learn(key)
            kind = type(value)
            if kind is dict:
                value = lower_dict(value)
            elif kind is list:
                value = _lower_list(value)
            if new_key is None:
                new[key] = value
            elif new_key in new or new_key in d:
                new[_free_name(new_key, new, d)] = value
            else:
                new[new_key] = value
        return new
    return d


def _lower_list(items: list) -> list:
    """Clean the dicts inside a list, in place (the list belongs to the draft); returns the list."""
    for i, value in enumerate(items):
        kind = type(value)
        if kind is dict:
            new = lower_dict(value)
        elif kind is list:
            new = _lower_list(value)
        else:
            continue
        if new is not value:
            items[i] = new
    return items


class LowerKeys:
    """Lowercase every key of every event (top level and `details`, at every depth)."""

    name: ClassVar[str] = "lower_keys"
    priority: ClassVar[int] = 4

    def __init__(self, settings: Settings | None = None):
        pass

    def wants(self, draft: dict) -> bool:
        return True

    def apply(self, draft: dict) -> dict:
        new = lower_dict(draft)
        if new is not draft:  # keep the caller's object: refill it in place
            draft.clear()
            draft.update(new)
        return draft
