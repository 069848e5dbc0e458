"""A playbook as AWS Step Functions can deploy it: built-in actions rewritten as AWS SDK integrations where
that is faithful, the rest left as Lambda placeholders the user must supply. A pure function.

    export = export_definition(definition, notify_topic_arn="arn:aws:sns:...:soc")
    export["definition"]     # deployable once the placeholders are substituted
    export["not_exported"]   # [{"state", "resource", "reason", "placeholder"}]: the Lambdas to supply
    export["notes"]          # what differs from running the playbook in Reynard

An exported action keeps its state's name, data flow, Retry and Catch: it becomes a Parallel state with one
branch, so the action's own steps (a call, a poll until done, a Choice that reads the effect back and fails
with `Reynard.VerificationFailed`) stay out of the playbook's data. The branch ends in a Pass giving the
action's `Action`, `InstanceId`/`Bucket`/`AccessKeyId`, `Verified` (true) and the action's main keys; a
`ResultSelector` picks them from the Parallel's one-element result, so `$.x.Verified` still works.

A placeholder replaces the resource with `${Reynard<Action>FunctionArn}` (a CloudFormation / SAM
`DefinitionSubstitutions` key): a Lambda that gets the task's arguments as its event and returns the
action's result (a `.waitForTaskToken` task gets `{"TaskToken", "Arguments"}` through lambda:invoke).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..resources import ACTION_PREFIX
from .accounts import approval, block_bucket_public_access, disable_access_key, notify
from .instances import detach_from_asg, protect_instance, snapshot_volumes, stop_instance, terminate_instance
from .steps import WAIT_FOR_TOKEN, Args, Rendered, Unexportable, first

_PARALLEL_FIELDS = (
    "Comment",
    "InputPath",
    "Parameters",
    "ResultPath",
    "OutputPath",
    "Retry",
    "Catch",
    "Next",
    "End",
    "Assign",
)
_INNER_TASK_FIELDS = (
    "TimeoutSeconds",
    "TimeoutSecondsPath",
    "HeartbeatSeconds",
    "HeartbeatSecondsPath",
    "Credentials",
)


def export_definition(
    definition: Mapping[str, Any], *, notify_topic_arn: str | None = None
) -> dict[str, Any]:
    """`{"definition", "not_exported", "notes"}` for `definition` (never changed). `notify_topic_arn`: the SNS
    topic that notify and request-approval publish to when their state names none (`TopicArn`)."""
    exported = copy.deepcopy(dict(definition))
    report: dict[str, list[Any]] = {"not_exported": [], "notes": []}
    _export_states(exported, "", exported.get("QueryLanguage", "JSONPath"), notify_topic_arn, report)
    return {"definition": exported, **report}


def _export_states(
    machine: dict[str, Any], where: str, language: str, topic: str | None, report: dict
) -> None:
    for name, state in list(machine.get("States", {}).items()):
        place = f"{where}{name}"
        state_language = state.get("QueryLanguage", language)
        for i, branch in enumerate(state.get("Branches", [])):
            _export_states(branch, f"{place}.Branches[{i}].", state_language, topic, report)
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                _export_states(state[key], f"{place}.{key}.", state_language, topic, report)
        resource = state.get("Resource", "")
        if state.get("Type") != "Task" or not resource.startswith(ACTION_PREFIX):
            continue
        action = resource[len(ACTION_PREFIX) :].removesuffix(WAIT_FOR_TOKEN)
        try:
            if state_language != "JSONPath":
                raise Unexportable("only JSONPath states are rewritten; a JSONata state keeps a placeholder")
            machine["States"][name] = _render(action, state, topic, report["notes"], place)
        except Unexportable as why:
            machine["States"][name] = _placeholder(action, state)
            report["not_exported"].append(
                {
                    "state": place,
                    "resource": resource,
                    "reason": str(why),
                    "placeholder": _substitution(action),
                }
            )


def _render(
    action: str, state: dict[str, Any], topic: str | None, notes: list[str], place: str
) -> dict[str, Any]:
    renderer = RENDERERS.get(action)
    if renderer is None:
        raise Unexportable(NOT_EXPORTABLE.get(action, f"no AWS SDK rendering of {action}"))
    arguments = state.get("Parameters")
    if arguments is not None and not isinstance(arguments, dict):
        raise Unexportable("its Parameters are not an object")
    args = Args(arguments or {}, known=arguments is not None)
    if action in ("notify", "request-approval"):
        args.topic_default = topic
    if state["Resource"].endswith(WAIT_FOR_TOKEN):
        if action != "request-approval":
            raise Unexportable(f"{action} is not a callback task")
        return approval(state, args)
    rendered = renderer(args)
    if args.region_given:
        rendered.notes.append("Region is dropped: AWS SDK integrations call the state machine's own region")
    exported = _parallel(action, state, rendered)
    notes.extend(f"{place}: {note}" for note in rendered.notes)
    return exported


RENDERERS: dict[str, Callable[[Args], Rendered]] = {
    "stop-instance": stop_instance,
    "terminate-instance": terminate_instance,
    "protect-instance": protect_instance,
    "snapshot-volumes": snapshot_volumes,
    "detach-from-asg": detach_from_asg,
    "block-bucket-public-access": block_bucket_public_access,
    "disable-access-key": disable_access_key,
    "notify": notify,
    "request-approval": notify,  # reached only through approval(): a callback task
}

NOT_EXPORTABLE = {
    "isolate-instance": "finding or creating the per-VPC isolation groups, reconciling their rules, the "
    "two-step swap of every ENI and the read-back of each need more than ASL can express faithfully",
    "deregister-from-load-balancers": "finding the target groups that hold the instance needs a JSONPath "
    "filter on a value known only at run time",
    "collect-forensics": "the commands, the memory capture command and the S3 output come from Reynard's "
    "settings, and a retry's reuse of its commands needs a lookup ASL cannot do",
    "revoke-role-sessions": "IAM returns the policy URL-encoded, so the read-back check cannot be written "
    "in ASL",
    "open-incident": "incidents live in Reynard's database",
    "add-timeline-entry": "incidents live in Reynard's database",
}


# -- assembling -------------------------------------------------------------------------------------------


def _parallel(action: str, state: dict[str, Any], rendered: Rendered) -> dict[str, Any]:
    for inner in _tasks(rendered.states):
        for key in _INNER_TASK_FIELDS:
            if key in state:
                inner[key] = copy.deepcopy(state[key])
    parallel: dict[str, Any] = {"Type": "Parallel"}
    parallel["Comment"] = state.get("Comment") or f"{ACTION_PREFIX}{action}, exported as AWS SDK calls"
    parallel["Branches"] = [{"StartAt": rendered.start, "States": rendered.states}]
    for key in _PARALLEL_FIELDS[1:]:
        if key in state:
            parallel[key] = copy.deepcopy(state[key])
    if "ResultSelector" in state:
        selector = _first_element(state["ResultSelector"])
        for key, value in list(selector.items()):
            read = _top_key(value) if key.endswith(".$") and isinstance(value, str) else None
            if read is not None and read not in rendered.result_keys:
                del selector[key]
                rendered.notes.append(f"ResultSelector drops {key[:-2]}: the exported result has no {read}")
        parallel["ResultSelector"] = selector
    else:
        parallel["ResultSelector"] = {f"{key}.$": first(f"$[0].{key}") for key in rendered.result_keys}
    return _ordered(parallel)


def _top_key(expression: str) -> str | None:
    """`Verified` for a rebased `$.Verified...`; None for anything but a plain path into the result."""
    match = re.fullmatch(r"States\.ArrayGetItem\(\$\[\*\]\.(\w+), 0\)|\$\[0\]\.(\w+)\b.*", expression)
    return (match[1] or match[2]) if match else None


def _tasks(states: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for state in states.values():
        if state["Type"] == "Task":
            found.append(state)
        for processor in (state.get("ItemProcessor"), *state.get("Branches", [])):
            if processor:
                found += _tasks(processor["States"])
    return found


def _first_element(selector: Any) -> Any:
    """The state's own ResultSelector, reading the action's result inside the Parallel's `[result]`."""
    if isinstance(selector, dict):
        return {
            k: (_rebase(v) if k.endswith(".$") and isinstance(v, str) else _first_element(v))
            for k, v in selector.items()
        }
    return selector


_PATH = re.compile(r"(?<![\w$])\$(?!\$)((?:\.[\w-]+|\[[^\]]*\])*)")


def _rebase(expression: str) -> str:
    """A `$` path into the action's result, read inside the Parallel's one-element `[result]`: `$.a.b`
    becomes `$[0].a.b`, `$.a` `States.ArrayGetItem($[*].a, 0)` (see steps.first), inside intrinsics too;
    quoted literals and `$$` (the context object) are left alone."""
    parts = re.split(r"('(?:\\.|[^'\\])*')", expression)
    return "".join(part if part.startswith("'") else _PATH.sub(_in_result, part) for part in parts)


def _in_result(match: re.Match[str]) -> str:
    return first(f"$[0]{match[1]}")


def _placeholder(action: str, state: dict[str, Any]) -> dict[str, Any]:
    exported = {k: v for k, v in state.items() if k not in ("Resource", "Parameters")}
    function = _substitution(action)
    if state["Resource"].endswith(WAIT_FOR_TOKEN):
        arguments = {"Arguments": state["Parameters"]} if "Parameters" in state else {"Arguments.$": "$"}
        exported["Resource"] = "arn:aws:states:::lambda:invoke" + WAIT_FOR_TOKEN
        exported["Parameters"] = {
            "FunctionName": function,
            "Payload": {"TaskToken.$": "$$.Task.Token", **arguments},
        }
    else:
        exported["Resource"] = function
        if "Parameters" in state:
            exported["Parameters"] = state["Parameters"]
    return _ordered(exported)


def _substitution(action: str) -> str:
    return "${Reynard" + "".join(part.capitalize() for part in action.split("-")) + "FunctionArn}"


_ORDER = (
    "Type",
    "Comment",
    "Resource",
    "Branches",
    "InputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "OutputPath",
)


def _ordered(state: dict[str, Any]) -> dict[str, Any]:
    """Fields in the order people write them, so an exported definition reads like a hand-written one."""
    first = {k: state[k] for k in _ORDER if k in state}
    return {**first, **{k: v for k, v in state.items() if k not in first}}


__all__ = ["NOT_EXPORTABLE", "RENDERERS", "Unexportable", "export_definition"]
