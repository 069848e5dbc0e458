"""reynard:isolate-instance: cut an instance off the network, keeping what is needed to undo it.

For each network interface: back up its security groups (in the result and as instance tags
`reynard:original-security-groups:<eni>`), swap in the VPC's allow-all group, then its no-rules group (see
isolation_groups.py for why two steps); then disassociate the Elastic IPs (backed up as the tag
`reynard:disassociated-elastic-ips`). Verified by reading back every ENI's groups, both groups' rules, the
backup tags and the addresses still associated. A failure part-way is an error naming what was already
applied: it never rolls back, since a compromised instance half-isolated is safer than one restored.
"""

from __future__ import annotations

from typing import Any

from ..aws_sdk import call
from ..resources import TaskContext
from .base import Action, Arguments, Check, Report
from .ec2 import (
    describe_instance,
    group_ids,
    instance_target,
    network_interfaces,
    require_alive,
    tag,
    tags_of,
)
from .isolation_groups import IsolationGroups, ensure_groups, group_checks

BACKUP_TAG = "reynard:original-security-groups:"
EIP_TAG = "reynard:disassociated-elastic-ips"
_TAG_VALUE_MAX = 256
_PER_TAG = 11  # group ids of 21 characters and commas: 11 fit in one 256-character tag value


def backup_tags(eni_id: str, groups: list[str]) -> dict[str, str]:
    """`{key: "sg-1,sg-2"}`, split over `key`, `key:2`, ... when there are more groups than fit in one tag."""
    chunks = [groups[i : i + _PER_TAG] for i in range(0, len(groups), _PER_TAG)] or [[]]
    keys = [BACKUP_TAG + eni_id] + [f"{BACKUP_TAG}{eni_id}:{n}" for n in range(2, len(chunks) + 1)]
    return {key: ",".join(chunk) for key, chunk in zip(keys, chunks, strict=True)}


def read_backup(tags: dict[str, str], eni_id: str) -> list[str] | None:
    first = tags.get(BACKUP_TAG + eni_id)
    if first is None:
        return None
    groups, n = [g for g in first.split(",") if g], 2
    while f"{BACKUP_TAG}{eni_id}:{n}" in tags:
        groups += [g for g in tags[f"{BACKUP_TAG}{eni_id}:{n}"].split(",") if g]
        n += 1
    return groups


def associated_addresses(ec2: Any, instance_id: str, eni_ids: list[str]) -> list[dict[str, Any]]:
    """Elastic IPs on the instance or any of its ENIs (a secondary ENI's are not under instance-id)."""
    found: dict[str, dict[str, Any]] = {}
    filters = [[{"Name": "instance-id", "Values": [instance_id]}]]
    if eni_ids:
        filters.append([{"Name": "network-interface-id", "Values": eni_ids}])
    for flt in filters:
        for address in call(ec2, "describe_addresses", Filters=flt)["Addresses"]:
            if address.get("AssociationId") or address.get("InstanceId"):
                found[address.get("AssociationId") or address["PublicIp"]] = address
    return sorted(found.values(), key=lambda a: a["PublicIp"])


class IsolateInstance(Action):
    name = "isolate-instance"
    parameters = frozenset({"InstanceId", "Region", "DisassociateElasticIps"})
    aws_actions = frozenset(
        {
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:CreateSecurityGroup",
            "ec2:CreateTags",
            "ec2:DescribeAddresses",
            "ec2:DescribeInstances",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSecurityGroups",
            "ec2:DisassociateAddress",
            "ec2:ModifyNetworkInterfaceAttribute",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupIngress",
        }
    )

    target = "InstanceId"
    result_keys = ("InstanceId", "OriginalSecurityGroups", "IsolationGroups", "DisassociatedElasticIps")

    def intent(self, args: Arguments) -> list[tuple[str, str]]:
        release = ", then disassociate its Elastic IPs" if args.flag("DisassociateElasticIps", True) else ""
        what = (
            "tag each network interface's security groups on the instance, then move every network "
            f"interface onto the VPC's isolation groups (allow-all, then no-rules){release}"
        )
        return [(args.text("InstanceId", required=True), what)]

    def run(self, args: Arguments, report: Report, context: TaskContext) -> None:
        instance_id, region = instance_target(args)
        release = args.flag("DisassociateElasticIps", True)
        ec2 = self.env.clients.client("ec2", region)
        instance = describe_instance(ec2, instance_id)
        require_alive(instance, self.name)
        enis = network_interfaces(ec2, instance_id)
        groups = {vpc: ensure_groups(ec2, vpc, report) for vpc in sorted({eni["VpcId"] for eni in enis})}
        isolation = set().union(*(g.ids() for g in groups.values()))
        backups = self._back_up(ec2, instance_id, tags_of(instance), enis, isolation, report)
        for eni in enis:
            self._swap(ec2, eni, groups[eni["VpcId"]], report)
        released = self._release(ec2, instance_id, enis, tags_of(instance), report) if release else []
        report.extra.update(
            InstanceId=instance_id,
            OriginalSecurityGroups=backups,
            IsolationGroups={vpc: g.as_dict() for vpc, g in groups.items()},
            DisassociatedElasticIps=released,
        )
        eni_ids = [eni["NetworkInterfaceId"] for eni in enis]
        report.verify(lambda: self._checks(ec2, instance_id, eni_ids, groups, backups, release))

    def _back_up(
        self,
        ec2: Any,
        instance_id: str,
        tags: dict[str, str],
        enis: list[dict],
        isolation: set[str],
        report: Report,
    ) -> dict[str, list[str] | None]:
        """Each ENI's groups before isolation. An ENI already on isolation groups keeps its earlier backup:
        overwriting it would record the isolation group as the original."""
        backups: dict[str, list[str] | None] = {}
        for eni in enis:
            eni_id, current = eni["NetworkInterfaceId"], group_ids(eni)
            if set(current) <= isolation:
                backups[eni_id] = read_backup(tags, eni_id)
                continue
            backups[eni_id] = current
            if read_backup(tags, eni_id) != current:
                wanted = backup_tags(eni_id, current)
                report.apply(
                    instance_id,
                    f"tag {BACKUP_TAG}{eni_id}",
                    lambda w=wanted: tag(ec2, instance_id, w),
                    before=read_backup(tags, eni_id),
                    after=current,
                )
        return backups

    def _swap(self, ec2: Any, eni: dict[str, Any], groups: IsolationGroups, report: Report) -> None:
        eni_id, current = eni["NetworkInterfaceId"], group_ids(eni)
        if current == [groups.no_rules]:
            return
        for step, (before, after) in enumerate(
            ((current, groups.allow_all), ([groups.allow_all], groups.no_rules)), start=1
        ):
            report.apply(
                eni_id,
                f"security groups, step {step} of 2",
                lambda a=after: call(
                    ec2, "modify_network_interface_attribute", NetworkInterfaceId=eni_id, Groups=[a]
                ),
                before=before,
                after=[after],
            )

    def _release(
        self, ec2: Any, instance_id: str, enis: list[dict], tags: dict[str, str], report: Report
    ) -> list[dict[str, Any]]:
        addresses = associated_addresses(ec2, instance_id, [eni["NetworkInterfaceId"] for eni in enis])
        if not addresses:
            return []
        records = [
            {
                "PublicIp": a["PublicIp"],
                "AllocationId": a.get("AllocationId"),
                "NetworkInterfaceId": a.get("NetworkInterfaceId"),
                "PrivateIpAddress": a.get("PrivateIpAddress"),
            }
            for a in addresses
        ]
        noted = [item for item in tags.get(EIP_TAG, "").split(",") if item]
        for r in records:
            note = f"{r['AllocationId'] or r['PublicIp']}={r['NetworkInterfaceId']}/{r['PrivateIpAddress']}"
            if note not in noted:
                noted.append(note)
        value = ",".join(noted)[:_TAG_VALUE_MAX]
        report.apply(
            instance_id, f"tag {EIP_TAG}", lambda: tag(ec2, instance_id, {EIP_TAG: value}), after=value
        )
        for address in addresses:
            target = (
                {"AssociationId": address["AssociationId"]}
                if address.get("AssociationId")
                else {"PublicIp": address["PublicIp"]}
            )
            report.apply(
                address["PublicIp"],
                "disassociate Elastic IP",
                lambda t=target: call(ec2, "disassociate_address", **t),
                before=address.get("NetworkInterfaceId") or address.get("InstanceId"),
                after=None,
            )
        return records

    def _checks(
        self,
        ec2: Any,
        instance_id: str,
        eni_ids: list[str],
        groups: dict[str, IsolationGroups],
        backups: dict[str, list[str] | None],
        release: bool,
    ) -> list[Check]:
        checks: list[Check] = []
        for vpc_groups in groups.values():
            checks += group_checks(ec2, vpc_groups)
        fresh = {eni["NetworkInterfaceId"]: eni for eni in network_interfaces(ec2, instance_id)}
        for eni_id in eni_ids:
            eni = fresh.get(eni_id)
            wanted = [groups[eni["VpcId"]].no_rules] if eni else None
            checks.append(Check.equal(eni_id, "security groups", wanted, group_ids(eni) if eni else None))
        tags = tags_of(describe_instance(ec2, instance_id))
        for eni_id, backup in backups.items():
            if backup is not None:
                checks.append(
                    Check.equal(instance_id, f"tag {BACKUP_TAG}{eni_id}", backup, read_backup(tags, eni_id))
                )
        if release:
            still = [a["PublicIp"] for a in associated_addresses(ec2, instance_id, eni_ids)]
            checks.append(Check.equal(instance_id, "associated Elastic IPs", [], still))
        return checks


__all__ = ["BACKUP_TAG", "EIP_TAG", "IsolateInstance", "backup_tags", "read_backup"]
