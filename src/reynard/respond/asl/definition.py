"""A state machine definition, checked field by field before anything runs.

`load_definition` turns ASL (text or a dict) into a `StateMachine`, or raises `DefinitionError` naming
the state (nested ones as `Outer/Branches[0]/Inner`) and the field. Every field of every state type is
known: a misspelt or unsupported one is refused, never ignored. Paths, intrinsic calls and JSONata
expressions are parsed here, so a definition that validates does not fail later on syntax.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reynard.respond.errors import DefinitionError

from . import functions, intrinsics, jsonata_mode, jsonpath
from .names import ALL
from .timestamps import parse_timestamp

JSONPATH, JSONATA = "JSONPath", "JSONata"
STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
MAX_NAME = 80

_COMMON = {"Type", "Comment", "QueryLanguage"}
_FIELDS = {
    JSONPATH: {
        "Pass": {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "Result", "Assign"},
        "Task": {
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Resource",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Retry",
            "Catch",
            "Assign",
            "Credentials",
        },
        "Choice": {"Choices", "Default", "InputPath", "OutputPath", "Assign"},
        "Wait": {
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Seconds",
            "SecondsPath",
            "Timestamp",
            "TimestampPath",
            "Assign",
        },
        "Succeed": {"InputPath", "OutputPath"},
        "Fail": {"Error", "ErrorPath", "Cause", "CausePath"},
        "Parallel": {
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Branches",
            "Retry",
            "Catch",
            "Assign",
        },
        "Map": {
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "ItemsPath",
            "ItemSelector",
            "ItemProcessor",
            "Iterator",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "Retry",
            "Catch",
            "Assign",
        },
    },
    JSONATA: {
        "Pass": {"Next", "End", "Output", "Assign"},
        "Task": {
            "Next",
            "End",
            "Arguments",
            "Output",
            "Resource",
            "TimeoutSeconds",
            "HeartbeatSeconds",
            "Retry",
            "Catch",
            "Assign",
            "Credentials",
        },
        "Choice": {"Choices", "Default", "Output", "Assign"},
        "Wait": {"Next", "End", "Output", "Seconds", "Timestamp", "Assign"},
        "Succeed": {"Output"},
        "Fail": {"Error", "Cause"},
        "Parallel": {"Next", "End", "Arguments", "Output", "Branches", "Retry", "Catch", "Assign"},
        "Map": {
            "Next",
            "End",
            "Items",
            "ItemSelector",
            "ItemProcessor",
            "MaxConcurrency",
            "ToleratedFailureCount",
            "ToleratedFailurePercentage",
            "Output",
            "Retry",
            "Catch",
            "Assign",
        },
    },
}
_UNSUPPORTED = {
    "ItemReader": "ItemReader is for Distributed Map, which is not supported (use an inline Map)",
    "ItemBatcher": "ItemBatcher is for Distributed Map, which is not supported (use an inline Map)",
    "ResultWriter": "ResultWriter is for Distributed Map, which is not supported (use an inline Map)",
    "Label": "Label is for Distributed Map, which is not supported (use an inline Map)",
    "Credentials": "Credentials (cross-account roles) are not supported: configure the action instead",
}
_JSONPATH_ONLY = {
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
    "Result",
    "Iterator",
}
_RETRY_FIELDS = {
    "ErrorEquals",
    "IntervalSeconds",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "JitterStrategy",
    "Comment",
}
_CATCH_FIELDS = {
    JSONPATH: {"ErrorEquals", "Next", "ResultPath", "Assign", "Comment"},
    JSONATA: {"ErrorEquals", "Next", "Output", "Assign", "Comment"},
}

COMPARISONS = {
    **{
        f"String{op}": "string"
        for op in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
    },
    **{
        f"Numeric{op}": "number"
        for op in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
    },
    **{
        f"Timestamp{op}": "timestamp"
        for op in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
    },
    "BooleanEquals": "boolean",
    "StringMatches": "string",
}
PATH_COMPARISONS = {f"{name}Path": kind for name, kind in COMPARISONS.items() if name != "StringMatches"}
TYPE_TESTS = ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")
OPERATORS = {*COMPARISONS, *PATH_COMPARISONS, *TYPE_TESTS}


@dataclass(frozen=True)
class State:
    name: str
    type: str
    spec: Mapping[str, Any] = field(compare=False)
    language: str  # JSONPath or JSONata: the state's own, or its machine's
    where: str  # the state's place for messages: `Outer/Branches[0]/Inner`

    @property
    def next(self) -> str | None:
        return self.spec.get("Next")

    @property
    def jsonata(self) -> bool:
        return self.language == JSONATA


@dataclass(frozen=True)
class StateMachine:
    start_at: str
    states: Mapping[str, State]
    language: str
    timeout_seconds: int | None
    comment: str | None
    children: Mapping[str, StateMachine]  # "State#0" (a Parallel branch), "State#items" (a Map's processor)
    definition: Mapping[str, Any] = field(compare=False)

    def at(self, address: list[str]) -> StateMachine:
        """The machine at `address` (keys of `children`, outermost first)."""
        machine = self
        for key in address:
            machine = machine.children[key]
        return machine


def load_definition(source: str | bytes | Mapping[str, Any], *, where: str | None = None) -> StateMachine:
    """The checked state machine of an ASL definition (JSON text or an already parsed object)."""
    if isinstance(source, (str, bytes)):
        try:
            document = json.loads(source)
        except json.JSONDecodeError as e:
            raise DefinitionError(
                f"not JSON: {e.msg} at line {e.lineno} column {e.colno}", where=where
            ) from None
    else:
        document = source
    if not isinstance(document, dict):
        raise DefinitionError("a state machine is a JSON object", where=where)
    try:
        return _Checker(where).machine(document, "", None, top=True)
    except DefinitionError:
        raise
    except RecursionError:
        raise DefinitionError("the definition nests too deeply", where=where) from None


def _kind(value: Any) -> str:
    return functions.kind_of(value) if value is not None else "null"


class _Checker:
    def __init__(self, where: str | None):
        self.where = where

    def fail(self, message: str, state: str | None = None, field_name: str | None = None) -> DefinitionError:
        return DefinitionError(message, state=state or None, field=field_name, where=self.where)

    # -- machines ---------------------------------------------------------------------------------------
    def machine(self, spec: Any, prefix: str, inherited: str | None, *, top: bool = False) -> StateMachine:
        place = prefix.rstrip("/") or None
        if not isinstance(spec, dict):
            raise self.fail("must be an object with StartAt and States", place)
        allowed = {"StartAt", "States", "Comment"} | (
            {"Version", "TimeoutSeconds", "QueryLanguage"} if top else set()
        )
        allowed |= {"ProcessorConfig"} if not top else set()
        if not top and "QueryLanguage" in spec:
            allowed.add("QueryLanguage")
        for key in spec:
            if key not in allowed:
                raise self.fail("unknown field", place, key)
        language = spec.get("QueryLanguage", inherited or JSONPATH)
        if language not in (JSONPATH, JSONATA):
            raise self.fail(f"must be {JSONPATH} or {JSONATA}, got {language!r}", place, "QueryLanguage")
        if inherited == JSONATA and language == JSONPATH and "QueryLanguage" in spec:
            raise self.fail("a JSONata machine cannot hold JSONPath states", place, "QueryLanguage")
        if "StartAt" not in spec:
            raise self.fail("missing (the name of the first state)", place, "StartAt")
        start = spec["StartAt"]
        if not isinstance(start, str):
            raise self.fail(f"must be a string, got {_kind(start)}", place, "StartAt")
        states = spec.get("States")
        if not isinstance(states, dict) or not states:
            raise self.fail("missing or empty (an object of states by name)", place, "States")
        if start not in states:
            raise self.fail(f"{start!r} is not a state of States", place, "StartAt")
        timeout = None
        if top and "TimeoutSeconds" in spec:
            timeout = self.positive_int(spec["TimeoutSeconds"], None, "TimeoutSeconds")
        if top and "Version" in spec and spec["Version"] != "1.0":
            raise self.fail("only version 1.0 exists", None, "Version")
        built: dict[str, State] = {}
        children: dict[str, StateMachine] = {}
        for name, state_spec in states.items():
            where = f"{prefix}{name}"
            if len(name) > MAX_NAME:
                raise self.fail(f"a state name has at most {MAX_NAME} characters", where)
            built[name] = self.state(name, state_spec, where, language, children)
        self.transitions(built, start)
        comment = spec.get("Comment")
        return StateMachine(start, built, language, timeout, comment, children, spec)

    def transitions(self, states: dict[str, State], start: str) -> None:
        targets: dict[str, list[str]] = {}
        for name, state in states.items():
            nexts = []
            if state.next is not None:
                nexts.append(("Next", state.next))
            if state.type == "Choice":
                nexts += [("Choices", r.get("Next")) for r in state.spec["Choices"]]
                if "Default" in state.spec:
                    nexts.append(("Default", state.spec["Default"]))
            nexts += [("Catch", c.get("Next")) for c in state.spec.get("Catch", [])]
            for field_name, target in nexts:
                if target not in states:
                    raise self.fail(f"{target!r} is not a state of this machine", state.where, field_name)
            targets[name] = [t for _, t in nexts]
        seen, todo = {start}, [start]
        while todo:
            for target in targets[todo.pop()]:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        for name, state in states.items():
            if name not in seen:
                raise self.fail("unreachable: no transition leads to this state", state.where)

    # -- states -----------------------------------------------------------------------------------------
    def state(self, name: str, spec: Any, where: str, inherited: str, children: dict) -> State:
        if not isinstance(spec, dict):
            raise self.fail("a state is an object", where)
        kind = spec.get("Type")
        if kind not in STATE_TYPES:
            raise self.fail(f"must be one of {', '.join(STATE_TYPES)}, got {kind!r}", where, "Type")
        language = spec.get("QueryLanguage", inherited)
        if language not in (JSONPATH, JSONATA):
            raise self.fail(f"must be {JSONPATH} or {JSONATA}, got {language!r}", where, "QueryLanguage")
        if inherited == JSONATA and language == JSONPATH:
            raise self.fail("a JSONPath state cannot be in a JSONata machine", where, "QueryLanguage")
        allowed = _COMMON | _FIELDS[language][kind]
        for key in spec:
            if key in _UNSUPPORTED and (key in allowed or kind == "Map"):
                raise self.fail(_UNSUPPORTED[key], where, key)
            if key not in allowed:
                if language == JSONATA and key in _JSONPATH_ONLY:
                    raise self.fail(
                        "is a JSONPath field; JSONata states use Arguments and Output", where, key
                    )
                if language == JSONPATH and key in ("Arguments", "Output", "Items", "Condition"):
                    raise self.fail('is a JSONata field; set "QueryLanguage": "JSONata"', where, key)
                raise self.fail(f"unknown field for a {kind} state", where, key)
        state = State(name, kind, spec, language, where)
        self.flow(state)
        getattr(self, f"check_{kind.lower()}")(state, children)
        if language == JSONPATH:
            self.jsonpath_fields(state)
        else:
            self.jsonata_fields(state)
        if "Assign" in spec:
            self.assign(state, spec["Assign"], "Assign")
        return state

    def flow(self, state: State) -> None:
        spec, where = state.spec, state.where
        if state.type in ("Choice", "Succeed", "Fail"):
            return
        has_next, end = "Next" in spec, spec.get("End")
        if end is not None and not isinstance(end, bool):
            raise self.fail(f"must be true or false, got {_kind(end)}", where, "End")
        if has_next and end:
            raise self.fail("a state has Next or End: true, not both", where, "End")
        if not has_next and not end:
            raise self.fail("missing: give Next (a state name) or End: true", where, "Next")
        if has_next and not isinstance(spec["Next"], str):
            raise self.fail(f"must be a state name, got {_kind(spec['Next'])}", where, "Next")

    def check_pass(self, state: State, children: dict) -> None:
        pass

    def check_succeed(self, state: State, children: dict) -> None:
        pass

    def check_fail(self, state: State, children: dict) -> None:
        spec, where = state.spec, state.where
        for name in ("Error", "Cause"):
            if name in spec and f"{name}Path" in spec:
                raise self.fail(f"give {name} or {name}Path, not both", where, f"{name}Path")
            if name in spec and not isinstance(spec[name], str):
                raise self.fail(f"must be a string, got {_kind(spec[name])}", where, name)
            if f"{name}Path" in spec:
                self.path_or_intrinsic(spec[f"{name}Path"], where, f"{name}Path")

    def check_wait(self, state: State, children: dict) -> None:
        spec, where = state.spec, state.where
        given = [f for f in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if f in spec]
        if len(given) != 1:
            raise self.fail(
                "give exactly one of Seconds, SecondsPath, Timestamp, TimestampPath"
                + (f" (got {', '.join(given)})" if given else ""),
                where,
                given[1] if len(given) > 1 else "Seconds",
            )
        kind = given[0]
        value = spec[kind]
        if state.jsonata and jsonata_mode.is_expression(value):
            return
        if kind == "Seconds":
            if not _is_int(value) or value < 0:
                raise self.fail(f"must be a non-negative integer, got {value!r}", where, kind)
        elif kind == "Timestamp":
            if parse_timestamp(value) is None:
                raise self.fail(
                    f"must be an RFC 3339 timestamp (2026-01-31T12:00:00Z), got {value!r}", where, kind
                )
        else:
            self.path(value, where, kind)

    def check_task(self, state: State, children: dict) -> None:
        spec, where = state.spec, state.where
        resource = spec.get("Resource")
        if not isinstance(resource, str) or not resource:
            raise self.fail("missing: a Task needs a Resource (an ARN or reynard:ACTION)", where, "Resource")
        timeout = heartbeat = None
        for name in ("TimeoutSeconds", "HeartbeatSeconds"):
            if name in spec and f"{name}Path" in spec:
                raise self.fail(f"give {name} or {name}Path, not both", where, f"{name}Path")
            if name in spec and not (state.jsonata and jsonata_mode.is_expression(spec[name])):
                value = self.positive_int(spec[name], where, name)
                timeout, heartbeat = (value, heartbeat) if name == "TimeoutSeconds" else (timeout, value)
            if f"{name}Path" in spec:
                self.path(spec[f"{name}Path"], where, f"{name}Path")
        if timeout is not None and heartbeat is not None and heartbeat >= timeout:
            raise self.fail("must be smaller than TimeoutSeconds", where, "HeartbeatSeconds")
        self.retry_catch(state)

    def check_choice(self, state: State, children: dict) -> None:
        spec, where = state.spec, state.where
        choices = spec.get("Choices")
        if not isinstance(choices, list) or not choices:
            raise self.fail("missing or empty: a Choice needs a non-empty list of rules", where, "Choices")
        if "Default" in spec and not isinstance(spec["Default"], str):
            raise self.fail("must be a state name", where, "Default")
        for number, rule in enumerate(choices):
            place = f"Choices[{number}]"
            if not isinstance(rule, dict):
                raise self.fail("a choice rule is an object", where, place)
            if not isinstance(rule.get("Next"), str):
                raise self.fail("missing: a top-level choice rule needs Next", where, f"{place}.Next")
            if state.jsonata:
                allowed = {"Condition", "Next", "Assign", "Output", "Comment"}
                for key in rule:
                    if key not in allowed:
                        raise self.fail("unknown field of a JSONata choice rule", where, f"{place}.{key}")
                condition = rule.get("Condition")
                if isinstance(condition, bool):
                    pass
                elif not jsonata_mode.is_expression(condition):
                    raise self.fail("missing or not a {% %} expression", where, f"{place}.Condition")
                else:
                    self.jsonata(condition, where, f"{place}.Condition")
                if "Output" in rule:
                    self.jsonata_template(rule["Output"], where, f"{place}.Output")
            else:
                self.rule(rule, where, place, top=True)
            if "Assign" in rule:
                self.assign(state, rule["Assign"], f"{place}.Assign")

    def rule(self, rule: Any, where: str, place: str, *, top: bool = False) -> None:
        if not isinstance(rule, dict):
            raise self.fail("a choice rule is an object", where, place)
        extra = {"Next", "Assign", "Comment"} if top else {"Comment"}
        if not top and "Next" in rule:
            raise self.fail("a nested rule (inside And, Or, Not) has no Next", where, f"{place}.Next")
        for combinator in ("And", "Or", "Not"):
            if combinator in rule:
                for key in rule:
                    if key != combinator and key not in extra:
                        raise self.fail(f"unexpected beside {combinator}", where, f"{place}.{key}")
                inner = rule[combinator]
                if combinator == "Not":
                    self.rule(inner, where, f"{place}.Not")
                else:
                    if not isinstance(inner, list) or not inner:
                        raise self.fail("must be a non-empty list of rules", where, f"{place}.{combinator}")
                    for number, item in enumerate(inner):
                        self.rule(item, where, f"{place}.{combinator}[{number}]")
                return
        if "Variable" not in rule:
            raise self.fail(
                "missing: a rule needs Variable and an operator, or And/Or/Not", where, f"{place}.Variable"
            )
        self.path(rule["Variable"], where, f"{place}.Variable")
        operators = [key for key in rule if key in OPERATORS]
        for key in rule:
            if key not in OPERATORS and key not in extra and key != "Variable":
                raise self.fail("unknown comparison operator", where, f"{place}.{key}")
        if len(operators) != 1:
            raise self.fail("a rule has exactly one comparison operator", where, place)
        operator = operators[0]
        value = rule[operator]
        field_name = f"{place}.{operator}"
        if operator in TYPE_TESTS:
            if not isinstance(value, bool):
                raise self.fail("must be true or false", where, field_name)
        elif operator in PATH_COMPARISONS:
            self.path(value, where, field_name)
        else:
            kind = COMPARISONS[operator]
            ok = {
                "string": isinstance(value, str),
                "number": isinstance(value, (int, float)) and not isinstance(value, bool),
                "boolean": isinstance(value, bool),
                "timestamp": parse_timestamp(value) is not None,
            }[kind]
            if not ok:
                raise self.fail(f"must be a {kind}, got {value!r}", where, field_name)

    def check_parallel(self, state: State, children: dict) -> None:
        branches = state.spec.get("Branches")
        if not isinstance(branches, list) or not branches:
            raise self.fail("missing or empty: a Parallel needs a list of branches", state.where, "Branches")
        for number, branch in enumerate(branches):
            prefix = f"{state.where}/Branches[{number}]/"
            children[f"{state.name}#{number}"] = self.machine(branch, prefix, state.language)
        self.retry_catch(state)

    def check_map(self, state: State, children: dict) -> None:
        spec, where = state.spec, state.where
        if "ItemProcessor" in spec and "Iterator" in spec:
            raise self.fail("give ItemProcessor or the older Iterator, not both", where, "Iterator")
        processor_field = "ItemProcessor" if "ItemProcessor" in spec else "Iterator"
        processor = spec.get(processor_field)
        if processor is None:
            raise self.fail("missing: a Map needs an ItemProcessor (StartAt, States)", where, "ItemProcessor")
        if isinstance(processor, dict) and "ProcessorConfig" in processor:
            config = processor["ProcessorConfig"]
            if not isinstance(config, dict):
                raise self.fail("must be an object", where, f"{processor_field}.ProcessorConfig")
            mode = config.get("Mode", "INLINE")
            if mode == "DISTRIBUTED":
                raise self.fail(
                    "Distributed Map is not supported (use Mode INLINE)",
                    where,
                    f"{processor_field}.ProcessorConfig.Mode",
                )
            if mode != "INLINE" or set(config) - {"Mode"}:
                raise self.fail(
                    'only {"Mode": "INLINE"} is supported', where, f"{processor_field}.ProcessorConfig"
                )
        if "ItemSelector" in spec and "Parameters" in spec:
            raise self.fail("give ItemSelector or the older Parameters, not both", where, "Parameters")
        children[f"{state.name}#items"] = self.machine(
            processor, f"{where}/{processor_field}/", state.language
        )
        for name in ("MaxConcurrency", "ToleratedFailureCount", "ToleratedFailurePercentage"):
            if name in spec and f"{name}Path" in spec:
                raise self.fail(f"give {name} or {name}Path, not both", where, f"{name}Path")
            if name in spec and not (state.jsonata and jsonata_mode.is_expression(spec[name])):
                value = spec[name]
                if name == "ToleratedFailurePercentage":
                    if (
                        not isinstance(value, (int, float))
                        or isinstance(value, bool)
                        or not 0 <= value <= 100
                    ):
                        raise self.fail(f"must be a number from 0 to 100, got {value!r}", where, name)
                elif not _is_int(value) or value < 0:
                    raise self.fail(f"must be a non-negative integer, got {value!r}", where, name)
            if f"{name}Path" in spec:
                self.path(spec[f"{name}Path"], where, f"{name}Path")
        if "ItemsPath" in spec:
            self.path(spec["ItemsPath"], where, "ItemsPath")
        if "Items" in spec and not (
            isinstance(spec["Items"], list) or jsonata_mode.is_expression(spec["Items"])
        ):
            raise self.fail("must be a JSON array or a {% %} expression", where, "Items")
        selector = spec.get("ItemSelector", spec.get("Parameters"))
        if selector is not None and not state.jsonata:
            self.template(selector, where, "ItemSelector" if "ItemSelector" in spec else "Parameters")
        if selector is not None and state.jsonata:
            self.jsonata_template(selector, where, "ItemSelector")
        self.retry_catch(state)

    # -- retry and catch --------------------------------------------------------------------------------
    def retry_catch(self, state: State) -> None:
        spec, where = state.spec, state.where
        for name in ("Retry", "Catch"):
            if name not in spec:
                continue
            items = spec[name]
            if not isinstance(items, list):
                raise self.fail("must be a list", where, name)
            for number, item in enumerate(items):
                place = f"{name}[{number}]"
                if not isinstance(item, dict):
                    raise self.fail("must be an object", where, place)
                allowed = _RETRY_FIELDS if name == "Retry" else _CATCH_FIELDS[state.language]
                for key in item:
                    if key not in allowed:
                        raise self.fail("unknown field", where, f"{place}.{key}")
                errors = item.get("ErrorEquals")
                if not isinstance(errors, list) or not errors or not all(isinstance(e, str) for e in errors):
                    raise self.fail("must be a non-empty list of error names", where, f"{place}.ErrorEquals")
                if ALL in errors and len(errors) > 1:
                    raise self.fail("States.ALL must appear alone", where, f"{place}.ErrorEquals")
                if ALL in errors and number != len(items) - 1:
                    raise self.fail(
                        f"States.ALL must be in the last {'retrier' if name == 'Retry' else 'catcher'}",
                        where,
                        f"{place}.ErrorEquals",
                    )
                if name == "Retry":
                    self.retrier(item, where, place)
                else:
                    if not isinstance(item.get("Next"), str):
                        raise self.fail("missing: a catcher needs Next", where, f"{place}.Next")
                    if "ResultPath" in item and item["ResultPath"] is not None:
                        path = self.path(item["ResultPath"], where, f"{place}.ResultPath")
                        if not path.is_reference or path.root != "$":
                            raise self.fail(
                                "must be a reference path on $ (names and indexes only)",
                                where,
                                f"{place}.ResultPath",
                            )
                    if "Output" in item:
                        self.jsonata_template(item["Output"], where, f"{place}.Output")
                    if "Assign" in item:
                        self.assign(state, item["Assign"], f"{place}.Assign")

    def retrier(self, item: dict, where: str, place: str) -> None:
        if "IntervalSeconds" in item:
            self.positive_int(item["IntervalSeconds"], where, f"{place}.IntervalSeconds")
        if "MaxAttempts" in item and (not _is_int(item["MaxAttempts"]) or item["MaxAttempts"] < 0):
            raise self.fail("must be a non-negative integer", where, f"{place}.MaxAttempts")
        if "BackoffRate" in item:
            rate = item["BackoffRate"]
            if not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate < 1.0:
                raise self.fail("must be a number of at least 1.0", where, f"{place}.BackoffRate")
        if "MaxDelaySeconds" in item:
            self.positive_int(item["MaxDelaySeconds"], where, f"{place}.MaxDelaySeconds")
        if "JitterStrategy" in item and item["JitterStrategy"] not in ("FULL", "NONE"):
            raise self.fail("must be FULL or NONE", where, f"{place}.JitterStrategy")

    # -- data flow fields -------------------------------------------------------------------------------
    def jsonpath_fields(self, state: State) -> None:
        spec, where = state.spec, state.where
        for name in ("InputPath", "OutputPath"):
            if name in spec and spec[name] is not None:
                self.path(spec[name], where, name)
        if "ResultPath" in spec and spec["ResultPath"] is not None:
            path = self.path(spec["ResultPath"], where, "ResultPath")
            if not path.is_reference or path.root != "$":
                raise self.fail("must be a reference path on $ (names and indexes only)", where, "ResultPath")
        if "Parameters" in spec and state.type != "Map":
            self.template(spec["Parameters"], where, "Parameters")
        if "ResultSelector" in spec:
            self.template(spec["ResultSelector"], where, "ResultSelector")

    def jsonata_fields(self, state: State) -> None:
        spec, where = state.spec, state.where
        for name in ("Arguments", "Output"):
            if name in spec:
                self.jsonata_template(spec[name], where, name)
        if state.type == "Task" and "Arguments" in spec:
            pass
        for name in (
            "Seconds",
            "Timestamp",
            "TimeoutSeconds",
            "HeartbeatSeconds",
            "Items",
            "MaxConcurrency",
            "ToleratedFailureCount",
            "ToleratedFailurePercentage",
            "Error",
            "Cause",
        ):
            if name in spec and jsonata_mode.is_expression(spec[name]):
                self.jsonata(spec[name], where, name)

    def assign(self, state: State, value: Any, field_name: str) -> None:
        if not isinstance(value, dict):
            raise self.fail("must be an object of variable names", state.where, field_name)
        for key in value:
            name = key[:-2] if key.endswith(".$") and not state.jsonata else key
            if not name.isidentifier() or name.startswith("__"):
                raise self.fail(f"{name!r} is not a variable name", state.where, f"{field_name}.{key}")
        if state.jsonata:
            self.jsonata_template(value, state.where, field_name)
        else:
            self.template(value, state.where, field_name)

    def template(self, value: Any, where: str, field_name: str) -> None:
        """A payload template: keys ending in `.$` take a path or an intrinsic call."""
        if isinstance(value, dict):
            plain = {k[:-2] if k.endswith(".$") else k for k in value}
            if len(plain) != len(value):
                raise self.fail("a key is given both with and without .$", where, field_name)
            for key, item in value.items():
                place = f"{field_name}.{key}"
                if key.endswith(".$"):
                    if not isinstance(item, str):
                        raise self.fail("a .$ key takes a path or an intrinsic call (a string)", where, place)
                    self.path_or_intrinsic(item, where, place)
                else:
                    self.template(item, where, place)
        elif isinstance(value, list):
            for number, item in enumerate(value):
                self.template(item, where, f"{field_name}[{number}]")

    def path_or_intrinsic(self, text: Any, where: str, field_name: str) -> None:
        if isinstance(text, str) and intrinsics.looks_like_call(text):
            try:
                intrinsics.parse(text)
            except intrinsics.IntrinsicSyntaxError as e:
                raise self.fail(str(e), where, field_name) from None
            return
        self.path(text, where, field_name)

    def path(self, text: Any, where: str | None, field_name: str) -> jsonpath.Path:
        if not isinstance(text, str):
            raise self.fail(
                f"must be a path (a string starting with $), got {_kind(text)}", where, field_name
            )
        try:
            return jsonpath.parse(text)
        except jsonpath.PathSyntaxError as e:
            raise self.fail(str(e), where, field_name) from None

    def jsonata(self, text: str, where: str, field_name: str) -> None:
        try:
            jsonata_mode.compile_expression(text)
        except jsonata_mode.JsonataSyntaxError as e:
            raise self.fail(str(e), where, field_name) from None

    def jsonata_template(self, value: Any, where: str, field_name: str) -> None:
        for text in jsonata_mode.expressions(value):
            self.jsonata(text, where, field_name)

    def positive_int(self, value: Any, where: str | None, field_name: str) -> int:
        if not _is_int(value) or value < 1:
            raise self.fail(f"must be a positive integer, got {value!r}", where, field_name)
        return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
