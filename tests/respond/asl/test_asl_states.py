"""Every state type: Pass, Succeed, Fail, Wait (real and controlled timers), Parallel, Map."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from asl_support import START, Calls, FakeClock, execute, fails, machine, single
from reynard.respond.asl.ports import SystemClock


def test_succeed_applies_input_and_output_paths():
    outcome = execute(single({"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}), {"a": {"b": 5}})
    assert (outcome.status, outcome.output) == ("SUCCEEDED", 5)


@pytest.mark.parametrize(
    ("fields", "error", "cause"),
    [
        ({"Error": "Custom.Error", "Cause": "why"}, "Custom.Error", "why"),
        ({"ErrorPath": "$.e", "CausePath": "$.c"}, "FromInput", "because"),
        ({"Error": "E", "CausePath": "States.Format('{} failed', $.who)"}, "E", "bob failed"),
        ({}, None, None),
    ],
)
def test_fail(fields, error, cause):
    outcome = execute(single({"Type": "Fail", **fields}), {"e": "FromInput", "c": "because", "who": "bob"})
    assert (outcome.status, outcome.error, outcome.cause) == ("FAILED", error, cause)


def test_fail_error_path_must_give_a_string():
    outcome = execute(single({"Type": "Fail", "ErrorPath": "$.n"}), {"n": 1})
    assert outcome.error == "States.Runtime"


def wait_state(**fields):
    return machine(("W", {"Type": "Wait", "Next": "Done", **fields}), ("Done", {"Type": "Pass", "End": True}))


@pytest.mark.parametrize(
    ("fields", "data", "seconds"),
    [
        ({"Seconds": 30}, {}, 30),
        ({"Seconds": 0}, {}, 0),
        ({"SecondsPath": "$.s"}, {"s": 90}, 90),
        ({"Timestamp": "2026-03-01T12:10:00Z"}, {}, 600),
        ({"TimestampPath": "$.t"}, {"t": "2026-03-01T13:00:00+01:00"}, 0),  # the same instant as START
        ({"Timestamp": "2020-01-01T00:00:00Z"}, {}, 0),  # in the past: no wait
    ],
)
def test_wait_on_a_controlled_clock(fields, data, seconds):
    clock = FakeClock()
    outcome = execute(wait_state(**fields), data, clock=clock)
    assert outcome.status == "SUCCEEDED"
    assert clock.now() - START == timedelta(seconds=max(0, seconds))
    assert outcome.output == data


@pytest.mark.parametrize(
    ("fields", "data"),
    [
        ({"SecondsPath": "$.s"}, {"s": -1}),
        ({"SecondsPath": "$.s"}, {"s": "10"}),
        ({"SecondsPath": "$.s"}, {}),
        ({"TimestampPath": "$.t"}, {"t": "tomorrow"}),
        ({"TimestampPath": "$.t"}, {"t": 5}),
    ],
)
def test_wait_with_a_bad_value_is_a_runtime_error(fields, data):
    assert execute(wait_state(**fields), data).error == "States.Runtime"


def test_wait_uses_a_real_timer():
    until = datetime.now(UTC) + timedelta(seconds=0.3)
    started = time.monotonic()
    outcome = execute(wait_state(TimestampPath="$.t"), {"t": until.isoformat()}, clock=SystemClock())
    assert outcome.status == "SUCCEEDED"
    assert 0.25 < time.monotonic() - started < 1.0


def test_wait_parks_when_longer_than_max_sleep_and_goes_on_later():
    clock = FakeClock()
    outcome = execute(wait_state(Seconds=3600), {}, clock=clock, max_sleep=60)
    assert outcome.status == "WAITING"
    assert outcome.snapshot["wake_at"] == "2026-03-01T13:00:00.000Z"
    clock.advance(3600)
    assert outcome.resume(max_sleep=0).status == "SUCCEEDED"


def test_parallel_results_in_branch_order_and_result_path():
    branches = [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": True}}},
        {
            "StartAt": "B",
            "States": {"B": {"Type": "Task", "Resource": "echo", "Parameters": {"x.$": "$.x"}, "End": True}},
        },
        {
            "StartAt": "C",
            "States": {"C": {"Type": "Wait", "Seconds": 5, "Next": "D"}, "D": {"Type": "Pass", "End": True}},
        },
    ]
    outcome = execute(single({"Type": "Parallel", "Branches": branches, "ResultPath": "$.r"}), {"x": 1})
    assert outcome.output == {"x": 1, "r": ["a", {"x": 1}, {"x": 1}]}
    assert "ParallelStateSucceeded" in outcome.types()


def test_parallel_branches_run_at_the_same_time():
    barrier = threading.Barrier(3, timeout=5)

    def meet(resource, arguments, context):
        barrier.wait()  # passes only when all three branches are in their task at once
        return arguments

    branch = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "meet", "End": True}}}
    outcome = execute(
        single({"Type": "Parallel", "Branches": [branch] * 3}), {"v": 1}, handlers={"meet": meet}
    )
    assert outcome.output == [{"v": 1}] * 3


def test_a_failed_branch_fails_the_parallel_state_with_its_error():
    branches = [
        {"StartAt": "Slow", "States": {"Slow": {"Type": "Wait", "Seconds": 100, "End": True}}},
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Branch.Broke", "Cause": "no"}}},
    ]
    definition = machine(
        (
            "P",
            {
                "Type": "Parallel",
                "Branches": branches,
                "Catch": [{"ErrorEquals": ["States.BranchFailed"], "ResultPath": "$.e", "Next": "H"}],
                "End": True,
            },
        ),
        ("H", {"Type": "Pass", "End": True}),
    )
    outcome = execute(definition, {})
    assert outcome.output == {"e": {"Error": "Branch.Broke", "Cause": "no"}}
    outcome = execute(single({"Type": "Parallel", "Branches": branches}), {})
    assert (outcome.error, outcome.cause) == ("Branch.Broke", "no")


def test_parallel_retry_runs_every_branch_again():
    calls = Calls([fails("E"), {"ok": 1}])
    branch = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "work", "End": True}}}
    definition = single({"Type": "Parallel", "Branches": [branch], "Retry": [{"ErrorEquals": ["E"]}]})
    outcome = execute(definition, {}, handlers={"work": calls})
    assert outcome.output == [{"ok": 1}] and len(calls.calls) == 2


def map_state(**fields):
    processor = fields.pop(
        "processor", {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "work", "End": True}}}
    )
    return single({"Type": "Map", "ItemProcessor": processor, **fields})


def test_map_items_path_selector_results_in_order():
    outcome = execute(
        map_state(ItemsPath="$.xs", ItemSelector={"v.$": "$$.Map.Item.Value"}, ResultPath="$.out"),
        {"xs": [3, 1, 2]},
        handlers={"work": lambda r, a, c: a["v"] * 10},
    )
    assert outcome.output == {"xs": [3, 1, 2], "out": [30, 10, 20]}
    assert len(outcome.of("MapIterationStarted")) == 3


def test_map_of_nothing_and_of_not_an_array():
    assert execute(map_state(), []).output == []
    assert execute(map_state(ItemsPath="$.x"), {"x": {"a": 1}}).error == "States.Runtime"


def test_legacy_iterator_and_parameters():
    outcome = execute(
        single(
            {
                "Type": "Map",
                "Parameters": {"i.$": "$$.Map.Item.Index"},
                "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
            }
        ),
        ["a", "b"],
    )
    assert outcome.output == [{"i": 0}, {"i": 1}]


@pytest.mark.parametrize("limit", [1, 2, 0])
def test_max_concurrency_bounds_the_iterations_running_at_once(limit):
    running, peak, lock = [0], [0], threading.Lock()

    def work(resource, arguments, context):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return arguments

    outcome = execute(map_state(MaxConcurrency=limit), list(range(6)), handlers={"work": work})
    assert outcome.output == list(range(6))
    assert peak[0] == (limit or 6)


def flaky_items(resource, arguments, context):
    if arguments["bad"]:
        raise fails("Item.Bad", str(arguments["n"]))
    return arguments["n"]


ITEMS = [{"n": n, "bad": n in (1, 3)} for n in range(5)]  # 2 of 5 fail


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({}, "FAILED", "Item.Bad"),
        ({"ToleratedFailureCount": 2}, "SUCCEEDED", None),
        ({"ToleratedFailureCount": 1}, "FAILED", "States.ExceedToleratedFailureThreshold"),
        ({"ToleratedFailurePercentage": 40}, "SUCCEEDED", None),
        ({"ToleratedFailurePercentage": 39.9}, "FAILED", "States.ExceedToleratedFailureThreshold"),
        ({"ToleratedFailureCountPath": "$.tolerate"}, "SUCCEEDED", None),
    ],
)
def test_tolerated_failures(fields, status, error):
    definition = map_state(ItemsPath="$.items", MaxConcurrency=1, **fields)
    outcome = execute(definition, {"items": ITEMS, "tolerate": 3}, handlers={"work": flaky_items})
    assert (outcome.status, outcome.error) == (status, error)
    if status == "SUCCEEDED":
        assert outcome.output == [
            0,
            {"Error": "Item.Bad", "Cause": "1"},
            2,
            {"Error": "Item.Bad", "Cause": "3"},
            4,
        ]


def test_nested_map_in_parallel():
    inner = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.xs",
                "End": True,
                "ItemProcessor": {
                    "StartAt": "T",
                    "States": {"T": {"Type": "Task", "Resource": "work", "End": True}},
                },
            }
        },
    }
    outcome = execute(
        single({"Type": "Parallel", "Branches": [inner, inner]}),
        {"xs": [1, 2]},
        handlers={"work": lambda r, a, c: a + 1},
    )
    assert outcome.output == [[2, 3], [2, 3]]
    assert {e["frame"] for e in outcome.of("TaskStateEntered")} == {
        "S[0]/M[0]",
        "S[0]/M[1]",
        "S[1]/M[0]",
        "S[1]/M[1]",
    }


def test_execution_timeout():
    clock = FakeClock()
    outcome = execute(wait_state(Seconds=100), {}, clock=clock)
    assert outcome.status == "SUCCEEDED"
    definition = {**wait_state(Seconds=100), "TimeoutSeconds": 10}
    outcome = execute(definition, {}, clock=FakeClock())
    assert (outcome.status, outcome.error) == ("TIMED_OUT", "States.Timeout")
    assert outcome.types()[-1] == "ExecutionTimedOut"


def test_history_of_a_simple_run():
    outcome = execute(
        machine(
            ("T", {"Type": "Task", "Resource": "echo", "Next": "P"}), ("P", {"Type": "Pass", "End": True})
        ),
        {"a": 1},
    )
    assert outcome.types() == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
    assert outcome.of("TaskStateEntered")[0]["details"] == {"input": {"a": 1}}
    assert outcome.of("ExecutionSucceeded")[0]["details"] == {"output": {"a": 1}}
