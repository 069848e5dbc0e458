"""Intrinsic function calls (`States.Format('{} ran', $.name)`), parsed into a tree once and evaluated
against the state's data, the context object and the variables.

Arguments are string literals in single quotes (`\\'` and `\\\\` escaped; `\\{` and `\\}` kept for
`States.Format`), numbers, `true`/`false`/`null`, paths (`$.x`, `$$.Execution.Id`, `$name`) and nested
calls. An unknown function or a wrong argument count is a definition error; anything that goes wrong
while evaluating is `States.IntrinsicFailure`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from reynard.respond.errors import StatesError

from . import functions, jsonpath
from .names import INTRINSIC_FAILURE


class IntrinsicSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Arg, ...]


@dataclass(frozen=True)
class Value:
    value: Any


@dataclass(frozen=True)
class PathArg:
    path: jsonpath.Path


Arg = Call | Value | PathArg

_FUNCTION = re.compile(r"States\.[A-Za-z0-9]+")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def looks_like_call(text: str) -> bool:
    return text.startswith("States.")


@lru_cache(maxsize=2048)
def parse(text: str) -> Call:
    """The tree of an intrinsic call; IntrinsicSyntaxError says what is wrong and where."""
    parser = _Parser(text)
    call = parser.call()
    parser.spaces()
    if parser.position != len(text):
        raise parser.fail("unexpected text after the call")
    return call


class _Parser:
    def __init__(self, text: str):
        self.text, self.position = text, 0

    def fail(self, message: str) -> IntrinsicSyntaxError:
        return IntrinsicSyntaxError(f"{self.text!r}: {message} at position {self.position}")

    def spaces(self) -> None:
        while self.position < len(self.text) and self.text[self.position].isspace():
            self.position += 1

    def call(self) -> Call:
        match = _FUNCTION.match(self.text, self.position)
        if not match:
            raise self.fail("expected a States. function")
        name = match.group()
        if name not in functions.FUNCTIONS:
            raise IntrinsicSyntaxError(f"{self.text!r}: unknown intrinsic function {name}")
        self.position = match.end()
        self.spaces()
        if not self.text.startswith("(", self.position):
            raise self.fail("expected (")
        self.position += 1
        args: list[Arg] = []
        self.spaces()
        if self.text.startswith(")", self.position):
            self.position += 1
        else:
            while True:
                args.append(self.argument())
                self.spaces()
                if self.text.startswith(",", self.position):
                    self.position += 1
                    continue
                if self.text.startswith(")", self.position):
                    self.position += 1
                    break
                raise self.fail("expected , or )")
        problem = functions.arity(name, len(args))
        if problem:
            raise IntrinsicSyntaxError(f"{self.text!r}: {problem}")
        for position, arg in enumerate(args):
            if isinstance(arg, Value):
                problem = functions.check_literal(name, position, arg.value)
                if problem:
                    raise IntrinsicSyntaxError(f"{self.text!r}: {problem}")
        return Call(name, tuple(args))

    def argument(self) -> Arg:
        self.spaces()
        rest = self.text[self.position :]
        if rest.startswith("'"):
            return Value(self.string())
        if rest.startswith("States."):
            return self.call()
        if rest.startswith("$"):
            return PathArg(self.path())
        for word, value in (("true", True), ("false", False), ("null", None)):
            if rest.startswith(word):
                self.position += len(word)
                return Value(value)
        number = _NUMBER.match(self.text, self.position)
        if number:
            self.position = number.end()
            text = number.group()
            return Value(float(text) if any(c in text for c in ".eE") else int(text))
        raise self.fail("expected a 'string', a number, true, false, null, a path or a States. call")

    def string(self) -> str:
        self.position += 1
        out: list[str] = []
        while self.position < len(self.text):
            char = self.text[self.position]
            if char == "\\" and self.position + 1 < len(self.text):
                escaped = self.text[self.position + 1]
                out.append(escaped if escaped in "'\\" else char + escaped)
                self.position += 2
                continue
            if char == "'":
                self.position += 1
                return "".join(out)
            out.append(char)
            self.position += 1
        raise self.fail("unterminated string")

    def path(self) -> jsonpath.Path:
        start, depth, quote = self.position, 0, ""
        while self.position < len(self.text):
            char = self.text[self.position]
            if quote:
                if char == quote:
                    quote = ""
            elif char in "'\"":
                quote = char
            elif char in "[(":
                depth += 1
            elif char in "])":
                if depth == 0:
                    break
                depth -= 1
            elif char == "," and depth == 0:
                break
            self.position += 1
        text = self.text[start : self.position].strip()
        try:
            return jsonpath.parse(text)
        except jsonpath.PathSyntaxError as e:
            raise IntrinsicSyntaxError(f"{self.text!r}: {e}") from None


def paths(call: Call) -> list[jsonpath.Path]:
    """Every path a call reads (validation checks their roots)."""
    out: list[jsonpath.Path] = []
    for arg in call.args:
        if isinstance(arg, PathArg):
            out.append(arg.path)
        elif isinstance(arg, Call):
            out.extend(paths(arg))
    return out


def evaluate(call: Call, resolve: Callable[[jsonpath.Path], Any]) -> Any:
    """The call's value; `resolve` gives a path's value (raising PathNotFound when it has none)."""
    args: list[Any] = []
    for arg in call.args:
        if isinstance(arg, Value):
            args.append(arg.value)
        elif isinstance(arg, Call):
            args.append(evaluate(arg, resolve))
        else:
            try:
                args.append(resolve(arg.path))
            except jsonpath.PathNotFound as e:
                raise StatesError(INTRINSIC_FAILURE, f"{call.name}: {e}") from None
    return functions.call(call.name, args)
