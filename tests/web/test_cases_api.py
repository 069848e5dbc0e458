"""The incident workflow through the HTTP API: real events in a TantivyEventStore, alerts in AlertStore,
an alert escalated, the incident taken through every phase (once back), a second alert joining, two
clients editing at once, closing with lessons, the postmortem in both formats, reports."""

import re

import pytest
from fastapi.testclient import TestClient

from cases_support import stored_world
from helpers import bearer
from reynard.runtime import Runtime
from reynard.web.app import create_app

SECTIONS = (
    "Problem description",
    "Timeline",
    "Root cause",
    "What was done",
    "What worked and what did not",
    "Recommendations",
    "Postmortem team",
)


@pytest.fixture
def world(shared_data, tmp_path):
    settings, events, alerts = stored_world(shared_data, tmp_path / "data")
    runtime = Runtime(settings)
    client = TestClient(create_app(runtime), base_url="http://localhost")
    client.headers.update(bearer(runtime.identity.create_token("alice", "analyst", by="tests")[1]))
    yield client, events, alerts
    runtime.close()


def ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json()


def test_the_whole_workflow(world):
    client, events, alerts = world
    gd, flow = events["guardduty"], events["vpcflow"]

    # An alert becomes an incident: its events, their indicators and its tags come along.
    done = ok(client.post("/api/alerts/1/escalate", json={"by": "alice"}))
    incident = done["incident"]
    iid = incident["id"]
    assert done["created"] and (done["events_linked"], done["indicators_added"]) == (2, 5)
    assert (incident["title"], incident["phase"], incident["severity"]) == (
        gd["summary"],
        "Identification",
        "medium",
    )
    assert incident["category"] == "guardduty" and incident["tags"] == ["guardduty", "T1046"]
    assert incident["alert_ids"] == [1] and incident["event_ids"] == [gd["id"], flow["id"]]
    assert {(i["kind"], i["value"]) for i in incident["indicators"]} == {
        ("ip", "221.132.75.236"),
        ("ip", "71.6.167.142"),
        ("instance", "i-036cb01d26bb09166"),
        ("ip", "198.51.100.7"),
        ("ip", "10.0.0.128"),
    }
    assert incident["timeline"][0]["kind"] == "opened" and incident["timeline"][0]["link"] == "alert:1"
    assert alerts.get(1)["status"] == "escalated"
    assert alerts.get(1)["history"][-1] == {
        "status": "escalated",
        "by": "alice",
        "at": alerts.get(1)["history"][-1]["at"],
        "comment": f"incident {iid}",
    }

    # The linked events, resolved from the event store.
    shown = ok(client.get(f"/api/incidents/{iid}", params={"events": 10}))
    assert [e["event"]["summary"] for e in shown["events"]] == [gd["summary"], flow["summary"]]

    def phase(to, version, **extra):
        return ok(
            client.post(
                f"/api/incidents/{iid}/phase", json={"phase": to, "by": "alice", "version": version, **extra}
            )
        )

    def note(text):
        return ok(client.post(f"/api/incidents/{iid}/notes", json={"by": "alice", "text": text}), 201)

    v = ok(
        client.post(f"/api/incidents/{iid}/members", json={"name": "bob", "role": "forensics", "by": "alice"})
    )["version"]
    note("port 22 open to the world on i-036cb01d26bb09166")
    v = phase("Containment", v)["version"]
    note("security group swapped to the isolation group")

    # A second alert joins the open incident, raising its severity.
    joined = ok(client.post("/api/alerts/2/escalate", json={"by": "bob", "incident_id": iid}))
    assert not joined["created"] and joined["incident"]["severity"] == "critical"
    assert joined["incident"]["alert_ids"] == [1, 2] and len(joined["incident"]["event_ids"]) == 5
    values = {(i["kind"], i["value"]) for i in joined["incident"]["indicators"]}
    assert {
        ("access_key", "AKIATFQR7NSC3ZO6PKAZ"),
        ("principal", "arn:aws:iam::123837392027:user/bert-jan"),
    } <= values
    assert "T1098.001" in joined["incident"]["techniques"]
    assert alerts.get(2)["status"] == "escalated"
    v = joined["incident"]["version"]

    v = phase("Eradication", v)["version"]
    note("<script>alert('x')</script> found in /tmp/.x: the miner")
    back = phase("Containment", v, reason="the miner respawned from cron")
    assert back["phase_changes"][-1]["backward"] and back["mozdef_dates"]["dateContained"] is None
    v = back["version"]
    note("cron entry removed")
    v = phase("Eradication", v)["version"]
    v = phase("Recovery", v)["version"]
    note("the Auto Scaling replacement is healthy")
    v = phase("Lessons Learned", v)["version"]

    # Two clients edit from the same version: the second is refused, naming the first one's change.
    first = ok(
        client.patch(
            f"/api/incidents/{iid}", json={"by": "alice", "version": v, "root_cause": "SSH open to 0.0.0.0/0"}
        )
    )
    stale = client.patch(
        f"/api/incidents/{iid}", json={"by": "bob", "version": v, "root_cause": "a weak password"}
    )
    assert stale.status_code == 409
    body = stale.json()
    assert body["version"] == first["version"] == v + 1
    assert body["changes"] == [f"alice (version {v + 1}): root cause: '' → 'SSH open to 0.0.0.0/0'"]
    assert "Reload it" in body["error"]
    v = first["version"]
    v = ok(
        client.patch(
            f"/api/incidents/{iid}",
            json={"by": "bob", "version": v, "mitigations": ["isolated the instance", "rotated the role"]},
        )
    )["version"]
    v = ok(
        client.put(
            f"/api/incidents/{iid}/postmortem/recommendations",
            json={"by": "bob", "version": v, "text": "- close port 22\n- alert on new access keys"},
        )
    )["version"]

    # Closing needs lessons; with them it closes.
    refused = client.post(
        f"/api/incidents/{iid}/phase", json={"phase": "Closed", "by": "alice", "version": v}
    )
    assert refused.status_code == 400 and "closing needs lessons learned" in refused.json()["error"]
    closed = ok(
        client.post(
            f"/api/incidents/{iid}/close",
            json={
                "by": "alice",
                "version": v,
                "lessons": "The isolation worked; the cron persistence was missed at first.",
            },
        )
    )
    assert closed["phase"] == "Closed" and closed["mozdef_dates"]["dateClosed"]
    phases = [c["phase"] for c in closed["phase_changes"]]
    assert phases == [
        "Identification",
        "Containment",
        "Eradication",
        "Containment",
        "Eradication",
        "Recovery",
        "Lessons Learned",
        "Closed",
    ]

    # The postmortem, in both formats, each section there.
    markdown = client.get(f"/api/incidents/{iid}/postmortem")
    assert markdown.headers["content-type"].startswith("text/markdown")
    text = markdown.text
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert headings == list(SECTIONS)
    assert "SSH open to 0.0.0.0/0" in text and "the cron persistence was missed" in text
    assert "- close port 22\n- alert on new access keys" in text
    assert "- bob: forensics" in text and "- isolated the instance" in text
    assert "phase Eradication → Containment (back): the miner respawned from cron" in text
    assert "- ip: 221.132.75.236" in text and "MITRE ATT&CK techniques: T1046, T1098.001" in text

    html = client.get(f"/api/incidents/{iid}/postmortem", params={"format": "html"})
    assert html.headers["content-type"].startswith("text/html")
    page = html.text
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    shown_headings = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<h2>(.*?)</h2>", page)]
    assert shown_headings == [f"{s} (edited)" if s == "Recommendations" else s for s in SECTIONS]
    assert "<script" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert not re.search(r"(src|href)=", page)  # nothing loaded from anywhere
    assert "<li>bob: forensics</li>" in page and "SSH open to 0.0.0.0/0" in page

    # Lists and reports.
    assert ok(client.get("/api/incidents", params={"phase": "Closed"}))["count"] == 1
    assert ok(client.get("/api/incidents", params={"open": True}))["count"] == 0
    assert ok(client.get("/api/incidents", params={"tag": "t1046"}))["count"] == 1
    summary = ok(client.get("/api/incidents/reports"))
    assert summary["total"] == 1 and summary["by_phase"]["Closed"] == 1
    assert summary["by_type"] == {"guardduty": 1} and summary["mean_time_to_close"]["incidents"] == 1


def test_bad_input_over_http(world):
    client, _, _ = world
    assert client.get("/api/incidents/99").status_code == 404
    assert client.post("/api/alerts/99/escalate", json={"by": "alice"}).status_code == 404
    iid = ok(client.post("/api/alerts/1/escalate", json={"by": "alice"}))["incident"]["id"]
    other = ok(client.post("/api/incidents", json={"title": "another", "by": "alice"}), 201)["id"]
    again = client.post("/api/alerts/1/escalate", json={"by": "bob", "incident_id": other})
    assert again.status_code == 400 and f"already in incident {iid}" in again.json()["error"]
    # Escalating it again into its own incident only makes sure of its status.
    assert ok(client.post("/api/alerts/1/escalate", json={"by": "bob"}))["created"] is False

    def post_phase(phase, version=2):
        return client.post(
            f"/api/incidents/{iid}/phase", json={"phase": phase, "by": "alice", "version": version}
        )

    version = ok(client.get(f"/api/incidents/{iid}"))["version"]
    assert "is not a phase" in post_phase("Triage", version).json()["error"]
    jump = post_phase("Recovery", version)
    assert jump.status_code == 400 and "skips Containment, Eradication" in jump.json()["error"]
    assert post_phase("Containment", version - 1).status_code == 409
    bad_tag = client.patch(f"/api/incidents/{iid}", json={"by": "alice", "version": version, "tags": ["T12"]})
    assert bad_tag.status_code == 400 and "not a MITRE ATT&CK technique id" in bad_tag.json()["error"]
    missing = client.post(f"/api/incidents/{iid}/events", json={"by": "alice", "event_ids": ["nope"]})
    assert missing.status_code == 404 and "no event with id nope" in missing.json()["error"]
    assert (
        client.post("/api/incidents", json={"title": "x", "by": "a", "severity": "urgent"}).status_code == 400
    )
    assert (
        client.put(
            f"/api/incidents/{iid}/postmortem/epilogue", json={"by": "a", "version": version, "text": "x"}
        ).status_code
        == 400
    )
    # Nothing of the refused writes is there.
    after = ok(client.get(f"/api/incidents/{iid}"))
    assert (
        after["version"] == version
        and after["phase"] == "Identification"
        and after["tags"] == ["guardduty", "T1046"]
    )


# Past 2**63 - 1, SQLite cannot even compare a number with a column: these were 500s (schemathesis,
# tests/web/test_api_fuzz.py). An id or a version is a positive integer up to 2**53 - 1 (web/fields.py).
HUGE = 2**70


def _refused(response, *where):
    """A 422 naming the field (FastAPI's validation: `detail` with its location)."""
    assert response.status_code == 422, response.text
    locations = [tuple(d["loc"]) for d in response.json()["detail"]]
    assert where in locations, locations


def test_ids_and_versions_past_what_is_stored_are_refused_naming_them(world):
    client, _, _ = world
    iid = ok(client.post("/api/alerts/1/escalate", json={}))["incident"]["id"]
    version = ok(client.get(f"/api/incidents/{iid}"))["version"]

    _refused(client.get(f"/api/incidents/{HUGE}"), "path", "incident_id")
    _refused(client.get(f"/api/incidents/{HUGE}/timeline"), "path", "incident_id")
    _refused(client.get(f"/api/incidents/{HUGE}/postmortem"), "path", "incident_id")
    _refused(client.patch(f"/api/incidents/{HUGE}", json={"version": 1}), "path", "incident_id")
    _refused(client.post(f"/api/incidents/{HUGE}/close", json={"version": 1}), "path", "incident_id")
    _refused(client.post(f"/api/incidents/{HUGE}/indicators", json={"indicators": []}), "path", "incident_id")
    _refused(client.post(f"/api/alerts/{HUGE}/escalate", json={}), "path", "alert_id")
    _refused(client.post(f"/api/incidents/{iid}/alerts", json={"alert_id": -HUGE}), "body", "alert_id")
    _refused(client.post("/api/alerts/2/escalate", json={"incident_id": HUGE}), "body", "incident_id")
    _refused(client.delete(f"/api/incidents/{iid}/members/ana", params={"version": HUGE}), "query", "version")
    _refused(
        client.post(f"/api/incidents/{iid}/members", json={"name": "ana", "role": "lead", "version": -HUGE}),
        "body",
        "version",
    )
    _refused(client.get("/api/incidents/0"), "path", "incident_id")
    # The largest id there can be is only unknown; nothing was written by the refused requests.
    assert client.get(f"/api/incidents/{2**53 - 1}").status_code == 404
    assert ok(client.get(f"/api/incidents/{iid}"))["version"] == version
    assert [a["id"] for a in ok(client.get("/api/alerts", params={"status": "new"}))["alerts"]] == [2]
    spec = ok(client.get("/openapi.json"))
    incident_id = spec["paths"]["/api/incidents/{incident_id}"]["get"]["parameters"][0]
    assert incident_id["schema"]["maximum"] == 2**53 - 1 and incident_id["schema"]["minimum"] == 1


def test_a_correction_linking_an_entry_no_number_can_name_is_404(world):
    """`entry:<digits>` past what SQLite holds, or digits `int()` refuses ("²"), were 500s; a digit of
    another script ("١") was taken for entry 1."""
    client, _, _ = world
    iid = ok(client.post("/api/alerts/1/escalate", json={}))["incident"]["id"]
    first = ok(client.get(f"/api/incidents/{iid}/timeline"))[0]["id"]
    for target in ("9" * 30, "²", "١"):
        entry = {"kind": "correction", "text": "wrong time", "link": f"entry:{target}"}
        response = client.post(f"/api/incidents/{iid}/entries", json=entry)
        assert response.status_code == 404, response.text
        assert response.json() == {"error": f"incident {iid} has no timeline entry {target}"}
    entry = {"kind": "correction", "text": "wrong time", "link": f"entry:{first}"}
    assert ok(client.post(f"/api/incidents/{iid}/entries", json=entry), 201)["link"] == f"entry:{first}"


def test_the_openapi_description_has_the_endpoints_and_models(world):
    client, _, _ = world
    spec = ok(client.get("/openapi.json"))
    paths = spec["paths"]
    for path, method in [
        ("/api/incidents", "get"),
        ("/api/incidents", "post"),
        ("/api/incidents/reports", "get"),
        ("/api/incidents/{incident_id}", "get"),
        ("/api/incidents/{incident_id}", "patch"),
        ("/api/incidents/{incident_id}/phase", "post"),
        ("/api/incidents/{incident_id}/close", "post"),
        ("/api/incidents/{incident_id}/notes", "post"),
        ("/api/incidents/{incident_id}/entries", "post"),
        ("/api/incidents/{incident_id}/alerts", "post"),
        ("/api/incidents/{incident_id}/events", "post"),
        ("/api/incidents/{incident_id}/postmortem", "get"),
        ("/api/incidents/{incident_id}/postmortem/{section}", "put"),
        ("/api/alerts/{alert_id}/escalate", "post"),
    ]:
        assert method in paths[path], (path, method)
    assert "409" in paths["/api/incidents/{incident_id}/phase"]["post"]["responses"]
    schemas = spec["components"]["schemas"]
    assert {
        "IncidentOut",
        "PhaseIn",
        "FieldsIn",
        "StaleOut",
        "EscalationOut",
        "ReportOut",
        "EntryOut",
    } <= set(schemas)
