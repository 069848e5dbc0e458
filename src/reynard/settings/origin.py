"""Where a setting came from, so an error can say `reynard.toml:14` and not only `notifiers[1]`.

An `Origin` is one source of settings: a file (its name and text, TOML or JSON) or an environment
variable. A `Place` is a key path in an origin; it names itself (`notifiers[1]`, `respond.aws`) and finds
its line lazily, the first time an error needs one, with `locate`. Typed settings keep their place
(out of equality and repr), so the code that uses them later can still point at the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from reynard.errors import ConfigError

from .locate import KeyPath, json_lines, toml_lines


@dataclass(frozen=True)
class Origin:
    """A file (`name` is its path as given, `text` what it held) or, without text, any other source."""

    name: str
    text: str | None = field(default=None, repr=False)
    syntax: Literal["toml", "json"] = "toml"

    @cached_property
    def lines(self) -> dict[KeyPath, int]:
        if self.text is None:
            return {}
        return json_lines(self.text) if self.syntax == "json" else toml_lines(self.text)

    def where(self, path: KeyPath = ()) -> str:
        """`name:line` of the longest part of `path` that is written in the text, else `name`."""
        for n in range(len(path), -1, -1):
            line = self.lines.get(path[:n])
            if line is not None:
                return f"{self.name}:{line}"
        return self.name


@dataclass(frozen=True)
class Place:
    """A key path in an origin: `Place(origin, ("notifiers", 1))` is `notifiers[1]` of that file."""

    origin: Origin
    path: KeyPath = ()

    def at(self, *keys: str | int) -> Place:
        return Place(self.origin, (*self.path, *keys))

    @property
    def label(self) -> str:
        return render_path(self.path)

    def where(self, *keys: str | int) -> str:
        return self.origin.where((*self.path, *keys))

    def error(self, message: str, *keys: str | int, label: str | None = None) -> ConfigError:
        """`<where>: <label>: <message>`, where is the line of `keys` under this place (else its own)."""
        label = self.label if label is None else label
        return ConfigError(f"{label}: {message}" if label else message, where=self.where(*keys))


# Values built in code rather than read from a file.
IN_CODE = Place(Origin("settings"))


def render_path(path: KeyPath) -> str:
    """`("notifiers", 1, "url")` as `notifiers[1].url`; a key that is not bare is quoted."""
    text = ""
    for key in path:
        if isinstance(key, int):
            text += f"[{key}]"
        else:
            name = key if key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key) else f'"{key}"'
            text += f".{name}" if text else name
    return text
