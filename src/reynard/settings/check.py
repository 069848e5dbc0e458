"""Reading one table of the settings: known keys only, each of the right type and a usable value.

A table is described by `Key`s, each with a reader: a function that takes the value as the file gave it
and returns it checked and converted (an int where a number is asked for becomes a float, an array a
tuple), or raises `Invalid` with the end of a sentence that starts "key 'timeout' ...". `read_table`
turns the first problem into a `ConfigError` at the line of the key (or of the table, for a missing one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from .origin import Place

Reader = Callable[[Any], Any]


class Invalid(ValueError):
    """A value that does not fit; the message completes "key 'x' ..." ("must be a number, not a string")."""


@dataclass(frozen=True)
class Key:
    read: Reader
    required: bool = False


def read_table(value: Any, place: Place, keys: Mapping[str, Key], label: str | None = None) -> dict[str, Any]:
    """The keys of a table, checked and converted; the first unknown, wrong or missing key is an error."""
    if not isinstance(value, Mapping):
        raise place.error(f"must be a table, not {kind_of(value)}", label=label)
    checked: dict[str, Any] = {}
    for name, raw in value.items():
        key = keys.get(name)
        if key is None:
            known = ", ".join(keys) or "none"
            raise place.error(f"unknown key {name!r}; known: {known}", name, label=label)
        try:
            checked[name] = key.read(raw)
        except Invalid as e:
            raise place.error(f"key {name!r} {e}", name, label=label) from None
    missing = [name for name, key in keys.items() if key.required and name not in value]
    if missing:
        raise place.error(f"missing key {missing[0]!r}", label=label)
    return checked


def kind_of(value: Any) -> str:
    """A value's kind as TOML (and JSON) call it."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, datetime | date | time):
        return "a date or time"
    return "null" if value is None else type(value).__name__


# -- readers -----------------------------------------------------------------------------------------------
def string(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(f"must be a string, not {kind_of(value)}")
    return value


def non_empty(value: Any) -> str:
    """A string with something in it."""
    if not string(value).strip():
        raise Invalid("must not be empty")
    return value


def number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(f"must be a number, not {kind_of(value)}")
    return float(value)


def positive(value: Any) -> float:
    if number(value) <= 0:
        raise Invalid(f"must be more than 0, not {value}")
    return float(value)


def not_negative(value: Any) -> float:
    if number(value) < 0:
        raise Invalid(f"must be 0 or more, not {value}")
    return float(value)


def integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"must be an integer, not {kind_of(value)}")
    return value


def at_least(least: int) -> Reader:
    def read(value: Any) -> int:
        if integer(value) < least:
            raise Invalid(f"must be {least} or more, not {value}")
        return value

    return read


def port(value: Any) -> int:
    if not 0 < integer(value) < 65536:
        raise Invalid(f"must be a TCP port (1 to 65535), not {value}")
    return value


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"must be true or false, not {kind_of(value)}")
    return value


def one_of(*choices: str) -> Reader:
    def read(value: Any) -> str:
        if string(value) not in choices:
            raise Invalid(f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    return read


def url(value: Any) -> str:
    if not string(value).startswith(("http://", "https://")):
        raise Invalid("must start with http:// or https://")
    return value


def strings(value: Any) -> tuple[str, ...]:
    """A string, or a non-empty array of strings."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise Invalid(f"must be a string or an array of strings, not {kind_of(value)}")
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise Invalid(f"must be a string or an array of strings: item {index} is {kind_of(item)}")
    if not items:
        raise Invalid("must not be empty")
    return tuple(items)


def string_table(value: Any) -> Mapping[str, str]:
    """A table whose values are strings (HTTP headers)."""
    if not isinstance(value, Mapping):
        raise Invalid(f"must be a table of strings, not {kind_of(value)}")
    for key, item in value.items():
        if not isinstance(item, str):
            raise Invalid(f"must be a table of strings: {key!r} is {kind_of(item)}")
    return Frozen(value)


class Frozen(Mapping[str, Any]):
    """A read-only mapping that pickles (a `MappingProxyType` does not): the settings go to ingest worker
    processes whole."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Any] | None = None):
        self._items = dict(items or {})

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Frozen({self._items!r})"
