"""Where a key was written: the line of every key path in a TOML or JSON text.

`tomllib` and `json` give values without positions, and so does tomlkit (it keeps the text, but an item
knows no line; only its parse errors carry one). A settings file is small and already parsed when an
error needs a line, so a scan that knows just enough of the syntax finds each key: table headers
(`[a.b]`, and `[[a]]` with the index of the table it adds), dotted and quoted keys, inline tables,
arrays (each element by its index), and the strings and comments that may hold any of `[ ] = { } #`.

`toml_lines(text)` and `json_lines(text)` map a key path such as `("notifiers", 1, "url")` to the
1-based line where it is first written; a table made by a header maps to the header's line. The text is
expected to be valid (parse it first); on text that is not, the map may be incomplete, but the scan
always ends and never raises.
"""

from __future__ import annotations

import json
import re
import tomllib
from bisect import bisect_right

KeyPath = tuple[str | int, ...]

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_SCALAR_END = frozenset(",]}\n#")  # what ends a number, a boolean, a date or null


def toml_lines(text: str) -> dict[KeyPath, int]:
    return _Scan(text, json=False).toml_document()


def json_lines(text: str) -> dict[KeyPath, int]:
    return _Scan(text, json=True).json_document()


class _Scan:
    def __init__(self, text: str, *, json: bool):
        self.text = text
        self.end = len(text)
        self.json = json
        self.i = 0
        self.lines: dict[KeyPath, int] = {}
        self._line_starts = [0, *(m.end() for m in re.finditer("\n", text))]

    # -- documents -------------------------------------------------------------------------------------
    def toml_document(self) -> dict[KeyPath, int]:
        table: KeyPath = ()
        arrays: dict[KeyPath, int] = {}  # each array of tables ([[a]]) -> how many tables it has so far
        while True:
            self.skip()
            if self.i >= self.end:
                return self.lines
            start = self.i
            if self.peek() == "[":
                double = self.peek(2) == "[["
                self.i += 2 if double else 1
                keys = self.key()
                self.skip(newlines=False)
                self.i += 2 if double else 1
                table = self.header(keys, double, start, arrays)
                continue
            keys = self.key()
            if not keys:  # not a key: the text is not valid TOML
                return self.lines
            self.pair(table, keys, start)

    def json_document(self) -> dict[KeyPath, int]:
        self.skip()
        self.mark((), self.i)
        self.value(())
        return self.lines

    def header(self, keys: list[str], double: bool, start: int, arrays: dict[KeyPath, int]) -> KeyPath:
        """The path of the table a header opens: a key naming an array of tables means its last table."""
        path: list[str | int] = []
        for n, key in enumerate(keys):
            path.append(key)
            here = tuple(path)
            if double and n == len(keys) - 1:
                index = arrays.get(here, 0)
                arrays[here] = index + 1
                self.mark(here, start)
                path.append(index)
            elif here in arrays:
                path.append(arrays[here] - 1)
            self.mark(tuple(path), start)
        return tuple(path)

    # -- pieces ----------------------------------------------------------------------------------------
    def pair(self, table: KeyPath, keys: list[str], start: int) -> None:
        """`a.b = value` (or JSON's `"a": value`) in `table`: each prefix of the key is on this line."""
        for n in range(1, len(keys) + 1):
            self.mark((*table, *keys[:n]), start)
        self.skip(newlines=False)
        if self.peek() in ("=", ":"):
            self.i += 1
        self.skip(newlines=False)
        self.value((*table, *keys))

    def key(self) -> list[str]:
        """A key, dotted or not (JSON: one string); empty when there is none here."""
        keys: list[str] = []
        while True:
            self.skip(newlines=False)
            start, char = self.i, self.peek()
            if char == '"':
                self.basic_string()
                keys.append(self.decode(self.text[start : self.i]))
            elif char == "'" and not self.json:
                self.literal_string()
                keys.append(self.text[start + 1 : self.i - 1])
            elif char and char in _BARE and not self.json:
                while self.i < self.end and self.text[self.i] in _BARE:
                    self.i += 1
                keys.append(self.text[start : self.i])
            else:
                return keys
            if self.json:
                return keys
            self.skip(newlines=False)
            if self.peek() != ".":
                return keys
            self.i += 1

    def value(self, path: KeyPath) -> None:
        char = self.peek()
        if not self.json and self.peek(3) in ('"""', "'''"):
            self.multiline_string(self.peek(3))
        elif char == '"':
            self.basic_string()
        elif char == "'" and not self.json:
            self.literal_string()
        elif char == "[":
            self.array(path)
        elif char == "{":
            self.table(path)
        else:
            while self.i < self.end and self.text[self.i] not in _SCALAR_END:
                self.i += 1

    def array(self, path: KeyPath) -> None:
        self.i += 1
        index = 0
        while True:
            self.skip()
            if self.i >= self.end:
                return
            if self.peek() == "]":
                self.i += 1
                return
            before = self.i
            self.mark((*path, index), self.i)
            self.value((*path, index))
            self.skip()
            if self.peek() == ",":
                self.i += 1
            if self.i == before:  # nothing read: the text is not valid
                return
            index += 1

    def table(self, path: KeyPath) -> None:
        """An inline table (TOML) or an object (JSON)."""
        self.i += 1
        while True:
            self.skip()
            if self.i >= self.end:
                return
            if self.peek() == "}":
                self.i += 1
                return
            start = self.i
            keys = self.key()
            if not keys:
                return
            self.pair(path, keys, start)
            self.skip()
            if self.peek() == ",":
                self.i += 1

    def basic_string(self) -> None:
        self.i += 1
        while self.i < self.end:
            char = self.text[self.i]
            if char == "\\":
                self.i += 2
            elif char == '"':
                self.i += 1
                return
            elif char == "\n":
                return
            else:
                self.i += 1

    def literal_string(self) -> None:
        close = self.text.find("'", self.i + 1, self._line_end())
        self.i = close + 1 if close >= 0 else self._line_end()

    def multiline_string(self, delimiter: str) -> None:
        self.i += 3
        while self.i < self.end:
            if delimiter == '"""' and self.text[self.i] == "\\":
                self.i += 2
            elif self.text.startswith(delimiter, self.i):
                self.i += 3
                for _ in range(2):  # `""""` ends with a quote in the string: the last three close it
                    if self.peek() == delimiter[0]:
                        self.i += 1
                return
            else:
                self.i += 1

    def skip(self, *, newlines: bool = True) -> None:
        """Blanks and comments (and line ends, unless `newlines` is False)."""
        while self.i < self.end:
            char = self.text[self.i]
            if char in " \t\r" or (newlines and char == "\n"):
                self.i += 1
            elif char == "#" and not self.json:
                self.i = self._line_end()
            else:
                return

    # -- helpers ---------------------------------------------------------------------------------------
    def peek(self, n: int = 1) -> str:
        return self.text[self.i : self.i + n]

    def mark(self, path: KeyPath, at: int) -> None:
        self.lines.setdefault(path, bisect_right(self._line_starts, at))

    def decode(self, quoted: str) -> str:
        try:
            return json.loads(quoted) if self.json else tomllib.loads(f"k = {quoted}")["k"]
        except ValueError:  # tomllib.TOMLDecodeError and json.JSONDecodeError are ValueErrors
            return quoted[1:-1]

    def _line_end(self) -> int:
        end = self.text.find("\n", self.i)
        return self.end if end < 0 else end
