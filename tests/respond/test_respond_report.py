"""The rules every built-in action inherits from `Action` and `Report`, shown on a small action written the
way the base class's docstring says to: a change made only where the state differs, then checks from
fresh reads. Its 'resource' is a dict standing for what an AWS read would return."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from respond_support import context
from reynard.respond.actions import Action, ActionEnv
from reynard.respond.actions.base import Arguments, Check, Report
from reynard.respond.actions.config import RespondConfig
from reynard.respond.aws_sdk import AwsClients, AwsConfig
from reynard.respond.errors import StatesError


class SetFlag(Action):
    """Sets `flag` on a record; `reads_stale` fresh reads still show the old value (eventual consistency),
    `broken` makes the write a no-op, `fails_after` raises after the change is made."""

    name = "set-flag"
    parameters: ClassVar[frozenset[str]] = frozenset({"Value"})

    def __init__(self, env: ActionEnv, record: dict[str, Any], reads_stale: int = 0, broken: bool = False):
        super().__init__(env)
        self.record, self.reads_stale, self.broken = record, reads_stale, broken
        self.reads = 0

    def read(self) -> Any:
        self.reads += 1
        return self.record.get("old") if self.reads <= self.reads_stale else self.record.get("flag")

    def run(self, args: Arguments, report: Report, context) -> None:
        value = args.text("Value", required=True)
        if self.record.get("flag") != value:
            report.apply(
                "record", "flag", lambda: self._write(value), before=self.record.get("flag"), after=value
            )
        if value == "explode" and not report.dry_run:
            raise StatesError("Thing.Broke", "the next step failed")
        report.verify(lambda: [Check.equal("record", "flag", value, self.read())])

    def _write(self, value: str) -> None:
        if not self.broken:
            self.record["old"], self.record["flag"] = self.record.get("flag"), value


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def env(sleeps: list[float]) -> ActionEnv:
    return ActionEnv(
        clients=AwsClients(AwsConfig(region="us-east-1")),
        config=RespondConfig(verify_attempts=3, verify_delay_seconds=0.5),
        sleep=sleeps.append,
    )


def test_a_change_is_made_once_and_a_second_run_says_already_done(env: ActionEnv) -> None:
    action = SetFlag(env, {})
    first = action.invoke("reynard:set-flag", {"Value": "on"}, context())
    assert first["Changed"] and not first["AlreadyDone"] and first["Verified"]
    assert first["Changes"] == [
        {"Resource": "record", "Change": "flag", "From": None, "To": "on", "Applied": True}
    ]
    second = action.invoke("reynard:set-flag", {"Value": "on"}, context())
    assert second["AlreadyDone"] and not second["Changed"] and second["Changes"] == [] and second["Verified"]


def test_a_dry_run_changes_nothing_and_never_fails_its_checks(env: ActionEnv) -> None:
    record: dict[str, Any] = {}
    result = SetFlag(env, record).invoke("reynard:set-flag", {"Value": "on"}, context(dry_run=True))
    assert (
        record == {} and result["DryRun"] and not result["Verified"] and not result["Changes"][0]["Applied"]
    )
    assert result["Checks"] == [
        {"Resource": "record", "Check": "flag", "Expected": "on", "Actual": None, "Ok": False}
    ]


def test_a_stale_read_is_read_again_before_the_action_fails(env: ActionEnv, sleeps: list[float]) -> None:
    action = SetFlag(env, {}, reads_stale=2)
    assert action.invoke("reynard:set-flag", {"Value": "on"}, context())["Verified"]
    assert action.reads == 3 and sleeps == [0.5, 0.5]


def test_a_verification_that_fails_is_an_error_naming_what_was_applied(env: ActionEnv) -> None:
    with pytest.raises(StatesError) as info:
        SetFlag(env, {}, broken=True).invoke("reynard:set-flag", {"Value": "on"}, context())
    assert info.value.error == "Reynard.VerificationFailed"
    assert (
        info.value.cause
        == "set-flag: record flag: expected 'on', found None (already applied: flag on record)"
    )


def test_an_error_after_a_change_says_the_change_was_made(env: ActionEnv) -> None:
    with pytest.raises(StatesError) as info:
        SetFlag(env, {}).invoke("reynard:set-flag", {"Value": "explode"}, context())
    assert (info.value.error, info.value.cause) == (
        "Thing.Broke",
        "the next step failed (already applied: flag on record)",
    )


@pytest.mark.parametrize(
    ("arguments", "cause"),
    [
        (None, "set-flag: missing argument 'Value'"),
        ([1], "set-flag: arguments must be an object, not list"),
        ({"Value": ""}, "set-flag: argument 'Value' is empty"),
        ({"Value": 3}, "set-flag: argument 'Value' has the wrong type int"),
        ({"Value": "on", "Valeu": "x"}, "set-flag: unknown argument(s) Valeu; known: Value"),
    ],
)
def test_arguments_are_checked_by_name(env: ActionEnv, arguments: Any, cause: str) -> None:
    with pytest.raises(StatesError) as info:
        SetFlag(env, {}).invoke("reynard:set-flag", arguments, context())
    assert (info.value.error, info.value.cause) == ("Reynard.InvalidArguments", cause)


class ReadsNothing(SetFlag):
    """Changes the record and reads nothing back: no check is not a verification."""

    name = "reads-nothing"

    def run(self, args: Arguments, report: Report, context) -> None:
        report.apply("record", "flag", lambda: self._write("on"), after="on")
        report.verify(lambda: [])


def test_a_change_nothing_read_back_verifies_is_an_error_never_done(env: ActionEnv) -> None:
    with pytest.raises(StatesError) as info:
        ReadsNothing(env, {}).invoke("reynard:reads-nothing", {}, context())
    assert (info.value.error, info.value.cause) == (
        "Reynard.VerificationFailed",
        "reads-nothing: nothing was read back (already applied: flag on record)",
    )
    planned = ReadsNothing(env, {}).invoke("reynard:reads-nothing", {}, context(dry_run=True))
    assert planned["Verified"] is False and not planned["AlreadyDone"]
