"""The interpreter: an execution is a tree of *frames*, and all of it is one JSON snapshot.

A frame is one thread of a state machine: which machine (`m`, an address into the definition), which
state (`s`), its input, its variables, and a *phase* (`enter`, `task`, `token`, `wait`, `retry`,
`parallel`, `map`, then `done` or `failed`). A Parallel state's frame holds one child frame per branch,
a Map's one per running iteration. `run` steps every frame that can move, saves the snapshot and the
new history events through `on_progress` after each round of transitions, and returns when the
execution ends or when nothing can move before a wait longer than `max_sleep` or a task token's answer:
the snapshot is then WAITING, and `run` on it later (in this process or another) continues exactly there.

Task resources run on a thread pool, so Parallel branches and Map iterations really run at once; a task
that was running when the process stopped is invoked again on resume (at-least-once: actions must be
idempotent).
"""

from __future__ import annotations

import json
import random
import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

from reynard.events.timestamps import zulu
from reynard.respond.errors import StatesError
from reynard.respond.resources import TaskContext, TaskInvoker

from . import choice, dataflow, jsonata_mode
from .dataflow import Scope
from .definition import State, StateMachine
from .names import (
    EXCEED_TOLERATED_FAILURE_THRESHOLD,
    HEARTBEAT_TIMEOUT,
    NO_CHOICE_MATCHED,
    QUERY_EVALUATION_ERROR,
    RUNTIME,
    TASK_FAILED,
    TIMEOUT,
)
from .ports import Clock, MemoryTokenBox, SystemClock, TokenBox, later
from .retry import delay, first_match, max_attempts
from .timestamps import parse_timestamp

SNAPSHOT_VERSION = 1
TOKEN_SUFFIX = ".waitForTaskToken"
ENDED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
_KEEP = ("id", "m", "label", "s", "p", "in", "vars", "index")
_UNSET = object()  # a state field given neither as a value nor as a path

Progress = Callable[[dict[str, Any], list[dict[str, Any]]], bool]


def _iso(moment: datetime) -> str:
    """Step Functions' form of a time when it says all there is (whole milliseconds), else a form that
    does (a snapshot must give back the exact time)."""
    return zulu(moment, "milliseconds") if moment.microsecond % 1000 == 0 else moment.isoformat()


def _at(text: str) -> datetime:
    moment = parse_timestamp(text)
    assert moment is not None, text
    return moment


class Interpreter:
    """Runs executions of one state machine. Thread-safe for one `run` at a time per snapshot."""

    def __init__(
        self,
        machine: StateMachine,
        invoker: TaskInvoker,
        *,
        clock: Clock | None = None,
        tokens: TokenBox | None = None,
        executor: Executor | None = None,
        rng: random.Random | None = None,
        on_progress: Progress | None = None,
        token_poll_seconds: float = 0.5,
    ):
        self.machine, self.invoker = machine, invoker
        self.clock = clock or SystemClock()
        self.tokens = tokens if tokens is not None else MemoryTokenBox()
        self.executor = executor or ThreadPoolExecutor(max_workers=8, thread_name_prefix="reynard-task")
        self.rng = rng or random.Random()
        self.on_progress = on_progress
        self.token_poll_seconds = token_poll_seconds
        self.wake = threading.Event()
        self._futures: dict[str, Future] = {}
        self._events: list[dict[str, Any]] = []
        self._snapshot: dict[str, Any] = {}

    # -- the public entry points ------------------------------------------------------------------------
    def start(
        self,
        input: Any,
        *,
        execution_id: str,
        name: str | None = None,
        machine_name: str = "playbook",
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """A new execution's snapshot (nothing has run yet; `run` runs it)."""
        now = self.clock.now()
        execution = {
            "Id": execution_id,
            "Name": name or execution_id,
            "Input": input,
            "StartTime": _iso(now),
            "RedriveCount": 0,
        }
        snapshot: dict[str, Any] = {
            "version": SNAPSHOT_VERSION,
            "status": "RUNNING",
            "execution": execution,
            "machine": {"Id": f"reynard:playbook:{machine_name}", "Name": machine_name},
            "dry_run": dry_run,
            "deadline": _iso(later(now, self.machine.timeout_seconds))
            if self.machine.timeout_seconds
            else None,
            "next_id": 1,
            "root": None,
        }
        self._snapshot = snapshot
        snapshot["root"] = self._frame(None, [], input, "")
        self._emit(None, "ExecutionStarted", input=input)
        return snapshot

    def run(self, snapshot: dict[str, Any], *, max_sleep: float | None = None) -> dict[str, Any]:
        """Advance the execution until it ends or parks (see the module docstring); returns the snapshot."""
        self._snapshot = snapshot
        if snapshot["status"] in ENDED:
            return snapshot
        snapshot["status"] = "RUNNING"
        root = snapshot["root"]
        while True:
            self.wake.clear()
            deadline = snapshot.get("deadline")
            if deadline and self.clock.now() >= _at(deadline):
                self._drop([root])
                return self._end(
                    "TIMED_OUT", error=TIMEOUT, cause="the execution ran longer than TimeoutSeconds"
                )
            moved = self._advance(root)
            if root["p"] == "done":
                return self._end("SUCCEEDED", output=root["out"])
            if root["p"] == "failed":
                status = "FAILED"
                return self._end(status, error=root["err"].get("Error"), cause=root["err"].get("Cause"))
            if (moved or self._events) and not self._flush():
                self._drop([root])
                return snapshot  # stopped from outside: the caller has recorded it
            if moved:
                continue
            timers = list(self._timers(root)) + ([_at(deadline)] if deadline else [])
            soonest = min(timers) if timers else None
            waiting_tokens = any(f["p"] == "token" for f in self._frames(root))
            left = (soonest - self.clock.now()).total_seconds() if soonest else None
            if self._running(root):
                step = left if left is not None else 3600.0
                if waiting_tokens:
                    step = min(step, self.token_poll_seconds)
                self.wake.wait(max(0.0, step))
                continue
            if left is not None and (max_sleep is None or left <= max_sleep):
                self.clock.sleep(min(left, self.token_poll_seconds) if waiting_tokens else left, self.wake)
                continue
            snapshot["status"] = "WAITING"
            snapshot["wake_at"] = _iso(soonest) if soonest else None
            snapshot["tokens"] = [f["token"] for f in self._frames(root) if f["p"] == "token"]
            self._flush()
            return snapshot

    def flush(self) -> bool:
        """Hand the events recorded so far (and the snapshot) to `on_progress`."""
        return self._flush()

    def tokens_waiting(self, snapshot: dict[str, Any]) -> list[dict[str, str]]:
        """The task tokens a snapshot waits for, with their states."""
        return [
            {"token": f["token"], "state": f["s"]}
            for f in self._frames(snapshot["root"])
            if f["p"] == "token"
        ]

    # -- the loop's helpers -----------------------------------------------------------------------------
    def _end(self, status: str, **values: Any) -> dict[str, Any]:
        snapshot = self._snapshot
        snapshot.update(status=status, wake_at=None, tokens=[], **values)
        kind = {
            "SUCCEEDED": "ExecutionSucceeded",
            "FAILED": "ExecutionFailed",
            "TIMED_OUT": "ExecutionTimedOut",
        }
        details = (
            {"output": values["output"]}
            if "output" in values
            else {k: values.get(k) for k in ("error", "cause")}
        )
        self._emit(None, kind[status], **details)
        self._flush()
        return snapshot

    def _flush(self) -> bool:
        events, self._events = self._events, []
        if self.on_progress is None:
            return True
        return self.on_progress(self._snapshot, events)

    def _emit(self, frame: dict | None, kind: str, **details: Any) -> None:
        self._events.append(
            {
                "type": kind,
                "at": _iso(self.clock.now()),
                "state": frame["s"] if frame else None,
                "frame": frame["label"] if frame else "",
                "details": details,
            }
        )

    def _frames(self, frame: dict) -> Iterator[dict]:
        yield frame
        for kid in frame.get("kids", []):
            yield from self._frames(kid)
        for kid in frame.get("map", {}).get("running", []):
            yield from self._frames(kid)

    def _timers(self, root: dict) -> Iterator[datetime]:
        for frame in self._frames(root):
            if frame["p"] in ("wait", "retry"):
                yield _at(frame["until"])
            if frame["p"] in ("task", "token") and frame.get("deadline"):
                yield _at(frame["deadline"])
            if frame["p"] == "token" and frame.get("hb_deadline"):
                yield _at(frame["hb_deadline"])

    def _running(self, root: dict) -> bool:
        return any(f["p"] == "task" and f.get("call") in self._futures for f in self._frames(root))

    def _frame(self, parent: dict | None, key: list[str], input: Any, label: str) -> dict[str, Any]:
        number = self._snapshot["next_id"]
        self._snapshot["next_id"] = number + 1
        machine = self.machine.at(key)
        variables = dict(parent["vars"]) if parent else {}
        return {
            "id": f"f{number}",
            "m": key,
            "label": label,
            "s": machine.start_at,
            "p": "enter",
            "in": input,
            "vars": variables,
        }

    def _state(self, frame: dict) -> State:
        return self.machine.at(frame["m"]).states[frame["s"]]

    def _scope(self, frame: dict, state: State, **extra: Any) -> Scope:
        snapshot = self._snapshot
        context = {
            "Execution": snapshot["execution"],
            "State": {
                "EnteredTime": frame.get("entered", _iso(self.clock.now())),
                "Name": state.name,
                "RetryCount": sum(frame.get("retries", {}).values()),
            },
            "StateMachine": snapshot["machine"],
            **extra,
        }
        return Scope(context, frame["vars"])

    # -- stepping a frame -------------------------------------------------------------------------------
    def _advance(self, frame: dict) -> bool:
        moved = False
        while True:
            phase = frame["p"]
            if phase == "enter":
                self._enter(frame)
            elif phase == "task":
                if not self._poll_task(frame):
                    return moved
            elif phase == "token":
                if not self._poll_token(frame):
                    return moved
            elif phase in ("wait", "retry"):
                if self.clock.now() < _at(frame["until"]):
                    return moved
                state = self._state(frame)
                self._guard(frame, state, self._wait_over if phase == "wait" else self._begin)
            elif phase == "parallel":
                kids_moved, changed = self._poll_parallel(frame)
                moved = moved or kids_moved
                if not changed:
                    return moved
            elif phase == "map":
                kids_moved, changed = self._poll_map(frame)
                moved = moved or kids_moved
                if not changed:
                    return moved
            else:
                return moved
            moved = True

    def _guard(self, frame: dict, state: State, step: Callable[[dict, State], None]) -> None:
        try:
            step(frame, state)
        except StatesError as error:
            self._error(frame, state, error)

    def _enter(self, frame: dict) -> None:
        state = self._state(frame)
        frame["entered"] = _iso(self.clock.now())
        frame["retries"] = {}
        frame["attempt"] = 0
        self._emit(frame, f"{state.type}StateEntered", input=frame["in"])
        self._guard(frame, state, self._begin)

    def _begin(self, frame: dict, state: State) -> None:
        getattr(self, f"_begin_{state.type.lower()}")(frame, state)

    def _exit(
        self, frame: dict, state: State, output: Any, variables: dict, next_state: str | None = None
    ) -> None:
        self._emit(frame, f"{state.type}StateExited", output=output)
        kept = {k: frame[k] for k in _KEEP if k in frame}
        frame.clear()
        frame.update(kept, vars=variables)
        target = next_state or (
            None if state.type == "Succeed" or state.spec.get("End") else state.spec["Next"]
        )
        if target is None:
            frame.update(p="done", out=output)
        else:
            frame.update(s=target, **{"in": output}, p="enter")

    def _fail(self, frame: dict, error: str | None, cause: str | None) -> None:
        kept = {k: frame[k] for k in _KEEP if k in frame}
        frame.clear()
        frame.update(
            kept, p="failed", err={"Error": error, **({"Cause": cause} if cause is not None else {})}
        )

    # -- errors -----------------------------------------------------------------------------------------
    def _error(self, frame: dict, state: State, error: StatesError, *, from_branch: bool = False) -> None:
        if error.error != RUNTIME and state.type in ("Task", "Parallel", "Map"):
            retriers = state.spec.get("Retry", [])
            index = first_match(retriers, error.error, from_branch=from_branch)
            if index is not None:
                done = frame.get("retries", {}).get(str(index), 0)
                if done < max_attempts(retriers[index]):
                    seconds = delay(retriers[index], done, self.rng)
                    frame.setdefault("retries", {})[str(index)] = done + 1
                    until = later(self.clock.now(), seconds)
                    self._drop_work(frame)
                    frame.update(p="retry", until=_iso(until))
                    self._emit(
                        frame,
                        "RetryScheduled",
                        error=error.error,
                        cause=error.cause,
                        retrier=index,
                        retry=done + 1,
                        delaySeconds=seconds,
                    )
                    return
            catchers = state.spec.get("Catch", [])
            index = first_match(catchers, error.error, from_branch=from_branch)
            if index is not None:
                self._drop_work(frame)
                try:
                    self._catch(frame, state, catchers[index], error)
                except StatesError as failure:
                    self._fail(frame, failure.error, failure.cause)
                return
        self._drop_work(frame)
        self._fail(frame, error.error, error.cause)

    def _catch(self, frame: dict, state: State, catcher: dict, error: StatesError) -> None:
        error_output = {"Error": error.error, **({"Cause": error.cause} if error.cause is not None else {})}
        self._emit(frame, "ErrorCaught", error=error.error, cause=error.cause, next=catcher["Next"])
        scope = self._scope(frame, state)
        if state.jsonata:
            bindings = {"errorOutput": error_output}
            output = (
                dataflow.jsonata(catcher["Output"], scope, frame["in"], **bindings)
                if "Output" in catcher
                else error_output
            )
            variables = self._assign(catcher, scope, None, state, frame["in"], **bindings)
        else:
            output = dataflow.result_path(catcher, frame["in"], error_output)
            variables = self._assign(catcher, scope, error_output, state, frame["in"])
        self._exit(frame, state, output, variables, next_state=catcher["Next"])

    def _assign(
        self, spec: Any, scope: Scope, data: Any, state: State, state_input: Any, **states: Any
    ) -> dict:
        if "Assign" not in spec:
            return dict(scope.variables)
        if state.jsonata:
            values = dataflow.jsonata(spec["Assign"], scope, state_input, **states)
        else:
            values = dataflow.template(spec["Assign"], data, scope)
        return {**scope.variables, **values}

    # -- Pass, Succeed, Fail, Choice, Wait ----------------------------------------------------------------
    def _begin_pass(self, frame: dict, state: State) -> None:
        spec, scope = state.spec, self._scope(frame, state)
        if state.jsonata:
            output = dataflow.jsonata(spec["Output"], scope, frame["in"]) if "Output" in spec else frame["in"]
            return self._exit(frame, state, output, self._assign(spec, scope, None, state, frame["in"]))
        effective = dataflow.input_path(spec, frame["in"], scope)
        if "Parameters" in spec:
            effective = dataflow.template(spec["Parameters"], effective, scope)
        result = spec.get("Result", effective)
        variables = self._assign(spec, scope, result, state, frame["in"])
        output = dataflow.output_path(spec, dataflow.result_path(spec, frame["in"], result), scope)
        self._exit(frame, state, output, variables)

    def _begin_succeed(self, frame: dict, state: State) -> None:
        spec, scope = state.spec, self._scope(frame, state)
        if state.jsonata:
            output = dataflow.jsonata(spec["Output"], scope, frame["in"]) if "Output" in spec else frame["in"]
        else:
            output = dataflow.output_path(spec, dataflow.input_path(spec, frame["in"], scope), scope)
        self._exit(frame, state, output, frame["vars"])

    def _begin_fail(self, frame: dict, state: State) -> None:
        spec, scope = state.spec, self._scope(frame, state)
        found: dict[str, str | None] = {}
        for name in ("Error", "Cause"):
            value: Any = None
            if name in spec:
                value = spec[name]
                if state.jsonata and jsonata_mode.is_expression(value):
                    value = dataflow.jsonata(value, scope, frame["in"])
            elif f"{name}Path" in spec:
                value = dataflow.path_or_intrinsic(spec[f"{name}Path"], frame["in"], scope)
            if value is not None and not isinstance(value, str):
                raise StatesError(
                    RUNTIME, f"the Fail state's {name} must be a string, got {json.dumps(value)}"
                )
            found[name] = value
        self._fail(frame, found["Error"], found["Cause"])

    def _begin_choice(self, frame: dict, state: State) -> None:
        spec, scope = state.spec, self._scope(frame, state)
        if state.jsonata:
            for rule in spec["Choices"]:
                condition = rule["Condition"]
                value = (
                    condition
                    if isinstance(condition, bool)
                    else dataflow.jsonata(condition, scope, frame["in"])
                )
                if not isinstance(value, bool):
                    raise StatesError(
                        QUERY_EVALUATION_ERROR,
                        f"Condition {condition} gave {json.dumps(value)}, not a boolean",
                    )
                if value:
                    source = rule if "Output" in rule else spec
                    output = (
                        dataflow.jsonata(source["Output"], scope, frame["in"])
                        if "Output" in source
                        else frame["in"]
                    )
                    variables = self._assign(rule, scope, None, state, frame["in"])
                    return self._exit(frame, state, output, variables, next_state=rule["Next"])
            self._no_match(state)
            output = dataflow.jsonata(spec["Output"], scope, frame["in"]) if "Output" in spec else frame["in"]
            variables = self._assign(spec, scope, None, state, frame["in"])
        else:
            effective = dataflow.input_path(spec, frame["in"], scope)
            for rule in spec["Choices"]:
                if choice.evaluate(rule, effective, scope):
                    variables = self._assign(rule, scope, effective, state, frame["in"])
                    output = dataflow.output_path(spec, effective, scope)
                    return self._exit(frame, state, output, variables, next_state=rule["Next"])
            self._no_match(state)
            output = dataflow.output_path(spec, effective, scope)
            variables = self._assign(spec, scope, effective, state, frame["in"])
        self._exit(frame, state, output, variables, next_state=spec["Default"])

    def _no_match(self, state: State) -> None:
        if "Default" not in state.spec:
            raise StatesError(
                NO_CHOICE_MATCHED, f"no choice rule of {state.name!r} matched, and it has no Default"
            )

    def _begin_wait(self, frame: dict, state: State) -> None:
        spec, scope = state.spec, self._scope(frame, state)
        effective = frame["in"] if state.jsonata else dataflow.input_path(spec, frame["in"], scope)
        now = self.clock.now()
        kind = next(k for k in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if k in spec)
        value = spec[kind]
        if state.jsonata and jsonata_mode.is_expression(value):
            value = dataflow.jsonata(value, scope, frame["in"])
        elif kind.endswith("Path"):
            value = dataflow.read(value, effective, scope)
        if kind.startswith("Seconds"):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise StatesError(
                    RUNTIME,
                    f"{kind}: the wait must be a non-negative integer of seconds, got {json.dumps(value)}",
                )
            until = later(now, value)
        else:
            moment = parse_timestamp(value)
            if moment is None:
                raise StatesError(RUNTIME, f"{kind}: {json.dumps(value)} is not an RFC 3339 timestamp")
            until = moment
        frame.update(p="wait", until=until.isoformat(), effective=effective)
        self._emit(frame, "WaitScheduled", until=until.isoformat())

    def _wait_over(self, frame: dict, state: State) -> None:
        spec, scope = state.spec, self._scope(frame, state)
        if state.jsonata:
            output = dataflow.jsonata(spec["Output"], scope, frame["in"]) if "Output" in spec else frame["in"]
            variables = self._assign(spec, scope, None, state, frame["in"])
        else:
            variables = self._assign(spec, scope, frame["effective"], state, frame["in"])
            output = dataflow.output_path(spec, frame["effective"], scope)
        self._exit(frame, state, output, variables)

    # -- Task -------------------------------------------------------------------------------------------
    def _setting(self, state: State, frame: dict, scope: Scope, name: str, effective: Any) -> Any:
        """A number a state sets as `name` (a JSONata expression evaluated) or reads from `<name>Path`;
        `_UNSET` when it does neither."""
        spec = state.spec
        if name in spec:
            value = spec[name]
            if state.jsonata and jsonata_mode.is_expression(value):
                value = dataflow.jsonata(value, scope, frame["in"])
            return value
        if f"{name}Path" in spec:
            return dataflow.read(spec[f"{name}Path"], effective, scope)
        return _UNSET

    def _seconds(self, state: State, frame: dict, scope: Scope, name: str, effective: Any) -> int | None:
        value = self._setting(state, frame, scope, name, effective)
        if value is _UNSET:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise StatesError(RUNTIME, f"{name} must be a positive integer, got {json.dumps(value)}")
        return value

    def _begin_task(self, frame: dict, state: State) -> None:
        spec = state.spec
        resource, token = spec["Resource"], None
        extra: dict[str, Any] = {}
        if resource.endswith(TOKEN_SUFFIX):
            resource, token = resource[: -len(TOKEN_SUFFIX)], secrets.token_urlsafe(32)
            extra["Task"] = {"Token": token}
        frame["attempt"] = frame.get("attempt", 0) + 1
        scope = self._scope(frame, state, **extra)
        if state.jsonata:
            effective = frame["in"]
            arguments = (
                dataflow.jsonata(spec["Arguments"], scope, frame["in"])
                if "Arguments" in spec
                else frame["in"]
            )
        else:
            effective = dataflow.input_path(spec, frame["in"], scope)
            arguments = (
                dataflow.template(spec["Parameters"], effective, scope) if "Parameters" in spec else effective
            )
        timeout = self._seconds(state, frame, scope, "TimeoutSeconds", effective)
        heartbeat = self._seconds(state, frame, scope, "HeartbeatSeconds", effective)
        now = self.clock.now()
        frame.update(
            p="task",
            resource=resource,
            args=arguments,
            token=token,
            timeout=timeout,
            heartbeat=heartbeat,
            call=f"{frame['id']}.{frame['attempt']}",
            started=_iso(now),
            deadline=_iso(later(now, timeout)) if timeout else None,
        )
        if token:
            self.tokens.register(token, self._snapshot["execution"]["Id"], state.name)
        self._emit(
            frame,
            "TaskScheduled",
            resource=spec["Resource"],
            parameters=arguments,
            attempt=frame["attempt"],
            timeoutInSeconds=timeout,
            heartbeatInSeconds=heartbeat,
        )

    def _invoke(self, resource: str, arguments: Any, context: TaskContext) -> tuple[str, Any, Any]:
        try:
            result = self.invoker.invoke(resource, arguments, context)
            return "ok", json.loads(json.dumps(result)), None
        except StatesError as e:
            return "error", e.error, e.cause
        except (TypeError, ValueError) as e:
            return "error", TASK_FAILED, f"{type(e).__name__}: {e}"
        except Exception as e:  # a handler's own exception is its error, named as Lambda names it
            return "error", type(e).__name__, str(e)

    def _poll_task(self, frame: dict) -> bool:
        state = self._state(frame)
        call = frame["call"]
        future = self._futures.get(call)
        if future is None:
            context = TaskContext(
                execution_id=self._snapshot["execution"]["Id"],
                state=state.name,
                attempt=frame["attempt"],
                task_token=frame.get("token"),
                dry_run=bool(self._snapshot.get("dry_run")),
                timeout_seconds=frame.get("timeout"),
            )
            future = self.executor.submit(self._invoke, frame["resource"], frame["args"], context)
            self._futures[call] = future
            future.add_done_callback(lambda _: self.wake.set())
            self._emit(frame, "TaskStarted", resource=state.spec["Resource"])
            return False
        if not future.done():
            if frame.get("deadline") and self.clock.now() >= _at(frame["deadline"]):
                self._timed_out(frame, state, TIMEOUT, f"the task ran longer than {frame['timeout']} seconds")
                return True
            return False
        del self._futures[call]
        outcome, value, cause = future.result()
        if outcome == "error":
            self._emit(frame, "TaskFailed", error=value, cause=cause)
            self._error(frame, state, StatesError(value, cause))
        elif frame.get("token"):
            now = self.clock.now()
            frame["p"] = "token"
            frame["waiting_since"] = _iso(now)
            if frame.get("heartbeat"):
                frame["hb_deadline"] = _iso(later(now, frame["heartbeat"]))
            self._emit(frame, "TaskSubmitted", output=value)
            self._emit(frame, "TaskTokenWaiting", token=frame["token"])
        else:
            self._emit(frame, "TaskSucceeded", output=value)
            self._guard(frame, state, lambda f, s: self._result(f, s, value))
        return True

    def _poll_token(self, frame: dict) -> bool:
        state, token = self._state(frame), frame["token"]
        found = self.tokens.look([token]).get(token)
        now = self.clock.now()
        if found is not None and found.answer is not None:
            self.tokens.close(token, "CONSUMED")
            answer = found.answer
            if answer.status == "SUCCEEDED":
                self._emit(frame, "TaskSucceeded", output=answer.output, token=token)
                self._guard(frame, state, lambda f, s: self._result(f, s, answer.output))
            else:
                error = answer.error or TASK_FAILED
                self._emit(frame, "TaskFailed", error=error, cause=answer.cause, token=token)
                self._error(frame, state, StatesError(error, answer.cause))
            return True
        if frame.get("deadline") and now >= _at(frame["deadline"]):
            self._timed_out(
                frame, state, TIMEOUT, f"no answer to the task token within {frame['timeout']} seconds"
            )
            return True
        if frame.get("heartbeat"):
            last = max(
                _at(frame["waiting_since"]),
                found.heartbeat if found and found.heartbeat else _at(frame["waiting_since"]),
            )
            frame["hb_deadline"] = _iso(later(last, frame["heartbeat"]))
            if now >= _at(frame["hb_deadline"]):
                why = f"no heartbeat for the task token within {frame['heartbeat']} seconds"
                self._timed_out(frame, state, HEARTBEAT_TIMEOUT, why)
                return True
        return False

    def _timed_out(self, frame: dict, state: State, error: str, cause: str) -> None:
        self._futures.pop(frame.get("call", ""), None)  # a late result is ignored
        if frame.get("token"):
            self.tokens.close(frame["token"], "TIMED_OUT")
        self._emit(frame, "TaskTimedOut", error=error, cause=cause)
        self._error(frame, state, StatesError(error, cause))

    def _result(self, frame: dict, state: State, result: Any) -> None:
        """The end of a Task, Parallel or Map: ResultSelector, Assign, ResultPath, OutputPath (or Output)."""
        spec, scope = state.spec, self._scope(frame, state)
        if state.jsonata:
            output = (
                dataflow.jsonata(spec["Output"], scope, frame["in"], result=result)
                if "Output" in spec
                else result
            )
            variables = self._assign(spec, scope, None, state, frame["in"], result=result)
        else:
            selected = (
                dataflow.template(spec["ResultSelector"], result, scope)
                if "ResultSelector" in spec
                else result
            )
            variables = self._assign(spec, scope, selected, state, frame["in"])
            output = dataflow.output_path(spec, dataflow.result_path(spec, frame["in"], selected), scope)
        self._exit(frame, state, output, variables)

    # -- Parallel and Map -------------------------------------------------------------------------------
    def _effective(self, frame: dict, state: State, scope: Scope, jsonata_field: str) -> Any:
        spec = state.spec
        if state.jsonata:
            return (
                dataflow.jsonata(spec[jsonata_field], scope, frame["in"])
                if jsonata_field in spec
                else frame["in"]
            )
        return dataflow.input_path(spec, frame["in"], scope)

    def _begin_parallel(self, frame: dict, state: State) -> None:
        scope = self._scope(frame, state)
        branch_input = self._effective(frame, state, scope, "Arguments")
        if not state.jsonata and "Parameters" in state.spec:
            branch_input = dataflow.template(state.spec["Parameters"], branch_input, scope)
        count = len(state.spec["Branches"])
        frame["kids"] = [
            self._frame(
                frame,
                [*frame["m"], f"{state.name}#{i}"],
                branch_input,
                self._label(frame, f"{state.name}[{i}]"),
            )
            for i in range(count)
        ]
        frame["p"] = "parallel"
        self._emit(frame, "ParallelStateStarted", branches=count)

    def _label(self, parent: dict, own: str) -> str:
        return f"{parent['label']}/{own}" if parent["label"] else own

    def _poll_parallel(self, frame: dict) -> tuple[bool, bool]:
        state, kids = self._state(frame), frame["kids"]
        moved = any([self._advance(kid) for kid in kids])
        failed = next((kid for kid in kids if kid["p"] == "failed"), None)
        if failed is not None:
            error = StatesError(failed["err"]["Error"] or "", failed["err"].get("Cause"))
            self._emit(frame, "ParallelStateFailed", error=error.error, cause=error.cause)
            self._error(frame, state, error, from_branch=True)
            return moved, True
        if all(kid["p"] == "done" for kid in kids):
            results = [kid["out"] for kid in kids]
            self._emit(frame, "ParallelStateSucceeded")
            frame.pop("kids")
            self._guard(frame, state, lambda f, s: self._result(f, s, results))
            return moved, True
        return moved, False

    def _count(self, state: State, frame: dict, scope: Scope, name: str, effective: Any) -> float | None:
        value = self._setting(state, frame, scope, name, effective)
        if value is _UNSET:
            return None
        bad = not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0
        if bad or (name == "ToleratedFailurePercentage" and value > 100):
            raise StatesError(RUNTIME, f"{name}: {json.dumps(value)} is not a valid value")
        return value

    def _begin_map(self, frame: dict, state: State) -> None:
        spec, scope = state.spec, self._scope(frame, state)
        if state.jsonata:
            effective = frame["in"]
            items = dataflow.jsonata(spec["Items"], scope, frame["in"]) if "Items" in spec else frame["in"]
            if not isinstance(items, list):
                raise StatesError(
                    QUERY_EVALUATION_ERROR, f"Items must be an array, got {json.dumps(items)[:200]}"
                )
        else:
            effective = dataflow.input_path(spec, frame["in"], scope)
            items = dataflow.read(spec["ItemsPath"], effective, scope) if "ItemsPath" in spec else effective
            if not isinstance(items, list):
                raise StatesError(RUNTIME, f"ItemsPath must select an array, got {json.dumps(items)[:200]}")
        concurrency = self._count(state, frame, scope, "MaxConcurrency", effective)
        frame["map"] = {
            "items": items,
            "effective": effective,
            "next": 0,
            "running": [],
            "results": [None] * len(items),
            "failures": 0,
            "max": int(concurrency or 0),
            "count": self._count(state, frame, scope, "ToleratedFailureCount", effective),
            "percent": self._count(state, frame, scope, "ToleratedFailurePercentage", effective),
        }
        frame["p"] = "map"
        self._emit(frame, "MapStateStarted", length=len(items))

    def _item_input(self, frame: dict, state: State, index: int) -> Any:
        spec, work = state.spec, frame["map"]
        item = work["items"][index]
        selector = spec.get("ItemSelector", spec.get("Parameters") if not state.jsonata else None)
        if selector is None:
            return item
        scope = self._scope(frame, state, Map={"Item": {"Index": index, "Value": item}})
        if state.jsonata:
            return dataflow.jsonata(selector, scope, frame["in"])
        return dataflow.template(selector, work["effective"], scope)

    def _poll_map(self, frame: dict) -> tuple[bool, bool]:
        state, work = self._state(frame), frame["map"]
        moved = False
        total = len(work["items"])
        while work["next"] < total and (work["max"] == 0 or len(work["running"]) < work["max"]):
            index = work["next"]
            work["next"] += 1
            try:
                item_input = self._item_input(frame, state, index)
            except StatesError as error:
                self._emit(frame, "MapStateFailed", error=error.error, cause=error.cause)
                self._error(frame, state, error)
                return True, True
            kid = self._frame(
                frame,
                [*frame["m"], f"{state.name}#items"],
                item_input,
                self._label(frame, f"{state.name}[{index}]"),
            )
            kid["index"] = index
            work["running"].append(kid)
            self._emit(frame, "MapIterationStarted", index=index)
            moved = True
        moved = any([self._advance(kid) for kid in work["running"]]) or moved
        tolerant = work["count"] is not None or work["percent"] is not None
        for kid in list(work["running"]):
            if kid["p"] == "done":
                work["results"][kid["index"]] = kid["out"]
                work["running"].remove(kid)
                self._emit(frame, "MapIterationSucceeded", index=kid["index"])
            elif kid["p"] == "failed":
                error = StatesError(kid["err"]["Error"] or "", kid["err"].get("Cause"))
                work["running"].remove(kid)
                work["failures"] += 1
                self._emit(
                    frame, "MapIterationFailed", index=kid["index"], error=error.error, cause=error.cause
                )
                if not tolerant or error.error == RUNTIME:
                    self._emit(frame, "MapStateFailed", error=error.error, cause=error.cause)
                    self._error(frame, state, error, from_branch=True)
                    return True, True
                work["results"][kid["index"]] = kid["err"]
                too_many = work["count"] is not None and work["failures"] > work["count"]
                too_many = too_many or (
                    work["percent"] is not None
                    and total
                    and work["failures"] * 100.0 / total > work["percent"]
                )
                if too_many:
                    cause = (
                        f"{work['failures']} of {total} iterations failed, more than the tolerated failures"
                    )
                    self._emit(frame, "MapStateFailed", error=EXCEED_TOLERATED_FAILURE_THRESHOLD, cause=cause)
                    self._error(frame, state, StatesError(EXCEED_TOLERATED_FAILURE_THRESHOLD, cause))
                    return True, True
        if work["next"] >= total and not work["running"]:
            results = work["results"]
            self._emit(frame, "MapStateSucceeded", length=total)
            frame.pop("map")
            self._guard(frame, state, lambda f, s: self._result(f, s, results))
            return True, True
        return moved, False

    # -- stopping work ----------------------------------------------------------------------------------
    def _drop_work(self, frame: dict) -> None:
        """Forget a frame's running children (their tasks' late results are ignored, their tokens closed)."""
        self._drop(frame.pop("kids", []))
        if "map" in frame:
            self._drop(frame.pop("map")["running"])
        if frame.get("call"):
            self._futures.pop(frame["call"], None)

    def _drop(self, frames: list[dict]) -> None:
        for root in frames:
            for frame in self._frames(root):
                self._futures.pop(frame.get("call", ""), None)
                if frame["p"] in ("task", "token") and frame.get("token"):
                    self.tokens.close(frame["token"], "ABORTED")
