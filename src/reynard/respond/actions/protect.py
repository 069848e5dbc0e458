"""reynard:protect-instance: keep the evidence from being destroyed by accident.

Termination protection (`DisableApiTermination`), stop protection (`DisableApiStop`, since stopping loses
memory), shutdown from inside the instance stops rather than terminates, and every EBS volume is kept when
the instance is terminated (`DeleteOnTermination` false). Each is set only where it differs; verified by
reading the attributes and the block device mappings back.
"""

from __future__ import annotations

from typing import Any

from ..aws_sdk import call
from ..resources import TaskContext
from .base import Action, Arguments, Check, Report
from .ec2 import describe_instance, instance_target, require_alive

_FLAGS = (("disableApiTermination", "DisableApiTermination"), ("disableApiStop", "DisableApiStop"))


def attribute(ec2: Any, instance_id: str, name: str) -> Any:
    answer = call(ec2, "describe_instance_attribute", InstanceId=instance_id, Attribute=name)
    return answer.get(name[:1].upper() + name[1:], {}).get("Value")


def kept_on_termination(instance: dict[str, Any]) -> dict[str, bool]:
    """Device name -> DeleteOnTermination, for the instance's EBS volumes."""
    return {
        m["DeviceName"]: bool(m["Ebs"].get("DeleteOnTermination"))
        for m in instance.get("BlockDeviceMappings", [])
        if "Ebs" in m
    }


class ProtectInstance(Action):
    name = "protect-instance"
    parameters = frozenset({"InstanceId", "Region"})
    aws_actions = frozenset(
        {
            "ec2:DescribeInstanceAttribute",
            "ec2:DescribeInstances",
            "ec2:ModifyInstanceAttribute",
        }
    )
    target = "InstanceId"
    would = (
        "turn on termination and stop protection, make a shutdown from inside stop it, and keep every "
        "EBS volume on termination"
    )
    result_keys = ("InstanceId",)

    def run(self, args: Arguments, report: Report, context: TaskContext) -> None:
        instance_id, region = instance_target(args)
        ec2 = self.env.clients.client("ec2", region)
        instance = describe_instance(ec2, instance_id)
        require_alive(instance, self.name)
        for name, param in _FLAGS:
            current = bool(attribute(ec2, instance_id, name))
            if not current:
                report.apply(
                    instance_id,
                    param,
                    lambda p=param: call(
                        ec2, "modify_instance_attribute", InstanceId=instance_id, **{p: {"Value": True}}
                    ),
                    before=current,
                    after=True,
                )
        behaviour = attribute(ec2, instance_id, "instanceInitiatedShutdownBehavior")
        if behaviour != "stop":
            report.apply(
                instance_id,
                "InstanceInitiatedShutdownBehavior",
                # The Attribute/Value form: moto mistakes the {"Value": ...} form for a security group change.
                lambda: call(
                    ec2,
                    "modify_instance_attribute",
                    InstanceId=instance_id,
                    Attribute="instanceInitiatedShutdownBehavior",
                    Value="stop",
                ),
                before=behaviour,
                after="stop",
            )
        for device, deletes in kept_on_termination(instance).items():
            if deletes:
                report.apply(
                    f"{instance_id} {device}",
                    "DeleteOnTermination",
                    lambda d=device: call(
                        ec2,
                        "modify_instance_attribute",
                        InstanceId=instance_id,
                        BlockDeviceMappings=[{"DeviceName": d, "Ebs": {"DeleteOnTermination": False}}],
                    ),
                    before=True,
                    after=False,
                )
        report.extra.update(InstanceId=instance_id)
        report.verify(lambda: self._checks(ec2, instance_id))

    def _checks(self, ec2: Any, instance_id: str) -> list[Check]:
        checks = [
            Check.equal(instance_id, param, True, attribute(ec2, instance_id, name)) for name, param in _FLAGS
        ]
        behaviour = attribute(ec2, instance_id, "instanceInitiatedShutdownBehavior")
        checks.append(Check.equal(instance_id, "InstanceInitiatedShutdownBehavior", "stop", behaviour))
        for device, deletes in kept_on_termination(describe_instance(ec2, instance_id)).items():
            checks.append(Check.equal(f"{instance_id} {device}", "DeleteOnTermination", False, deletes))
        return checks
