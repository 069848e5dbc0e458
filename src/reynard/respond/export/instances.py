"""EC2 and Auto Scaling actions as AWS SDK calls: stop, terminate, protect, snapshot, detach."""

from __future__ import annotations

from .steps import SDK, Args, Rendered, Unexportable, chain, done, fail, first, is_string, poll, sdk

_INSTANCE = {"InstanceIds.$": "States.Array($.InstanceId)"}
_STATE = {"State.$": "$.Reservations[0].Instances[0].State.Name"}
_MAPPINGS = "$.Reservations[*].Instances[*].BlockDeviceMappings[*]"


def _lift(args: Args, flag: str, attribute: str) -> list[tuple[str, dict]]:
    if not args.static(flag, False):
        return []
    return [
        (
            f"Lift{attribute}",
            sdk(
                "ec2:modifyInstanceAttribute",
                {"InstanceId.$": "$.InstanceId", attribute: {"Value": False}},
                None,
            ),
        )
    ]


def stop_instance(args: Args) -> Rendered:
    steps = _lift(args, "OverrideStopProtection", "DisableApiStop")
    steps.append(
        ("Stop", sdk("ec2:stopInstances", {**_INSTANCE, "Force": bool(args.static("Force", False))}, None))
    )
    read = sdk("ec2:describeInstances", _INSTANCE, "$.read", _STATE)
    steps += poll(
        "Stopped",
        read,
        is_string("$.read.State", "stopped"),
        is_string("$.read.State", "pending", "running", "stopping"),
        "Verified",
        "the instance did not reach the stopped state",
    )
    steps.append(done("stop-instance", "InstanceId", State="$.read.State"))
    notes = [
        "stop protection that is set and not overridden fails as EC2 answers it (Ec2.Ec2Exception), "
        "not with Reynard.PreconditionFailed"
    ]
    return Rendered(chain(steps), steps[0][0], ["Action", "InstanceId", "Verified", "State"], notes)


def terminate_instance(args: Args) -> Rendered:
    steps: list[tuple[str, dict]] = []
    if args.static("RequireSnapshots", True):
        volumes = sdk(
            "ec2:describeVolumes",
            {"Filters": [{"Name": "attachment.instance-id", "Values.$": "States.Array($.InstanceId)"}]},
            "$.volumes",
            {"Ids.$": "$.Volumes[*].VolumeId"},
        )
        check = {
            "Type": "Map",
            "ItemsPath": "$.volumes.Ids",
            "ItemSelector": {"VolumeId.$": "$$.Map.Item.Value"},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "FindSnapshot",
                "States": chain(
                    [
                        (
                            "FindSnapshot",
                            sdk(
                                "ec2:describeSnapshots",
                                {
                                    "OwnerIds": ["self"],
                                    "Filters": [
                                        {"Name": "volume-id", "Values.$": "States.Array($.VolumeId)"},
                                        {
                                            "Name": "tag:reynard:source-volume-id",
                                            "Values.$": "States.Array($.VolumeId)",
                                        },
                                        {"Name": "status", "Values": ["completed"]},
                                    ],
                                },
                                "$.found",
                                {"Count.$": "States.ArrayLength($.Snapshots)"},
                            ),
                        ),
                        (
                            "HasSnapshot",
                            {
                                "Type": "Choice",
                                "Choices": [
                                    {
                                        "Variable": "$.found.Count",
                                        "NumericGreaterThan": 0,
                                        "Next": "Snapshotted",
                                    }
                                ],
                                "Default": "NoSnapshot",
                            },
                        ),
                        ("Snapshotted", {"Type": "Succeed"}),
                        (
                            "NoSnapshot",
                            fail("a volume has no completed Reynard snapshot", "Reynard.PreconditionFailed"),
                        ),
                    ]
                ),
            },
            "ResultPath": None,
        }
        steps += [("Volumes", volumes), ("RequireSnapshots", check)]
    steps += _lift(args, "OverrideTerminationProtection", "DisableApiTermination")
    steps.append(("Terminate", sdk("ec2:terminateInstances", _INSTANCE, None)))
    steps += poll(
        "Terminated",
        sdk("ec2:describeInstances", _INSTANCE, "$.read", _STATE),
        is_string("$.read.State", "terminated"),
        is_string("$.read.State", "pending", "running", "stopping", "stopped", "shutting-down"),
        "Verified",
        "the instance did not reach the terminated state",
    )
    steps.append(done("terminate-instance", "InstanceId", State="$.read.State"))
    notes = ["KeptVolumes is not in the result and not verified after termination"]
    return Rendered(chain(steps), steps[0][0], ["Action", "InstanceId", "Verified", "State"], notes)


def protect_instance(args: Args) -> Rendered:
    instance = {"InstanceId.$": "$.InstanceId"}
    steps: list[tuple[str, dict]] = [
        (
            "DisableApiTermination",
            sdk("ec2:modifyInstanceAttribute", {**instance, "DisableApiTermination": {"Value": True}}, None),
        ),
        (
            "DisableApiStop",
            sdk("ec2:modifyInstanceAttribute", {**instance, "DisableApiStop": {"Value": True}}, None),
        ),
        (
            "ShutdownBehaviour",
            sdk(
                "ec2:modifyInstanceAttribute",
                {**instance, "InstanceInitiatedShutdownBehavior": {"Value": "stop"}},
                None,
            ),
        ),
        (
            "Devices",
            sdk(
                "ec2:describeInstances",
                _INSTANCE,
                "$.devices",
                {"Names.$": _MAPPINGS + ".DeviceName"},
            ),
        ),
        (
            "KeepVolumes",
            {
                "Type": "Map",
                "ItemsPath": "$.devices.Names",
                "ItemSelector": {
                    "InstanceId.$": "$.InstanceId",
                    "Mapping": {"DeviceName.$": "$$.Map.Item.Value", "Ebs": {"DeleteOnTermination": False}},
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "KeepVolume",
                    "States": chain(
                        [
                            (
                                "KeepVolume",
                                sdk(
                                    "ec2:modifyInstanceAttribute",
                                    {**instance, "BlockDeviceMappings.$": "States.Array($.Mapping)"},
                                    None,
                                ),
                            )
                        ]
                    ),
                },
                "ResultPath": None,
            },
        ),
    ]
    reads = [
        ("ReadTermination", "disableApiTermination", "DisableApiTermination"),
        ("ReadStop", "disableApiStop", "DisableApiStop"),
        ("ReadShutdown", "instanceInitiatedShutdownBehavior", "InstanceInitiatedShutdownBehavior"),
    ]
    for name, attribute, key in reads:
        steps.append(
            (
                name,
                sdk(
                    "ec2:describeInstanceAttribute",
                    {**instance, "Attribute": attribute},
                    f"$.read.{key}",
                    {"Value.$": f"$.{key}.Value"},
                ),
            )
        )
    steps.append(
        ("ReadVolumes", sdk("ec2:describeInstances", _INSTANCE, "$.read.Volumes", {"Mappings.$": _MAPPINGS}))
    )
    steps.append(
        (
            "EachVolumeKept",
            {
                "Type": "Map",
                "ItemsPath": "$.read.Volumes.Mappings",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Kept",
                    "States": {
                        "Kept": {
                            "Type": "Choice",
                            "Choices": [
                                {
                                    "Variable": "$.Ebs.DeleteOnTermination",
                                    "BooleanEquals": False,
                                    "Next": "KeptOk",
                                }
                            ],
                            "Default": "DeletedOnTermination",
                        },
                        "KeptOk": {"Type": "Succeed"},
                        "DeletedOnTermination": fail("a volume is still deleted on termination"),
                    },
                },
                "ResultPath": None,
            },
        )
    )
    steps.append(
        (
            "Check",
            {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.read.DisableApiTermination.Value", "BooleanEquals": True},
                            {"Variable": "$.read.DisableApiStop.Value", "BooleanEquals": True},
                            {
                                "Variable": "$.read.InstanceInitiatedShutdownBehavior.Value",
                                "StringEquals": "stop",
                            },
                        ],
                        "Next": "Verified",
                    }
                ],
                "Default": "NotProtected",
            },
        )
    )
    steps.append(("NotProtected", fail("a protection did not read back as set")))
    steps.append(done("protect-instance", "InstanceId"))
    notes = [
        "every attribute is set on every run (AWS keeps a set value as it is); Changes is not in the result"
    ]
    return Rendered(chain(steps), steps[0][0], ["Action", "InstanceId", "Verified"], notes)


def snapshot_volumes(args: Args) -> Rendered:
    user_tags = args.static("Tags", {})
    if not isinstance(user_tags, dict) or any("'" in key for key in user_tags):
        raise Unexportable("Tags must be an object whose keys have no quote in them")
    user_keys = [key.removesuffix(".$") for key in user_tags]
    extra = {f"User{i}": {"Key": key, "Value.$": f"$.Tags['{key}']"} for i, key in enumerate(user_keys)}
    tag_names = ["Source", "Volume", "Execution", *extra]
    if not args.static("Wait", True):
        raise Unexportable("Wait false is not exported; the export always waits for completion")
    per_volume = chain(
        [
            (
                "Tags",
                {
                    "Type": "Pass",
                    "Parameters": {
                        "Source": {"Key": "reynard:source-instance-id", "Value.$": "$.InstanceId"},
                        "Volume": {"Key": "reynard:source-volume-id", "Value.$": "$.VolumeId"},
                        "Execution": {"Key": "reynard:execution", "Value.$": "$.Execution"},
                        **extra,
                    },
                    "ResultPath": "$.tags",
                },
            ),
            (
                "Spec",
                {
                    "Type": "Pass",
                    "Parameters": {
                        "ResourceType": "snapshot",
                        "Tags.$": f"States.Array({', '.join(f'$.tags.{name}' for name in tag_names)})",
                    },
                    "ResultPath": "$.spec",
                },
            ),
            (
                "Snapshot",
                sdk(
                    "ec2:createSnapshot",
                    {
                        "VolumeId.$": "$.VolumeId",
                        "Description": "Reynard evidence",
                        "TagSpecifications.$": "States.Array($.spec)",
                    },
                    "$.snapshot",
                    {"SnapshotId.$": "$.SnapshotId"},
                ),
            ),
            *poll(
                "Completed",
                sdk(
                    "ec2:describeSnapshots",
                    {"SnapshotIds.$": "States.Array($.snapshot.SnapshotId)"},
                    "$.read",
                    {"State.$": first("$.Snapshots[0].State")},
                ),
                is_string("$.read.State", "completed"),
                is_string("$.read.State", "pending"),
                "Taken",
                "a snapshot did not complete",
            ),
            (
                "Taken",
                {
                    "Type": "Pass",
                    "Parameters": {
                        "VolumeId.$": "$.VolumeId",
                        "SnapshotId.$": "$.snapshot.SnapshotId",
                        "State.$": "$.read.State",
                    },
                    "End": True,
                },
            ),
        ]
    )
    steps = [
        (
            "Volumes",
            sdk(
                "ec2:describeVolumes",
                {"Filters": [{"Name": "attachment.instance-id", "Values.$": "States.Array($.InstanceId)"}]},
                "$.volumes",
                {"Ids.$": "$.Volumes[*].VolumeId"},
            ),
        ),
        (
            "EachVolume",
            {
                "Type": "Map",
                "ItemsPath": "$.volumes.Ids",
                "ItemSelector": {
                    "InstanceId.$": "$.InstanceId",
                    "VolumeId.$": "$$.Map.Item.Value",
                    "Execution.$": "$$.Execution.Id",
                    **({"Tags.$": "$.Tags"} if user_keys else {}),
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Tags",
                    "States": per_volume,
                },
                "ResultPath": "$.snapshots",
            },
        ),
        done("snapshot-volumes", "InstanceId", Snapshots="$.snapshots"),
    ]
    notes = ["a retry takes a new set of snapshots (Reynard reuses those its state already took)"]
    return Rendered(chain(steps), "Volumes", ["Action", "InstanceId", "Verified", "Snapshots"], notes)


def detach_from_asg(args: Args) -> Rendered:
    members = sdk(
        "autoscaling:describeAutoScalingInstances",
        _INSTANCE,
        "$.member",
        {"Groups.$": "$.AutoScalingInstances[*].AutoScalingGroupName"},
    )
    count = {
        "Type": "Pass",
        "Parameters": {"n.$": "States.ArrayLength($.member.Groups)"},
        "ResultPath": "$.member.Count",
    }
    steps: list[tuple[str, dict]] = [
        ("Membership", members),
        ("CountGroups", {**count, "Next": "InGroup"}),
        (
            "InGroup",
            {
                "Type": "Choice",
                "Choices": [{"Variable": "$.member.Count.n", "NumericEquals": 0, "Next": "NotInGroup"}],
                "Default": "Capacity",
            },
        ),
        (
            "NotInGroup",
            {
                "Type": "Pass",
                "Parameters": {
                    "Action": "detach-from-asg",
                    "InstanceId.$": "$.InstanceId",
                    "Verified": True,
                    "AutoScalingGroupName": None,
                },
                "End": True,
            },
        ),
        (
            "Capacity",
            sdk(
                "autoscaling:describeAutoScalingGroups",
                {"AutoScalingGroupNames.$": "States.Array(States.ArrayGetItem($.member.Groups, 0))"},
                "$.before",
                {
                    "Desired.$": first("$.AutoScalingGroups[0].DesiredCapacity"),
                    "Name.$": first("$.AutoScalingGroups[0].AutoScalingGroupName"),
                },
            ),
        ),
        (
            "Detach",
            sdk(
                "autoscaling:detachInstances",
                {
                    **_INSTANCE,
                    "AutoScalingGroupName.$": "$.before.Name",
                    "ShouldDecrementDesiredCapacity": False,
                },
                None,
            ),
        ),
        *poll(
            "Left",
            {
                "Type": "Task",
                "Resource": SDK + "autoscaling:describeAutoScalingInstances",
                "Parameters": _INSTANCE,
                "ResultSelector": {"Left.$": "States.ArrayLength($.AutoScalingInstances)"},
                "ResultPath": "$.read",
            },
            {"Variable": "$.read.Left", "NumericEquals": 0},
            {"Variable": "$.read.Left", "NumericGreaterThan": 0},
            "CapacityAfter",
            "the instance is still in its Auto Scaling group",
        ),
        (
            "CapacityAfter",
            sdk(
                "autoscaling:describeAutoScalingGroups",
                {"AutoScalingGroupNames.$": "States.Array($.before.Name)"},
                "$.after",
                {"Desired.$": first("$.AutoScalingGroups[0].DesiredCapacity")},
            ),
        ),
        (
            "Kept",
            {
                "Type": "Choice",
                "Choices": [
                    {
                        "Variable": "$.after.Desired",
                        "NumericEqualsPath": "$.before.Desired",
                        "Next": "Verified",
                    }
                ],
                "Default": "CapacityChanged",
            },
        ),
        ("CapacityChanged", fail("the group's desired capacity changed")),
        done(
            "detach-from-asg",
            "InstanceId",
            AutoScalingGroupName="$.before.Name",
            DesiredCapacity="$.after.Desired",
        ),
    ]
    return Rendered(
        chain(steps), "Membership", ["Action", "InstanceId", "Verified", "AutoScalingGroupName"], []
    )
