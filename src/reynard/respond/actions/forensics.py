"""reynard:collect-forensics: volatile evidence over SSM Run Command, before isolation can cut SSM off.

One command per section, so each output stands alone: running processes, network connections, logged-in
users, and a memory capture when a command for it is configured (`[respond.forensics]
memory_capture_command`, `windows_memory_capture_command`; Reynard ships no capture tool, so none runs by
default, and the result says so). The commands are Reynard's own and the settings', never a playbook's:
SSM runs them as root, and whoever may write a playbook must not thereby run any command on every
instance it reaches, so a `MemoryCaptureCommand` argument is refused. Each command's `Comment` names the
execution and state, so a retry finds the commands it already sent and reuses their results instead of
capturing memory twice. Verified by reading every invocation back: `Success` with exit code 0. SSM returns
at most 24,000 characters of output inline; set `output_s3_bucket` for the full text (the result marks
`Truncated`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar

from ..aws_sdk import AwsCallError, call
from ..errors import StatesError
from ..resources import TaskContext
from .base import PRECONDITION_FAILED, Action, Arguments, Check, Report, effective_timeout, wait_until
from .ec2 import describe_instance, instance_target, require_alive, state_of

INLINE_OUTPUT_MAX = 24_000
_RUNNING = (None, "Pending", "InProgress", "Delayed", "Cancelling")

SECTIONS = {
    "linux": {
        "Processes": "ps -eo pid,ppid,user,lstart,etime,args --forest 2>/dev/null || ps auxww",
        "NetworkConnections": "ss -tunap 2>/dev/null || netstat -tunap",
        "LoggedInUsers": "who -a; echo; last -n 50 2>/dev/null || true",
    },
    "windows": {
        "Processes": "Get-CimInstance Win32_Process | Select-Object ProcessId,ParentProcessId,CreationDate,"
        "CommandLine | Format-List",
        "NetworkConnections": "Get-NetTCPConnection | Format-Table -AutoSize; "
        "Get-NetUDPEndpoint | Format-Table",
        "LoggedInUsers": "query user 2>&1; Get-CimInstance Win32_LoggedOnUser | Format-Table",
    },
}
DOCUMENTS = {"linux": "AWS-RunShellScript", "windows": "AWS-RunPowerShellScript"}


def comment(context: TaskContext, section: str) -> str:
    """`reynard <hash of execution and state> <section>`: unique per state, under SSM's 100 characters."""
    digest = hashlib.sha256(f"{context.execution_id}\0{context.state}".encode()).hexdigest()[:16]
    return f"reynard {digest} {section}"


class CollectForensics(Action):
    name = "collect-forensics"
    parameters = frozenset({"InstanceId", "Region", "Platform", "TimeoutSeconds"})
    refused_parameters: ClassVar[Mapping[str, str]] = {
        "MemoryCaptureCommand": "the commands run on an instance come only from the settings "
        "([respond.forensics] memory_capture_command, windows_memory_capture_command), never from a "
        "playbook"
    }
    aws_actions = frozenset(
        {
            "ec2:DescribeInstances",
            "ssm:GetCommandInvocation",
            "ssm:ListCommands",
            "ssm:SendCommand",
        }
    )
    target = "InstanceId"
    result_keys = ("InstanceId", "Platform", "Outputs")

    def intent(self, args: Arguments) -> list[tuple[str, str]]:
        memory = self.env.config.forensics.memory_capture_command
        sections = [*SECTIONS["linux"], *(["MemoryCapture"] if memory else [])]
        what = f"run the {', '.join(sections)} commands over SSM and keep their output"
        return [(args.text("InstanceId", required=True), what)]

    def run(self, args: Arguments, report: Report, context: TaskContext) -> None:
        instance_id, region = instance_target(args)
        platform = args.text("Platform", "linux")
        if platform not in SECTIONS:
            args.fail(f"argument 'Platform' must be one of {', '.join(SECTIONS)}, not {platform!r}")
        settings = self.env.config.forensics
        memory = (
            settings.windows_memory_capture_command
            if platform == "windows"
            else settings.memory_capture_command
        )
        timeout = effective_timeout(args.number("TimeoutSeconds", settings.timeout_seconds), context)
        sections = dict(SECTIONS[platform])
        if memory:
            sections["MemoryCapture"] = memory
        instance = describe_instance(self.env.clients.client("ec2", region), instance_id)
        require_alive(instance, self.name)
        if state_of(instance) != "running":  # Run Command reaches only a running instance's agent
            raise StatesError(
                PRECONDITION_FAILED, f"{self.name}: {instance_id} is {state_of(instance)}, not running"
            )
        ssm = self.env.clients.client("ssm", region)
        commands = {}
        for section, command in sections.items():
            note = comment(context, section)
            previous = self._previous(ssm, instance_id, note)
            if previous:
                commands[section] = previous
                continue
            commands[section] = report.apply(
                instance_id,
                f"run {section} command",
                lambda c=command, n=note: self._send(ssm, instance_id, DOCUMENTS[platform], c, n),
                after=command,
            )
        if not report.dry_run:
            for section, command_id in commands.items():
                wait_until(
                    self.env,
                    f"SSM command {command_id} ({section}) on {instance_id}",
                    lambda c=command_id: self._status(ssm, c, instance_id) not in _RUNNING,
                    timeout,
                    interval=5,
                )
        outputs = {s: self._output(ssm, c, instance_id) for s, c in commands.items() if c}
        if not memory:
            outputs["MemoryCapture"] = {"Skipped": "no memory capture command configured"}
        report.extra.update(InstanceId=instance_id, Platform=platform, Outputs=outputs)
        report.verify(lambda: self._checks(ssm, instance_id, commands))

    def _previous(self, ssm: Any, instance_id: str, note: str) -> str | None:
        listed = call(ssm, "list_commands", InstanceId=instance_id).get("Commands", [])
        for command in listed:
            if command.get("Comment") == note and command.get("Status") not in (
                "Failed",
                "Cancelled",
                "TimedOut",
            ):
                return command["CommandId"]
        return None

    def _send(self, ssm: Any, instance_id: str, document: str, command: str, note: str) -> str:
        parameters: dict[str, Any] = {
            "InstanceIds": [instance_id],
            "DocumentName": document,
            "Parameters": {"commands": [command]},
            "Comment": note,
        }
        bucket = self.env.config.forensics.output_s3_bucket
        if bucket:
            parameters.update(
                OutputS3BucketName=bucket,
                OutputS3KeyPrefix=f"{self.env.config.forensics.output_s3_prefix}{instance_id}",
            )
        return str(call(ssm, "send_command", **parameters)["Command"]["CommandId"])

    def _invocation(self, ssm: Any, command_id: str, instance_id: str) -> dict[str, Any] | None:
        try:
            return call(ssm, "get_command_invocation", CommandId=command_id, InstanceId=instance_id)
        except AwsCallError as exc:
            if exc.code == "InvocationDoesNotExist":  # just sent: SSM has not recorded it yet
                return None
            raise

    def _status(self, ssm: Any, command_id: str, instance_id: str) -> str | None:
        invocation = self._invocation(ssm, command_id, instance_id)
        return invocation.get("Status") if invocation else None

    def _output(self, ssm: Any, command_id: str, instance_id: str) -> dict[str, Any]:
        invocation = self._invocation(ssm, command_id, instance_id)
        if invocation is None:
            raise StatesError(
                "Reynard.ForensicsFailed", f"SSM has no invocation of {command_id} on {instance_id}"
            )
        stdout = invocation.get("StandardOutputContent", "")
        return {
            "CommandId": command_id,
            "Status": invocation.get("Status"),
            "ResponseCode": invocation.get("ResponseCode"),
            "Output": stdout,
            "Error": invocation.get("StandardErrorContent", ""),
            "OutputUrl": invocation.get("StandardOutputUrl") or None,
            "Truncated": len(stdout) >= INLINE_OUTPUT_MAX,
        }

    def _checks(self, ssm: Any, instance_id: str, commands: dict[str, str | None]) -> list[Check]:
        checks = []
        for section, command_id in commands.items():
            invocation = self._invocation(ssm, command_id, instance_id) if command_id else None
            resource = command_id or f"({section} command)"
            checks.append(
                Check.equal(resource, f"{section} status", "Success", invocation and invocation.get("Status"))
            )
            checks.append(
                Check.equal(
                    resource, f"{section} exit code", 0, invocation and invocation.get("ResponseCode")
                )
            )
        return checks
