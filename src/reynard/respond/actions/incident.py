"""reynard:open-incident and reynard:add-timeline-entry: the response on the incident's record.

Written against `IncidentSink` (`reynard.cases.sink`, the interface the incident workflow offers
playbooks); the runtime hands the actions the one on Reynard's incidents. Both are idempotent on a key:
an incident on its dedup key (a GuardDuty finding id opens one incident however often the finding
repeats), a timeline entry on `<execution>:<state>` (a retry adds nothing). Both are verified by
reading the incident back.

An entry about a step says only what the step's result holds: given `Result` (an action's result, or the
error a `Catch` put in the data), its text is `Text: ` followed by the result's `statement` (the changes
applied and the values read back, or the error), never what the playbook meant to do. The result itself
goes in the entry's details.

open-incident with `Details.FindingId` (a GuardDuty finding) opens the finding's incident: the one its
alert was escalated to, if any (see `reynard.cases.playbook_sink`).
"""

from __future__ import annotations

from reynard.cases.sink import IncidentSink
from reynard.events.timestamps import zulu

from ..errors import StatesError
from ..resources import TaskContext
from .base import NOT_CONFIGURED, Action, Arguments, Check, Report
from .notify import SEVERITIES
from .statement import statement

# The incident id a dry run's open-incident answers (it opens none), for its later timeline steps.
DRY_RUN_PREFIX = "dry-run:"


class _IncidentAction(Action):
    aws_actions = frozenset()  # incidents are in Reynard's database: no AWS call

    def sink(self) -> IncidentSink:
        if self.env.incidents is None:
            raise StatesError(NOT_CONFIGURED, f"{self.name}: no incident store is wired into the actions")
        return self.env.incidents


class OpenIncident(_IncidentAction):
    name = "open-incident"
    parameters = frozenset({"Key", "Title", "Severity", "Summary", "Details", "Category"})

    def run(self, args: Arguments, report: Report, context: TaskContext) -> None:
        key, title = args.text("Key", required=True), args.text("Title", required=True)
        severity = args.text("Severity", "WARNING").upper()
        if severity not in SEVERITIES:
            args.fail(f"argument 'Severity' must be one of {', '.join(SEVERITIES)}, not {severity!r}")
        summary, details, category = args.text("Summary", ""), args.mapping("Details"), args.text("Category")
        if context.dry_run:  # no incident is opened: later steps of the dry run write to a stand-in id
            report.changes.append(
                {
                    "Resource": key,
                    "Change": "open or update incident",
                    "From": None,
                    "To": title,
                    "Applied": False,
                }
            )
            report.verified, report.unverified = None, "a dry run opens no incident"
            report.extra.update(IncidentId=DRY_RUN_PREFIX + key, Created=False, Joined=False, Key=key)
            return
        sink = self.sink()
        opened = report.apply(
            key,
            "open or update incident",
            lambda: sink.open(key, title, severity, summary, details, category=category),
            after=title,
        )
        incident_id = opened.incident_id if opened else None
        joined = bool(opened and opened.joined)
        if opened is not None and not opened.created:
            report.changes[-1]["Change"] = "join incident" if joined else "update incident"
        report.extra.update(
            IncidentId=incident_id, Created=bool(opened and opened.created), Joined=joined, Key=key
        )
        report.verify(lambda: self._checks(sink, incident_id, key, None if joined else title))

    def _checks(
        self, sink: IncidentSink, incident_id: str | None, key: str, title: str | None
    ) -> list[Check]:
        """The incident read back is the key's, and has the title (unless it is someone else's)."""
        record = sink.read(incident_id) if incident_id else None
        resource = incident_id or f"(incident {key})"
        found = (key if record.has_key(key) else record.key) if record else None
        checks = [Check.equal(resource, "key", key, found)]
        if title is not None:
            checks.append(Check.equal(resource, "title", title, record.title if record else None))
        return checks


class AddTimelineEntry(_IncidentAction):
    name = "add-timeline-entry"
    parameters = frozenset({"IncidentId", "Text", "Result", "Details", "Key"})

    def run(self, args: Arguments, report: Report, context: TaskContext) -> None:
        incident_id = args.text("IncidentId", required=True)
        result = args.any("Result")
        said = statement(result)
        text = args.text("Text", required=said is None)
        text = f"{text}: {said}" if text and said else text or said
        key = args.text("Key") or f"{context.execution_id}:{context.state}"
        details = {"at": zulu(self.env.now()), "state": context.state, **args.mapping("Details")}
        if "Result" in args.values:
            details["Result"] = result
        if context.dry_run and incident_id.startswith(DRY_RUN_PREFIX):  # the dry run's stand-in incident
            report.changes.append(
                {
                    "Resource": incident_id,
                    "Change": "add timeline entry",
                    "From": None,
                    "To": text,
                    "Applied": False,
                }
            )
            report.verified, report.unverified = None, "a dry run writes no timeline entry"
            report.extra.update(IncidentId=incident_id, Key=key)
            return
        sink = self.sink()
        record = sink.read(incident_id)
        if record is None:
            raise StatesError("Reynard.PreconditionFailed", f"{self.name}: no incident {incident_id}")
        if not any(entry.key == key for entry in record.entries):
            report.apply(
                incident_id,
                "add timeline entry",
                lambda: sink.add_entry(incident_id, key, text, details),
                after=text,
            )
        report.extra.update(IncidentId=incident_id, Key=key)
        report.verify(lambda: self._checks(sink, incident_id, key))

    def _checks(self, sink: IncidentSink, incident_id: str, key: str) -> list[Check]:
        record = sink.read(incident_id)
        present = bool(record and any(entry.key == key for entry in record.entries))
        return [Check.equal(incident_id, f"timeline entry {key}", True, present)]
