"""The JSONPath data flow of a state: InputPath, Parameters, the task, ResultSelector, ResultPath,
OutputPath; the context object; variables (Assign)."""

import pytest

from asl_support import Calls, execute, machine, single

INPUT = {"a": {"b": 1, "c": [10, 20]}, "keep": "k", "list": [{"id": 1}, {"id": 2}]}


def task(**fields):
    return single({"Type": "Task", "Resource": "work", **fields})


def run_task(fields, result=None, data=INPUT):
    calls = Calls([result if result is not None else {"r": 1, "s": [1, 2]}])
    outcome = execute(task(**fields), data, handlers={"work": calls})
    return outcome, calls


CASES = [
    # (fields, what the task gets, the state's output)
    ({}, INPUT, {"r": 1, "s": [1, 2]}),
    ({"InputPath": "$.a"}, {"b": 1, "c": [10, 20]}, {"r": 1, "s": [1, 2]}),
    ({"InputPath": None}, {}, {"r": 1, "s": [1, 2]}),
    ({"InputPath": "$.a.c[1]"}, 20, {"r": 1, "s": [1, 2]}),
    ({"InputPath": "$.list[*].id"}, [1, 2], {"r": 1, "s": [1, 2]}),
    (
        {
            "Parameters": {
                "x.$": "$.a.b",
                "fixed": "v",
                "nested": {"y.$": "$.keep", "l": [{"z.$": "$.a.c[0]"}]},
            }
        },
        {"x": 1, "fixed": "v", "nested": {"y": "k", "l": [{"z": 10}]}},
        {"r": 1, "s": [1, 2]},
    ),
    (
        {"Parameters": {"ids.$": "$.list[*].id", "first.$": "$.list[0].id"}},
        {"ids": [1, 2], "first": 1},
        {"r": 1, "s": [1, 2]},
    ),
    ({"InputPath": "$.a", "Parameters": {"x.$": "$.b"}}, {"x": 1}, {"r": 1, "s": [1, 2]}),
    ({"ResultSelector": {"only.$": "$.s[1]"}}, INPUT, {"only": 2}),
    ({"ResultPath": "$.out"}, INPUT, {**INPUT, "out": {"r": 1, "s": [1, 2]}}),
    ({"ResultPath": "$.a.b"}, INPUT, {**INPUT, "a": {"b": {"r": 1, "s": [1, 2]}, "c": [10, 20]}}),
    ({"ResultPath": None}, INPUT, INPUT),
    ({"ResultPath": "$"}, INPUT, {"r": 1, "s": [1, 2]}),
    ({"ResultPath": "$.out", "OutputPath": "$.out.s"}, INPUT, [1, 2]),
    ({"OutputPath": None}, INPUT, {}),
    ({"InputPath": "$.a", "ResultPath": "$.res", "OutputPath": "$.res.r"}, {"b": 1, "c": [10, 20]}, 1),
    ({"ResultSelector": {"x.$": "$.r"}, "ResultPath": "$.sel", "OutputPath": "$.sel"}, INPUT, {"x": 1}),
]


@pytest.mark.parametrize(("fields", "arguments", "output"), CASES)
def test_data_flow(fields, arguments, output):
    outcome, calls = run_task(fields)
    assert outcome.status == "SUCCEEDED", (outcome.error, outcome.cause)
    assert calls.calls[0][1] == arguments
    assert outcome.output == output


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"InputPath": "$.nope"}, "States.Runtime"),
        ({"OutputPath": "$.nope"}, "States.Runtime"),
        ({"Parameters": {"x.$": "$.nope"}}, "States.ParameterPathFailure"),
        ({"ResultSelector": {"x.$": "$.nope"}}, "States.ParameterPathFailure"),
        ({"ResultPath": "$.keep.inner"}, "States.ResultPathMatchFailure"),
        ({"Parameters": {"x.$": "$missing_variable"}}, "States.ParameterPathFailure"),
    ],
)
def test_path_failures_have_the_specifications_names(fields, error):
    outcome, _ = run_task(fields)
    assert (outcome.status, outcome.error) == ("FAILED", error)


def test_parameter_path_failure_is_caught_but_runtime_is_not():
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
    for fields, status in (
        ({"Parameters": {"x.$": "$.nope"}}, "SUCCEEDED"),
        ({"InputPath": "$.nope"}, "FAILED"),
    ):
        definition = machine(
            ("T", {"Type": "Task", "Resource": "work", "Catch": catch, "End": True, **fields}),
            ("Caught", {"Type": "Pass", "End": True}),
        )
        assert execute(definition, INPUT, handlers={"work": Calls()}).status == status


def test_pass_result_parameters_and_result_path():
    outcome = execute(single({"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.r"}), {"a": 1})
    assert outcome.output == {"a": 1, "r": {"x": 1}}
    outcome = execute(single({"Type": "Pass", "Parameters": {"v.$": "$.a"}, "ResultPath": "$.p"}), {"a": 1})
    assert outcome.output == {"a": 1, "p": {"v": 1}}
    outcome = execute(single({"Type": "Pass", "InputPath": "$.a", "OutputPath": "$.b"}), {"a": {"b": [3]}})
    assert outcome.output == [3]


def test_result_path_into_a_non_object_input_fails():
    outcome = execute(single({"Type": "Pass", "Result": 1, "ResultPath": "$.r"}), [1, 2])
    assert outcome.error == "States.ResultPathMatchFailure"


def test_context_object():
    calls = Calls()
    parameters = {
        "id.$": "$$.Execution.Id",
        "name.$": "$$.Execution.Name",
        "input.$": "$$.Execution.Input",
        "start.$": "$$.Execution.StartTime",
        "state.$": "$$.State.Name",
        "entered.$": "$$.State.EnteredTime",
        "retries.$": "$$.State.RetryCount",
        "machine.$": "$$.StateMachine.Name",
        "token.$": "$$.Task.Token",
    }
    definition = single({"Type": "Task", "Resource": "work.waitForTaskToken", "Parameters": parameters})
    outcome = execute(definition, {"q": 1}, handlers={"work": calls}, max_sleep=0)
    got = calls.calls[0][1]
    assert got["id"] == "exec-1" and got["name"] == "test-run" and got["input"] == {"q": 1}
    assert got["start"] == "2026-03-01T12:00:00.000Z" and got["entered"] == got["start"]
    assert (got["state"], got["retries"], got["machine"]) == ("S", 0, "playbook")
    assert got["token"] == calls.calls[0][2].task_token == outcome.snapshot["tokens"][0]


def test_map_item_context_in_item_selector():
    definition = single(
        {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemSelector": {
                "index.$": "$$.Map.Item.Index",
                "value.$": "$$.Map.Item.Value",
                "all.$": "$.tag",
            },
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        }
    )
    outcome = execute(definition, {"items": ["x", "y"], "tag": "t"})
    assert outcome.output == [{"index": 0, "value": "x", "all": "t"}, {"index": 1, "value": "y", "all": "t"}]


def test_variables_assign_read_and_scope():
    definition = machine(
        (
            "Set",
            {
                "Type": "Pass",
                "Result": {"n": 2},
                "Assign": {"count.$": "$.n", "label": "fixed", "old.$": "$.n"},
                "Next": "Swap",
            },
        ),
        ("Swap", {"Type": "Pass", "Assign": {"count.$": "$label", "label.$": "$count"}, "Next": "Use"}),
        (
            "Use",
            {
                "Type": "Pass",
                "Parameters": {
                    "c.$": "$count",
                    "l.$": "$label",
                    "f.$": "States.Format('{}-{}', $label, $old)",
                },
                "Next": "Par",
            },
        ),
        (
            "Par",
            {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "In",
                        "States": {
                            "In": {
                                "Type": "Pass",
                                "Assign": {"inner": 1},
                                "Parameters": {"seen.$": "$old"},
                                "End": True,
                            }
                        },
                    }
                ],
                "ResultPath": "$.branch",
                "Next": "After",
            },
        ),
        (
            "After",
            {
                "Type": "Choice",
                "Choices": [{"Variable": "$inner", "IsPresent": True, "Next": "Leak"}],
                "Default": "Done",
            },
        ),
        ("Leak", {"Type": "Fail", "Error": "InnerVariableLeaked"}),
        ("Done", {"Type": "Succeed"}),
    )
    outcome = execute(definition)
    assert outcome.status == "SUCCEEDED", (outcome.error, outcome.cause)
    # every Assign value is computed from the variables before the state: the swap swaps
    assert outcome.output == {"c": "fixed", "l": 2, "f": "2-2", "branch": [{"seen": 2}]}


def test_assign_sees_the_result_and_not_its_own_new_values():
    calls = Calls([{"id": "i-1"}])
    definition = machine(
        (
            "T",
            {
                "Type": "Task",
                "Resource": "work",
                "ResultSelector": {"instance.$": "$.id"},
                "Assign": {"chosen.$": "$.instance"},
                "ResultPath": "$.t",
                "Next": "U",
            },
        ),
        ("U", {"Type": "Pass", "Parameters": {"v.$": "$chosen"}, "End": True}),
    )
    assert execute(definition, {}, handlers={"work": calls}).output == {"v": "i-1"}
