"""reynard:snapshot-volumes: a snapshot of every EBS volume attached to the instance, waited for.

Each snapshot is tagged with its source (`reynard:source-instance-id`, `reynard:source-volume-id`,
`reynard:device`) and the execution and state that took it (`reynard:execution`, `reynard:state`): a retry
of the same state finds its own snapshots and reuses them instead of taking a second set, while a later
execution takes new ones (a new point in time). Verified by reading every snapshot back: `completed`
(or at least started, with `Wait: false`), of the right volume, with its tags; and by reading the attached
volumes again: each has its snapshot (an instance with no EBS volume says so, and took none).
"""

from __future__ import annotations

from typing import Any

from ..aws_sdk import AwsCallError, call, iso_timestamp, paginate
from ..errors import StatesError
from ..resources import TaskContext
from .base import Action, Arguments, Check, Report, effective_timeout, not_found, wait_until
from .ec2 import attached_volumes, describe_instance, instance_target

SOURCE_INSTANCE_TAG = "reynard:source-instance-id"
SOURCE_VOLUME_TAG = "reynard:source-volume-id"
EXECUTION_TAG = "reynard:execution"
STATE_TAG = "reynard:state"
_TAG_VALUE_MAX = 256


def _own(ec2: Any, volume_id: str, context: TaskContext) -> dict[str, Any] | None:
    """A snapshot this execution's state already took of the volume, not failed."""
    for snapshot in paginate(
        ec2,
        "describe_snapshots",
        "Snapshots",
        OwnerIds=["self"],
        Filters=[
            {"Name": "volume-id", "Values": [volume_id]},
            {"Name": f"tag:{EXECUTION_TAG}", "Values": [context.execution_id[:_TAG_VALUE_MAX]]},
            {"Name": f"tag:{STATE_TAG}", "Values": [context.state[:_TAG_VALUE_MAX]]},
        ],
    ):
        if snapshot.get("State") != "error":
            return snapshot
    return None


class SnapshotVolumes(Action):
    name = "snapshot-volumes"
    parameters = frozenset({"InstanceId", "Region", "Wait", "WaitSeconds", "Description", "Tags"})
    aws_actions = frozenset(
        {
            "ec2:CreateSnapshot",
            "ec2:DescribeInstances",
            "ec2:DescribeSnapshots",
            "ec2:DescribeVolumes",
        }
    )
    target = "InstanceId"
    would = "snapshot every attached EBS volume, tagged with its source, and wait for each to complete"
    result_keys = ("InstanceId", "Snapshots")

    def run(self, args: Arguments, report: Report, context: TaskContext) -> None:
        instance_id, region = instance_target(args)
        wait = args.flag("Wait", True)
        timeout = effective_timeout(args.number("WaitSeconds", 3600), context)
        description = (
            args.text("Description") or f"Reynard evidence of {instance_id} ({context.execution_id})"
        )
        extra_tags = {str(k): str(v) for k, v in args.mapping("Tags").items()}
        ec2 = self.env.clients.client("ec2", region)
        describe_instance(ec2, instance_id)
        taken: list[dict[str, Any]] = []
        for volume in attached_volumes(ec2, instance_id):
            volume_id, device = volume["VolumeId"], volume.get("Device")
            snapshot = _own(ec2, volume_id, context)
            reused = snapshot is not None
            if snapshot is None:
                tags = {
                    SOURCE_INSTANCE_TAG: instance_id,
                    SOURCE_VOLUME_TAG: volume_id,
                    "reynard:device": str(device),
                    EXECUTION_TAG: context.execution_id[:_TAG_VALUE_MAX],
                    STATE_TAG: context.state[:_TAG_VALUE_MAX],
                    **extra_tags,
                }
                snapshot = report.apply(
                    volume_id,
                    "create snapshot",
                    lambda v=volume_id, t=tags: call(
                        ec2,
                        "create_snapshot",
                        VolumeId=v,
                        Description=description[:255],
                        TagSpecifications=[
                            {
                                "ResourceType": "snapshot",
                                "Tags": [{"Key": k, "Value": x} for k, x in t.items()],
                            }
                        ],
                    ),
                    after="snapshot",
                )
            taken.append({"VolumeId": volume_id, "Device": device, "Reused": reused, **_brief(snapshot)})
        ids = [t["SnapshotId"] for t in taken if t["SnapshotId"]]
        if wait and ids and not report.dry_run:
            wait_until(
                self.env,
                f"snapshots {', '.join(ids)} of {instance_id}",
                lambda: self._completed(ec2, ids),
                timeout,
                interval=15,
            )
        fresh = {s["SnapshotId"]: s for s in self._read(ec2, ids)}
        for item in taken:
            item.update(_brief(fresh.get(item["SnapshotId"])) if item["SnapshotId"] in fresh else {})
        report.extra.update(InstanceId=instance_id, Snapshots=taken)
        report.verify(lambda: self._checks(ec2, instance_id, taken, wait))

    def _read(self, ec2: Any, ids: list[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        try:
            return call(ec2, "describe_snapshots", SnapshotIds=ids)["Snapshots"]
        except AwsCallError as exc:
            if exc.code == "InvalidSnapshot.NotFound":  # deleted under us: name the ones that are gone
                raise not_found(f"snapshot {', '.join(ids)}", ec2.meta.region_name) from None
            raise

    def _completed(self, ec2: Any, ids: list[str]) -> bool:
        snapshots = self._read(ec2, ids)
        failed = [s["SnapshotId"] for s in snapshots if s.get("State") == "error"]
        if failed:
            raise StatesError(
                "Reynard.SnapshotFailed", f"snapshot(s) {', '.join(failed)} ended in state error"
            )
        return len(snapshots) == len(ids) and all(s.get("State") == "completed" for s in snapshots)

    def _checks(self, ec2: Any, instance_id: str, taken: list[dict[str, Any]], wait: bool) -> list[Check]:
        fresh = {
            s["SnapshotId"]: s for s in self._read(ec2, [t["SnapshotId"] for t in taken if t["SnapshotId"]])
        }
        attached = sorted(v["VolumeId"] for v in attached_volumes(ec2, instance_id))
        covered = sorted(t["VolumeId"] for t in taken if t["SnapshotId"] and t["VolumeId"] in attached)
        checks = [Check.equal(instance_id, "attached EBS volumes with a snapshot", attached, covered)]
        for item in taken:
            snapshot = fresh.get(item["SnapshotId"] or "")
            resource = item["SnapshotId"] or f"(snapshot of {item['VolumeId']})"
            state = snapshot.get("State") if snapshot else None
            if wait:
                checks.append(Check.equal(resource, "state", "completed", state))
            else:
                checks.append(
                    Check(resource, "state", "pending or completed", state, state in ("pending", "completed"))
                )
            checks.append(
                Check.equal(
                    resource, "volume", item["VolumeId"], snapshot.get("VolumeId") if snapshot else None
                )
            )
            source = {t["Key"]: t["Value"] for t in (snapshot or {}).get("Tags", [])}.get(SOURCE_INSTANCE_TAG)
            checks.append(Check.equal(resource, f"tag {SOURCE_INSTANCE_TAG}", instance_id, source))
        return checks


def _brief(snapshot: dict[str, Any] | None) -> dict[str, Any]:
    if not snapshot:
        return {"SnapshotId": None, "State": None, "StartTime": None}
    start = snapshot.get("StartTime")
    return {
        "SnapshotId": snapshot["SnapshotId"],
        "State": snapshot.get("State"),
        "StartTime": iso_timestamp(start) if start is not None and not isinstance(start, str) else start,
    }
