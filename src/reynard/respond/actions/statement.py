"""What a step's result states, in one line of words: the incident timeline's text and the command line's.

Only facts the result holds: the changes it applied and the values its checks read back (a check that did
not pass is never stated as done). A dry run says what would change (from what, to what) and what it
read, or why it could read nothing (`Unverified`). An error output (`{"Error", "Cause"}`, what a `Catch`
gives) states the error. Any other value states nothing: `statement` returns None. At most `LISTED`
changes and checks are named, then how many more (all of them are in the result).

    changed i-0abc: detach from Auto Scaling group. Read back: i-0abc Auto Scaling group = none;
    web-asg DesiredCapacity = 1
    dry run: would change i-0abc: DisableApiTermination (false → true). Read: i-0abc
    DisableApiTermination = false (wanted true)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

SHOWN = 80  # characters of a value shown; the whole result stays in the entry's details
LISTED = 12  # changes, and checks, named in one line


def show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def _change(change: Mapping[str, Any]) -> str:
    return f"{change.get('Resource')}: {change.get('Change')}"


def _planned(change: Mapping[str, Any]) -> str:
    before, after = change.get("From"), change.get("To")
    text = _change(change)
    return text if before is None and after is None else f"{text} ({show(before)} → {show(after)})"


def _listed(items: list[str]) -> str:
    more = len(items) - LISTED
    return "; ".join(items[:LISTED]) + (f"; and {more} more" if more > 0 else "")


def _check(check: Mapping[str, Any]) -> str:
    text = f"{check.get('Resource')} {check.get('Check')} = {show(check.get('Actual'))}"
    return text if check.get("Ok") else f"{text} (wanted {show(check.get('Expected'))})"


def is_action_result(value: Any) -> bool:
    return isinstance(value, Mapping) and "Action" in value and "Checks" in value and "Changes" in value


def is_error(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("Error"), str) and "Action" not in value


def statement(result: Any) -> str | None:
    """The line `result` states (see the module docstring), or None when it is not a step's result."""
    if is_error(result):
        cause = result.get("Cause")
        return f"{result['Error']}: {cause}" if cause else result["Error"]
    if isinstance(result, Mapping) and result.get("WouldCall"):  # an aws-sdk task in a dry run
        said = f"dry run: would call {result['WouldCall']}"
        return f"{said}. {result['Unverified']}" if result.get("Unverified") else said
    if not is_action_result(result):
        return None
    changes, checks = result["Changes"] or [], result["Checks"] or []
    if result.get("DryRun"):
        would = (
            f"would change {_listed([_planned(c) for c in changes])}" if changes else "nothing would change"
        )
        parts = [f"dry run: {would}"]
        if result.get("Unverified"):
            parts.append(str(result["Unverified"]))
        elif checks:
            parts.append(f"Read: {_listed([_check(c) for c in checks])}")
        return ". ".join(parts)
    applied = [_change(change) for change in changes if change.get("Applied")]
    passed = [_check(check) for check in checks if check.get("Ok")]
    parts = [f"changed {_listed(applied)}" if applied else "nothing needed changing"]
    parts.append(f"Read back: {_listed(passed)}" if passed else "Nothing was read back")
    return ". ".join(parts)


__all__ = ["is_action_result", "is_error", "show", "statement"]
