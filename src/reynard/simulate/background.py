"""The benign background of a scenario (`background:`): who calls which AWS APIs, which traffic flows,
who logs in over SSH, each at a rate per hour scaled by a daily rhythm.

    background:
      rhythm: office                       # the default rhythm (rhythm.py): office, web, flat or 24 weights
      api_calls:
        - users: [alice, carol]            # each user, from their usual address, with their access key
          per_hour: 20                     # per principal, at the rhythm's peak
          calls: {DescribeInstances: 4, GetObject: 6, ConsoleLogin: 1}   # weights (calls.py)
          buckets: [acme-web-assets]       # what S3 calls name (default: every bucket)
          errors: 0.02                     # share of calls denied (AccessDenied)
        - role: prod-web-app               # each instance running the role: a session of its own
          per_hour: 40
          calls: {GetObject: 10, UpdateInstanceInformation: 12}
        - role: ci-deploy                  # a role no instance runs: one session an hour, from these
          from: [192.0.2.10]
          per_hour: 6
          calls: {DescribeTargetHealth: 2, PutObject: 3}
      flows:
        - {from: internet, to: prod-web, port: 443, per_hour: 600, rhythm: web}
        - {from: internet, to: bastion, ports: [22, 3389], per_hour: 20}    # refused by the groups
      ssh:
        - {users: [alice, bob], to: bastion, per_hour: 1, stay: 20m, onward: [prod-web], onward_share: 0.3}

Every instance's role credentials are refreshed each hour (an `AssumeRole` by ec2.amazonaws.com, as
CloudTrail shows it). Flow endpoints are `internet` (clients from a pool), `aws` (AWS endpoints), a
service (any of its instances), an instance, or an address.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reynard.simulate import reading as read
from reynard.simulate.calls import DENIED, Target, call, record
from reynard.simulate.context import Caller, Context
from reynard.simulate.environment import Environment, Instance
from reynard.simulate.formats import PROTOCOLS, Played
from reynard.simulate.rhythm import arrivals, profile
from reynard.simulate.traffic import connection, ssh_session

ENDPOINT_WORDS = ("internet", "aws")


@dataclass(frozen=True)
class ApiActivity:
    where: str
    per_hour: float
    rhythm: tuple[float, ...]
    calls: tuple[tuple[str, float], ...]
    users: tuple[str, ...] = ()
    role: str | None = None
    addresses: tuple[str, ...] = ()  # where a role no instance runs calls from
    buckets: tuple[str, ...] = ()
    errors: float = 0.0


@dataclass(frozen=True)
class FlowActivity:
    where: str
    source: str
    target: str
    ports: tuple[int, ...]
    protocol: str
    per_hour: float
    rhythm: tuple[float, ...]
    action: str | None = None  # None: as the security groups say


@dataclass(frozen=True)
class SshActivity:
    where: str
    users: tuple[str, ...]
    target: str  # a service
    per_hour: float
    rhythm: tuple[float, ...]
    stay: timedelta
    onward: tuple[str, ...] = ()
    onward_share: float = 0.0


@dataclass(frozen=True)
class Background:
    api_calls: tuple[ApiActivity, ...] = ()
    flows: tuple[FlowActivity, ...] = ()
    ssh: tuple[SshActivity, ...] = ()


# -- reading ----------------------------------------------------------------------------------------------
def parse_background(data: Any, where: str, environment: Environment) -> Background:
    if data is None:
        return Background()
    table = read.mapping(data, where)
    read.known(table, where, {"rhythm", "api_calls", "flows", "ssh"})
    rhythm = profile(table.get("rhythm", "office"), f"{where}.rhythm")
    parts = {
        key: tuple(
            parser(item, f"{where}.{key}[{n}]", environment, rhythm)
            for n, item in enumerate(read.listed(table, key, where))
        )
        for key, parser in (("api_calls", _api), ("flows", _flows), ("ssh", _ssh))
    }
    return Background(**parts)


def _rate(
    table: Mapping[str, Any], where: str, default: tuple[float, ...]
) -> tuple[float, tuple[float, ...]]:
    per_hour = read.number(read.required(table, "per_hour", where), f"{where}.per_hour", high=100_000)
    rhythm = profile(table["rhythm"], f"{where}.rhythm") if "rhythm" in table else default
    return float(per_hour), rhythm


def _users(value: Any, where: str, environment: Environment) -> tuple[str, ...]:
    users = read.names(value, where)
    known = {u.name for u in environment.users}
    for n, user in enumerate(users):
        if user not in known:
            raise read.ScenarioError(f"{where}[{n}]: no user {user!r} in environment.users")
    return users


def role_name(value: Any, where: str, environment: Environment) -> str:
    role = read.name(value, where)
    if role not in {s.role for s in environment.services} | set(environment.roles):
        raise read.ScenarioError(f"{where}: no role {role!r} (a service's role or environment.roles)")
    return role


def bucket_names(value: Any, where: str, environment: Environment) -> tuple[str, ...]:
    """A bucket of the environment, or a list of them."""
    buckets = value if isinstance(value, list) else [value]
    known = {b.name for b in environment.buckets}
    for n, bucket in enumerate(buckets):
        if bucket not in known:
            at = f"{where}[{n}]" if isinstance(value, list) else where
            raise read.ScenarioError(f"{at}: no bucket {bucket!r} in environment.buckets")
    return tuple(buckets)


def addresses(value: Any, where: str) -> tuple[str, ...]:
    """An IP address, or a list of them."""
    if isinstance(value, list):
        return tuple(read.address(a, f"{where}[{n}]") for n, a in enumerate(value))
    return (read.address(value, where),)


def _api(data: Any, where: str, environment: Environment, rhythm: tuple[float, ...]) -> ApiActivity:
    table = read.mapping(data, where)
    read.known(table, where, {"users", "role", "from", "per_hour", "rhythm", "calls", "buckets", "errors"})
    per_hour, rhythm = _rate(table, where, rhythm)
    mix = read.mapping(read.required(table, "calls", where), f"{where}.calls")
    calls = tuple(
        (call(str(k), f"{where}.calls").name, float(read.number(w, f"{where}.calls.{k}")))
        for k, w in mix.items()
    )
    if not calls or not any(w for _, w in calls):
        raise read.ScenarioError(f"{where}.calls: at least one call with a weight above 0")
    if ("users" in table) == ("role" in table):
        raise read.ScenarioError(f"{where}: give users or role (one of them)")
    users = _users(table["users"], f"{where}.users", environment) if "users" in table else ()
    role = role_name(table["role"], f"{where}.role", environment) if "role" in table else None
    places = addresses(table["from"], f"{where}.from") if "from" in table else ()
    on_instances = any(s.role == role for s in environment.services)
    if role and not places and not on_instances:
        raise read.ScenarioError(f"{where}.from: role {role!r} runs on no instance; say where it calls from")
    if places and not (role and not on_instances):
        raise read.ScenarioError(
            f"{where}.from: only for a role no instance runs (users call from their usual address, "
            "instances from their own)"
        )
    return ApiActivity(
        where=where,
        per_hour=per_hour,
        rhythm=rhythm,
        calls=calls,
        users=users,
        role=role,
        addresses=places,
        buckets=bucket_names(table["buckets"], f"{where}.buckets", environment) if "buckets" in table else (),
        errors=float(read.number(table.get("errors", 0), f"{where}.errors", high=1)),
    )


def endpoint(value: Any, where: str, environment: Environment) -> str:
    """`internet`, `aws`, a service, an instance, or an IP address."""
    text = str(value)
    instances = {name for _, name in environment.instance_names()}
    if text in ENDPOINT_WORDS or text in instances or text in {s.name for s in environment.services}:
        return text
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise read.ScenarioError(
            f"{where}: {value!r} is neither internet, aws, a service, an instance nor an IP address"
        ) from None


def ports(table: Mapping[str, Any], where: str) -> tuple[int, ...]:
    if ("port" in table) == ("ports" in table):
        raise read.ScenarioError(f"{where}: give port or ports (one of them)")
    values = table["ports"] if "ports" in table else [table["port"]]
    if not isinstance(values, list) or not values:
        raise read.ScenarioError(f"{where}.ports: a list of ports")
    return tuple(read.whole(p, f"{where}.ports[{n}]", low=1, high=65535) for n, p in enumerate(values))


def _flows(data: Any, where: str, environment: Environment, rhythm: tuple[float, ...]) -> FlowActivity:
    table = read.mapping(data, where)
    read.known(table, where, {"from", "to", "port", "ports", "protocol", "per_hour", "rhythm", "action"})
    per_hour, rhythm = _rate(table, where, rhythm)
    action = table.get("action")
    return FlowActivity(
        where=where,
        source=endpoint(read.required(table, "from", where), f"{where}.from", environment),
        target=endpoint(read.required(table, "to", where), f"{where}.to", environment),
        ports=ports(table, where),
        protocol=read.one_of(table.get("protocol", "tcp"), tuple(PROTOCOLS), f"{where}.protocol"),
        per_hour=per_hour,
        rhythm=rhythm,
        action=read.one_of(str(action).upper(), ("ACCEPT", "REJECT"), f"{where}.action") if action else None,
    )


def service_name(value: Any, where: str, environment: Environment) -> str:
    service = read.name(value, where)
    if service not in {s.name for s in environment.services}:
        raise read.ScenarioError(f"{where}: no service {service!r} in environment.services")
    return service


def _ssh(data: Any, where: str, environment: Environment, rhythm: tuple[float, ...]) -> SshActivity:
    table = read.mapping(data, where)
    read.known(table, where, {"users", "to", "per_hour", "rhythm", "stay", "onward", "onward_share"})
    per_hour, rhythm = _rate(table, where, rhythm)
    users = _users(read.required(table, "users", where), f"{where}.users", environment)
    for n, user in enumerate(users):
        if not next(u for u in environment.users if u.name == user).addresses:
            raise read.ScenarioError(f"{where}.users[{n}]: {user!r} has no usual address to log in from")
    onward = read.names(table["onward"], f"{where}.onward") if "onward" in table else ()
    for n, service in enumerate(onward):
        service_name(service, f"{where}.onward[{n}]", environment)
    return SshActivity(
        where=where,
        users=users,
        target=service_name(read.required(table, "to", where), f"{where}.to", environment),
        per_hour=per_hour,
        rhythm=rhythm,
        stay=read.duration(table.get("stay", "20m"), f"{where}.stay", zero=False),
        onward=onward,
        onward_share=float(
            read.number(table.get("onward_share", 0.3 if onward else 0), f"{where}.onward_share", high=1)
        ),
    )


# -- playing ----------------------------------------------------------------------------------------------
def play_background(background: Background, ctx: Context) -> list[Played]:
    played: list[Played] = []
    for activity in background.api_calls:
        played += _play_api(activity, ctx)
    for flows in background.flows:
        played += _play_flows(flows, ctx)
    for ssh in background.ssh:
        played += _play_ssh(ssh, ctx)
    for instance in ctx.estate.instances:
        played += _refreshes(ctx, ctx.environment.service(instance.service).role, instance)
    return played


def _pick(rng: random.Random, calls: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([name for name, _ in calls], weights=[w for _, w in calls])[0]


def _calls(
    activity: ApiActivity, ctx: Context, key: str, caller_for: Callable[[datetime], Caller]
) -> list[Played]:
    rng = ctx.rng(activity.where, key)
    played = []
    for moment in arrivals(rng, ctx.start, ctx.end, activity.per_hour, activity.rhythm):
        name = _pick(rng, activity.calls)
        target = Target(bucket=rng.choice(activity.buckets)) if activity.buckets else None
        error = DENIED if rng.random() < activity.errors and name != "ConsoleLogin" else None
        caller = caller_for(moment)
        played.append(
            Played(moment, "cloudtrail", record(ctx, rng, moment, caller, name, target, error=error))
        )
    return played


def _play_api(activity: ApiActivity, ctx: Context) -> list[Played]:
    played: list[Played] = []
    for user in activity.users:
        caller = ctx.user(user)
        played += _calls(activity, ctx, user, lambda moment, caller=caller: caller)
    if activity.role is None:
        return played
    role = activity.role
    if activity.addresses:

        def hourly(moment: datetime) -> Caller:
            n = int((moment - ctx.start).total_seconds() // 3600)
            return ctx.session(
                role, f"{role}-{ctx.start:%Y%m%d}-{n + 1}", activity.addresses[n % len(activity.addresses)]
            )

        return played + _calls(activity, ctx, role, hourly)
    for instance in ctx.instances_of_role(role):
        caller = ctx.instance_session(role, instance)
        played += _calls(activity, ctx, instance.name, lambda moment, caller=caller: caller)
    return played


def _refreshes(ctx: Context, role: str, instance: Instance) -> list[Played]:
    """EC2 renewing the instance role's credentials, once an hour."""
    rng = ctx.rng("refresh", instance.name)
    moment = ctx.start + timedelta(seconds=rng.randrange(3600))
    service = ctx.aws_service("ec2.amazonaws.com")
    target = Target(extra={"role": role, "session": instance.instance_id})
    played = []
    while moment < ctx.end:
        played.append(Played(moment, "cloudtrail", record(ctx, rng, moment, service, "AssumeRole", target)))
        moment += timedelta(hours=1)
    return played


def _play_flows(flows: FlowActivity, ctx: Context) -> list[Played]:
    rng = ctx.rng(flows.where)
    pool = [ctx.client_address(rng) for _ in range(500)]  # visitors come back
    played = []
    for moment in arrivals(rng, ctx.start, ctx.end, flows.per_hour, flows.rhythm):
        source = ctx.place(flows.source, rng, pool)
        target = ctx.place(flows.target, rng, pool)
        played += connection(
            ctx,
            rng,
            moment,
            source,
            target,
            rng.choice(flows.ports),
            protocol=flows.protocol,
            action=flows.action,
        )
    return played


def _play_ssh(ssh: SshActivity, ctx: Context) -> list[Played]:
    played = []
    for user in ssh.users:
        rng = ctx.rng(ssh.where, user)
        source = ctx.usual_address(user)
        for moment in arrivals(rng, ctx.start, ctx.end, ssh.per_hour, ssh.rhythm):
            target = rng.choice(ctx.instances_of(ssh.target))
            stay = ssh.stay * rng.uniform(0.5, 1.5)
            played += ssh_session(ctx, rng, moment, source, target, user, stay)
            if ssh.onward and rng.random() < ssh.onward_share:
                hop = moment + timedelta(seconds=rng.randrange(30, 300))
                onward = rng.choice(ctx.instances_of(rng.choice(ssh.onward)))
                played += ssh_session(ctx, rng, hop, target.private_ip, onward, "ec2-user", stay / 2)
    return played


__all__ = [
    "Background",
    "bucket_names",
    "endpoint",
    "parse_background",
    "play_background",
    "ports",
    "role_name",
    "service_name",
]
