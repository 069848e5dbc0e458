"""The AWS estate a scenario happens in, by logical name (`environment:` in a scenario's YAML), and the
`Estate`: the same estate with the AWS ids and addresses it got.

A scenario names things (`prod-web`, `acme-web-assets`, `alice`); the events it plays must name what
exists. Two places give an `Estate`: the sandbox (`reynard sandbox start` creates the resources on moto
and records the ids moto chose) and `derive_estate` (ids derived from the scenario's seed, for a scenario
played into files with no sandbox). Either way the player takes the ids from the `Estate`, never from
the YAML, so every event refers to a resource that exists where the response will act.

    environment:
      account: "123456789012"
      region: us-east-1
      vpc_cidr: 10.0.0.0/16
      corporate_cidrs: [10.0.0.0/8]          # inside the company (Reynard's internal_cidrs)
      vpn_cidrs: [198.51.100.0/28]           # the company VPN's public egress: outside, but ours
      services:
        - {name: prod-web, production: true, role: prod-web-app, instances: 2,
           auto_scaling_group: prod-web-asg, load_balancer: prod-web-alb, public_ports: [443]}
        - {name: bastion, role: bastion, vpn_ports: [22]}   # SSH from the office and the VPN only
      buckets:
        - {name: acme-web-assets}
        - {name: acme-public-site, public: true, tags: {Public: "true"}}
      users:
        - {name: alice, addresses: [10.1.2.3]}
      roles: [ci-deploy]                     # roles beside the services' instance roles
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from reynard.simulate.reading import ScenarioError, bucket, known, listed, mapping, name, network, region


@dataclass(frozen=True)
class Service:
    name: str
    role: str  # the instance role (and instance profile) its instances run with
    production: bool = False
    instances: int = 1
    auto_scaling_group: str | None = None
    load_balancer: str | None = None  # an application load balancer with one target group
    public_ports: tuple[int, ...] = ()  # open to 0.0.0.0/0; every other port only from corporate_cidrs
    platform: str = "linux"
    # Open to vpn_cidrs (the VPN's public egress) as well as corporate_cidrs: the instances get a public
    # address to be reached on, but the internet at large is refused (a bastion's SSH).
    vpn_ports: tuple[int, ...] = ()

    @property
    def reachable(self) -> bool:
        """Whether its instances have a public address (public or VPN ports)."""
        return bool(self.public_ports or self.vpn_ports)


@dataclass(frozen=True)
class Bucket:
    name: str
    public: bool = False  # public on purpose (a website): a look-alike that must stay quiet
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class User:
    name: str
    addresses: tuple[str, ...] = ()  # where this user calls AWS from, normally


@dataclass(frozen=True)
class Environment:
    account: str
    region: str
    vpc_cidr: str
    corporate_cidrs: tuple[str, ...]
    vpn_cidrs: tuple[str, ...]
    services: tuple[Service, ...]
    buckets: tuple[Bucket, ...] = ()
    users: tuple[User, ...] = ()
    roles: tuple[str, ...] = ()

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        raise ScenarioError(f"environment: no service named {name!r}")

    def instance_names(self) -> list[tuple[Service, str]]:
        """Each instance's logical name, `<service>-<n>` from 1, with its service."""
        return [(s, f"{s.name}-{n}") for s in self.services for n in range(1, s.instances + 1)]


@dataclass(frozen=True)
class Instance:
    """One instance as it exists: what events and playbooks name."""

    name: str  # logical: prod-web-1
    service: str
    instance_id: str
    private_ip: str
    public_ip: str | None
    subnet_id: str
    security_group_ids: tuple[str, ...]
    volume_ids: tuple[str, ...]
    eni_id: str


@dataclass(frozen=True)
class Estate:
    """The environment with its AWS ids. `source` says where they come from: "sandbox" (read back from
    the AWS endpoint at `endpoint_url`) or "seed" (derived; nothing exists anywhere)."""

    account: str
    region: str
    source: str
    vpc_id: str
    instances: tuple[Instance, ...]
    access_keys: Mapping[str, str]  # user name -> access key id
    role_arns: Mapping[str, str]  # role name -> ARN
    buckets: tuple[str, ...]
    load_balancer_arns: Mapping[str, str] = field(default_factory=dict)
    target_group_arns: Mapping[str, str] = field(default_factory=dict)  # load balancer name -> its group
    auto_scaling_groups: tuple[str, ...] = ()
    endpoint_url: str | None = None
    detector_id: str | None = None  # the GuardDuty detector findings name (`service.detectorId`)

    def instance(self, name: str) -> Instance:
        for instance in self.instances:
            if name in (instance.name, instance.instance_id):
                return instance
        raise ScenarioError(f"the estate has no instance {name!r}")

    def of_service(self, service: str) -> list[Instance]:
        return [i for i in self.instances if i.service == service]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Estate:
        values = dict(data)
        values["instances"] = tuple(
            Instance(
                **{
                    **i,
                    "security_group_ids": tuple(i["security_group_ids"]),
                    "volume_ids": tuple(i["volume_ids"]),
                }
            )
            for i in values["instances"]
        )
        values["buckets"] = tuple(values["buckets"])
        values["auto_scaling_groups"] = tuple(values.get("auto_scaling_groups", ()))
        return cls(**values)


# -- reading ----------------------------------------------------------------------------------------------
def parse_environment(data: Any, where: str = "environment") -> Environment:
    """The `environment:` mapping of a scenario; ScenarioError naming the key otherwise."""
    table = mapping(data, where)
    known(
        table,
        where,
        {
            "account",
            "region",
            "vpc_cidr",
            "corporate_cidrs",
            "vpn_cidrs",
            "services",
            "buckets",
            "users",
            "roles",
        },
    )
    account = str(table.get("account", "123456789012"))
    if not re.fullmatch(r"\d{12}", account):
        raise ScenarioError(f"{where}.account: {account!r} is not a 12-digit AWS account id")
    services = tuple(
        _service(s, f"{where}.services[{n}]") for n, s in enumerate(listed(table, "services", where))
    )
    if not services:
        raise ScenarioError(f"{where}.services: at least one service")
    environment = Environment(
        account=account,
        region=region(table.get("region", "us-east-1"), f"{where}.region"),
        vpc_cidr=network(table.get("vpc_cidr", "10.0.0.0/16"), f"{where}.vpc_cidr"),
        corporate_cidrs=tuple(
            network(c, f"{where}.corporate_cidrs[{n}]")
            for n, c in enumerate(listed(table, "corporate_cidrs", where) or ["10.0.0.0/8"])
        ),
        vpn_cidrs=tuple(
            network(c, f"{where}.vpn_cidrs[{n}]") for n, c in enumerate(listed(table, "vpn_cidrs", where))
        ),
        services=services,
        buckets=tuple(
            _bucket(b, f"{where}.buckets[{n}]") for n, b in enumerate(listed(table, "buckets", where))
        ),
        users=tuple(_user(u, f"{where}.users[{n}]") for n, u in enumerate(listed(table, "users", where))),
        roles=tuple(name(r, f"{where}.roles[{n}]") for n, r in enumerate(listed(table, "roles", where))),
    )
    _unique(environment, where)
    return environment


def _service(data: Any, where: str) -> Service:
    table = mapping(data, where)
    known(table, where, {f.name for f in Service.__dataclass_fields__.values()})
    instances = table.get("instances", 1)
    if not isinstance(instances, int) or isinstance(instances, bool) or not 1 <= instances <= 20:
        raise ScenarioError(f"{where}.instances: a number of instances from 1 to 20, not {instances!r}")
    ports, vpn_ports = (_ports(table, key, where) for key in ("public_ports", "vpn_ports"))
    platform = table.get("platform", "linux")
    if platform not in ("linux", "windows"):
        raise ScenarioError(f"{where}.platform: linux or windows, not {platform!r}")
    optional = {
        k: name(table[k], f"{where}.{k}") for k in ("auto_scaling_group", "load_balancer") if table.get(k)
    }
    if len(optional.get("load_balancer", "")) > 32:  # AWS's limit for load balancer and target group names
        raise ScenarioError(f"{where}.load_balancer: {optional['load_balancer']!r} is over 32 characters")
    return Service(
        name=name(table.get("name"), f"{where}.name"),
        role=name(table.get("role"), f"{where}.role"),
        production=bool(table.get("production", False)),
        instances=instances,
        public_ports=ports,
        vpn_ports=vpn_ports,
        platform=platform,
        **optional,
    )


def _ports(table: Mapping[str, Any], key: str, where: str) -> tuple[int, ...]:
    ports = table.get(key, [])
    if not isinstance(ports, list) or not all(
        isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in ports
    ):
        raise ScenarioError(f"{where}.{key}: a list of TCP ports")
    return tuple(ports)


def _bucket(data: Any, where: str) -> Bucket:
    table = mapping(data, where)
    known(table, where, {"name", "public", "tags"})
    tags = mapping(table.get("tags", {}), f"{where}.tags")
    return Bucket(
        bucket(table.get("name", ""), f"{where}.name"),
        bool(table.get("public", False)),
        {str(k): str(v) for k, v in tags.items()},
    )


def _user(data: Any, where: str) -> User:
    table = mapping(data, where)
    known(table, where, {"name", "addresses"})
    addresses = table.get("addresses", [])
    for n, address in enumerate(addresses):
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ScenarioError(f"{where}.addresses[{n}]: {address!r} is not an IP address") from None
    return User(name(table.get("name"), f"{where}.name"), tuple(addresses))


def _unique(environment: Environment, where: str) -> None:
    names = [s.name for s in environment.services] + [u.name for u in environment.users]
    for group, values in (
        ("service and user names", names),
        ("buckets", [b.name for b in environment.buckets]),
    ):
        seen = {v for v in values if values.count(v) > 1}
        if seen:
            raise ScenarioError(f"{where}: {group} must be unique: {', '.join(sorted(seen))} twice")


# -- ids without a sandbox --------------------------------------------------------------------------------
def derive_estate(environment: Environment, seed: int) -> Estate:
    """Ids shaped as AWS's, derived from the seed and the names: the same for the same scenario, so files
    played twice are the same files. Nothing of this exists anywhere (`source` "seed")."""

    def hexid(*parts: object, length: int = 17) -> str:
        text = "\0".join(str(p) for p in (seed, *parts))
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()[:length]

    vpc = ipaddress.ip_network(environment.vpc_cidr)
    hosts = vpc.hosts()
    for _ in range(3):  # AWS keeps .1 to .3 (the router, DNS, reserved): instances start at .4
        next(hosts)
    instances = []
    for service, logical in environment.instance_names():
        public = service.reachable
        instances.append(
            Instance(
                name=logical,
                service=service.name,
                instance_id=f"i-{hexid('instance', logical)}",
                private_ip=str(next(hosts)),
                public_ip=_public_ip(hexid("public", logical)) if public else None,
                subnet_id=f"subnet-{hexid('subnet', service.name)}",
                security_group_ids=(f"sg-{hexid('sg', service.name)}",),
                volume_ids=(f"vol-{hexid('volume', logical)}",),
                eni_id=f"eni-{hexid('eni', logical)}",
            )
        )
    roles = [*(s.role for s in environment.services), *environment.roles]
    account = environment.account
    return Estate(
        account=account,
        region=environment.region,
        source="seed",
        vpc_id=f"vpc-{hexid('vpc')}",
        instances=tuple(instances),
        access_keys={u.name: "AKIA" + hexid("key", u.name, length=16).upper() for u in environment.users},
        role_arns={r: f"arn:aws:iam::{account}:role/{r}" for r in dict.fromkeys(roles)},
        buckets=tuple(b.name for b in environment.buckets),
        load_balancer_arns={
            s.load_balancer: f"arn:aws:elasticloadbalancing:{environment.region}:{account}:loadbalancer/app/"
            f"{s.load_balancer}/{hexid('lb', s.load_balancer, length=16)}"
            for s in environment.services
            if s.load_balancer
        },
        target_group_arns={
            s.load_balancer: f"arn:aws:elasticloadbalancing:{environment.region}:{account}:targetgroup/"
            f"{s.load_balancer}/{hexid('tg', s.load_balancer, length=16)}"
            for s in environment.services
            if s.load_balancer
        },
        auto_scaling_groups=tuple(s.auto_scaling_group for s in environment.services if s.auto_scaling_group),
        detector_id=hexid("detector", length=32),
    )


def _public_ip(digest: str) -> str:
    """An address in 54.0.0.0/8-like public space that is not documentation space (the attackers use that)."""
    value = int(digest[:6], 16)
    return f"54.{value >> 16 & 255}.{value >> 8 & 255}.{max(1, value & 255)}"


__all__ = [
    "Bucket",
    "Environment",
    "Estate",
    "Instance",
    "ScenarioError",
    "Service",
    "User",
    "derive_estate",
    "parse_environment",
]
