"""A state's data flow: what it reads, what it passes on.

JSONPath states: `InputPath` -> `Parameters` (payload template) -> the work -> `ResultSelector` ->
`ResultPath` -> `OutputPath`; `Assign` sets variables from the result. JSONata states: `Arguments`
-> the work -> `Output`, expressions seeing `$states.input`, `.result`, `.errorOutput`, `.context`.

The failures are the specification's: a template's path that finds nothing is
`States.ParameterPathFailure`, a `ResultPath` that cannot be applied `States.ResultPathMatchFailure`,
an `InputPath`/`OutputPath` (or any other path) that finds nothing `States.Runtime`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reynard.respond.errors import StatesError

from . import intrinsics, jsonata_mode, jsonpath
from .names import PARAMETER_PATH_FAILURE, RESULT_PATH_MATCH_FAILURE, RUNTIME


@dataclass(frozen=True)
class Scope:
    """What a path or an expression can read besides the state's data: `$$` and the variables."""

    context: dict[str, Any]
    variables: dict[str, Any]

    def with_context(self, **values: Any) -> Scope:
        return Scope({**self.context, **values}, self.variables)


def resolve(path: jsonpath.Path, data: Any, scope: Scope) -> Any:
    """A path's value (definite) or matches (indefinite); PathNotFound when a definite one finds nothing."""
    if path.root == "$":
        document = data
    elif path.root == "$$":
        document = scope.context
    else:
        if path.root not in scope.variables:
            raise jsonpath.PathNotFound(f"{path.text}: no variable ${path.root} is assigned")
        document = scope.variables[path.root]
    return jsonpath.select(path, document)


def read(text: str, data: Any, scope: Scope, error: str = RUNTIME) -> Any:
    """The value of a path field (`Variable`, `SecondsPath`, ...); a missing value is `error`."""
    try:
        return resolve(jsonpath.parse(text), data, scope)
    except jsonpath.PathNotFound as e:
        raise StatesError(error, f"Invalid path {text!r}: {e}") from None


def input_path(spec: Any, data: Any, scope: Scope) -> Any:
    """`InputPath`: the part of the input the state works on (null: `{}`)."""
    if "InputPath" not in spec:
        return data
    if spec["InputPath"] is None:
        return {}
    return read(spec["InputPath"], data, scope)


def output_path(spec: Any, data: Any, scope: Scope) -> Any:
    """`OutputPath`: the part of the state's output passed on (null: `{}`)."""
    if "OutputPath" not in spec:
        return data
    if spec["OutputPath"] is None:
        return {}
    return read(spec["OutputPath"], data, scope)


def template(value: Any, data: Any, scope: Scope) -> Any:
    """A payload template (`Parameters`, `ResultSelector`, `ItemSelector`, `Assign`) applied to `data`."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key.endswith(".$"):
                out[key[:-2]] = _dynamic(item, data, scope)
            else:
                out[key] = template(item, data, scope)
        return out
    if isinstance(value, list):
        return [template(item, data, scope) for item in value]
    return value


def _dynamic(text: str, data: Any, scope: Scope) -> Any:
    if intrinsics.looks_like_call(text):
        call = intrinsics.parse(text)
        return intrinsics.evaluate(call, lambda path: resolve(path, data, scope))
    try:
        return resolve(jsonpath.parse(text), data, scope)
    except jsonpath.PathNotFound as e:
        raise StatesError(PARAMETER_PATH_FAILURE, f"Invalid path {text!r}: {e}") from None


def path_or_intrinsic(text: str, data: Any, scope: Scope) -> Any:
    """`ErrorPath`/`CausePath`: a path (missing: States.Runtime) or an intrinsic call."""
    if intrinsics.looks_like_call(text):
        return _dynamic(text, data, scope)
    return read(text, data, scope)


def result_path(spec: Any, raw_input: Any, result: Any, field: str = "ResultPath") -> Any:
    """`ResultPath` (default `$`: the result replaces the input; null: the input passes unchanged)."""
    if field not in spec:
        return result
    if spec[field] is None:
        return raw_input
    try:
        return jsonpath.assign(jsonpath.parse(spec[field]), raw_input, result)
    except jsonpath.ResultPathError as e:
        raise StatesError(RESULT_PATH_MATCH_FAILURE, str(e)) from None


def jsonata_bindings(scope: Scope, state_input: Any, **states: Any) -> dict[str, Any]:
    """Variables by name, and `$states` (`input`, `context`, plus `result` or `errorOutput`)."""
    return {**scope.variables, "states": {"input": state_input, "context": scope.context, **states}}


def jsonata(value: Any, scope: Scope, state_input: Any, **states: Any) -> Any:
    """A JSONata field (a `{% %}` string, or JSON holding some) evaluated for this state."""
    return jsonata_mode.evaluate_template(value, jsonata_bindings(scope, state_input, **states))
