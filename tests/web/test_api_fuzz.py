"""`schemathesis run` over every operation of the OpenAPI description, with an admin token, against a
real `reynard serve` on loopback: no generated request gets a 500 (nor logs a traceback), and every
answer the description documents matches it (its schema, its content type, its headers).

Each test has a server of its own, on a fresh data directory with real data in it: the sample events of
../shared/data through the real pipeline, two alerts on them, incidents (escalated from the alerts and
opened by hand, with members), an indicator, and executions of registered playbooks (waiting for an
answer, or a day). The first run takes the values as the generator makes them (ids past any stored
row, out of range, of the wrong type; odd text and bodies). The second draws the stored ids and names
for path, query and body parameters (schemathesis' dictionaries, `probability = 0.5`), so that requests
reach stored rows; every operation that changes something must then have done so at least once. (The
drawn values crowd the generated ones out of those parameters, hence two runs.) Both follow, in the stateful
phase, the links schemathesis infers between operations. The requests change the data (close an
incident, remove the indicator, stop executions): that is what they are for.

schemathesis runs as its command, in a child process, as CI or a developer would run it: it reads the
description from the server's `/openapi.json` (which needs the token) and writes a JSON report; nothing
is downloaded. Each run is deterministic (`generation.deterministic`: no random seed, no example
database; no crash cache) and bounded: `MAX_EXAMPLES` a generating phase per operation, about 3,100
requests a run, some 25 s on 2 cores.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cases_support import stored_world
from helpers import Server
from reynard.cases.phases import PHASES
from reynard.cases.values import APPEND_KINDS, INDICATOR_KINDS, POSTMORTEM_SECTIONS
from reynard.runtime import Runtime
from reynard.settings import Settings

MAX_EXAMPLES = 25
CHECKS = (
    "not_a_server_error",
    "response_schema_conformance",
    "content_type_conformance",
    "response_headers_conformance",
)


def waiting_at(state: str) -> dict:
    """A playbook whose execution waits at `state` for an answer (approve or reject)."""
    return {
        "StartAt": state,
        "States": {
            state: {
                "Type": "Task",
                "Resource": "reynard:approval.waitForTaskToken",
                "Parameters": {"question.$": "States.Format('Stop {}?', $.instance)"},
                "Catch": [{"ErrorEquals": ["Rejected"], "Next": "Declined"}],
                "End": True,
            },
            "Declined": {"Type": "Fail", "Error": "Declined"},
        },
    }


# Each operation that ends an execution has executions only it (and stop) can end: approve answers at
# `Ask`, reject at `Confirm`; stop ends any, and the `hold` ones, which wait a day, only it.
PLAYBOOKS = {
    "approval": waiting_at("Ask"),
    "confirmation": waiting_at("Confirm"),
    "hold": {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 86_400, "End": True}}},
}


class Seeded:
    """The running server, what it logs, and the ids of what is stored."""

    def __init__(self, server: Server):
        self.server = server
        self.values: dict[str, list] = {}  # schemathesis' dictionaries: what is stored
        self.operations: list[str] = []  # "METHOD /path", as the OpenAPI description has them

    def log(self) -> str:
        return self.server.log.read_text(errors="replace")


def _ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def seeded(shared_data: Path, tmp_path_factory) -> Iterator[Seeded]:
    folder = tmp_path_factory.mktemp("fuzz")
    data_dir = folder / "data"
    _settings, events, _alerts = stored_world(shared_data, data_dir)
    runtime = Runtime(Settings(data_dir=data_dir))
    try:
        for name, definition in PLAYBOOKS.items():
            playbook = folder / f"{name}.json"
            playbook.write_text(json.dumps(definition))
            runtime.playbook_catalog.add(playbook)
    finally:
        runtime.close()

    server = Server(data_dir).start()
    try:
        seeded = Seeded(server)
        url = server.url

        def post(path: str, body: dict, status: int = 200) -> dict:
            return _ok(server.post(f"{url}{path}", json=body), status)

        # Three incidents (two from the alerts, one by hand), each with a member; two more for one
        # operation each, as only a request naming their current version changes them: one taken to
        # Lessons Learned with its lessons written (to close), one with a member (to remove).
        incidents = [post(f"/api/alerts/{a}/escalate", {})["incident"] for a in (1, 2)]
        incidents.append(post("/api/incidents", {"title": "port probe on i-036cb01d26bb09166"}, 201))
        for incident in incidents:
            post(f"/api/incidents/{incident['id']}/members", {"name": "ana", "role": "lead"})
        closing = post("/api/incidents", {"title": "access key AKIA... used from 198.51.100.7"}, 201)
        for phase in PHASES[1:-1]:
            closing = post(
                f"/api/incidents/{closing['id']}/phase", {"phase": phase, "version": closing["version"]}
            )
        closing = _ok(
            httpx.patch(
                f"{url}/api/incidents/{closing['id']}",
                json={"lessons": "rotate keys sooner", "version": closing["version"]},
                headers=server.headers,
            )
        )
        staffed = post("/api/incidents", {"title": "bucket policy made public"}, 201)
        staffed = post(f"/api/incidents/{staffed['id']}/members", {"name": "ben", "role": "scribe"})
        indicator = post("/api/iocs", {"value": "203.0.113.9"}, 201)["indicator"]

        # Four executions of each playbook, for approve, reject and stop to end.
        def start(playbook: str, n: int) -> str:
            return post(f"/api/playbooks/{playbook}/executions", {"input": {"instance": f"i-{n:02}"}}, 202)[
                "executionId"
            ]

        executions = {playbook: [start(playbook, n) for n in range(4)] for playbook in PLAYBOOKS}
        runbooks = [r["name"] for r in _ok(server.get(f"{url}/api/runbooks"))["runbooks"]]
        seeded.values = {
            "incident": [i["id"] for i in incidents],
            "alert": [1, 2],
            "indicator": [indicator["id"]],
            "execution": [e for started in executions.values() for e in started],
            "approval": executions["approval"],
            "confirmation": executions["confirmation"],
            "hold": executions["hold"],
            "event": [e["id"] for e in events.values()],
            "version": list(range(1, 41)),
            "phase": list(PHASES[:-1]),
            "ask": ["Ask"],
            "confirm": ["Confirm"],
            "runbook": runbooks,
            "playbook": list(PLAYBOOKS),
            "member": ["ana"],
            "section": list(POSTMORTEM_SECTIONS),
            "entry_kind": list(APPEND_KINDS),
            "indicator_kind": list(INDICATOR_KINDS),
            "to_close": [closing["id"]],
            "to_close_version": [closing["version"]],
            "staffed": [staffed["id"]],
            "staffed_version": [staffed["version"]],
            "staff": ["ben"],
        }
        spec = _ok(server.get(f"{url}/openapi.json"))
        seeded.operations = [
            f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item
        ]
        yield seeded
    finally:
        server.stop()


# The stored values drawn for parameters (the second run): everywhere, and in one operation.
DRAWN = {
    "path.incident_id": "incident",
    "path.alert_id": "alert",
    "path.indicator_id": "indicator",
    "path.execution_id": "execution",
    "path.event_id": "event",
    "body.incident_id": "incident",
    "body.alert_id": "alert",
    "body.event_ids[*]": "event",
    "body.version": "version",
    "query.version": "version",
    "body.phase": "phase",
}
DRAWN_IN = {
    "GET /api/runbooks/{name}": {"path.name": "runbook"},
    "POST /api/playbooks/{name}/executions": {"path.name": "playbook"},
    "PUT /api/incidents/{incident_id}/postmortem/{section}": {"path.section": "section"},
    "POST /api/executions/{execution_id}/approve": {"path.execution_id": "approval", "body.state": "ask"},
    "POST /api/executions/{execution_id}/reject": {
        "path.execution_id": "confirmation",
        "body.state": "confirm",
    },
    "POST /api/executions/{execution_id}/stop": {"path.execution_id": "hold"},
    "POST /api/incidents/{incident_id}/entries": {"body.kind": "entry_kind"},
    "POST /api/incidents/{incident_id}/indicators": {"body.indicators[*].kind": "indicator_kind"},
    "POST /api/incidents/{incident_id}/close": {
        "path.incident_id": "to_close",
        "body.version": "to_close_version",
    },
    "DELETE /api/incidents/{incident_id}/members/{name}": {
        "path.incident_id": "staffed",
        "query.version": "staffed_version",
        "path.name": "staff",
    },
}


def _config(seeded: Seeded, *, drawing: bool) -> str:
    """schemathesis.toml: the admin token on every request; with `drawing`, the stored values to draw."""

    def drawn(bindings: dict[str, str]) -> str:
        pairs = (
            f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}' for key, name in bindings.items()
        )
        return "{ " + ", ".join(pairs) + " }"

    lines = [
        "[generation]",
        f"max-examples = {MAX_EXAMPLES}",
        "deterministic = true",
        "[cache]",
        "enabled = false",
        "[headers]",
        f"Authorization = {json.dumps(seeded.server.headers['authorization'])}",
    ]
    if drawing:
        for name, values in seeded.values.items():
            lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}"]
        lines += ["[parameters]"]
        lines += [f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}' for key, name in DRAWN.items()]
        for operation, bindings in DRAWN_IN.items():
            lines += [
                "[[operations]]",
                f"include-name = {json.dumps(operation)}",
                f"parameters = {drawn(bindings)}",
            ]
    return "\n".join(lines) + "\n"


def _run(seeded: Seeded, folder: Path, *, drawing: bool) -> str:
    """`schemathesis run` over every operation; its output. Asserts it found nothing, ran every operation
    and made its requests, and that the server logged no traceback meanwhile."""
    config = folder / "schemathesis.toml"
    config.write_text(_config(seeded, drawing=drawing))
    report = folder / "report.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(config),
            "run",
            f"{seeded.server.url}/openapi.json",
            "--checks",
            ",".join(CHECKS),
            "--workers",
            "1",
            "--no-color",
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        cwd=folder,  # its own files (.hypothesis) go there, not into the checkout
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"{output}\n--- the server's log ---\n{seeded.log()[-20_000:]}"
    assert "Traceback" not in seeded.log(), seeded.log()[-20_000:]

    summary = json.loads(report.read_text())
    assert summary["operations"]["tested"] == summary["operations"]["total"] == len(seeded.operations), output
    assert summary["test_cases"]["generated"] >= 30 * len(seeded.operations), output
    return output


# Operations that change something and that a run with a bearer token cannot make do so: the console's
# sign-in needs a user's password, and its sign-out a console session (a cookie). Their answers are
# still checked. Any other operation that changes something needs its data seeded above.
UNREACHABLE = {"POST /api/session", "DELETE /api/session"}


def test_generated_requests_get_no_server_error(seeded: Seeded, tmp_path: Path):
    """Values as the generator makes them: ids past any stored row, out of range, of the wrong type;
    odd text, bodies and content types."""
    _run(seeded, tmp_path, drawing=False)


def test_generated_requests_on_stored_rows_get_no_server_error(seeded: Seeded, tmp_path: Path):
    """The stored ids and names drawn for parameters: the requests reach stored rows."""
    output = _run(seeded, tmp_path, drawing=True)

    # They reached what they name: every operation that changes something did so at least once (2xx),
    # or was refused for the version it named (409), which only a stored incident has. (An incident's
    # version moves with every change, so a drawn one is mostly stale.) Ingest, `POST /events`, is not
    # in the audit trail; UNREACHABLE are the console's.
    entries = _ok(seeded.server.get(f"{seeded.server.url}/api/audit", params={"limit": 100_000}))["entries"]
    answers: dict[str, Counter] = {}
    for entry in entries:
        answers.setdefault(entry["action"], Counter())[int(entry["result"])] += 1
    changing = [
        o
        for o in seeded.operations
        if not o.startswith("GET ") and o != "POST /events" and o not in UNREACHABLE
    ]
    reached = {o for o in changing if any(s < 300 or s == 409 for s in answers.get(o, ()))}
    shown = "\n".join(f"{o}: {dict(answers.get(o, {}))}" for o in changing)
    assert reached == set(changing), f"{output}\n{shown}"
