"""reynard:notify and reynard:request-approval: tell people, through the alert notifiers (webhook, Slack,
SNS, email: `reynard.detect.notifiers`), with their retries.

A message cannot be read back from Slack or a mailbox, so the verification is each destination's own
acknowledgement (an HTTP 2xx, an SNS MessageId, an SMTP 250): `Require: "any"` (the default) needs one
destination to accept, `"all"` every one. `Destinations` names them (default: all configured); `TopicArn`
adds an SNS topic, given in the playbook itself. Delivery is at least once: every message carries the id
`<execution>:<state>`, the same on a retry, so a receiver can drop a repeat.

A dry run sends nothing. Without any destination configured, a dry run says so and goes on (`Verified`
null, `Unverified` naming the missing setting), so the rest of a playbook can still be shown; a real run
fails there with `Reynard.NotConfigured`.

request-approval is notify for a `.waitForTaskToken` task: the message carries the task token and the
commands that answer it (`reynard playbook approve TOKEN --output '{"Decision": "stop"}'`, `reynard
playbook reject TOKEN`), and the playbook waits for that answer. The token is a capability: it goes only to
the destinations, never into the result or a log.
"""

from __future__ import annotations

import json
from typing import Any

from reynard.detect.notifiers import Notifier, SnsNotifier, deliver
from reynard.events.timestamps import zulu

from ..errors import StatesError
from ..resources import TaskContext
from .base import INVALID_ARGUMENTS, NOT_CONFIGURED, NOTIFY_FAILED, Action, Arguments, Check, Report

SEVERITIES = ("DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY")
_COMMON = frozenset({"Summary", "Severity", "Details", "Destinations", "Require", "Url", "TopicArn"})


class Notify(Action):
    name = "notify"
    parameters = _COMMON
    # An SNS destination publishes with the notifier's own client (reynard.detect.notifiers), not through
    # Reynard's AWS clients: declared, so a playbook's list is complete, but not checked call by call.
    aws_actions = frozenset({"sns:Publish"})

    def run(self, args: Arguments, report: Report, context: TaskContext) -> None:
        self.send(args, report, context, self.alert(args, context))

    def alert(self, args: Arguments, context: TaskContext) -> dict[str, Any]:
        severity = args.text("Severity", "WARNING").upper()
        if severity not in SEVERITIES:
            args.fail(f"argument 'Severity' must be one of {', '.join(SEVERITIES)}, not {severity!r}")
        alert = {
            "id": f"{context.execution_id}:{context.state}",
            "summary": args.text("Summary", required=True),
            "severity": severity,
            "category": "response",
            "utctimestamp": zulu(self.env.now()),
            "tags": ["reynard", "playbook"],
            "execution": context.execution_id,
            "state": context.state,
            "details": args.any("Details") or {},
        }
        if args.text("Url"):
            alert["url"] = args.text("Url")
        return alert

    def destinations(self, args: Arguments) -> dict[str, Notifier]:
        """The named destinations (all configured ones by default), plus the SNS topic `TopicArn` if given:
        the one destination that survives an export to Step Functions (export.py)."""
        configured = self.env.config.notifiers
        names, topic = args.texts("Destinations"), args.text("TopicArn")
        unknown = [name for name in names if name not in configured]
        if unknown:
            known = ", ".join(configured) or "none configured"
            raise StatesError(
                INVALID_ARGUMENTS, f"{self.name}: unknown destination(s) {', '.join(unknown)}; known: {known}"
            )
        chosen = {name: configured[name] for name in names} if names else dict(configured)
        if topic:
            aws = self.env.clients.config
            chosen[topic] = SnsNotifier(topic, aws.region or _region_of(topic), endpoint_url=aws.endpoint_url)
        if not chosen:
            raise StatesError(
                NOT_CONFIGURED,
                f"{self.name}: no notifiers configured ([respond.notifiers.NAME] or [[notifiers]])",
            )
        return chosen

    def send(self, args: Arguments, report: Report, context: TaskContext, alert: dict[str, Any]) -> None:
        require = args.text("Require", "any")
        if require not in ("any", "all"):
            args.fail(f"argument 'Require' must be 'any' or 'all', not {require!r}")
        try:
            destinations = self.destinations(args)
        except StatesError as exc:
            if not (report.dry_run and exc.error == NOT_CONFIGURED):
                raise
            report.record("(no destination)", "send message")
            report.verified = None
            report.unverified = f"{exc.cause}: a real run fails here with {NOT_CONFIGURED}"
            report.extra.update(MessageId=alert["id"], Deliveries=[])
            return
        deliveries = []
        for name, notifier in destinations.items():
            record = report.apply(
                name,
                "send message",
                lambda n=notifier: deliver(n, alert, retries=2, sleep=self.env.sleep),
                after=notifier.name,
            )
            deliveries.append(
                {
                    "Destination": name,
                    "Notifier": notifier.name,
                    "Delivered": record.ok if record else None,
                    "Attempts": record.attempts if record else 0,
                    "Error": record.error if record else None,
                }
            )
        report.extra.update(MessageId=alert["id"], Deliveries=deliveries)
        accepted = [d["Destination"] for d in deliveries if d["Delivered"]]
        enough = bool(accepted) and (require == "any" or len(accepted) == len(deliveries))
        wanted = "at least one" if require == "any" else "all"
        try:
            report.verify(
                lambda: [Check("message", "destinations that accepted it", wanted, accepted, enough)]
            )
        except StatesError as exc:
            errors = "; ".join(f"{d['Destination']}: {d['Error']}" for d in deliveries if not d["Delivered"])
            raise StatesError(NOTIFY_FAILED, f"{exc.cause}: {errors}") from None


class RequestApproval(Notify):
    name = "request-approval"
    parameters = _COMMON | {"Options"}

    def run(self, args: Arguments, report: Report, context: TaskContext) -> None:
        token = context.task_token
        if not token:
            args.fail("call it with .waitForTaskToken: the answer comes back by the task token")
        options = args.texts("Options", ["stop", "terminate"])
        alert = self.alert(args, context)
        example = json.dumps({"Decision": options[0]})
        alert["summary"] = (
            f"{alert['summary']} | Decision needed ({' / '.join(options)}): "
            f"reynard playbook approve {token} --output '{example}' | or: reynard playbook reject {token}"
        )
        alert["approval"] = {
            "task_token": token,
            "options": options,
            "output": {"Decision": "|".join(options)},
        }
        self.send(args, report, context, alert)
        report.extra.update(ApprovalRequested=not report.dry_run, Options=options)


def _region_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else "us-east-1"
