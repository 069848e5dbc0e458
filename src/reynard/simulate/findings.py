"""GuardDuty findings on the estate's instances, as GuardDuty writes them (schema 2.0).

moto has no GuardDuty findings API (it keeps detectors, not findings), so in the sandbox as in files
the finding comes from the scenario; it names the estate's instance with its interfaces, groups,
subnet, VPC and instance profile, so a playbook given it acts on the instance that exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from reynard.events.timestamps import zulu
from reynard.simulate.context import Context
from reynard.simulate.environment import Instance

# Titles GuardDuty gives these types ({id} is the instance); any other type gets a generic title.
TITLES = {
    "CryptoCurrency:EC2/BitcoinTool.B!DNS": (
        "Bitcoin-related domain name queried by EC2 instance {id}.",
        "EC2 instance {id} is querying a domain name that is associated with Bitcoin-related activity.",
    ),
    "CryptoCurrency:EC2/BitcoinTool.B": (
        "Bitcoin-related IP address contacted by EC2 instance {id}.",
        "EC2 instance {id} is communicating with a Bitcoin-related IP address.",
    ),
    "Backdoor:EC2/C&CActivity.B!DNS": (
        "Command and Control server domain name queried by EC2 instance {id}.",
        "EC2 instance {id} is querying a domain name associated with a known Command & Control server.",
    ),
    "UnauthorizedAccess:EC2/SSHBruteForce": (
        "SSH brute force attacks against {id}.",
        "{id} has been involved in SSH brute force attacks.",
    ),
}


def _interface(ctx: Context, instance: Instance) -> dict:
    dns = f"ip-{instance.private_ip.replace('.', '-')}.ec2.internal"
    interface: dict[str, Any] = {
        "ipv6Addresses": [],
        "networkInterfaceId": instance.eni_id,
        "privateDnsName": dns,
        "privateIpAddress": instance.private_ip,
        "privateIpAddresses": [{"privateDnsName": dns, "privateIpAddress": instance.private_ip}],
        "securityGroups": [
            {"groupName": f"{instance.service}-sg", "groupId": g} for g in instance.security_group_ids
        ],
        "subnetId": instance.subnet_id,
        "vpcId": ctx.estate.vpc_id,
    }
    if instance.public_ip:
        interface["publicDnsName"] = f"ec2-{instance.public_ip.replace('.', '-')}.compute-1.amazonaws.com"
        interface["publicIp"] = instance.public_ip
    return interface


def _action(params: Mapping[str, Any], when: str) -> dict:
    if "domain" in params:
        return {
            "actionType": "DNS_REQUEST",
            "dnsRequestAction": {"domain": params["domain"], "protocol": "UDP", "blocked": False},
        }
    return {
        "actionType": "NETWORK_CONNECTION",
        "networkConnectionAction": {
            "connectionDirection": "OUTBOUND",
            "remoteIpDetails": {"ipAddressV4": params["remote"]},
            "remotePortDetails": {"port": 3333, "portName": "Unknown"},
            "localPortDetails": {"port": 40123, "portName": "Unknown"},
            "protocol": "TCP",
            "blocked": False,
        },
    }


def finding(ctx: Context, params: Mapping[str, Any], moment: datetime) -> dict:
    """The finding `params` (instance, finding type, severity, domain or remote) describe, at `moment`."""
    instance = ctx.instance(params["instance"])
    service = ctx.environment.service(instance.service)
    kind = params["finding"]
    title, description = TITLES.get(
        kind, (f"{kind} on EC2 instance {{id}}.", f"GuardDuty reports {kind} on {{id}}.")
    )
    when = zulu(moment.replace(microsecond=(moment.microsecond // 1000) * 1000), "milliseconds")
    detector = ctx.estate.detector_id or ctx.token("detector", length=32, upper=False)
    finding_id = ctx.token("finding", instance.instance_id, kind, length=32, upper=False)
    tags = [{"key": "Name", "value": instance.name}, {"key": "Service", "value": service.name}]
    if service.auto_scaling_group:
        tags.append({"key": "aws:autoscaling:groupName", "value": service.auto_scaling_group})
    return {
        "schemaVersion": "2.0",
        "accountId": ctx.account,
        "region": ctx.region,
        "partition": "aws",
        "id": finding_id,
        "arn": f"arn:aws:guardduty:{ctx.region}:{ctx.account}:detector/{detector}/finding/{finding_id}",
        "type": kind,
        "resource": {
            "resourceType": "Instance",
            "instanceDetails": {
                "instanceId": instance.instance_id,
                "instanceType": "t3.large",
                "launchTime": zulu(ctx.start.replace(hour=0, minute=0, second=0, microsecond=0), "seconds"),
                "platform": None,
                "productCodes": [],
                "iamInstanceProfile": {
                    "arn": f"arn:aws:iam::{ctx.account}:instance-profile/{service.role}",
                    "id": "AIPA" + ctx.token("profile", service.role, length=17),
                },
                "networkInterfaces": [_interface(ctx, instance)],
                "tags": tags,
                "instanceState": "running",
                "availabilityZone": f"{ctx.region}a",
                "imageId": "ami-" + ctx.token("ami", length=17, upper=False),
                "imageDescription": "Amazon Linux 2023 AMI",
            },
        },
        "service": {
            "serviceName": "guardduty",
            "detectorId": detector,
            "action": _action(params, when),
            "resourceRole": "ACTOR",
            "additionalInfo": {"value": "{}", "type": "default"},
            "evidence": {"threatIntelligenceDetails": [{"threatListName": "ProofPoint", "threatNames": []}]},
            "eventFirstSeen": when,
            "eventLastSeen": when,
            "archived": False,
            "count": 1,
        },
        "severity": params["severity"],
        "createdAt": when,
        "updatedAt": when,
        "title": title.format(id=instance.instance_id),
        "description": description.format(id=instance.instance_id),
    }


__all__ = ["TITLES", "finding"]
