"""JSONata states: `"{% expression %}"` strings evaluated by the `jsonata-python` package, with the
bindings Step Functions gives (`$states.input`, `.result`, `.errorOutput`, `.context`, and every
variable by name) and the functions it adds (`$partition`, `$range`, `$hash`, `$random`, `$uuid`,
`$parse`).

What cannot be evaluated as Step Functions would is refused when the definition is validated: `$eval`
(Step Functions does not offer it either). An evaluation error, a result that is not JSON (a function),
or an expression with no value (JSONata's *undefined*) is `States.QueryEvaluationError`.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import threading
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jsonata
from jsonata.utils import Utils

from reynard.respond.errors import StatesError

from .functions import HASHES
from .names import QUERY_EVALUATION_ERROR

_UNSUPPORTED = {
    "$eval": "$eval is not supported (Step Functions has none either): use $parse",
}


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


def body(value: str) -> str:
    return value[2:-2].strip()


class JsonataSyntaxError(ValueError):
    pass


@dataclass
class Compiled:
    text: str
    program: Any
    lock: threading.Lock


def _partition(values: Any, size: Any) -> list[Any]:
    items = _plain(values)
    if not isinstance(items, list):
        items = [items]
    if not isinstance(size, (int, float)) or isinstance(size, bool) or size < 1 or size != int(size):
        raise ValueError("$partition: the size must be a positive integer")
    step = int(size)
    return [items[i : i + step] for i in range(0, len(items), step)]


def _range(start: Any, end: Any, step: Any) -> list[Any]:
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (start, end, step)):
        raise ValueError("$range: start, end and step must be numbers")
    if step == 0:
        raise ValueError("$range: the step cannot be 0")
    out, value = [], start
    while (step > 0 and value <= end) or (step < 0 and value >= end):
        out.append(value)
        value += step
        if len(out) > 1000:
            raise ValueError("$range: more than 1000 items")
    return out


def _hash(value: Any, algorithm: Any) -> str:
    if not isinstance(value, str) or algorithm not in HASHES:
        raise ValueError(f"$hash: a string and one of {', '.join(HASHES)}")
    return hashlib.new(HASHES[algorithm], value.encode()).hexdigest()


def _random(seed: Any = None) -> float:
    return (random.Random(seed) if seed is not None else random).random()


def _uuid() -> str:
    return str(uuid.uuid4())


def _parse(text: Any) -> Any:
    if not isinstance(text, str):
        raise ValueError("$parse: the argument must be a JSON string")
    return json.loads(text)


_EXTRA = {
    "partition": _partition,
    "range": _range,
    "hash": _hash,
    "random": _random,
    "uuid": _uuid,
    "parse": _parse,
}


@lru_cache(maxsize=2048)
def compile_expression(text: str) -> Compiled:
    """The program of a `{% %}` string (or of a bare expression); JsonataSyntaxError when refused."""
    source = body(text) if is_expression(text) else text
    for name, why in _UNSUPPORTED.items():
        if re.search(re.escape(name) + r"\s*\(", source):
            raise JsonataSyntaxError(why)
    try:
        program = jsonata.Jsonata(source)
    except Exception as e:  # the package raises its JException (and a few builtins) for bad syntax
        raise JsonataSyntaxError(f"{text!r}: {e}") from None
    program.set_output_convert_nulls(False)
    for name, function in _EXTRA.items():
        program.register_lambda(name, function)
    return Compiled(text, program, threading.Lock())


def _plain(value: Any) -> Any:
    """JSON values out of the package's own (its null marker, its sequences, floats that are integers)."""
    if value is Utils.NULL_VALUE:
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a JSON number")
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if value is None or isinstance(value, (bool, int, str)):
        return value
    raise ValueError(f"the result is not JSON (a {type(value).__name__})")


def evaluate(text: str, bindings: dict[str, Any]) -> Any:
    """The value of one `{% %}` expression, or StatesError(States.QueryEvaluationError)."""
    compiled = compile_expression(text)
    try:
        with compiled.lock:
            result = compiled.program.evaluate(None, bindings)
        if result is None:
            raise ValueError("the expression has no value (undefined)")
        return _plain(result)
    except StatesError:
        raise
    except Exception as e:  # the package's JException, ZeroDivisionError, our functions' ValueError
        raise StatesError(QUERY_EVALUATION_ERROR, f"{text}: {e}") from None


def evaluate_template(value: Any, bindings: dict[str, Any]) -> Any:
    """A JSON value with every `{% %}` string in it (at any depth) replaced by its value."""
    if is_expression(value):
        return evaluate(value, bindings)
    if isinstance(value, dict):
        return {k: evaluate_template(v, bindings) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate_template(v, bindings) for v in value]
    return value


def expressions(value: Any) -> list[str]:
    """Every `{% %}` string in a JSON value (validation compiles each)."""
    if is_expression(value):
        return [value]
    if isinstance(value, dict):
        return [e for v in value.values() for e in expressions(v)]
    if isinstance(value, list):
        return [e for v in value for e in expressions(v)]
    return []
