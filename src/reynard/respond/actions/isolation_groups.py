"""The two security groups isolation swaps in, one pair per VPC, found or created and kept to their rules.

Why two: security groups are stateful, and changing an ENI's groups does not cut connections already
tracked. A flow that only rules allowing all traffic (0.0.0.0/0 and ::/0, every protocol, both ways)
admit is not tracked, so swapping in the allow-all group first turns tracked connections into untracked
ones, and swapping in the no-rules group then cuts them at once (AWS's "Security group connection tracking";
the same two steps as AWSSupport-ContainEC2Instance and AFO). The groups are shared by every instance
isolated in the VPC, so each run also puts their rules back to exactly what they must be.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..aws_sdk import AwsCallError, call
from ..errors import StatesError
from .base import VERIFICATION_FAILED, Check, Report

ALLOW_ALL = "reynard-isolation-allow-all"
NO_RULES = "reynard-isolation-no-rules"
_DESCRIPTIONS = {
    ALLOW_ALL: "Reynard isolation step 1 of 2: allows all traffic so tracked connections become untracked",
    NO_RULES: "Reynard isolation step 2 of 2: no rules, so no traffic in or out",
}
_EVERYWHERE = frozenset({("-1", None, None, "CidrIp", "0.0.0.0/0"), ("-1", None, None, "CidrIpv6", "::/0")})
# (ingress, egress) rules each group must have, as normalised rule keys
WANTED: dict[str, tuple[frozenset, frozenset]] = {
    ALLOW_ALL: (_EVERYWHERE, _EVERYWHERE),
    NO_RULES: (frozenset(), frozenset()),
}
_LISTS = {
    "CidrIp": "IpRanges",
    "CidrIpv6": "Ipv6Ranges",
    "GroupId": "UserIdGroupPairs",
    "PrefixListId": "PrefixListIds",
}

Rule = tuple[str, Any, Any, str, str]


@dataclass(frozen=True)
class IsolationGroups:
    vpc_id: str
    allow_all: str
    no_rules: str

    def ids(self) -> set[str]:
        return {self.allow_all, self.no_rules}

    def as_dict(self) -> dict[str, str]:
        return {"AllowAll": self.allow_all, "NoRules": self.no_rules}


def rules(permissions: Iterable[Mapping[str, Any]]) -> frozenset[Rule]:
    """Normalised rule keys (protocol, from port, to port, kind, value) of EC2's IpPermissions."""
    keys = set()
    for perm in permissions:
        protocol = str(perm.get("IpProtocol"))
        ports = (None, None) if protocol == "-1" else (perm.get("FromPort"), perm.get("ToPort"))
        for kind, listed in _LISTS.items():
            for item in perm.get(listed, []):
                keys.add((protocol, *ports, kind, str(item.get(kind))))
    return frozenset(keys)


def permission(rule: Rule) -> dict[str, Any]:
    protocol, from_port, to_port, kind, value = rule
    perm: dict[str, Any] = {"IpProtocol": protocol, _LISTS[kind]: [{kind: value}]}
    if protocol != "-1":
        perm.update(FromPort=from_port, ToPort=to_port)
    return perm


def find_group(ec2: Any, vpc_id: str, name: str) -> dict[str, Any] | None:
    found = call(
        ec2,
        "describe_security_groups",
        Filters=[{"Name": "group-name", "Values": [name]}, {"Name": "vpc-id", "Values": [vpc_id]}],
    )["SecurityGroups"]
    return found[0] if found else None


def ensure_groups(ec2: Any, vpc_id: str, report: Report) -> IsolationGroups:
    """Both groups of the VPC, created if missing and their rules reconciled (placeholders in a dry run)."""
    ids = {name: _ensure(ec2, vpc_id, name, report) for name in (ALLOW_ALL, NO_RULES)}
    return IsolationGroups(vpc_id, ids[ALLOW_ALL], ids[NO_RULES])


def _ensure(ec2: Any, vpc_id: str, name: str, report: Report) -> str:
    group = find_group(ec2, vpc_id, name)
    if group is None:
        created = report.apply(
            vpc_id, f"create security group {name}", lambda: _create(ec2, vpc_id, name), after=name
        )
        if created is None:  # dry run: a new group would have the default egress rule
            group = {"GroupId": f"(new {name} in {vpc_id})", "IpPermissions": [], "IpPermissionsEgress": []}
            group["IpPermissionsEgress"] = [permission(("-1", None, None, "CidrIp", "0.0.0.0/0"))]
        else:
            group = created
    group_id = group["GroupId"]
    for direction, current, wanted in (
        ("ingress", rules(group.get("IpPermissions", [])), WANTED[name][0]),
        ("egress", rules(group.get("IpPermissionsEgress", [])), WANTED[name][1]),
    ):
        extra, missing = sorted(current - wanted, key=str), sorted(wanted - current, key=str)
        if extra:
            report.apply(
                group_id,
                f"revoke {direction} rules",
                lambda d=direction, r=extra: call(
                    ec2,
                    f"revoke_security_group_{d}",
                    GroupId=group_id,
                    IpPermissions=[permission(x) for x in r],
                ),
                before=[_show(rule) for rule in extra],
            )
        if missing:
            report.apply(
                group_id,
                f"authorize {direction} rules",
                lambda d=direction, r=missing: call(
                    ec2,
                    f"authorize_security_group_{d}",
                    GroupId=group_id,
                    IpPermissions=[permission(x) for x in r],
                ),
                after=[_show(rule) for rule in missing],
            )
    return group_id


def _create(ec2: Any, vpc_id: str, name: str) -> dict[str, Any]:
    try:
        call(
            ec2,
            "create_security_group",
            GroupName=name,
            Description=_DESCRIPTIONS[name],
            VpcId=vpc_id,
            TagSpecifications=[
                {"ResourceType": "security-group", "Tags": [{"Key": "reynard:purpose", "Value": "isolation"}]}
            ],
        )
    except AwsCallError as exc:
        if exc.code != "InvalidGroup.Duplicate":  # another execution created it a moment ago: use that one
            raise
    group = find_group(ec2, vpc_id, name)
    if group is None:
        raise StatesError(
            VERIFICATION_FAILED, f"security group {name} in {vpc_id} is not found after creating it"
        )
    return group


def _show(rule: Rule) -> str:
    protocol, from_port, to_port, _, value = rule
    ports = "all" if protocol == "-1" else f"{from_port}-{to_port}"
    return f"{'all protocols' if protocol == '-1' else protocol} ports {ports} {value}"


def group_checks(ec2: Any, groups: IsolationGroups) -> list[Check]:
    """Fresh reads of both groups: each has exactly its rules."""
    checks = []
    for name, group_id in ((ALLOW_ALL, groups.allow_all), (NO_RULES, groups.no_rules)):
        found = find_group(ec2, groups.vpc_id, name)
        ingress = sorted(map(_show, rules(found.get("IpPermissions", [])))) if found else None
        egress = sorted(map(_show, rules(found.get("IpPermissionsEgress", [])))) if found else None
        want_in, want_out = (sorted(map(_show, wanted)) for wanted in WANTED[name])
        actual_id = found["GroupId"] if found else None
        checks.append(Check.equal(group_id, f"{name} exists in {groups.vpc_id}", group_id, actual_id))
        checks.append(Check.equal(group_id, "ingress rules", want_in, ingress))
        checks.append(Check.equal(group_id, "egress rules", want_out, egress))
    return checks
