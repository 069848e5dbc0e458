"""reynard:deregister-from-load-balancers: stop sending users' traffic to the instance.

Every ELBv2 target group (ALB, NLB, GWLB) holding the instance, as an instance target or by one of its
private IPs, and every classic ELB listing it. Verified by reading back each target group's health (the
instance absent, or `draining`: deregistration under way) and each classic ELB's instance list.
"""

from __future__ import annotations

from typing import Any

from ..aws_sdk import call, paginate
from ..resources import TaskContext
from .base import Action, Arguments, Check, Report
from .ec2 import describe_instance, instance_target

_GONE_STATES = ("draining", "unused")


def private_ips(instance: dict[str, Any]) -> set[str]:
    return {
        ip["PrivateIpAddress"]
        for eni in instance.get("NetworkInterfaces", [])
        for ip in eni.get("PrivateIpAddresses", [])
        if ip.get("PrivateIpAddress")
    } | ({instance["PrivateIpAddress"]} if instance.get("PrivateIpAddress") else set())


def registrations(elbv2: Any, instance_id: str, ips: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Target group ARN -> the instance's targets in it that still receive traffic."""
    found: dict[str, list[dict[str, Any]]] = {}
    for group in paginate(elbv2, "describe_target_groups", "TargetGroups"):
        if group.get("TargetType") not in ("instance", "ip"):
            continue
        health = call(elbv2, "describe_target_health", TargetGroupArn=group["TargetGroupArn"])
        targets = [
            d["Target"]
            for d in health.get("TargetHealthDescriptions", [])
            if (d["Target"]["Id"] == instance_id or d["Target"]["Id"] in ips)
            and d.get("TargetHealth", {}).get("State") not in _GONE_STATES
        ]
        if targets:
            found[group["TargetGroupArn"]] = targets
    return found


def classic_registrations(elb: Any, instance_id: str) -> list[str]:
    return [
        lb["LoadBalancerName"]
        for lb in paginate(elb, "describe_load_balancers", "LoadBalancerDescriptions")
        if any(i.get("InstanceId") == instance_id for i in lb.get("Instances", []))
    ]


class DeregisterFromLoadBalancers(Action):
    name = "deregister-from-load-balancers"
    parameters = frozenset({"InstanceId", "Region"})
    aws_actions = frozenset(
        {
            "ec2:DescribeInstances",
            "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
            "elasticloadbalancing:DeregisterTargets",
            "elasticloadbalancing:DescribeLoadBalancers",
            "elasticloadbalancing:DescribeTargetGroups",
            "elasticloadbalancing:DescribeTargetHealth",
        }
    )
    target = "InstanceId"
    would = "deregister it from every target group and classic load balancer sending it traffic"
    result_keys = ("InstanceId", "TargetGroups", "ClassicLoadBalancers")

    def run(self, args: Arguments, report: Report, context: TaskContext) -> None:
        instance_id, region = instance_target(args)
        ec2 = self.env.clients.client("ec2", region)
        elbv2 = self.env.clients.client("elbv2", region)
        elb = self.env.clients.client("elb", region)
        ips = private_ips(describe_instance(ec2, instance_id))
        groups = registrations(elbv2, instance_id, ips)
        for arn, targets in groups.items():
            report.apply(
                arn,
                "deregister targets",
                lambda a=arn, t=targets: call(elbv2, "deregister_targets", TargetGroupArn=a, Targets=t),
                before=[f"{t['Id']}:{t.get('Port', '')}" for t in targets],
                after=None,
            )
        classic = classic_registrations(elb, instance_id)
        for name in classic:
            report.apply(
                name,
                "deregister instance (classic ELB)",
                lambda n=name: call(
                    elb,
                    "deregister_instances_from_load_balancer",
                    LoadBalancerName=n,
                    Instances=[{"InstanceId": instance_id}],
                ),
                before=instance_id,
                after=None,
            )
        report.extra.update(InstanceId=instance_id, TargetGroups=sorted(groups), ClassicLoadBalancers=classic)
        report.verify(lambda: self._checks(elbv2, elb, instance_id, ips, list(groups)))

    def _checks(
        self, elbv2: Any, elb: Any, instance_id: str, ips: set[str], groups: list[str]
    ) -> list[Check]:
        still = registrations(elbv2, instance_id, ips)
        checks = [
            Check.equal(arn, f"targets of {instance_id} receiving traffic", [], still.get(arn, []))
            for arn in groups
        ]
        checks.append(Check.equal(instance_id, "target groups sending it traffic", [], sorted(still)))
        checks.append(
            Check.equal(
                instance_id, "classic load balancers listing it", [], classic_registrations(elb, instance_id)
            )
        )
        return checks
