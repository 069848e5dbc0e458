"""Where the playbook and the analyst meet (issue 13): a GuardDuty finding has one incident, whichever
comes first, the playbook responding to it (`reynard:open-incident`) or a person escalating its alert;
it has the finding's category and runbook, and the finding's alerts are linked to it and `escalated`.

Real stores on a SQLite state database; each alert is the one the built-in `guardduty_finding` rule
raises over the shipped example finding, parsed as `reynard ingest` parses it; the playbook's incident
steps are Reynard's own actions, through the dispatch the interpreter uses. The last test is the whole
path in one process: the finding written to the event store, the alert, the trigger, the playbook
against moto in server mode, one incident.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from loopback import recording
from respond_support import World, context
from reynard.cases.escalation import Escalator
from reynard.cases.playbook_sink import PlaybookIncidents
from reynard.cases.runbooks import load_runbooks
from reynard.cases.store import IncidentStore
from reynard.detect.alerts import AlertStore, finding_ids
from reynard.detect.replay import load_events, run_rule_test
from reynard.respond.actions import register_all
from reynard.respond.actions.statement import statement
from reynard.respond.dispatch import Dispatch
from reynard.respond.playbooks import example_input
from reynard.settings import Settings, parse_settings
from reynard.state import open_state

PLAYBOOK = "reynard (playbook)"
FINDING = example_input("guardduty_crypto_mining")["detail"]
RUNBOOK = "guardduty_crypto_mining"


def finding_file(tmp_path: Path, instance_id: str | None = None, updated: str | None = None) -> Path:
    """The shipped example finding event (its instance and `updatedAt` changed when given), as a file."""
    event = example_input("guardduty_crypto_mining")
    if instance_id:
        event["detail"]["resource"]["instanceDetails"]["instanceId"] = instance_id
    if updated:
        event["detail"]["updatedAt"] = updated
    path = tmp_path / f"finding-{updated or 'first'}.json"
    path.write_text(json.dumps(event))
    return path


@dataclass
class Cases:
    incidents: IncidentStore
    alerts: AlertStore
    escalator: Escalator
    dispatch: Dispatch
    tmp_path: Path

    def raise_alert(self, updated: str | None = None) -> int:
        """The finding (an update of it, with `updated`) ingested and alerted by the built-in rule."""
        (event,), rejected = load_events(
            Settings(), [str(finding_file(self.tmp_path, updated=updated))], datetime.now(UTC)
        )
        assert not rejected
        moment = datetime.fromisoformat(event["utctimestamp"].replace("Z", "+00:00")) + timedelta(minutes=1)
        ((rule, alert),) = list(run_rule_test("guardduty_finding", [event], moment))
        assert finding_ids(alert) == [FINDING["id"]]
        return self.alerts.add(alert, rule)

    def open_incident(self) -> dict[str, Any]:
        """The shipped playbook's OpenIncident step, with the arguments it passes."""
        arguments = {
            "Key": FINDING["id"],
            "Title": FINDING["title"],
            "Severity": "CRITICAL",
            "Category": "guardduty",
            "Summary": "GuardDuty finding on an instance",
            "Details": {"FindingId": FINDING["id"], "FindingType": FINDING["type"]},
        }
        return self.dispatch.invoke("reynard:open-incident", arguments, context("OpenIncident"))


@pytest.fixture
def cases(tmp_path) -> Cases:
    engine = open_state(f"sqlite:///{tmp_path / 'state.db'}")
    incidents, alerts = IncidentStore(engine), AlertStore(engine)
    runbooks = load_runbooks(None)

    def suggest(alert: dict) -> str | None:
        found = runbooks.suggest(alert)
        return found.name if found else None

    escalator = Escalator(incidents, alerts, None, suggest)
    dispatch = Dispatch()
    register_all(dispatch, Settings(), incidents=PlaybookIncidents(incidents, escalator))
    return Cases(incidents, alerts, escalator, dispatch, tmp_path)


def test_the_playbook_first_opens_the_findings_incident_with_its_alert_and_its_runbook(cases) -> None:
    alert_id = cases.raise_alert()
    opened = cases.open_incident()
    assert opened["Created"] and opened["Verified"] and not opened["Joined"]
    incident = cases.incidents.get(int(opened["IncidentId"]))
    assert (incident.category, incident.runbook, list(incident.alert_ids)) == (
        "guardduty",
        RUNBOOK,
        [alert_id],
    )
    alert = cases.alerts.get(alert_id)
    assert (alert["status"], alert["status_by"]) == ("escalated", PLAYBOOK)
    # The person escalating the alert afterwards lands on the same incident.
    escalated = cases.escalator.escalate(alert_id, "alice")
    assert escalated.incident.id == incident.id and not escalated.created
    # An update of the finding raises a new alert: escalated, it joins the finding's incident too.
    update = cases.raise_alert(updated="2026-11-28T11:30:00.000Z")
    joined = cases.escalator.escalate(update, "alice")
    assert joined.incident.id == incident.id and not joined.created
    # The playbook on the repeated finding: the same incident, nothing opened twice.
    again = cases.open_incident()
    assert again["IncidentId"] == opened["IncidentId"] and not again["Created"]
    (only,) = cases.incidents.list()
    assert sorted(only.alert_ids) == [alert_id, update]


def test_an_escalated_alert_is_the_incident_the_playbook_joins(cases) -> None:
    alert_id = cases.raise_alert()
    escalation = cases.escalator.escalate(alert_id, "alice")
    incident = escalation.incident
    assert escalation.created and incident.runbook == RUNBOOK and incident.category == "guardduty"
    opened = cases.open_incident()
    assert opened["IncidentId"] == str(incident.id) and opened["Joined"] and not opened["Created"]
    assert opened["Verified"] and [c["Check"] for c in opened["Checks"]] == ["key"]
    kept = cases.incidents.get(incident.id)
    assert kept.title == incident.title  # the analyst's incident keeps its title
    step = {"IncidentId": opened["IncidentId"], "Text": "Isolate i-1", "Result": {"Error": "E", "Cause": "c"}}
    added = cases.dispatch.invoke("reynard:add-timeline-entry", step, context("TimelineIsolated"))
    assert added["Verified"]
    texts = [e.text for e in cases.incidents.timeline(incident.id)]
    assert f"playbook response {FINDING['id']} joined" in texts and "Isolate i-1: E: c" in texts
    assert len(cases.incidents.list()) == 1


def test_an_alert_after_the_playbook_joins_the_findings_incident(cases) -> None:
    opened = cases.open_incident()  # no alert yet (the rule runs on a schedule, say)
    incident = cases.incidents.get(int(opened["IncidentId"]))
    assert (incident.category, incident.runbook, list(incident.alert_ids)) == ("guardduty", RUNBOOK, [])
    alert_id = cases.raise_alert()
    joined = cases.escalator.join_finding_incident(alert_id, cases.alerts.get(alert_id), "reynard (finding)")
    assert joined is not None and joined.incident.id == incident.id
    assert cases.alerts.get(alert_id)["status"] == "escalated"
    assert list(cases.incidents.get(incident.id).alert_ids) == [alert_id]


def test_a_closed_incident_is_not_reopened_by_a_finding_that_comes_back(cases) -> None:
    first = cases.escalator.escalate(cases.raise_alert(), "alice").incident
    cases.incidents.close(first.id, "alice", skip_lessons=True, reason="test", force=True)
    opened = cases.open_incident()
    assert opened["Created"] and opened["IncidentId"] != str(first.id)
    update = cases.raise_alert(updated="2026-11-28T11:30:00.000Z")
    assert cases.escalator.escalate(update, "alice").incident.id == int(opened["IncidentId"])


# -- the whole path, in one process ------------------------------------------------------------------------

TRIGGER = {
    "name": "crypto-mining",
    "on": "findings",
    "playbook": "guardduty_crypto_mining",
    "pattern": {"source": ["aws.guardduty"], "detail": {"type": ["CryptoCurrency:EC2/BitcoinTool.B!DNS"]}},
}


def test_a_finding_ingested_is_one_incident_with_its_alert_runbook_and_a_true_timeline(
    world: World, tmp_path
) -> None:
    """The finding (about the moto instance) written to the event store as the server writes it: the
    built-in rule alerts on it, the trigger starts the playbook against moto, which contains the instance
    and waits for the approval. One incident: the alert linked and escalated, the runbook set, and every
    step on its timeline stating what its result read back."""
    from reynard.runtime import Runtime

    desired = world.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[world.asg])[
        "AutoScalingGroups"
    ][0]["DesiredCapacity"]
    with recording() as inbox:
        settings = parse_settings(
            {
                "data_dir": str(tmp_path / "data"),
                "triggers": [TRIGGER],
                "respond": {
                    "aws": {"region": "us-east-1", "endpoint_url": world.endpoint},
                    "actions": {"verify_attempts": 2, "verify_delay_seconds": 0},
                    "notifiers": {"soc": {"type": "slack", "url": inbox.url("/soc")}},
                },
            }
        )
        runtime = Runtime(settings)
        try:
            events, rejected = load_events(
                settings, [str(finding_file(tmp_path, world.instance))], datetime.now(UTC)
            )
            assert not rejected
            runtime.writer.write(events)
            deadline, found = time.monotonic() + 60, []
            while time.monotonic() < deadline and not (found and found[0].status != "RUNNING"):
                found = runtime.executions.list()
                time.sleep(0.1)
            (execution,) = found
            assert execution.status == "WAITING", (execution.error, execution.cause)
            assert execution.started_by == "trigger:crypto-mining"
            (alert,) = runtime.alerts.list()
            (incident,) = runtime.incidents.list()
            assert list(incident.alert_ids) == [alert["id"]]
            assert runtime.alerts.get(alert["id"])["status"] == "escalated"
            assert (incident.runbook, incident.category) == (RUNBOOK, "guardduty")
            entries = [e for e in runtime.incidents.timeline(incident.id) if e.kind == "playbook"]
            stated = [e for e in entries if statement((e.data or {}).get("Result"))]
            assert (
                len(stated) == 8
            )  # notified, forensics, detach, deregister, isolate, protect, snapshots, revoke
            for entry in stated:
                result = entry.data["Result"]
                assert result["Verified"] is True and entry.text.endswith(": " + statement(result))
            detached = f"Read back: {world.instance} Auto Scaling group = none; {world.asg} DesiredCapacity"
            assert any(e.text.endswith(f"{detached} = {desired}") for e in stated)
        finally:
            runtime.close()
    isolated = world.eni_groups(world.primary_eni)
    assert isolated != [world.web_sg, world.admin_sg]  # isolated, as the timeline says
