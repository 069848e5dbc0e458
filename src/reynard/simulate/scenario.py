"""A scenario: a seeded, declarative story on an AWS estate, read from YAML (docs/simulate.md has every key).

    name: workshop
    title: A leaked key, an open bastion and a miner
    seed: 20261201                 # the same seed plays the same bytes
    start: 2026-12-01T08:00:00Z    # when it starts unless told otherwise (play --start / --end)
    duration: 4h
    environment: {...}             # environment.py: services, buckets, users, roles, networks
    background: {...}              # background.py: benign activity at a daily rhythm
    attack: [...]                  # steps.py: what the attacker does, `at` a time after the start
    lookalikes: [...]              # steps that look like the attack and must not alert
    expect:                        # the alerts the attack must raise, and what each must name
      - {rule: ssh_from_outside, address: 203.0.113.66}
    answers: |                     # the solutions; {instance:prod-web-1} and friends become the ids
      ...

A mistake is one `ScenarioError` naming the file and the key path: `workshop.yaml: attack[2].at: ...`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from reynard.detect.rules import BUILTIN_RULES
from reynard.events.timestamps import TimestampError, parse_timestamp, zulu
from reynard.simulate import reading as read
from reynard.simulate.background import Background, parse_background
from reynard.simulate.environment import Environment, Estate, parse_environment
from reynard.simulate.steps import Step, parse_step

SHIPPED = Path(__file__).with_name("scenarios")
DEFAULT_START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
LONGEST = timedelta(days=7)
KEYS = frozenset(
    {"name", "title", "seed", "start", "duration", "environment", "background", "attack", "lookalikes"}
    | {"expect", "answers"}
)
SUBJECTS = ("principal", "address", "bucket", "instance")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)(?::([^{}\s]+))?\}")


@dataclass(frozen=True)
class Expectation:
    """An alert the scenario must raise: its rule, and what its summary must name (each subject's
    values, resolved on the estate: a user's ARN, an instance's id or address...)."""

    where: str
    rule: str
    subjects: tuple[tuple[str, str], ...]  # (principal|address|bucket|instance, logical value)
    note: str = ""

    def label(self) -> str:
        return f"{self.rule} " + " ".join(value for _, value in self.subjects)


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    seed: int
    start: datetime
    duration: timedelta
    environment: Environment
    background: Background
    attack: tuple[Step, ...]
    lookalikes: tuple[Step, ...]
    expect: tuple[Expectation, ...]
    answers: str
    source: str  # the file it was read from

    @property
    def steps(self) -> tuple[Step, ...]:
        return self.attack + self.lookalikes

    def created_buckets(self) -> tuple[str, ...]:
        return tuple(b for step in self.steps for b in step.created_buckets())


# -- finding and reading ----------------------------------------------------------------------------------
def shipped() -> list[str]:
    """The names of the scenarios that come with Reynard."""
    return sorted(p.stem for p in SHIPPED.glob("*.yaml"))


def locate(scenario: str) -> Path:
    """A shipped scenario's file by its name, or the path given."""
    candidate = SHIPPED / f"{scenario}.yaml"
    if "/" not in scenario and "\\" not in scenario and candidate.is_file():
        return candidate
    path = Path(scenario)
    if path.is_file():
        return path
    raise read.ScenarioError(
        f"no shipped scenario of that name (shipped: {', '.join(shipped()) or 'none'}) and no such file",
        where=scenario,
    )


def load_scenario(scenario: str) -> Scenario:
    """The scenario named (shipped) or at a path; ScenarioError naming the file and the key otherwise."""
    path = locate(scenario)
    label = path.name if path.parent == SHIPPED else str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise read.ScenarioError(f"cannot read: {e.strerror or e}", where=label) from None
    except UnicodeDecodeError:
        raise read.ScenarioError("not UTF-8 text", where=label) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        place = f"line {mark.line + 1}: " if mark else ""
        raise read.ScenarioError(
            f"{place}not YAML: {getattr(e, 'problem', None) or e}", where=label
        ) from None
    try:
        return parse_scenario(data, str(path))
    except read.ScenarioError as e:
        raise read.ScenarioError(e.message, where=label) from None


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    table = read.mapping(data, "scenario")
    read.known(table, "scenario", KEYS)
    seed = table.get("seed", 1)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise read.ScenarioError(f"seed: a whole number, not {seed!r}")
    duration = read.duration(read.required(table, "duration", "scenario"), "duration", zero=False)
    if duration > LONGEST:
        raise read.ScenarioError(f"duration: at most {LONGEST.days} days")
    environment = parse_environment(read.required(table, "environment", "scenario"), "environment")
    steps = {
        key: tuple(
            parse_step(item, f"{key}[{n}]", environment, duration)
            for n, item in enumerate(read.listed(table, key, "scenario"))
        )
        for key in ("attack", "lookalikes")
    }
    created = {b for s in steps["attack"] + steps["lookalikes"] for b in s.created_buckets()}
    buckets = {b.name for b in environment.buckets} | created
    for step in steps["attack"] + steps["lookalikes"]:
        bucket = step.params.get("bucket")
        if bucket is not None and bucket not in buckets:
            raise read.ScenarioError(
                f"{step.where}.bucket: no bucket {bucket!r} in the environment nor created by a step"
            )
    expect = tuple(
        _expectation(item, f"expect[{n}]", environment, created)
        for n, item in enumerate(read.listed(table, "expect", "scenario"))
    )
    answers = table.get("answers", "")
    if not isinstance(answers, str):
        raise read.ScenarioError("answers: a text")
    _check_placeholders(answers, environment)
    return Scenario(
        name=read.name(read.required(table, "name", "scenario"), "name"),
        title=read.text(table.get("title", table["name"]), "title").strip(),
        seed=seed,
        start=_start(table.get("start"), "start"),
        duration=duration,
        environment=environment,
        background=parse_background(table.get("background"), "background", environment),
        attack=steps["attack"],
        lookalikes=steps["lookalikes"],
        expect=expect,
        answers=answers,
        source=source,
    )


def _start(value: Any, where: str) -> datetime:
    if value is None:
        return DEFAULT_START
    if isinstance(value, datetime):  # YAML reads an unquoted timestamp itself
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    try:
        return parse_timestamp(str(value))[0]
    except TimestampError:
        raise read.ScenarioError(f"{where}: {value!r} is not an ISO 8601 time") from None


def _subject(key: str, value: str, at: str, environment: Environment, created: set[str]) -> str:
    instances = {name for _, name in environment.instance_names()}
    principals = {u.name for u in environment.users} | {s.role for s in environment.services}
    if key == "principal" and value not in principals | set(environment.roles):
        raise read.ScenarioError(f"{at}: no user or role {value!r} in the environment")
    if key == "instance" and value not in instances:
        raise read.ScenarioError(f"{at}: no instance {value!r} (instances: {', '.join(sorted(instances))})")
    if key == "bucket" and value not in {b.name for b in environment.buckets} | created:
        raise read.ScenarioError(f"{at}: no bucket {value!r} in the environment nor created by a step")
    if key == "address" and value not in instances:
        read.address(value, at)
    return value


def _expectation(data: Any, where: str, environment: Environment, created: set[str]) -> Expectation:
    table = read.mapping(data, where)
    read.known(table, where, {"rule", "note", *SUBJECTS})
    rule = read.text(read.required(table, "rule", where), f"{where}.rule")
    if rule not in BUILTIN_RULES and not rule.startswith("sigma:"):
        known = ", ".join(sorted(BUILTIN_RULES))
        raise read.ScenarioError(f"{where}.rule: {rule!r} is no built-in rule ({known}) nor sigma:<title>")
    subjects = []
    for key in SUBJECTS:
        values = table.get(key, [])
        for n, value in enumerate(values if isinstance(values, list) else [values]):
            at = f"{where}.{key}[{n}]" if isinstance(values, list) else f"{where}.{key}"
            subjects.append((key, _subject(key, str(value), at, environment, created)))
    if not subjects:
        raise read.ScenarioError(f"{where}: name what the alert must name ({', '.join(SUBJECTS)})")
    note = read.text(table["note"], f"{where}.note").strip() if "note" in table else ""
    return Expectation(where, rule, tuple(subjects), note)


# -- resolving names on an estate -------------------------------------------------------------------------
def resolve(kind: str, value: str, estate: Estate, environment: Environment) -> str:
    """What a subject or a placeholder stands for on `estate`: an ARN, an id, an address."""
    if kind == "principal":
        if value in {u.name for u in environment.users}:
            return f"arn:aws:iam::{estate.account}:user/{value}"
        return f"arn:aws:sts::{estate.account}:assumed-role/{value}/"
    if kind in ("address", "ip"):
        return value if value[:1].isdigit() or ":" in value else estate.instance(value).private_ip
    if kind == "instance":
        return estate.instance(value).instance_id
    if kind == "public_ip":
        return estate.instance(value).public_ip or "(no public address)"
    if kind == "user_arn":
        return f"arn:aws:iam::{estate.account}:user/{value}"
    if kind == "role_arn":
        return estate.role_arns[value]
    if kind == "key":
        return estate.access_keys[value]
    if kind == "sg":
        return ", ".join(dict.fromkeys(g for i in estate.of_service(value) for g in i.security_group_ids))
    return value  # bucket


PLACEHOLDERS = {
    "instance": "instance",
    "ip": "instance",
    "public_ip": "instance",
    "user_arn": "user",
    "role_arn": "role",
    "key": "user",
    "sg": "service",
    "time": "duration",
    "account": None,
    "region": None,
    "start": None,
    "end": None,
}


def _check_placeholders(answers: str, environment: Environment) -> None:
    names = {
        "instance": {name for _, name in environment.instance_names()},
        "user": {u.name for u in environment.users},
        "role": {s.role for s in environment.services} | set(environment.roles),
        "service": {s.name for s in environment.services},
    }
    for found in _PLACEHOLDER.finditer(answers):
        kind, value = found[1], found[2]
        line = answers.count("\n", 0, found.start()) + 1
        where = f"answers: line {line}: {found[0]}"
        if kind not in PLACEHOLDERS:
            raise read.ScenarioError(f"{where}: unknown placeholder (known: {', '.join(PLACEHOLDERS)})")
        wants = PLACEHOLDERS[kind]
        if wants is None:
            if value is not None:
                raise read.ScenarioError(f"{where}: {{{kind}}} takes no value")
        elif value is None:
            raise read.ScenarioError(f"{where}: give a {wants}, as {{{kind}:NAME}}")
        elif wants == "duration":
            read.duration(value, where)
        elif value not in names[wants]:
            raise read.ScenarioError(f"{where}: no {wants} {value!r} in the environment")


def render_answers(scenario: Scenario, estate: Estate, start: datetime) -> str:
    """The answers with each placeholder replaced by what it stands for on `estate` from `start`."""
    end = start + scenario.duration

    def replace(found: re.Match[str]) -> str:
        kind, value = found[1], found[2]
        if kind == "time":
            return zulu(start + read.duration(value, "time"), "seconds")
        fixed = {"account": estate.account, "region": estate.region, "start": zulu(start, "seconds")}
        if kind in fixed or kind == "end":
            return fixed.get(kind) or zulu(end, "seconds")
        return resolve(kind, value, estate, scenario.environment)

    return _PLACEHOLDER.sub(replace, scenario.answers)


def subjects(expectation: Expectation, estate: Estate, environment: Environment) -> list[str]:
    """The texts an alert's summary must hold to meet the expectation."""
    return [resolve(kind, value, estate, environment) for kind, value in expectation.subjects]


__all__ = [
    "DEFAULT_START",
    "SHIPPED",
    "Expectation",
    "Scenario",
    "load_scenario",
    "locate",
    "parse_scenario",
    "render_answers",
    "shipped",
    "subjects",
]
