"""Executions survive the process: a Wait or a task token wait is parked in the state database, and a
new runner (a new interpreter, a new store, the same database) continues it, inside Parallel and Map too."""

import json
from datetime import timedelta

import pytest

from asl_support import FakeClock, machine
from reynard.respond.dispatch import Dispatch
from reynard.respond.errors import DefinitionError
from reynard.respond.executions import ExecutionError, ExecutionStore
from reynard.respond.runner import Runner
from reynard.state import open_state


@pytest.fixture
def database(tmp_path):
    return f"sqlite:///{tmp_path / 'state.db'}"


def dispatch(asked=None):
    asked = [] if asked is None else asked

    def ask(resource, arguments, context):
        asked.append((arguments, context.task_token))
        return {"sent": True}

    return Dispatch().register("reynard:ask", ask).register("reynard:echo", lambda r, a, c: a)


def runner(database, clock, **options):
    """A runner as a fresh process would build it."""
    return Runner(
        ExecutionStore(open_state(database)),
        dispatch(options.pop("asked", None)),
        clock=clock,
        max_sleep=0,
        **options,
    )


ASK = {
    "Type": "Task",
    "Resource": "reynard:ask.waitForTaskToken",
    "Parameters": {"token.$": "$$.Task.Token", "who.$": "$.who"},
}


def test_a_wait_is_parked_and_continued_by_another_runner(database):
    clock = FakeClock()
    definition = json.dumps(
        machine(
            ("Before", {"Type": "Pass", "Result": 1, "ResultPath": "$.before", "Next": "W"}),
            ("W", {"Type": "Wait", "Seconds": 600, "Next": "After"}),
            ("After", {"Type": "Task", "Resource": "reynard:echo", "End": True}),
        )
    )
    first = runner(database, clock).start(definition, {"x": 1}, playbook="waits", started_by="tests")
    assert (first.status, first.wake_at) == ("WAITING", "2026-03-01T12:10:00+00:00")
    assert runner(database, clock).resume_due() == []  # not due yet
    clock.advance(600)
    second = runner(database, clock)
    [done] = second.resume_due()
    assert (done.id, done.status, done.output) == (first.id, "SUCCEEDED", {"x": 1, "before": 1})
    types = [e["type"] for e in second.store.history(first.id)]
    assert types.count("WaitStateEntered") == 1 and types[-1] == "ExecutionSucceeded"


def test_a_task_token_wait_inside_a_parallel_branch(database):
    clock = FakeClock()
    definition = json.dumps(
        machine(
            (
                "P",
                {
                    "Type": "Parallel",
                    "End": True,
                    "Branches": [
                        {"StartAt": "Ask", "States": {"Ask": {**ASK, "End": True}}},
                        {
                            "StartAt": "Other",
                            "States": {"Other": {"Type": "Pass", "Result": "other", "End": True}},
                        },
                    ],
                },
            )
        )
    )
    asked = []
    started = runner(database, clock, asked=asked).start(
        definition, {"who": "oncall"}, playbook="approve", started_by="tests"
    )
    assert started.status == "WAITING"
    [waiting] = started.waiting_for
    assert waiting["state"] == "Ask" and asked[0][1] == waiting["token"] == asked[0][0]["token"]
    later = runner(database, clock)
    assert later.send_task_success(waiting["token"], {"approved": "alice"}) == started.id
    [done] = later.resume_due()
    assert (done.status, done.output) == ("SUCCEEDED", [{"approved": "alice"}, "other"])
    with pytest.raises(ExecutionError, match="was already answered"):
        later.send_task_success(waiting["token"], {})


def test_task_tokens_in_map_iterations_approved_and_rejected(database):
    clock = FakeClock()
    processor = {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                **ASK,
                "Catch": [{"ErrorEquals": ["Rejected"], "ResultPath": "$.rejected", "Next": "No"}],
                "End": True,
            },
            "No": {"Type": "Pass", "End": True},
        },
    }
    definition = json.dumps(
        machine(
            (
                "M",
                {
                    "Type": "Map",
                    "ItemsPath": "$.people",
                    "End": True,
                    "ItemSelector": {"who.$": "$$.Map.Item.Value"},
                    "ItemProcessor": processor,
                },
            )
        )
    )
    started = runner(database, clock).start(
        definition, {"people": ["ann", "bob"]}, playbook="each", started_by="tests"
    )
    tokens = {w["state"]: w["token"] for w in started.waiting_for}
    assert len(started.waiting_for) == 2 and set(tokens) == {"Ask"}
    first, second = (w["token"] for w in started.waiting_for)
    next_process = runner(database, clock)
    next_process.send_task_success(first, "yes")
    [still] = next_process.resume_due()
    assert still.status == "WAITING" and [w["token"] for w in still.waiting_for] == [second]
    third_process = runner(database, clock)
    third_process.send_task_failure(second, "Rejected", "not now")
    [done] = third_process.resume_due()
    assert done.output == ["yes", {"who": "bob", "rejected": {"Error": "Rejected", "Cause": "not now"}}]


def test_a_wait_inside_a_map_iteration_resumes_where_it_was(database):
    clock = FakeClock()
    processor = {
        "StartAt": "W",
        "States": {
            "W": {"Type": "Wait", "Seconds": 60, "Next": "E"},
            "E": {"Type": "Task", "Resource": "reynard:echo", "End": True},
        },
    }
    definition = json.dumps(
        machine(("M", {"Type": "Map", "MaxConcurrency": 1, "ItemProcessor": processor, "End": True}))
    )
    execution = runner(database, clock).start(definition, [1, 2, 3], playbook="slow-map", started_by="tests")
    for _ in range(3):
        assert execution.status == "WAITING"
        clock.advance(60)
        [execution] = runner(database, clock).resume_due()
    assert (execution.status, execution.output) == ("SUCCEEDED", [1, 2, 3])
    events = ExecutionStore(open_state(database)).history(execution.id)
    assert [e["details"]["index"] for e in events if e["type"] == "MapIterationStarted"] == [0, 1, 2]


def test_a_runner_that_died_leaves_the_execution_to_another_after_its_lease(database):
    clock = FakeClock()
    definition = json.dumps(machine(("W", {"Type": "Wait", "Seconds": 1, "End": True})))
    execution = runner(database, clock).start(definition, {}, playbook="lease", started_by="tests")
    store = ExecutionStore(open_state(database))
    assert store.claim(execution.id, "a-process-that-dies", clock.now() + timedelta(seconds=10), clock.now())
    clock.advance(5)
    assert runner(database, clock).resume_due() == []  # its lease still holds
    clock.advance(6)
    [done] = runner(database, clock).resume_due()
    assert (done.id, done.status) == (execution.id, "SUCCEEDED")


def test_a_held_execution_is_not_taken_and_stop_refuses_answers(database):
    clock = FakeClock()
    definition = json.dumps(machine(("Ask", {**ASK, "End": True})))
    execution = runner(database, clock).start(definition, {"who": "x"}, playbook="stop", started_by="tests")
    store = ExecutionStore(open_state(database))
    assert store.claim(execution.id, "busy-process", clock.now() + timedelta(seconds=60), clock.now())
    assert runner(database, clock).resume(execution.id) is None
    stopped = runner(database, clock).stop(execution.id, "Operator.Stop", "enough", by="oncall")
    assert (stopped.status, stopped.error, stopped.waiting_for) == ("ABORTED", "Operator.Stop", ())
    assert stopped.started_by == "tests"
    with pytest.raises(ExecutionError, match="was stopped"):
        runner(database, clock).send_task_success(execution.waiting_for[0]["token"], {})
    aborted = store.history(execution.id)[-1]
    assert aborted["type"] == "ExecutionAborted"
    assert aborted["details"] == {"error": "Operator.Stop", "cause": "enough", "by": "oncall"}


def test_names_are_unique_per_playbook_and_unknown_resources_are_refused_before_running(database):
    clock = FakeClock()
    definition = json.dumps(machine(("P", {"Type": "Pass", "End": True})))
    the_runner = runner(database, clock)
    the_runner.start(definition, {}, playbook="p", started_by="tests", name="once")
    with pytest.raises(ExecutionError, match="already has an execution named 'once'"):
        the_runner.start(definition, {}, playbook="p", started_by="tests", name="once")
    bad = json.dumps(machine(("T", {"Type": "Task", "Resource": "reynard:nothing", "End": True})))
    with pytest.raises(DefinitionError, match="T: Resource: no handler is registered for 'reynard:nothing'"):
        the_runner.start(bad, {}, playbook="p", started_by="tests")
    assert [e.name for e in the_runner.store.list()] == ["once"]
