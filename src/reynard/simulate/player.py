"""Playing a scenario: its background and its steps on an estate from a start time, as native records in
time order (`Play`). Writers put them into files (writers.py) or send them to a server (stream.py).

The estate must hold everything the scenario names (a sandbox made from another scenario does not):
that is checked first, so no event names a resource that does not exist.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from reynard.simulate.background import play_background
from reynard.simulate.context import Context
from reynard.simulate.environment import Estate
from reynard.simulate.formats import SOURCES, Played
from reynard.simulate.reading import ScenarioError
from reynard.simulate.scenario import Scenario
from reynard.simulate.steps import openings, play_step

# What the scenario writes that no AWS API of the sandbox could (moto keeps resources, not logs).
FILLED_BY_SCENARIO = {
    "cloudtrail": "CloudTrail records (moto records no trail of the calls made to it)",
    "vpcflow": "VPC flow logs (moto has no network)",
    "syslog": "sshd logs (moto instances run nothing)",
    "guardduty": "GuardDuty findings (moto has no GuardDuty findings API)",
}


@dataclass(frozen=True)
class Play:
    scenario: Scenario
    estate: Estate
    start: datetime
    events: tuple[Played, ...]

    @property
    def end(self) -> datetime:
        return self.start + self.scenario.duration

    def counts(self) -> dict[str, int]:
        found = Counter(p.source for p in self.events)
        return {source: found[source] for source in SOURCES}


def check_estate(scenario: Scenario, estate: Estate) -> None:
    """ScenarioError unless `estate` holds every instance, user key, role and bucket of the scenario."""
    environment = scenario.environment
    have = {i.name for i in estate.instances}
    wanted = [
        *(("instance", name) for _, name in environment.instance_names() if name not in have),
        *(("access key of user", u.name) for u in environment.users if u.name not in estate.access_keys),
        *(
            ("role", role)
            for role in {s.role for s in environment.services} | set(environment.roles)
            if role not in estate.role_arns
        ),
        *(("bucket", b.name) for b in environment.buckets if b.name not in estate.buckets),
    ]
    if estate.account != environment.account:
        wanted.insert(0, ("account", environment.account))
    if wanted:
        missing = ", ".join(f"{kind} {name}" for kind, name in sorted(wanted))
        raise ScenarioError(
            f"the estate ({estate.source}) lacks {missing}: it was not made from scenario {scenario.name!r}"
        )


def play(scenario: Scenario, estate: Estate, start: datetime | None = None) -> Play:
    """Every record of the scenario on `estate` from `start` (default: the scenario's own), in time
    order; records past the end (a session still open) are left out."""
    check_estate(scenario, estate)
    start = (start or scenario.start).replace(microsecond=0)
    end = start + scenario.duration
    ctx = Context(scenario.environment, estate, scenario.seed, start, end)
    ctx.openings = openings(scenario.steps, start)
    played = play_background(scenario.background, ctx)
    for step in scenario.steps:
        played += play_step(step, ctx)
    ordered = sorted((p for p in played if start <= p.moment < end), key=lambda p: p.moment)
    return Play(scenario, estate, start, tuple(ordered))


def start_for(scenario: Scenario, *, start: datetime | None, end: datetime | None) -> datetime:
    """The start of a play given a start, an end, or neither (the scenario's own)."""
    if start is not None and end is not None:
        raise ScenarioError("give a start or an end, not both")
    if end is not None:
        return (end - scenario.duration).replace(microsecond=0)
    return start or scenario.start


__all__ = ["FILLED_BY_SCENARIO", "Play", "check_estate", "play", "start_for"]
