"""reynard:stop-instance and reynard:terminate-instance: the end of a response, after approval.

Both refuse an instance protected against it unless told to lift the protection
(`OverrideStopProtection`, `OverrideTerminationProtection`): protect-instance set it on purpose, and only
an approved decision should undo it. Terminate also refuses, by default, an instance whose attached
volumes have no completed Reynard snapshot (`RequireSnapshots`), since termination destroys the evidence.
Both wait for the final state and verify it by reading the instance back; terminate also verifies that
the volumes kept on termination still exist.
"""

from __future__ import annotations

from typing import Any

from ..aws_sdk import call, paginate
from ..errors import StatesError
from ..resources import TaskContext
from .base import PRECONDITION_FAILED, Action, Arguments, Check, Report, effective_timeout, wait_until
from .ec2 import attached_volumes, describe_instance, instance_target, state_of
from .protect import attribute, kept_on_termination
from .snapshot import SOURCE_VOLUME_TAG


class StopInstance(Action):
    name = "stop-instance"
    parameters = frozenset({"InstanceId", "Region", "OverrideStopProtection", "Force", "WaitSeconds"})
    aws_actions = frozenset(
        {
            "ec2:DescribeInstanceAttribute",
            "ec2:DescribeInstances",
            "ec2:ModifyInstanceAttribute",
            "ec2:StopInstances",
        }
    )
    target = "InstanceId"
    result_keys = ("InstanceId", "PreviousState")

    def intent(self, args: Arguments) -> list[tuple[str, str]]:
        if args.flag("OverrideStopProtection", False):
            what = "lift its stop protection, then stop it and wait until it is stopped"
        else:
            what = "stop it and wait until it is stopped (refused if it is stop-protected)"
        return [(args.text("InstanceId", required=True), what)]

    def run(self, args: Arguments, report: Report, context: TaskContext) -> None:
        instance_id, region = instance_target(args)
        override, force = args.flag("OverrideStopProtection", False), args.flag("Force", False)
        timeout = effective_timeout(args.number("WaitSeconds", 600), context)
        ec2 = self.env.clients.client("ec2", region)
        state = state_of(describe_instance(ec2, instance_id))
        if state in ("shutting-down", "terminated"):
            raise StatesError(PRECONDITION_FAILED, f"{self.name}: instance {instance_id} is {state}")
        if state not in ("stopped", "stopping"):
            _lift(
                ec2,
                instance_id,
                "disableApiStop",
                "DisableApiStop",
                override,
                "OverrideStopProtection",
                report,
            )
            report.apply(
                instance_id,
                "state",
                lambda: call(ec2, "stop_instances", InstanceIds=[instance_id], Force=force),
                before=state,
                after="stopped",
            )
        if not report.dry_run and state != "stopped":
            _wait_for(self.env, ec2, instance_id, "stopped", timeout)
        report.extra.update(InstanceId=instance_id, PreviousState=state)
        report.verify(
            lambda: [
                Check.equal(instance_id, "state", "stopped", state_of(describe_instance(ec2, instance_id)))
            ]
        )


class TerminateInstance(Action):
    name = "terminate-instance"
    parameters = frozenset(
        {"InstanceId", "Region", "OverrideTerminationProtection", "RequireSnapshots", "WaitSeconds"}
    )
    aws_actions = frozenset(
        {
            "ec2:DescribeInstanceAttribute",
            "ec2:DescribeInstances",
            "ec2:DescribeSnapshots",
            "ec2:DescribeVolumes",
            "ec2:ModifyInstanceAttribute",
            "ec2:TerminateInstances",
        }
    )
    target = "InstanceId"
    result_keys = ("InstanceId", "PreviousState", "KeptVolumes")

    def intent(self, args: Arguments) -> list[tuple[str, str]]:
        steps = []
        if args.flag("RequireSnapshots", True):
            steps.append("refuse unless every volume has a completed Reynard snapshot")
        if args.flag("OverrideTerminationProtection", False):
            steps.append("lift its termination protection")
        steps.append("terminate it and wait until it is terminated (volumes kept on termination stay)")
        return [(args.text("InstanceId", required=True), ", then ".join(steps))]

    def run(self, args: Arguments, report: Report, context: TaskContext) -> None:
        instance_id, region = instance_target(args)
        override = args.flag("OverrideTerminationProtection", False)
        timeout = effective_timeout(args.number("WaitSeconds", 600), context)
        ec2 = self.env.clients.client("ec2", region)
        instance = describe_instance(ec2, instance_id)
        state = state_of(instance)
        kept = []
        if state != "terminated":
            volumes = {v["Device"]: v["VolumeId"] for v in attached_volumes(ec2, instance_id)}
            kept = sorted(
                volumes[d]
                for d, deletes in kept_on_termination(instance).items()
                if not deletes and d in volumes
            )
            if args.flag("RequireSnapshots", True):
                missing = [v for v in volumes.values() if not _has_snapshot(ec2, v)]
                if missing:
                    raise StatesError(
                        PRECONDITION_FAILED,
                        f"{self.name}: no completed Reynard snapshot of {', '.join(missing)} "
                        f"(run snapshot-volumes first, or pass RequireSnapshots false)",
                    )
        if state not in ("terminated", "shutting-down"):
            _lift(
                ec2,
                instance_id,
                "disableApiTermination",
                "DisableApiTermination",
                override,
                "OverrideTerminationProtection",
                report,
            )
            report.apply(
                instance_id,
                "state",
                lambda: call(ec2, "terminate_instances", InstanceIds=[instance_id]),
                before=state,
                after="terminated",
            )
        if not report.dry_run and state != "terminated":
            _wait_for(self.env, ec2, instance_id, "terminated", timeout)
        report.extra.update(InstanceId=instance_id, PreviousState=state, KeptVolumes=kept)
        report.verify(lambda: self._checks(ec2, instance_id, kept))

    def _checks(self, ec2: Any, instance_id: str, kept: list[str]) -> list[Check]:
        checks = [
            Check.equal(instance_id, "state", "terminated", state_of(describe_instance(ec2, instance_id)))
        ]
        if kept:
            found = {
                v["VolumeId"]
                for v in call(ec2, "describe_volumes", Filters=[{"Name": "volume-id", "Values": kept}])[
                    "Volumes"
                ]
            }
            checks += [
                Check.equal(volume, "kept after termination", True, volume in found) for volume in kept
            ]
        return checks


def _lift(
    ec2: Any, instance_id: str, name: str, param: str, override: bool, flag: str, report: Report
) -> None:
    if not attribute(ec2, instance_id, name):
        return
    if not override:
        raise StatesError(
            PRECONDITION_FAILED,
            f"{report.action}: {instance_id} has {param} set; pass {flag} true to lift it",
        )
    report.apply(
        instance_id,
        param,
        lambda: call(ec2, "modify_instance_attribute", InstanceId=instance_id, **{param: {"Value": False}}),
        before=True,
        after=False,
    )


def _wait_for(env: Any, ec2: Any, instance_id: str, wanted: str, timeout: float) -> None:
    wait_until(
        env,
        f"{instance_id} reaching {wanted}",
        lambda: state_of(describe_instance(ec2, instance_id)) == wanted,
        timeout,
        interval=5,
    )


def _has_snapshot(ec2: Any, volume_id: str) -> bool:
    snapshots = paginate(
        ec2,
        "describe_snapshots",
        "Snapshots",
        OwnerIds=["self"],
        Filters=[
            {"Name": "volume-id", "Values": [volume_id]},
            {"Name": f"tag:{SOURCE_VOLUME_TAG}", "Values": [volume_id]},
            {"Name": "status", "Values": ["completed"]},
        ],
    )
    return any(True for _ in snapshots)
