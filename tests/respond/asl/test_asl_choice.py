"""Choice rules: every comparison operator, its Path form, the type tests, And/Or/Not, Default."""

import pytest

from asl_support import execute, machine

T0 = "2026-01-01T00:00:00Z"


def chooses(rule, data):
    """Whether `rule` matches `data` (Yes, No (Default), or the execution's error)."""
    definition = machine(
        ("C", {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}], "Default": "No"}),
        ("Yes", {"Type": "Pass", "Result": "yes", "End": True}),
        ("No", {"Type": "Pass", "Result": "no", "End": True}),
    )
    outcome = execute(definition, data)
    if outcome.status != "SUCCEEDED":
        return outcome.error
    return outcome.output == "yes"


CASES = [
    # (operator, value, variable's value, expected)
    ("StringEquals", "abc", "abc", True),
    ("StringEquals", "abc", "abd", False),
    ("StringEquals", "1", 1, False),  # another type never matches
    ("StringLessThan", "b", "a", True),
    ("StringLessThan", "a", "a", False),
    ("StringGreaterThan", "a", "b", True),
    ("StringLessThanEquals", "a", "a", True),
    ("StringGreaterThanEquals", "b", "a", False),
    ("StringMatches", "log-*.txt", "log-2026.txt", True),
    ("StringMatches", "log-*.txt", "log-2026.csv", False),
    ("StringMatches", "a\\*b", "a*b", True),
    ("StringMatches", "a\\*b", "axxb", False),
    ("StringMatches", "*", "", True),
    ("NumericEquals", 5, 5.0, True),
    ("NumericEquals", 5, "5", False),
    ("NumericEquals", 1, True, False),  # a boolean is not a number
    ("NumericLessThan", 5, 4.5, True),
    ("NumericGreaterThan", 5, 5, False),
    ("NumericLessThanEquals", 5, 5, True),
    ("NumericGreaterThanEquals", 5, 6, True),
    ("BooleanEquals", True, True, True),
    ("BooleanEquals", True, 1, False),
    ("TimestampEquals", T0, "2026-01-01T01:00:00+01:00", True),  # the same instant
    ("TimestampLessThan", T0, "2025-12-31T23:59:59.999Z", True),
    ("TimestampGreaterThan", T0, "2026-01-01T00:00:01Z", True),
    ("TimestampLessThanEquals", T0, T0, True),
    ("TimestampGreaterThanEquals", T0, "2025-01-01T00:00:00Z", False),
    ("TimestampEquals", T0, "not a timestamp", False),
    ("TimestampEquals", T0, "2026-01-01", False),
]


@pytest.mark.parametrize(("operator", "value", "variable", "expected"), CASES)
def test_operator(operator, value, variable, expected):
    assert chooses({"Variable": "$.v", operator: value}, {"v": variable}) is expected


@pytest.mark.parametrize(
    ("operator", "value", "variable", "expected"), [c for c in CASES if c[0] != "StringMatches"]
)
def test_path_form_compares_with_another_value_of_the_input(operator, value, variable, expected):
    rule = {"Variable": "$.v", f"{operator}Path": "$.other"}
    assert chooses(rule, {"v": variable, "other": value}) is expected


@pytest.mark.parametrize(
    ("test", "variable", "expected"),
    [
        ("IsNull", None, True),
        ("IsNull", 0, False),
        ("IsNumeric", 1.5, True),
        ("IsNumeric", "1", False),
        ("IsNumeric", False, False),
        ("IsString", "", True),
        ("IsString", 1, False),
        ("IsBoolean", False, True),
        ("IsBoolean", "true", False),
        ("IsTimestamp", T0, True),
        ("IsTimestamp", "2026-13-01", False),
    ],
)
def test_type_tests(test, variable, expected):
    assert chooses({"Variable": "$.v", test: True}, {"v": variable}) is expected
    assert chooses({"Variable": "$.v", test: False}, {"v": variable}) is (not expected)


def test_is_present_on_a_missing_variable():
    assert chooses({"Variable": "$.v", "IsPresent": True}, {}) is False
    assert chooses({"Variable": "$.v", "IsPresent": False}, {}) is True
    assert chooses({"Variable": "$.v", "IsPresent": True}, {"v": None}) is True


def test_a_missing_variable_is_a_runtime_error():
    assert chooses({"Variable": "$.v", "StringEquals": "x"}, {}) == "States.Runtime"
    assert chooses({"Variable": "$.v", "StringEqualsPath": "$.nope"}, {"v": "x"}) == "States.Runtime"


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"And": [{"Variable": "$.a", "NumericEquals": 1}, {"Variable": "$.b", "StringEquals": "x"}]}, True),
        ({"And": [{"Variable": "$.a", "NumericEquals": 1}, {"Variable": "$.b", "StringEquals": "y"}]}, False),
        ({"Or": [{"Variable": "$.a", "NumericEquals": 2}, {"Variable": "$.b", "StringEquals": "x"}]}, True),
        ({"Or": [{"Variable": "$.a", "NumericEquals": 2}, {"Variable": "$.b", "StringEquals": "y"}]}, False),
        ({"Not": {"Variable": "$.a", "NumericEquals": 2}}, True),
        (
            {
                "Not": {
                    "And": [
                        {"Variable": "$.a", "IsPresent": True},
                        {"Not": {"Variable": "$.b", "IsNull": True}},
                    ]
                }
            },
            False,
        ),
    ],
)
def test_combinators(rule, expected):
    assert chooses(rule, {"a": 1, "b": "x"}) is expected


def test_variables_and_the_context_object_can_be_compared():
    assert chooses({"Variable": "$$.Execution.Name", "StringEquals": "test-run"}, {}) is True


def test_first_matching_rule_wins_and_no_match_without_default_fails():
    definition = machine(
        (
            "C",
            {
                "Type": "Choice",
                "InputPath": "$.in",
                "OutputPath": "$.keep",
                "Choices": [
                    {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "A"},
                    {"Variable": "$.n", "NumericGreaterThan": 0, "Next": "B"},
                ],
            },
        ),
        ("A", {"Type": "Pass", "End": True}),
        ("B", {"Type": "Pass", "End": True}),
    )
    outcome = execute(definition, {"in": {"n": 5, "keep": {"k": 1}}})
    assert outcome.output == {"k": 1}
    assert [e["state"] for e in outcome.of("PassStateEntered")] == ["A"]
    outcome = execute(definition, {"in": {"n": 0}})
    assert (outcome.status, outcome.error) == ("FAILED", "States.NoChoiceMatched")
