"""Retry and Catch: matching rules, counts, backoff (on a clock the test controls), jitter, timeouts."""

import random
import time

import pytest

from asl_support import Calls, execute, fails, machine
from reynard.respond.asl import names
from reynard.respond.asl.ports import SystemClock
from reynard.respond.asl.retry import delay


@pytest.mark.parametrize(
    ("equals", "error", "expected"),
    [
        (["States.ALL"], "Custom.Error", True),
        (["States.ALL"], "States.Timeout", True),
        (["States.ALL"], "States.Runtime", False),  # never caught, never retried
        (["States.Runtime"], "States.Runtime", False),
        (["States.TaskFailed"], "Lambda.Unknown", True),
        (["States.TaskFailed"], "States.ParameterPathFailure", True),
        (["States.TaskFailed"], "States.Timeout", False),
        (["States.TaskFailed"], "States.HeartbeatTimeout", False),
        (["States.Timeout"], "States.HeartbeatTimeout", True),
        (["States.HeartbeatTimeout"], "States.Timeout", False),
        (["A", "B"], "B", True),
        (["A"], "a", False),  # names are case-sensitive
    ],
)
def test_error_matching(equals, error, expected):
    assert names.matches(equals, error) is expected


def test_branch_failed_matches_errors_out_of_branches_only():
    assert names.matches(["States.BranchFailed"], "X", from_branch=True)
    assert not names.matches(["States.BranchFailed"], "X")


def retrying(retry, script, catch=None):
    calls = Calls(list(script))
    states = [("T", {"Type": "Task", "Resource": "work", "Retry": retry, "Catch": catch or [], "End": True})]
    if catch:
        states.append(("Caught", {"Type": "Pass", "End": True}))
    definition = machine(*states)
    outcome = execute(definition, {"in": 1}, handlers={"work": calls})
    return outcome, calls


def test_retry_backoff_and_max_attempts():
    retry = [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 3}]
    outcome, calls = retrying(retry, [fails("Flaky")] * 3 + [{"ok": True}])
    assert outcome.output == {"ok": True}
    assert [c[2].attempt for c in calls.calls] == [1, 2, 3, 4]
    assert [e["details"]["delaySeconds"] for e in outcome.of("RetryScheduled")] == [2, 6, 18]
    outcome, calls = retrying(retry, [fails("Flaky")] * 4)
    assert (outcome.status, outcome.error, len(calls.calls)) == ("FAILED", "Flaky", 4)


def test_defaults_are_one_second_three_attempts_rate_two():
    outcome, calls = retrying([{"ErrorEquals": ["States.ALL"]}], [fails("E")] * 5)
    assert len(calls.calls) == 4
    assert [e["details"]["delaySeconds"] for e in outcome.of("RetryScheduled")] == [1, 2, 4]


def test_max_attempts_zero_never_retries_and_max_delay_caps():
    outcome, calls = retrying([{"ErrorEquals": ["E"], "MaxAttempts": 0}], [fails("E")])
    assert len(calls.calls) == 1 and outcome.error == "E"
    retry = [
        {
            "ErrorEquals": ["E"],
            "IntervalSeconds": 5,
            "BackoffRate": 10,
            "MaxAttempts": 3,
            "MaxDelaySeconds": 60,
        }
    ]
    outcome, _ = retrying(retry, [fails("E")] * 3 + [1])
    assert [e["details"]["delaySeconds"] for e in outcome.of("RetryScheduled")] == [5, 50, 60]


def test_full_jitter_stays_within_the_backoff():
    retrier = {"ErrorEquals": ["E"], "IntervalSeconds": 4, "BackoffRate": 2, "JitterStrategy": "FULL"}
    rng = random.Random(7)
    for attempt in range(5):
        samples = [delay(retrier, attempt, rng) for _ in range(200)]
        assert all(0 <= s <= 4 * 2**attempt for s in samples)
        assert max(samples) > 4 * 2**attempt * 0.8 and min(samples) < 4 * 2**attempt * 0.2
    capped = {**retrier, "MaxDelaySeconds": 3}
    assert all(delay(capped, 4, rng) <= 3 for _ in range(100))


def test_each_retrier_counts_its_own_attempts_and_the_first_match_decides():
    retry = [
        {"ErrorEquals": ["A"], "MaxAttempts": 1, "IntervalSeconds": 1},
        {"ErrorEquals": ["B"], "MaxAttempts": 2, "IntervalSeconds": 1},
        {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5},
    ]
    outcome, calls = retrying(retry, [fails("A"), fails("B"), fails("B"), fails("A"), "never"])
    # the second A: its retrier is spent, so no later retrier (not even States.ALL) takes it
    assert (outcome.error, len(calls.calls)) == ("A", 4)


def test_catch_result_path_next_and_assign():
    catch = [
        {"ErrorEquals": ["Other"], "Next": "Caught"},
        {"ErrorEquals": ["Boom"], "ResultPath": "$.error", "Next": "Caught", "Assign": {"why.$": "$.Cause"}},
    ]
    outcome, _ = retrying([], [fails("Boom", "it broke")], catch=catch)
    assert outcome.output == {"in": 1, "error": {"Error": "Boom", "Cause": "it broke"}}
    assert outcome.snapshot["root"]["vars"] == {"why": "it broke"}
    outcome, _ = retrying([], [fails("Boom")], catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}])
    assert outcome.output == {
        "Error": "Boom"
    }  # the default ResultPath is $: the error output replaces the input
    assert "ErrorCaught" in outcome.types()


def test_retries_come_before_catchers():
    retry = [{"ErrorEquals": ["E"], "MaxAttempts": 2}]
    outcome, calls = retrying(retry, [fails("E")] * 3, catch=[{"ErrorEquals": ["E"], "Next": "Caught"}])
    assert outcome.status == "SUCCEEDED" and len(calls.calls) == 3


def test_runtime_errors_are_neither_retried_nor_caught():
    outcome, calls = retrying(
        [{"ErrorEquals": ["States.ALL"]}],
        [fails("States.Runtime", "bad")],
        catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
    )
    assert (outcome.status, outcome.error, len(calls.calls)) == ("FAILED", "States.Runtime", 1)


def test_a_handler_exception_is_an_error_named_by_its_class():
    outcome, _ = retrying([], [KeyError("i-123")], catch=[{"ErrorEquals": ["KeyError"], "Next": "Caught"}])
    assert outcome.output == {"Error": "KeyError", "Cause": "'i-123'"}


def test_an_unknown_resource_is_a_runtime_failure_named_clearly():
    outcome = execute(machine(("T", {"Type": "Task", "Resource": "nobody:here", "End": True})), handlers={})
    assert outcome.error == "States.Runtime"
    assert "no handler is registered for resource 'nobody:here'" in outcome.cause


def slow(seconds):
    def handler(resource, arguments, context):
        time.sleep(seconds)
        return {"late": True}

    return handler


def test_timeout_seconds_fails_a_slow_task_with_states_timeout():
    catch = [
        {"ErrorEquals": ["States.TaskFailed"], "Next": "Failed"},
        {"ErrorEquals": ["States.Timeout"], "Next": "TimedOut"},
    ]
    definition = machine(
        ("T", {"Type": "Task", "Resource": "slow", "TimeoutSeconds": 1, "Catch": catch, "End": True}),
        ("Failed", {"Type": "Pass", "Result": "failed", "End": True}),
        ("TimedOut", {"Type": "Pass", "Result": "timed out", "End": True}),
    )
    started = time.monotonic()
    outcome = execute(definition, handlers={"slow": slow(1.6)}, clock=SystemClock())
    assert 0.9 < time.monotonic() - started < 1.5
    assert outcome.output == "timed out"
    assert outcome.of("TaskTimedOut")[0]["details"]["error"] == "States.Timeout"


def test_timeout_seconds_path_and_a_bad_value():
    definition = machine(
        ("T", {"Type": "Task", "Resource": "work", "TimeoutSecondsPath": "$.t", "End": True})
    )
    assert execute(definition, {"t": 5}, handlers={"work": Calls()}).status == "SUCCEEDED"
    assert execute(definition, {"t": 0}, handlers={"work": Calls()}).error == "States.Runtime"
    assert execute(definition, {"t": "5"}, handlers={"work": Calls()}).error == "States.Runtime"


def test_heartbeat_timeout_on_a_task_token_nobody_answers():
    definition = machine(
        (
            "T",
            {
                "Type": "Task",
                "Resource": "ask.waitForTaskToken",
                "HeartbeatSeconds": 1,
                "TimeoutSeconds": 30,
                "Catch": [{"ErrorEquals": ["States.HeartbeatTimeout"], "Next": "NoHeartbeat"}],
                "End": True,
            },
        ),
        ("NoHeartbeat", {"Type": "Pass", "End": True}),
    )
    started = time.monotonic()
    outcome = execute(definition, handlers={"ask": Calls()}, clock=SystemClock(), max_sleep=5)
    assert outcome.output == {
        "Error": "States.HeartbeatTimeout",
        "Cause": "no heartbeat for the task token within 1 seconds",
    }
    assert 0.9 < time.monotonic() - started < 2.0
