"""reynard:detach-from-asg: take the instance out of its Auto Scaling group without shrinking the group.

Detached with `ShouldDecrementDesiredCapacity=False`, so the group launches a healthy replacement and the
service keeps its capacity while the compromised instance is kept for investigation (a group would
otherwise terminate an instance it marks unhealthy once isolation breaks its health checks). Verified by
reading back that the instance is in no group and that the group's desired capacity is unchanged. Auto
Scaling answers "in no group" for an instance id it has never seen, so the instance is read from EC2 first:
one that does not exist is `Reynard.ResourceNotFound`, never "already detached".
"""

from __future__ import annotations

from typing import Any

from ..aws_sdk import call
from ..resources import TaskContext
from .base import Action, Arguments, Check, Report, effective_timeout, wait_until
from .ec2 import describe_instance, instance_target


def membership(autoscaling: Any, instance_id: str) -> dict[str, Any] | None:
    found = call(autoscaling, "describe_auto_scaling_instances", InstanceIds=[instance_id])
    return next(iter(found.get("AutoScalingInstances", [])), None)


def desired_capacity(autoscaling: Any, group: str) -> int | None:
    groups = call(autoscaling, "describe_auto_scaling_groups", AutoScalingGroupNames=[group])[
        "AutoScalingGroups"
    ]
    return groups[0]["DesiredCapacity"] if groups else None


class DetachFromAsg(Action):
    name = "detach-from-asg"
    parameters = frozenset({"InstanceId", "Region", "WaitSeconds"})
    aws_actions = frozenset(
        {
            "autoscaling:DescribeAutoScalingGroups",
            "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DetachInstances",
            "ec2:DescribeInstances",
        }
    )
    target = "InstanceId"
    would = "detach it from its Auto Scaling group, if it is in one, keeping the group's desired capacity"
    result_keys = ("InstanceId", "AutoScalingGroupName", "DesiredCapacity")

    def run(self, args: Arguments, report: Report, context: TaskContext) -> None:
        instance_id, region = instance_target(args)
        timeout = effective_timeout(args.number("WaitSeconds", 300), context)
        describe_instance(self.env.clients.client("ec2", region), instance_id)
        autoscaling = self.env.clients.client("autoscaling", region)
        member = membership(autoscaling, instance_id)
        group = member["AutoScalingGroupName"] if member else None
        desired = desired_capacity(autoscaling, group) if group else None
        if group:
            report.apply(
                instance_id,
                "detach from Auto Scaling group",
                lambda: call(
                    autoscaling,
                    "detach_instances",
                    InstanceIds=[instance_id],
                    AutoScalingGroupName=group,
                    ShouldDecrementDesiredCapacity=False,
                ),
                before=group,
                after=None,
            )
            if not report.dry_run:
                wait_until(
                    self.env,
                    f"{instance_id} leaving {group}",
                    lambda: membership(autoscaling, instance_id) is None,
                    timeout,
                    interval=5,
                )
        report.extra.update(InstanceId=instance_id, AutoScalingGroupName=group, DesiredCapacity=desired)
        report.verify(lambda: self._checks(autoscaling, instance_id, group, desired))

    def _checks(
        self, autoscaling: Any, instance_id: str, group: str | None, desired: int | None
    ) -> list[Check]:
        member = membership(autoscaling, instance_id)
        checks = [
            Check.equal(
                instance_id, "Auto Scaling group", None, member["AutoScalingGroupName"] if member else None
            )
        ]
        if group:
            checks.append(
                Check.equal(group, "DesiredCapacity", desired, desired_capacity(autoscaling, group))
            )
        return checks
