"""Reads of EC2 that several actions share: the instance, its network interfaces, volumes and tags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..aws_sdk import AwsCallError, call, paginate
from ..errors import StatesError
from .base import PRECONDITION_FAILED, Arguments, not_found

TAG_PREFIX = "reynard:"
GONE = ("shutting-down", "terminated")
# EC2's answers for an instance id it does not know (a malformed one names no instance either).
_NO_INSTANCE = ("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed")


def instance_target(args: Arguments) -> tuple[str, str | None]:
    """The `InstanceId` and optional `Region` arguments every instance action takes."""
    return args.text("InstanceId", required=True), args.text("Region")


def describe_instance(ec2: Any, instance_id: str) -> dict[str, Any]:
    """The instance; a missing one is `Reynard.ResourceNotFound` naming it and the region."""
    try:
        response = call(ec2, "describe_instances", InstanceIds=[instance_id])
    except AwsCallError as exc:
        if exc.code in _NO_INSTANCE:
            raise not_found(f"instance {instance_id}", ec2.meta.region_name) from None
        raise
    for reservation in response.get("Reservations", []):
        for instance in reservation.get("Instances", []):
            if instance.get("InstanceId") == instance_id:
                return instance
    raise not_found(f"instance {instance_id}", ec2.meta.region_name)


def state_of(instance: Mapping[str, Any]) -> str:
    return str(instance.get("State", {}).get("Name", "unknown"))


def require_alive(instance: Mapping[str, Any], action: str) -> None:
    if state_of(instance) in GONE:
        raise StatesError(
            PRECONDITION_FAILED, f"{action}: instance {instance['InstanceId']} is {state_of(instance)}"
        )


def tags_of(resource: Mapping[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in resource.get("Tags") or []}


def network_interfaces(ec2: Any, instance_id: str) -> list[dict[str, Any]]:
    """The instance's ENIs, primary first, read from the ENIs themselves (the truth for their groups)."""
    enis = list(
        paginate(
            ec2,
            "describe_network_interfaces",
            "NetworkInterfaces",
            Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}],
        )
    )
    return sorted(
        enis, key=lambda eni: (eni.get("Attachment", {}).get("DeviceIndex", 99), eni["NetworkInterfaceId"])
    )


def attached_volumes(ec2: Any, instance_id: str) -> list[dict[str, Any]]:
    """`{"VolumeId", "Device", ...}` for each EBS volume attached to the instance, by device name."""
    volumes = []
    for volume in paginate(
        ec2,
        "describe_volumes",
        "Volumes",
        Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}],
    ):
        attachment = next(
            (a for a in volume.get("Attachments", []) if a.get("InstanceId") == instance_id), {}
        )
        volumes.append({**volume, "Device": attachment.get("Device")})
    return sorted(volumes, key=lambda v: (str(v.get("Device")), v["VolumeId"]))


def group_ids(eni: Mapping[str, Any]) -> list[str]:
    return [group["GroupId"] for group in eni.get("Groups", [])]


def tag(ec2: Any, resource_id: str, tags: Mapping[str, str]) -> None:
    call(ec2, "create_tags", Resources=[resource_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
