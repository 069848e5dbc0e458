"""The steps of a scenario's story (`attack:` and `lookalikes:`), each of one kind, at a time after the start.

Every step has `at` (`2h10m`), `kind` and an optional `note`; the kinds and their keys:

- `api_calls`: a principal makes `calls` (a list, each once in order, or a mapping name -> count) over
  `over` (default 5m). Principal: `user`, or `role` with `instance` (its instance's session) or
  `session`; `from` (an address or an instance) replaces the usual address; `user_agent`; `bucket`
  names the bucket of S3 calls.
- `describe_burst`: a principal makes `calls` Describe calls over `over` (default 5m), cycling through
  `names` (default: an enumeration tool's list) and `regions` (default: seven regions).
- `port_opened`: a principal opens `port` of `service`'s security group to `cidr` (default 0.0.0.0/0).
- `ssh_login`: an SSH login `from` an address or an instance `to` an instance as `user` (default
  ec2-user), for `stay` (default 15m): the flows and the sshd lines (refused by the security group if it
  says so).
- `bucket_public`: a principal makes `bucket` public `via` acl or policy, after creating it when
  `create` is true (then it must not be in the environment) and tagging it with `tags`; then puts
  `objects` objects in it.
- `guardduty_finding`: GuardDuty reports `finding` (default CryptoCurrency:EC2/BitcoinTool.B!DNS) on
  `instance` at `severity` (default 8), about `domain` (DNS findings) or `remote` (an address).
- `flows`: `count` connections `from` -> `to` on `port` over `over` (endpoints as in the background).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reynard.simulate import reading as read
from reynard.simulate.background import bucket_names, endpoint, ports, role_name, service_name
from reynard.simulate.calls import Target, call, record
from reynard.simulate.context import Caller, Context
from reynard.simulate.environment import Environment
from reynard.simulate.findings import finding
from reynard.simulate.formats import PROTOCOLS, Played, guardduty_event
from reynard.simulate.traffic import connection, ssh_session

ENUMERATION = (
    "DescribeInstances",
    "DescribeSecurityGroups",
    "DescribeVolumes",
    "DescribeSnapshots",
    "DescribeSubnets",
    "DescribeVpcs",
    "DescribeImages",
    "DescribeKeyPairs",
    "DescribeAddresses",
    "DescribeNetworkInterfaces",
    "DescribeRouteTables",
    "DescribeLaunchTemplates",
)
REGIONS = ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1")
BITCOIN_DNS = "CryptoCurrency:EC2/BitcoinTool.B!DNS"
LOGIN = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
COMMON = frozenset({"at", "kind", "note"})
PRINCIPAL = frozenset({"user", "role", "instance", "session", "from", "user_agent"})


@dataclass(frozen=True)
class Step:
    """One checked step: `params` holds its kind's keys, read and checked against the environment."""

    where: str  # "attack[2]": where it is in the scenario
    kind: str
    at: timedelta
    span: timedelta  # how long it lasts (it must end before the scenario does)
    params: Mapping[str, Any]
    note: str = ""

    @property
    def lookalike(self) -> bool:
        return self.where.startswith("lookalikes")

    def created_buckets(self) -> tuple[str, ...]:
        return (self.params["bucket"],) if self.kind == "bucket_public" and self.params["create"] else ()


# -- reading ----------------------------------------------------------------------------------------------
def _principal(table: Mapping[str, Any], where: str, environment: Environment) -> dict:
    if ("user" in table) == ("role" in table):
        raise read.ScenarioError(f"{where}: give user or role (one of them)")
    found: dict[str, Any] = {}
    if "user" in table:
        user = read.name(table["user"], f"{where}.user")
        if user not in {u.name for u in environment.users}:
            raise read.ScenarioError(f"{where}.user: no user {user!r} in environment.users")
        found["user"] = user
        if "from" not in table and not next(u for u in environment.users if u.name == user).addresses:
            raise read.ScenarioError(f"{where}.from: user {user!r} has no usual address; say where from")
    else:
        found["role"] = role_name(table["role"], f"{where}.role", environment)
        if ("instance" in table) == ("session" in table):
            raise read.ScenarioError(f"{where}: a role acts through an instance or a session (one of them)")
        if "instance" in table:
            found["instance"] = _instance(table["instance"], f"{where}.instance", environment)
        else:
            found["session"] = read.text(table["session"], f"{where}.session")
            if "from" not in table:
                raise read.ScenarioError(f"{where}.from: a session calls from an address; say which")
    if "from" in table:
        found["from"] = _place(table["from"], f"{where}.from", environment)
    if "user_agent" in table:
        found["user_agent"] = read.text(table["user_agent"], f"{where}.user_agent")
    return found


def _instance(value: Any, where: str, environment: Environment) -> str:
    names = {name for _, name in environment.instance_names()}
    if value not in names:
        raise read.ScenarioError(
            f"{where}: no instance {value!r} (instances are <service>-<n>: {', '.join(sorted(names))})"
        )
    return str(value)


def _place(value: Any, where: str, environment: Environment) -> str:
    """An IP address or an instance's name."""
    if value in {name for _, name in environment.instance_names()}:
        return str(value)
    return read.address(value, where)


def _api_calls(table: Mapping[str, Any], where: str, environment: Environment) -> tuple[dict, timedelta]:
    params = _principal(table, where, environment)
    calls = read.required(table, "calls", where)
    if isinstance(calls, list):
        names = [call(str(c), f"{where}.calls[{n}]").name for n, c in enumerate(calls)]
    else:
        counts = read.mapping(calls, f"{where}.calls")
        names = [
            call(str(k), f"{where}.calls").name
            for k, v in counts.items()
            for _ in range(read.whole(v, f"{where}.calls.{k}", low=1, high=10_000))
        ]
    if not names:
        raise read.ScenarioError(f"{where}.calls: at least one call")
    params["calls"] = tuple(names)
    if "bucket" in table:  # of the environment, or created by a step: the scenario checks
        params["bucket"] = read.bucket(table["bucket"], f"{where}.bucket")
    over = read.duration(table.get("over", "5m"), f"{where}.over")
    params["over"] = over
    return params, over


def _describe_burst(table: Mapping[str, Any], where: str, environment: Environment) -> tuple[dict, timedelta]:
    params = _principal(table, where, environment)
    params["count"] = read.whole(read.required(table, "calls", where), f"{where}.calls", low=1, high=100_000)
    names = table.get("names", list(ENUMERATION))
    if not isinstance(names, list) or not names:
        raise read.ScenarioError(f"{where}.names: a list of Describe calls")
    for n, name in enumerate(names):
        if not call(str(name), f"{where}.names[{n}]").name.startswith("Describe"):
            raise read.ScenarioError(f"{where}.names[{n}]: {name!r} is not a Describe call")
    params["names"] = tuple(names)
    regions = table.get("regions", list(REGIONS))
    if not isinstance(regions, list) or not regions:
        raise read.ScenarioError(f"{where}.regions: a list of AWS regions")
    params["regions"] = tuple(read.region(r, f"{where}.regions[{n}]") for n, r in enumerate(regions))
    params["over"] = read.duration(table.get("over", "5m"), f"{where}.over", zero=False)
    return params, params["over"]


def _port_opened(table: Mapping[str, Any], where: str, environment: Environment) -> tuple[dict, timedelta]:
    params = _principal(table, where, environment)
    params["service"] = service_name(read.required(table, "service", where), f"{where}.service", environment)
    params["port"] = read.whole(read.required(table, "port", where), f"{where}.port", low=1, high=65535)
    params["cidr"] = read.network(table.get("cidr", "0.0.0.0/0"), f"{where}.cidr")
    return params, timedelta(0)


def _ssh_login(table: Mapping[str, Any], where: str, environment: Environment) -> tuple[dict, timedelta]:
    stay = read.duration(table.get("stay", "15m"), f"{where}.stay", zero=False)
    user = table.get("user", "ec2-user")
    if not isinstance(user, str) or not LOGIN.match(user):
        raise read.ScenarioError(f"{where}.user: {user!r} is not a login name")
    params = {
        "from": _place(read.required(table, "from", where), f"{where}.from", environment),
        "to": _instance(read.required(table, "to", where), f"{where}.to", environment),
        "user": user,
        "stay": stay,
    }
    return params, stay


def _bucket_public(table: Mapping[str, Any], where: str, environment: Environment) -> tuple[dict, timedelta]:
    params = _principal(table, where, environment)
    create = table.get("create", False)
    if not isinstance(create, bool):
        raise read.ScenarioError(f"{where}.create: true or false")
    bucket = read.bucket(read.required(table, "bucket", where), f"{where}.bucket")
    existing = {b.name for b in environment.buckets}
    if create and bucket in existing:
        raise read.ScenarioError(
            f"{where}.bucket: {bucket!r} is in environment.buckets already; create makes a new one"
        )
    if not create:
        bucket_names(bucket, f"{where}.bucket", environment)
    tags = read.mapping(table.get("tags", {}), f"{where}.tags")
    params.update(
        bucket=bucket,
        create=create,
        via=read.one_of(table.get("via", "acl"), ("acl", "policy"), f"{where}.via"),
        tags={str(k): str(v) for k, v in tags.items()},
        objects=read.whole(table.get("objects", 0), f"{where}.objects", high=10_000),
    )
    return params, timedelta(minutes=10 if params["objects"] else 2)


def _guardduty(table: Mapping[str, Any], where: str, environment: Environment) -> tuple[dict, timedelta]:
    finding = read.text(table.get("finding", BITCOIN_DNS), f"{where}.finding")
    params = {
        "instance": _instance(read.required(table, "instance", where), f"{where}.instance", environment),
        "finding": finding,
        "severity": read.number(table.get("severity", 8), f"{where}.severity", high=10),
    }
    if finding.endswith("!DNS"):
        params["domain"] = read.text(table.get("domain", "xmr.pool.minergate.com"), f"{where}.domain")
    else:
        params["remote"] = read.address(read.required(table, "remote", where), f"{where}.remote")
    return params, timedelta(0)


def _flows(table: Mapping[str, Any], where: str, environment: Environment) -> tuple[dict, timedelta]:
    action = table.get("action")
    params = {
        "from": endpoint(read.required(table, "from", where), f"{where}.from", environment),
        "to": endpoint(read.required(table, "to", where), f"{where}.to", environment),
        "ports": ports(table, where),
        "protocol": read.one_of(table.get("protocol", "tcp"), tuple(PROTOCOLS), f"{where}.protocol"),
        "count": read.whole(read.required(table, "count", where), f"{where}.count", low=1, high=100_000),
        "over": read.duration(table.get("over", "5m"), f"{where}.over"),
        "action": read.one_of(str(action).upper(), ("ACCEPT", "REJECT"), f"{where}.action")
        if action
        else None,
    }
    return params, params["over"]


Reader = Callable[[Mapping[str, Any], str, Environment], tuple[dict, timedelta]]
_READERS: dict[str, tuple[Reader, frozenset[str]]] = {
    "api_calls": (_api_calls, PRINCIPAL | {"calls", "over", "bucket"}),
    "describe_burst": (_describe_burst, PRINCIPAL | {"calls", "over", "names", "regions"}),
    "port_opened": (_port_opened, PRINCIPAL | {"service", "port", "cidr"}),
    "ssh_login": (_ssh_login, frozenset({"from", "to", "user", "stay"})),
    "bucket_public": (_bucket_public, PRINCIPAL | {"bucket", "create", "via", "tags", "objects"}),
    "guardduty_finding": (_guardduty, frozenset({"instance", "finding", "severity", "domain", "remote"})),
    "flows": (_flows, frozenset({"from", "to", "port", "ports", "protocol", "count", "over", "action"})),
}
KINDS = tuple(_READERS)


def parse_step(data: Any, where: str, environment: Environment, duration: timedelta) -> Step:
    table = read.mapping(data, where)
    kind = read.one_of(read.required(table, "kind", where), KINDS, f"{where}.kind")
    reader, keys = _READERS[kind]
    read.known(table, where, COMMON | keys)
    at = read.duration(read.required(table, "at", where), f"{where}.at")
    params, span = reader(table, where, environment)
    if at + span > duration:
        ends = "starts" if not span else "ends"
        raise read.ScenarioError(f"{where}.at: {table['at']} {ends} after the scenario's duration")
    note = read.text(table["note"], f"{where}.note") if "note" in table else ""
    return Step(where=where, kind=kind, at=at, span=span, params=params, note=note.strip())


# -- playing ----------------------------------------------------------------------------------------------
def _caller(ctx: Context, params: Mapping[str, Any]) -> Caller:
    place = ctx.address_for_api(params["from"]) if "from" in params else None
    agent = params.get("user_agent")
    if "user" in params:
        return ctx.user(params["user"], place, agent)
    if "instance" in params:
        instance = ctx.instance(params["instance"])
        return ctx.session(params["role"], instance.instance_id, place or ctx.api_address(instance), agent)
    return ctx.session(params["role"], params["session"], place or "", agent)


def _spread(rng: random.Random, start: datetime, count: int, over: timedelta) -> list[datetime]:
    """`count` moments from `start` over `over`, evenly with a little jitter, in order."""
    if count <= 1 or not over:
        return [start + timedelta(milliseconds=n * 700) for n in range(count)]
    step = over / count
    return [start + step * n + step * rng.random() * 0.8 for n in range(count)]


def _cloudtrail(step: Step, moment: datetime, payload: dict) -> Played:
    return Played(moment, "cloudtrail", payload, step.where)


def _play_api_calls(step: Step, ctx: Context, rng: random.Random, start: datetime) -> list[Played]:
    caller = _caller(ctx, step.params)
    target = Target(bucket=step.params.get("bucket"))
    moments = _spread(rng, start, len(step.params["calls"]), step.params["over"])
    return [
        _cloudtrail(step, moment, record(ctx, rng, moment, caller, name, target))
        for moment, name in zip(moments, step.params["calls"], strict=True)
    ]


def _play_describe_burst(step: Step, ctx: Context, rng: random.Random, start: datetime) -> list[Played]:
    caller = _caller(ctx, step.params)
    names, regions = step.params["names"], step.params["regions"]
    moments = _spread(rng, start, step.params["count"], step.params["over"])
    return [
        _cloudtrail(
            step,
            moment,
            record(
                ctx,
                rng,
                moment,
                caller,
                names[n % len(names)],
                region=regions[(n // len(names)) % len(regions)],
            ),
        )
        for n, moment in enumerate(moments)
    ]


def _play_port_opened(step: Step, ctx: Context, rng: random.Random, start: datetime) -> list[Played]:
    caller = _caller(ctx, step.params)
    groups = dict.fromkeys(g for i in ctx.instances_of(step.params["service"]) for g in i.security_group_ids)
    extra = {"port": step.params["port"], "cidr": step.params["cidr"]}
    return [
        _cloudtrail(
            step,
            start,
            record(
                ctx, rng, start, caller, "AuthorizeSecurityGroupIngress", Target(extra={**extra, "group": g})
            ),
        )
        for g in groups
    ]


def _play_ssh_login(step: Step, ctx: Context, rng: random.Random, start: datetime) -> list[Played]:
    source = ctx.address(step.params["from"])
    target = ctx.instance(step.params["to"])
    return ssh_session(ctx, rng, start, source, target, step.params["user"], step.params["stay"], step.where)


def _play_bucket_public(step: Step, ctx: Context, rng: random.Random, start: datetime) -> list[Played]:
    caller = _caller(ctx, step.params)
    bucket = step.params["bucket"]
    plan: list[tuple[str, dict]] = []
    if step.params["create"]:
        plan.append(("CreateBucket", {}))
    if step.params["tags"]:
        plan.append(("PutBucketTagging", {"tags": step.params["tags"]}))
    plan.append(("PutBucketAcl" if step.params["via"] == "acl" else "PutBucketPolicy", {}))
    played, moment = [], start
    for name, extra in plan:
        played.append(
            _cloudtrail(
                step, moment, record(ctx, rng, moment, caller, name, Target(bucket=bucket, extra=extra))
            )
        )
        moment += timedelta(seconds=rng.randrange(15, 50))
    for n, when in enumerate(_spread(rng, moment, step.params["objects"], timedelta(minutes=8))):
        key = {"key": f"dump/{ctx.start:%Y%m%d}/part-{n:04d}.tar.gz"}
        played.append(
            _cloudtrail(
                step, when, record(ctx, rng, when, caller, "PutObject", Target(bucket=bucket, extra=key))
            )
        )
    return played


def _play_guardduty(step: Step, ctx: Context, rng: random.Random, start: datetime) -> list[Played]:
    document = finding(ctx, step.params, start)
    return [
        Played(
            start,
            "guardduty",
            guardduty_event(document, ctx.token("event", step.where, length=32, upper=False)),
            step.where,
        )
    ]


def _play_flows(step: Step, ctx: Context, rng: random.Random, start: datetime) -> list[Played]:
    pool = [ctx.client_address(rng) for _ in range(50)]
    played = []
    for moment in _spread(rng, start, step.params["count"], step.params["over"]):
        source = ctx.place(step.params["from"], rng, pool)
        target = ctx.place(step.params["to"], rng, pool)
        played += connection(
            ctx,
            rng,
            moment,
            source,
            target,
            rng.choice(step.params["ports"]),
            protocol=step.params["protocol"],
            action=step.params["action"],
            step=step.where,
        )
    return played


_PLAYERS: dict[str, Callable[[Step, Context, random.Random, datetime], list[Played]]] = {
    "api_calls": _play_api_calls,
    "describe_burst": _play_describe_burst,
    "port_opened": _play_port_opened,
    "ssh_login": _play_ssh_login,
    "bucket_public": _play_bucket_public,
    "guardduty_finding": _play_guardduty,
    "flows": _play_flows,
}


def openings(steps: tuple[Step, ...], start: datetime) -> list[tuple[str, int, str, datetime]]:
    """What the `port_opened` steps open: (service, port, network, from when)."""
    return [
        (s.params["service"], s.params["port"], s.params["cidr"], start + s.at)
        for s in steps
        if s.kind == "port_opened"
    ]


def play_step(step: Step, ctx: Context) -> list[Played]:
    return _PLAYERS[step.kind](step, ctx, ctx.rng(step.where, step.kind), ctx.start + step.at)


__all__ = ["ENUMERATION", "KINDS", "REGIONS", "Step", "openings", "parse_step", "play_step"]
