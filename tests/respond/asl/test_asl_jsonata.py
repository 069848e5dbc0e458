"""JSONata states (QueryLanguage: JSONata): Arguments, Output, Assign, Condition, $states, Items."""

import pytest

from asl_support import Calls, execute, fails, machine, single
from reynard.respond.errors import DefinitionError

JSONATA = {"QueryLanguage": "JSONata"}


def test_task_arguments_output_and_assign():
    calls = Calls([{"size": 3}])
    definition = machine(
        (
            "T",
            {
                "Type": "Task",
                "Resource": "work",
                "Arguments": {
                    "id": "{% $states.input.id %}",
                    "twice": "{% $states.input.n * 2 %}",
                    "plain": "$.x",
                },
                "Output": {"got": "{% $states.result.size %}", "id": "{% $states.input.id %}"},
                "Assign": {"size": "{% $states.result.size %}"},
                "Next": "U",
            },
        ),
        (
            "U",
            {
                "Type": "Pass",
                "Output": "{% {'size': $size, 'sum': $sum([1, 2.5]), 'ctx': $states.context.State.Name} %}",
                "End": True,
            },
        ),
        **JSONATA,
    )
    outcome = execute(definition, {"id": "i-1", "n": 4}, handlers={"work": calls})
    assert outcome.status == "SUCCEEDED", (outcome.error, outcome.cause)
    assert calls.calls[0][1] == {"id": "i-1", "twice": 8, "plain": "$.x"}
    assert outcome.output == {"size": 3, "sum": 3.5, "ctx": "U"}


def test_a_task_without_arguments_gets_its_input_and_outputs_its_result():
    outcome = execute(single({"Type": "Task", "Resource": "echo"}, **JSONATA), {"a": 1})
    assert outcome.output == {"a": 1}


def test_choice_conditions():
    definition = machine(
        (
            "C",
            {
                "Type": "Choice",
                "Choices": [
                    {"Condition": "{% $states.input.n > 10 %}", "Next": "Big", "Output": {"size": "big"}},
                    {"Condition": "{% $states.input.n > 0 %}", "Next": "Small", "Assign": {"small": True}},
                ],
                "Default": "Zero",
            },
        ),
        ("Big", {"Type": "Succeed"}),
        ("Small", {"Type": "Pass", "Output": "{% $small %}", "End": True}),
        ("Zero", {"Type": "Fail", "Error": "{% 'Zero.' & $string($states.input.n) %}"}),
        **JSONATA,
    )
    assert execute(definition, {"n": 11}).output == {"size": "big"}
    assert execute(definition, {"n": 1}).output is True
    assert execute(definition, {"n": 0}).error == "Zero.0"


def test_a_condition_that_is_not_a_boolean_is_a_query_evaluation_error():
    definition = machine(
        (
            "C",
            {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $states.input.n %}", "Next": "A"}],
                "Default": "A",
            },
        ),
        ("A", {"Type": "Succeed"}),
        **JSONATA,
    )
    assert execute(definition, {"n": 1}).error == "States.QueryEvaluationError"


def test_wait_seconds_and_map_items_as_expressions():
    definition = machine(
        ("W", {"Type": "Wait", "Seconds": "{% $states.input.delay %}", "Next": "M"}),
        (
            "M",
            {
                "Type": "Map",
                "Items": "{% $states.input.xs %}",
                "ItemSelector": {
                    "v": "{% $states.context.Map.Item.Value %}",
                    "i": "{% $states.context.Map.Item.Index %}",
                },
                "MaxConcurrency": "{% 1 %}",
                "ItemProcessor": {
                    "StartAt": "P",
                    "States": {
                        "P": {
                            "Type": "Pass",
                            "Output": "{% $states.input.v * 10 + $states.input.i %}",
                            "End": True,
                        }
                    },
                },
                "End": True,
            },
        ),
        **JSONATA,
    )
    assert execute(definition, {"delay": 1, "xs": [1, 2]}).output == [10, 21]


def test_catch_output_sees_the_error_output():
    definition = machine(
        (
            "T",
            {
                "Type": "Task",
                "Resource": "work",
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Next": "H",
                        "Output": {
                            "failed": "{% $states.errorOutput.Error %}",
                            "was": "{% $states.input.a %}",
                        },
                        "Assign": {"cause": "{% $states.errorOutput.Cause %}"},
                    }
                ],
                "End": True,
            },
        ),
        ("H", {"Type": "Pass", "Output": "{% $merge([$states.input, {'cause': $cause}]) %}", "End": True}),
        **JSONATA,
    )
    outcome = execute(definition, {"a": 1}, handlers={"work": Calls([fails("Bad", "why")])})
    assert outcome.output == {"failed": "Bad", "was": 1, "cause": "why"}


def test_step_functions_functions():
    output = (
        "{% {'p': $partition([1,2,3], 2), 'r': $range(0, 4, 2), 'h': $hash('x', 'MD5'), "
        "'j': $parse('[1]'), 'u': $length($uuid())} %}"
    )
    outcome = execute(single({"Type": "Pass", "Output": output}, **JSONATA))
    assert outcome.output == {
        "p": [[1, 2], [3]],
        "r": [0, 2, 4],
        "h": "9dd4e461268c8034f5c8564e155c67a6",
        "j": [1],
        "u": 36,
    }


def test_a_jsonpath_state_in_a_jsonpath_machine_can_be_jsonata():
    definition = machine(
        ("A", {"Type": "Pass", "Parameters": {"x.$": "$.v"}, "Next": "B"}),
        (
            "B",
            {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $states.input.x + 1 %}", "End": True},
        ),
    )
    assert execute(definition, {"v": 1}).output == 2


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("{% $states.input.missing %}", "no value (undefined)"),
        ("{% $number('x') + 1 %}", ""),
        ("{% 1 / 0 %}", ""),
        ("{% function($x) { $x } %}", "not JSON"),
    ],
)
def test_evaluation_errors(output, message):
    outcome = execute(single({"Type": "Pass", "Output": output}, **JSONATA), {})
    assert outcome.error == "States.QueryEvaluationError"
    assert message in outcome.cause


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"Type": "Pass", "Output": "{% $eval('1') %}"}, "$eval is not supported"),
        ({"Type": "Pass", "Output": "{% 1 + %}"}, "S: Output:"),
        ({"Type": "Pass", "InputPath": "$.a"}, "S: InputPath: is a JSONPath field"),
        ({"Type": "Task", "Resource": "echo", "Parameters": {}}, "S: Parameters: is a JSONPath field"),
        (
            {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": True, "Next": "S"}]},
            "Choices[0].Variable",
        ),
        ({"Type": "Pass", "QueryLanguage": "JSONPath"}, "cannot be in a JSONata machine"),
    ],
)
def test_what_jsonata_states_refuse(state, message):
    with pytest.raises(DefinitionError) as raised:
        execute(single(state, **JSONATA))
    assert message in str(raised.value)


def test_jsonata_fields_in_a_jsonpath_state_say_so():
    with pytest.raises(DefinitionError, match='set "QueryLanguage": "JSONata"'):
        execute(single({"Type": "Pass", "Output": "{% 1 %}"}))
