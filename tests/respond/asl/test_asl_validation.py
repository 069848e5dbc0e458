"""Validation: an invalid definition is refused before it runs, naming the state and the field."""

import json

import pytest

from reynard.respond.asl.definition import load_definition
from reynard.respond.errors import DefinitionError

PASS_END = {"Type": "Pass", "End": True}


def states(**named):
    return {"StartAt": next(iter(named)), "States": named}


CASES = [
    ({"States": {"A": PASS_END}}, "StartAt: missing"),
    ({"StartAt": "B", "States": {"A": PASS_END}}, "StartAt: 'B' is not a state of States"),
    ({"StartAt": "A", "States": {}}, "States: missing or empty"),
    ({"StartAt": "A", "States": {"A": PASS_END}, "Extra": 1}, "Extra: unknown field"),
    (
        {"StartAt": "A", "States": {"A": PASS_END}, "TimeoutSeconds": 0},
        "TimeoutSeconds: must be a positive integer",
    ),
    (states(A={"Type": "Pass", "Next": "Nope"}), "A: Next: 'Nope' is not a state of this machine"),
    (states(A=PASS_END, B=PASS_END), "B: unreachable"),
    (states(A={"Type": "Pass"}), "A: Next: missing: give Next (a state name) or End: true"),
    (states(A={"Type": "Pass", "End": True, "Next": "A"}), "A: End: a state has Next or End: true, not both"),
    (states(A={"Type": "Pause", "End": True}), "A: Type: must be one of"),
    (
        states(A={"Type": "Pass", "End": True, "Resultpath": "$"}),
        "A: Resultpath: unknown field for a Pass state",
    ),
    (states(A={"Type": "Pass", "End": True, "InputPath": "a.b"}), "A: InputPath: 'a.b' is not a path"),
    (states(A={"Type": "Pass", "End": True, "InputPath": 5}), "A: InputPath: must be a path"),
    (
        states(A={"Type": "Pass", "End": True, "ResultPath": "$.a[*]"}),
        "A: ResultPath: must be a reference path",
    ),
    (
        states(A={"Type": "Pass", "End": True, "ResultPath": "$$.a"}),
        "A: ResultPath: must be a reference path",
    ),
    (
        states(A={"Type": "Pass", "End": True, "Parameters": {"a.$": 1}}),
        "A: Parameters.a.$: a .$ key takes a path",
    ),
    (
        states(A={"Type": "Pass", "End": True, "Parameters": {"a.$": "$.x", "a": 1}}),
        "A: Parameters: a key is given both",
    ),
    (states(A={"Type": "Pass", "End": True, "Parameters": {"n": {"a.$": "$..["}}}), "A: Parameters.n.a.$:"),
    (
        states(A={"Type": "Pass", "End": True, "Parameters": {"a.$": "States.Nope()"}}),
        "unknown intrinsic function States.Nope",
    ),
    (
        states(A={"Type": "Pass", "End": True, "Assign": {"1x": 1}}),
        "A: Assign.1x: '1x' is not a variable name",
    ),
    (states(A={"Type": "Choice"}), "A: Choices: missing or empty"),
    (
        states(A={"Type": "Choice", "Choices": [{"Variable": "$.a", "StringEquals": "x"}]}),
        "A: Choices[0].Next: missing",
    ),
    (
        states(A={"Type": "Choice", "Choices": [{"Variable": "$.a", "StringEquals": 1, "Next": "A"}]}),
        "A: Choices[0].StringEquals: must be a string",
    ),
    (
        states(A={"Type": "Choice", "Choices": [{"Variable": "$.a", "StringEqual": "x", "Next": "A"}]}),
        "A: Choices[0].StringEqual: unknown comparison operator",
    ),
    (
        states(A={"Type": "Choice", "Choices": [{"Variable": "$.a", "Next": "A"}]}),
        "A: Choices[0]: a rule has exactly one",
    ),
    (
        states(
            A={
                "Type": "Choice",
                "Choices": [{"Variable": "$.a", "IsNull": True, "IsString": True, "Next": "A"}],
            }
        ),
        "exactly one",
    ),
    (
        states(
            A={"Type": "Choice", "Choices": [{"Variable": "$.a", "StringMatchesPath": "$.b", "Next": "A"}]}
        ),
        "unknown comparison operator",
    ),
    (
        states(
            A={
                "Type": "Choice",
                "Choices": [{"Variable": "$.a", "TimestampEquals": "yesterday", "Next": "A"}],
            }
        ),
        "must be a timestamp",
    ),
    (
        states(
            A={
                "Type": "Choice",
                "Choices": [{"And": [{"Variable": "$.a", "IsNull": True, "Next": "A"}], "Next": "A"}],
            }
        ),
        "A: Choices[0].And[0].Next: a nested rule",
    ),
    (
        states(A={"Type": "Choice", "Choices": [{"Or": [], "Next": "A"}]}),
        "A: Choices[0].Or: must be a non-empty list",
    ),
    (
        states(A={"Type": "Choice", "Choices": [{"Not": {"Variable": "$.a", "IsNull": 1}, "Next": "A"}]}),
        "A: Choices[0].Not.IsNull: must be true or false",
    ),
    (
        states(
            A={"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": True, "Next": "A"}], "Next": "A"}
        ),
        "A: Next: unknown field for a Choice state",
    ),
    (states(A={"Type": "Wait", "End": True}), "A: Seconds: give exactly one of"),
    (
        states(A={"Type": "Wait", "Seconds": 1, "Timestamp": "2026-01-01T00:00:00Z", "End": True}),
        "A: Timestamp: give exactly one of Seconds, SecondsPath, Timestamp, TimestampPath "
        "(got Seconds, Timestamp)",
    ),
    (states(A={"Type": "Wait", "Seconds": -1, "End": True}), "A: Seconds: must be a non-negative integer"),
    (states(A={"Type": "Wait", "Seconds": 1.5, "End": True}), "A: Seconds: must be a non-negative integer"),
    (
        states(A={"Type": "Wait", "Timestamp": "2026-01-01 00:00", "End": True}),
        "A: Timestamp: must be an RFC 3339 timestamp",
    ),
    (states(A={"Type": "Task", "End": True}), "A: Resource: missing"),
    (
        states(A={"Type": "Task", "Resource": "r", "TimeoutSeconds": 0, "End": True}),
        "A: TimeoutSeconds: must be a positive integer",
    ),
    (
        states(A={"Type": "Task", "Resource": "r", "TimeoutSeconds": 5, "HeartbeatSeconds": 5, "End": True}),
        "A: HeartbeatSeconds: must be smaller than TimeoutSeconds",
    ),
    (
        states(
            A={"Type": "Task", "Resource": "r", "TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t", "End": True}
        ),
        "A: TimeoutSecondsPath: give TimeoutSeconds or TimeoutSecondsPath",
    ),
    (
        states(A={"Type": "Task", "Resource": "r", "Credentials": {}, "End": True}),
        "A: Credentials: Credentials (cross-account roles) are not supported",
    ),
    (
        states(
            A={
                "Type": "Task",
                "Resource": "r",
                "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}],
                "End": True,
            }
        ),
        "A: Retry[0].ErrorEquals: States.ALL must be in the last retrier",
    ),
    (
        states(
            A={"Type": "Task", "Resource": "r", "Retry": [{"ErrorEquals": ["States.ALL", "X"]}], "End": True}
        ),
        "A: Retry[0].ErrorEquals: States.ALL must appear alone",
    ),
    (
        states(A={"Type": "Task", "Resource": "r", "Retry": [{"ErrorEquals": []}], "End": True}),
        "A: Retry[0].ErrorEquals: must be a non-empty list",
    ),
    (
        states(
            A={
                "Type": "Task",
                "Resource": "r",
                "Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}],
                "End": True,
            }
        ),
        "A: Retry[0].BackoffRate: must be a number of at least 1.0",
    ),
    (
        states(
            A={
                "Type": "Task",
                "Resource": "r",
                "Retry": [{"ErrorEquals": ["X"], "MaxAttempts": -1}],
                "End": True,
            }
        ),
        "A: Retry[0].MaxAttempts: must be a non-negative integer",
    ),
    (
        states(
            A={
                "Type": "Task",
                "Resource": "r",
                "Retry": [{"ErrorEquals": ["X"], "JitterStrategy": "HALF"}],
                "End": True,
            }
        ),
        "A: Retry[0].JitterStrategy: must be FULL or NONE",
    ),
    (
        states(
            A={
                "Type": "Task",
                "Resource": "r",
                "Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 0}],
                "End": True,
            }
        ),
        "A: Retry[0].IntervalSeconds: must be a positive integer",
    ),
    (
        states(
            A={"Type": "Task", "Resource": "r", "Retry": [{"ErrorEquals": ["X"], "Interval": 1}], "End": True}
        ),
        "A: Retry[0].Interval: unknown field",
    ),
    (
        states(A={"Type": "Task", "Resource": "r", "Catch": [{"ErrorEquals": ["States.ALL"]}], "End": True}),
        "A: Catch[0].Next: missing",
    ),
    (
        states(
            A={
                "Type": "Task",
                "Resource": "r",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z"}],
                "End": True,
            }
        ),
        "A: Catch: 'Z' is not a state of this machine",
    ),
    (
        states(
            A={
                "Type": "Task",
                "Resource": "r",
                "Catch": [{"ErrorEquals": ["X"], "Next": "A", "ResultPath": "$[*]"}],
                "End": True,
            }
        ),
        "A: Catch[0].ResultPath: must be a reference path",
    ),
    (states(A={"Type": "Parallel", "End": True}), "A: Branches: missing or empty"),
    (
        states(
            A={
                "Type": "Parallel",
                "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Pass"}}}],
                "End": True,
            }
        ),
        "A/Branches[0]/X: Next: missing",
    ),
    (
        states(A={"Type": "Parallel", "Branches": [{"States": {"X": PASS_END}}], "End": True}),
        "A/Branches[0]: StartAt: missing",
    ),
    (states(A={"Type": "Map", "End": True}), "A: ItemProcessor: missing"),
    (
        states(
            A={
                "Type": "Map",
                "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Y"}}},
                "End": True,
            }
        ),
        "A/ItemProcessor/X: Next: 'Y' is not a state",
    ),
    (
        states(
            A={
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED"},
                    "StartAt": "X",
                    "States": {"X": PASS_END},
                },
                "End": True,
            }
        ),
        "Distributed Map is not supported",
    ),
    (
        states(
            A={
                "Type": "Map",
                "ItemReader": {},
                "ItemProcessor": {"StartAt": "X", "States": {"X": PASS_END}},
                "End": True,
            }
        ),
        "A: ItemReader: ItemReader is for Distributed Map",
    ),
    (
        states(
            A={
                "Type": "Map",
                "MaxConcurrency": -1,
                "ItemProcessor": {"StartAt": "X", "States": {"X": PASS_END}},
                "End": True,
            }
        ),
        "A: MaxConcurrency: must be a non-negative integer",
    ),
    (
        states(
            A={
                "Type": "Map",
                "ToleratedFailurePercentage": 101,
                "ItemProcessor": {"StartAt": "X", "States": {"X": PASS_END}},
                "End": True,
            }
        ),
        "A: ToleratedFailurePercentage: must be a number from 0 to 100",
    ),
    (
        states(
            A={
                "Type": "Map",
                "ItemsPath": "$.[",
                "ItemProcessor": {"StartAt": "X", "States": {"X": PASS_END}},
                "End": True,
            }
        ),
        "A: ItemsPath:",
    ),
    (
        states(
            A={
                "Type": "Map",
                "ItemSelector": {},
                "Parameters": {},
                "ItemProcessor": {"StartAt": "X", "States": {"X": PASS_END}},
                "End": True,
            }
        ),
        "A: Parameters: give ItemSelector or the older Parameters",
    ),
    (
        states(A={"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}),
        "A: ErrorPath: give Error or ErrorPath, not both",
    ),
    (states(A={"Type": "Fail", "Cause": 5}), "A: Cause: must be a string"),
    (states(A={"Type": "Succeed", "Next": "A"}), "A: Next: unknown field for a Succeed state"),
    (
        {"StartAt": "A", "States": {"A": PASS_END}, "QueryLanguage": "XPath"},
        "QueryLanguage: must be JSONPath or JSONata",
    ),
    (states(**{"A" * 81: PASS_END}), "a state name has at most 80 characters"),
]


@pytest.mark.parametrize(("definition", "message"), CASES)
def test_invalid_definitions(definition, message):
    with pytest.raises(DefinitionError) as raised:
        load_definition(definition, where="p.json")
    assert message in str(raised.value)
    assert str(raised.value).startswith("p.json: ")
    assert "\n" not in str(raised.value)


def test_not_json_and_not_an_object():
    with pytest.raises(DefinitionError, match=r"p\.json: not JSON: .* line 1 column 2"):
        load_definition("{x", where="p.json")
    with pytest.raises(DefinitionError, match="a state machine is a JSON object"):
        load_definition("[]")


def test_the_error_names_the_state_and_field_apart():
    with pytest.raises(DefinitionError) as raised:
        load_definition(states(A={"Type": "Pass", "Next": "Nope"}))
    assert (raised.value.state, raised.value.field) == ("A", "Next")


def test_a_valid_definition_with_everything():
    definition = {
        "Comment": "all of it",
        "StartAt": "P",
        "TimeoutSeconds": 60,
        "Version": "1.0",
        "States": {
            "P": {"Type": "Pass", "Result": 1, "ResultPath": "$.r", "Next": "C"},
            "C": {
                "Type": "Choice",
                "Choices": [{"Not": {"Variable": "$.r", "NumericEqualsPath": "$.x"}, "Next": "W"}],
                "Default": "W",
            },
            "W": {"Type": "Wait", "SecondsPath": "$.r", "Next": "T"},
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
                "HeartbeatSeconds": 5,
                "TimeoutSeconds": 10,
                "Retry": [{"ErrorEquals": ["X"], "JitterStrategy": "FULL", "MaxDelaySeconds": 9}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}],
                "Next": "Par",
            },
            "Par": {
                "Type": "Parallel",
                "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}],
                "Next": "M",
            },
            "M": {
                "Type": "Map",
                "ItemsPath": "$.xs",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "I",
                    "States": {"I": PASS_END},
                },
                "End": True,
            },
            "F": {"Type": "Fail", "ErrorPath": "$.Error", "CausePath": "States.Format('{}', $.Cause)"},
        },
    }
    machine = load_definition(json.dumps(definition))
    assert set(machine.states) == {"P", "C", "W", "T", "Par", "M", "F"}
    assert set(machine.children) == {"Par#0", "M#items"}
