"""The pieces exported actions are built from: AWS SDK tasks, chains of states, polls until done, Fail
states, the final Pass, and the export-time view of a state's arguments."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SDK = "arn:aws:states:::aws-sdk:"


def first(path: str) -> str:
    """A definite path written so that it reads the same value on AWS and on moto's interpreter (a copy of
    LocalStack's), which returns a one-element list where AWS returns the value when the value is an array
    element (`$.a[0]`) or a field of one (`$.a[0].b`). Those become `States.ArrayGetItem($.a, 0)` and
    `States.ArrayGetItem($.a[*].b, 0)`: the same value on both, so an exported definition tests locally
    as it runs on AWS. Any other path is left as it is."""
    match = re.fullmatch(r"(.*)\[(\d+)\]", path)
    if match:
        return f"States.ArrayGetItem({match[1]}, {match[2]})"
    match = re.fullmatch(r"(.*)\[(\d+)\](\.[\w-]+)", path)
    if match:
        return f"States.ArrayGetItem({match[1]}[*]{match[3]}, {match[2]})"
    return path


WAIT_FOR_TOKEN = ".waitForTaskToken"
POLL_SECONDS = 10
MAX_POLLS = 90  # 15 minutes


class Unexportable(Exception):
    """This state cannot be exported faithfully; the message says why."""


@dataclass
class Rendered:
    """An action as a branch: its states, where it starts, the keys of its result, remarks for the user."""

    states: dict[str, dict[str, Any]]
    start: str
    result_keys: list[str]
    notes: list[str] = field(default_factory=list)


class Args:
    """The state's Parameters as the export sees them: static values are known, `.$` ones only at run time."""

    def __init__(self, parameters: dict[str, Any], known: bool):
        self.parameters, self.known = parameters, known
        self.topic_default: str | None = None

    @property
    def region_given(self) -> bool:
        return "Region" in self.parameters or "Region.$" in self.parameters

    def static(self, key: str, default: Any) -> Any:
        """The value when written in the definition; Unexportable when it comes from a path, since it
        decides which steps the export writes."""
        if f"{key}.$" in self.parameters:
            raise Unexportable(f"{key} comes from a path, and its value decides the exported steps")
        return self.parameters.get(key, default)

    def given(self, key: str) -> bool:
        return key in self.parameters or f"{key}.$" in self.parameters


def sdk(
    action: str, parameters: dict[str, Any], result_path: str | None, selector: dict | None = None
) -> dict:
    state: dict[str, Any] = {"Type": "Task", "Resource": SDK + action, "Parameters": parameters}
    if selector:
        state["ResultSelector"] = selector
    state["ResultPath"] = result_path
    return state


def chain(steps: list[tuple[str, dict[str, Any]]], last_next: str | None = None) -> dict[str, dict[str, Any]]:
    """The steps in order, each `Next` the following one (the last: `last_next`, or `End`)."""
    states = {}
    for i, (name, state) in enumerate(steps):
        if state["Type"] not in ("Choice", "Fail", "Succeed") and "Next" not in state and "End" not in state:
            following = steps[i + 1][0] if i + 1 < len(steps) else last_next
            state.update({"Next": following} if following else {"End": True})
        states[name] = state
    return states


def fail(cause: str, error: str = "Reynard.VerificationFailed") -> dict[str, Any]:
    return {"Type": "Fail", "Error": error, "Cause": cause}


def poll(
    prefix: str, read: dict[str, Any], done: dict, pending: dict, then: str, cause: str
) -> list[tuple[str, dict]]:
    """Read, then go to `then` if `done`; wait and read again while `pending` (up to MAX_POLLS), else Fail."""
    return [
        (
            f"{prefix}Start",
            {"Type": "Pass", "Result": {"n": 0}, "ResultPath": "$.polls", "Next": f"{prefix}Read"},
        ),
        (f"{prefix}Read", {**read, "Next": f"{prefix}Check"}),
        (
            f"{prefix}Check",
            {
                "Type": "Choice",
                "Choices": [
                    {**done, "Next": then},
                    {
                        "And": [pending, {"Variable": "$.polls.n", "NumericLessThan": MAX_POLLS}],
                        "Next": f"{prefix}Wait",
                    },
                ],
                "Default": f"{prefix}Failed",
            },
        ),
        (f"{prefix}Wait", {"Type": "Wait", "Seconds": POLL_SECONDS, "Next": f"{prefix}Count"}),
        (
            f"{prefix}Count",
            {
                "Type": "Pass",
                "Parameters": {"n.$": "States.MathAdd($.polls.n, 1)"},
                "ResultPath": "$.polls",
                "Next": f"{prefix}Read",
            },
        ),
        (f"{prefix}Failed", fail(cause)),
    ]


def done(action: str, subject: str, **keys: str) -> tuple[str, dict[str, Any]]:
    """The branch's last state: the action's result, Verified true (every check before it passed)."""
    result = {"Action": action, f"{subject}.$": f"$.{subject}", "Verified": True}
    result.update({f"{k}.$": v for k, v in keys.items()})
    return "Verified", {"Type": "Pass", "Parameters": result, "End": True}


def is_string(variable: str, *values: str) -> dict[str, Any]:
    rules = [{"Variable": variable, "StringEquals": value} for value in values]
    return rules[0] if len(rules) == 1 else {"Or": rules}
