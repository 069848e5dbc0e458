"""The 18 intrinsic functions, each with its signature declared once (`@signature`, as jmespath does):
the arity is checked when a definition is validated, the argument types before each call, so a wrong
argument is always `States.IntrinsicFailure` naming the function and the argument.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reynard.respond.errors import StatesError

from .names import INTRINSIC_FAILURE

MAX_ARRAY_RANGE = 1000
MAX_BASE64_INPUT = 10_000


@dataclass(frozen=True)
class Param:
    name: str
    kinds: tuple[str, ...]  # string, number, integer, boolean, array, object, any
    optional: bool = False
    variadic: bool = False


def signature(*params: Param) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def mark(function: Callable[..., Any]) -> Callable[..., Any]:
        function.signature = params  # type: ignore[attr-defined]
        return function

    return mark


def p(name: str, *kinds: str, optional: bool = False, variadic: bool = False) -> Param:
    return Param(name, kinds or ("any",), optional, variadic)


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _fits(value: Any, kinds: tuple[str, ...]) -> bool:
    kind = kind_of(value)
    return "any" in kinds or kind in kinds or (kind == "integer" and "number" in kinds)


def arity(name: str, count: int) -> str | None:
    """Why `count` arguments do not fit function `name` (None when they do, or the name is unknown)."""
    function = FUNCTIONS.get(name)
    if function is None:
        return None
    params: tuple[Param, ...] = function.signature  # type: ignore[attr-defined]
    required = sum(1 for q in params if not q.optional and not q.variadic)
    most = None if any(q.variadic for q in params) else len(params)
    if count < required or (most is not None and count > most):
        wanted = f"{required}" if most == required else f"{required} to {most}" if most else f"{required}+"
        return f"{name} takes {wanted} argument(s), got {count}"
    return None


def check_literal(name: str, position: int, value: Any) -> str | None:
    """Why a literal argument at `position` has the wrong type (None when it fits)."""
    param = _param_at(name, position)
    if param is None or _fits(value, param.kinds):
        return None
    return f"{name}: argument {param.name} must be {' or '.join(param.kinds)}, got {kind_of(value)}"


def _param_at(name: str, position: int) -> Param | None:
    params: tuple[Param, ...] = FUNCTIONS[name].signature  # type: ignore[attr-defined]
    if position < len(params):
        return params[position]
    return params[-1] if params and params[-1].variadic else None


def call(name: str, args: list[Any]) -> Any:
    """Call intrinsic `name` with evaluated `args`, checking them against its signature first."""
    function = FUNCTIONS[name]
    problem = arity(name, len(args))
    if problem:
        raise StatesError(INTRINSIC_FAILURE, problem)
    for position, value in enumerate(args):
        problem = check_literal(name, position, value)
        if problem:
            raise StatesError(INTRINSIC_FAILURE, problem)
    args = [int(a) if isinstance(a, float) and a.is_integer() else a for a in args]
    try:
        return function(*args)
    except StatesError:
        raise
    except (ValueError, TypeError, OverflowError) as e:
        raise StatesError(INTRINSIC_FAILURE, f"{name}: {e}") from None


def _fail(message: str) -> StatesError:
    return StatesError(INTRINSIC_FAILURE, message)


def to_json(value: Any) -> str:
    """JSON as Step Functions writes it: compact, non-ASCII kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _format_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, dict)):
        raise _fail("States.Format: arguments must be strings, numbers, booleans or null")
    return to_json(value)


@signature(p("template", "string"), p("values", "any", variadic=True))
def format_(template: str, *values: Any) -> str:
    out: list[str] = []
    used = 0
    position = 0
    while position < len(template):
        char = template[position]
        if char == "\\" and position + 1 < len(template) and template[position + 1] in "{}\\'":
            out.append(template[position + 1])
            position += 2
            continue
        if template.startswith("{}", position):
            if used >= len(values):
                raise _fail("States.Format: more {} placeholders than values")
            out.append(_format_value(values[used]))
            used += 1
            position += 2
            continue
        out.append(char)
        position += 1
    if used != len(values):
        raise _fail(f"States.Format: {len(values)} values for {used} {{}} placeholders")
    return "".join(out)


@signature(p("text", "string"))
def string_to_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise _fail(f"States.StringToJson: not JSON: {e}") from None


@signature(p("value"))
def json_to_string(value: Any) -> str:
    return to_json(value)


@signature(p("values", "any", variadic=True))
def array(*values: Any) -> list[Any]:
    return list(values)


@signature(p("array", "array"), p("size", "integer"))
def array_partition(items: list[Any], size: int) -> list[list[Any]]:
    if size <= 0:
        raise _fail("States.ArrayPartition: the chunk size must be positive")
    return [items[i : i + size] for i in range(0, len(items), size)]


@signature(p("array", "array"), p("value"))
def array_contains(items: list[Any], value: Any) -> bool:
    return any(kind_of(item) == kind_of(value) and item == value for item in items)


@signature(p("start", "integer"), p("end", "integer"), p("step", "integer"))
def array_range(start: int, end: int, step: int) -> list[int]:
    if step == 0:
        raise _fail("States.ArrayRange: the step cannot be 0")
    values = list(range(start, end + (1 if step > 0 else -1), step))
    if len(values) > MAX_ARRAY_RANGE:
        raise _fail(f"States.ArrayRange: more than {MAX_ARRAY_RANGE} items")
    return values


@signature(p("array", "array"), p("index", "integer"))
def array_get_item(items: list[Any], index: int) -> Any:
    if not 0 <= index < len(items):
        raise _fail(f"States.ArrayGetItem: index {index} out of range for {len(items)} items")
    return items[index]


@signature(p("array", "array"))
def array_length(items: list[Any]) -> int:
    return len(items)


@signature(p("array", "array"))
def array_unique(items: list[Any]) -> list[Any]:
    seen: set[str] = set()
    out = []
    for item in items:
        key = to_json([kind_of(item), item])
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


@signature(p("text", "string"))
def base64_encode(text: str) -> str:
    if len(text) > MAX_BASE64_INPUT:
        raise _fail(f"States.Base64Encode: input longer than {MAX_BASE64_INPUT} characters")
    return base64.b64encode(text.encode()).decode()


@signature(p("text", "string"))
def base64_decode(text: str) -> str:
    if len(text) > MAX_BASE64_INPUT:
        raise _fail(f"States.Base64Decode: input longer than {MAX_BASE64_INPUT} characters")
    try:
        return base64.b64decode(text, validate=True).decode()
    except (ValueError, UnicodeDecodeError) as e:
        raise _fail(f"States.Base64Decode: not base64 text: {e}") from None


HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


@signature(p("data", "string"), p("algorithm", "string"))
def hash_(data: str, algorithm: str) -> str:
    if algorithm not in HASHES:
        raise _fail(f"States.Hash: algorithm must be one of {', '.join(HASHES)}, got {algorithm!r}")
    return hashlib.new(HASHES[algorithm], data.encode()).hexdigest()


@signature(p("left", "object"), p("right", "object"), p("deep", "boolean"))
def json_merge(left: dict, right: dict, deep: bool) -> dict:
    if deep:
        raise _fail("States.JsonMerge: only the shallow merge (false) is supported, as in Step Functions")
    return {**left, **right}


@signature(p("start", "integer"), p("end", "integer"), p("seed", "integer", optional=True))
def math_random(start: int, end: int, seed: int | None = None) -> int:
    if end <= start:
        raise _fail("States.MathRandom: end must be greater than start")
    generator = random.Random(seed) if seed is not None else random
    return generator.randrange(start, end)


@signature(p("left", "integer"), p("right", "integer"))
def math_add(left: int, right: int) -> int:
    return left + right


@signature(p("text", "string"), p("delimiter", "string"))
def string_split(text: str, delimiter: str) -> list[str]:
    if not delimiter:
        raise _fail("States.StringSplit: the delimiter is empty")
    parts = [""]
    for char in text:
        if char in delimiter:
            parts.append("")
        else:
            parts[-1] += char
    return [part for part in parts if part]


@signature()
def uuid_() -> str:
    return str(uuid.uuid4())


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "States.Format": format_,
    "States.StringToJson": string_to_json,
    "States.JsonToString": json_to_string,
    "States.Array": array,
    "States.ArrayPartition": array_partition,
    "States.ArrayContains": array_contains,
    "States.ArrayRange": array_range,
    "States.ArrayGetItem": array_get_item,
    "States.ArrayLength": array_length,
    "States.ArrayUnique": array_unique,
    "States.Base64Encode": base64_encode,
    "States.Base64Decode": base64_decode,
    "States.Hash": hash_,
    "States.JsonMerge": json_merge,
    "States.MathRandom": math_random,
    "States.MathAdd": math_add,
    "States.StringSplit": string_split,
    "States.UUID": uuid_,
}
