"""The incident workflow: six phases in order, which moves are allowed, and MozDef's dates.

Forward is one step at a time; going back (a containment that did not hold, a reopened case) is allowed
and recorded as such; skipping forward needs `force` and a reason, recorded with the change. Closing
also needs lessons learned, or an explicit skip with a reason: the point of the last phase is to learn.

MozDef kept one date per milestone; Reynard keeps every phase change and derives them (docs/cases.md):
a date is the last time the incident entered the phase that starts it, and is empty while the incident
is before that phase again (a reopened incident is not closed); opened and reported are the opening.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from reynard.cases.errors import InvalidValue, WorkflowError

IDENTIFICATION = "Identification"
CONTAINMENT = "Containment"
ERADICATION = "Eradication"
RECOVERY = "Recovery"
LESSONS_LEARNED = "Lessons Learned"
CLOSED = "Closed"
PHASES = (IDENTIFICATION, CONTAINMENT, ERADICATION, RECOVERY, LESSONS_LEARNED, CLOSED)

# MozDef's date fields and the phase whose (last) entry sets each one.
MOZDEF_DATES = {
    "dateOpened": IDENTIFICATION,  # the incident is opened in Identification
    "dateReported": IDENTIFICATION,  # Reynard opens an incident when it is reported (escalation or by hand)
    "dateVerified": CONTAINMENT,  # verified as an incident: containment starts
    "dateContained": ERADICATION,  # contained: eradication starts
    "dateMitigated": RECOVERY,  # the threat is removed: recovery starts
    "dateClosed": CLOSED,
}

_KEY = re.compile(r"[\s_-]+")
_BY_KEY = {_KEY.sub("", p.lower()): p for p in PHASES}


def parse_phase(name: str) -> str:
    """The phase named (any case; `lessons-learned`, `lessons_learned` and `LessonsLearned` too)."""
    found = _BY_KEY.get(_KEY.sub("", str(name).lower()))
    if found is None:
        raise InvalidValue(f"{name!r} is not a phase (one of: {', '.join(PHASES)})")
    return found


@dataclass(frozen=True)
class Move:
    """A checked phase change: where from, where to, and what kind of move it is."""

    source: str
    target: str
    backward: bool
    forced: bool


def check_move(
    source: str, target: str, *, force: bool, reason: str | None, has_lessons: bool, skip_lessons: bool
) -> Move:
    """The move from `source` to `target`, or WorkflowError saying why the workflow refuses it."""
    here, there = PHASES.index(source), PHASES.index(target)
    if here == there:
        raise WorkflowError(f"the incident is already in {target}")
    reason = (reason or "").strip()
    forced = there > here + 1
    if forced and not force:
        skipped = ", ".join(PHASES[here + 1 : there])
        raise WorkflowError(
            f"{source} → {target} skips {skipped}: move one phase at a time, or force it with a reason"
        )
    if forced and not reason:
        raise WorkflowError(f"forcing {source} → {target} needs a reason")
    if target == CLOSED and not has_lessons:
        if not skip_lessons:
            raise WorkflowError(
                "closing needs lessons learned: set them, or skip them explicitly with a reason"
            )
        if not reason:
            raise WorkflowError("skipping lessons learned needs a reason")
    return Move(source, target, backward=there < here, forced=forced)


@dataclass(frozen=True)
class PhaseChange:
    """One entry into a phase (the opening counts: into Identification, from nothing)."""

    phase: str
    at: datetime
    by: str
    source: str | None = None
    backward: bool = False
    forced: bool = False
    reason: str | None = None


def entered(changes: Sequence[PhaseChange], current: str) -> dict[str, datetime | None]:
    """Per phase, the last time the incident entered it, while it is at or past it (else None).
    `changes` in the order they were made, the opening first."""
    reached = PHASES.index(current)
    last: dict[str, datetime | None] = dict.fromkeys(PHASES)
    for change in changes:
        last[change.phase] = change.at
    return {p: (last[p] if PHASES.index(p) <= reached else None) for p in PHASES}


def mozdef_dates(changes: Sequence[PhaseChange], current: str) -> dict[str, datetime | None]:
    """MozDef's six dates derived from the phase changes (see MOZDEF_DATES); opened and reported are
    the opening itself, whatever came after."""
    times = entered(changes, current)
    dates = {name: times[phase] for name, phase in MOZDEF_DATES.items()}
    if changes:
        dates["dateOpened"] = dates["dateReported"] = changes[0].at
    return dates
