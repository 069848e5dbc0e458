"""Identity on every route: each declares one permission (walked from the OpenAPI description and the
app's routes), every route is tried with every role, the actor is the authenticated identity, and every
state change is in the audit trail."""

import re

import pytest
from click.testing import CliRunner
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from helpers import bearer
from reynard.cli import main
from reynard.identity.roles import GRANTS, Permission, Role
from reynard.runtime import Runtime
from reynard.settings import Settings
from reynard.web.app import create_app
from reynard.web.auth import SCHEME, Authenticate

OPEN = {("GET", "/status"), ("POST", "/api/session")}  # liveness; signing in
LOCAL_ONLY = {("POST", "/api/ingest/normalized")}  # the server's own secret only, whatever the role
ROLES = [str(r) for r in Role]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    runtime = Runtime(Settings(data_dir=tmp_path_factory.mktemp("auth") / "data"))
    app = create_app(runtime)
    tokens = {r: runtime.identity.create_token(f"{r}-1", r, by="tests")[1] for r in ROLES}
    with TestClient(app, base_url="http://localhost") as client:
        yield app, client, tokens, runtime
    runtime.close()


def _declared(route: APIRoute) -> list[str]:
    """The permissions a route's dependencies declare (its security scopes on `Authenticate`)."""
    found = []
    stack = list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        if isinstance(dependant.call, Authenticate):
            found.extend(dependant.own_oauth_scopes or [])
        stack.extend(dependant.dependencies)
    return found


def _routes(app) -> list[tuple[str, str, list[str]]]:
    return [
        (method, route.path, _declared(route))
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods)
    ]


def test_every_operation_in_the_openapi_description_declares_one_permission(world):
    _app, client, tokens, _ = world
    spec = client.get("/openapi.json", headers=bearer(tokens["viewer"])).json()
    assert spec["components"]["securitySchemes"][SCHEME]["scheme"] == "bearer"
    undeclared = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if (method.upper(), path) in OPEN:
                assert "security" not in operation
                continue
            scopes = [s for requirement in operation.get("security", []) for s in requirement.get(SCHEME, [])]
            if len(scopes) != 1 or scopes[0] not in set(Permission):
                undeclared.append(f"{method.upper()} {path}: {scopes}")
    assert undeclared == []
    assert len(spec["paths"]) > 30  # the walk saw the API, not an empty description


def test_every_route_the_app_serves_declares_one_permission_hidden_ones_too(world):
    app, *_ = world
    undeclared = [(m, p, d) for m, p, d in _routes(app) if (m, p) not in OPEN and len(set(d)) != 1]
    assert undeclared == []


def _call(client, method: str, path: str, headers: dict) -> int:
    url = re.sub(r"\{[^}]+\}", "1", path)
    if method in ("GET", "DELETE"):
        return client.request(method, url, headers=headers).status_code
    if path == "/api/iocs/import":  # takes CSV, not JSON (415 otherwise, before authentication)
        csv = {**headers, "content-type": "text/csv"}
        return client.request(method, url, headers=csv, content=b"kind,value\n").status_code
    return client.request(method, url, headers=headers, json={}).status_code


def test_every_route_against_every_role(world):
    """No credentials: 401; a role without the route's permission: 403; otherwise never 401 nor 403."""
    app, client, tokens, _ = world
    wrong = []
    for method, path, declared in _routes(app):
        if (method, path) in OPEN:
            assert _call(client, method, path, {}) == 200
            continue
        if _call(client, method, path, {}) != 401:
            wrong.append(f"{method} {path} without credentials")
        for name in ROLES:
            status = _call(client, method, path, bearer(tokens[name]))
            allowed = Permission(declared[0]) in GRANTS[Role(name)] and (method, path) not in LOCAL_ONLY
            if (allowed and status in (401, 403)) or (not allowed and status != 403):
                wrong.append(f"{method} {path} as {name}: {status}")
    assert wrong == []


def test_a_bad_expired_or_revoked_token_is_nobody(world):
    _, client, tokens, runtime = world
    assert client.get("/api/stats", headers=bearer("rey_not-a-token")).status_code == 401
    assert (
        client.get("/api/stats", headers={"authorization": tokens["admin"]}).status_code == 401
    )  # no scheme
    token, secret = runtime.identity.create_token("short-lived", "viewer", by="tests")
    assert client.get("/api/stats", headers=bearer(secret)).status_code == 200
    runtime.identity.revoke(token.id)
    assert client.get("/api/stats", headers=bearer(secret)).status_code == 401
    from datetime import UTC, datetime, timedelta

    _, expired = runtime.identity.create_token(
        "expired", "viewer", by="tests", expires=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert client.get("/api/stats", headers=bearer(expired)).status_code == 401


def test_the_actor_is_the_authenticated_identity_never_the_request(world):
    _, client, tokens, _ = world
    created = client.post(
        "/api/incidents",
        json={"title": "Suspicious role", "by": "mallory", "created_by": "mallory"},
        headers=bearer(tokens["analyst"]),
    )
    assert created.status_code == 201, created.text
    incident = created.json()
    assert incident["created_by"] == "analyst-1"
    assert {e["by"] for e in incident["timeline"]} == {"analyst-1"}


def test_normalized_events_come_only_from_the_local_ingest(world):
    """A shipper's token cannot hand over finalized events, and so cannot choose an event's id (a
    later real event with that id would be dropped as a duplicate)."""
    _, client, tokens, _ = world
    forged = b'{"id": "0123456789abcdef0123456789abcdef", "summary": "x", "details": {}}'
    for name in ("ingest", "admin"):
        ndjson = {**bearer(tokens[name]), "content-type": "application/x-ndjson"}
        answer = client.post("/api/ingest/normalized", content=forged, headers=ndjson)
        assert answer.status_code == 403


def test_every_state_change_is_in_the_audit_trail(world):
    _, client, tokens, runtime = world
    client.post("/api/iocs", json={"value": "198.51.100.77"}, headers=bearer(tokens["analyst"]))
    client.post("/api/iocs", json={"value": "198.51.100.78"}, headers=bearer(tokens["viewer"]))  # 403
    trail = client.get("/api/audit", params={"limit": 1000}, headers=bearer(tokens["admin"])).json()[
        "entries"
    ]
    done = [e for e in trail if e["action"] == "POST /api/iocs"]
    assert [(e["actor"], e["actor_kind"], e["result"]) for e in done[-2:]] == [
        ("analyst-1", "token", "201"),
        ("viewer-1", "token", "403"),
    ]
    assert done[-1]["source"] == "testclient"
    assert client.get("/api/audit", headers=bearer(tokens["responder"])).status_code == 403
    assert runtime.audit.list(actor="viewer-1")[-1].result == "403"
    listed = CliRunner().invoke(
        main,
        [
            "--data-dir",
            str(runtime.settings.data_dir),
            "audit",
            "list",
            "--user",
            "analyst-1",
            "--format",
            "json",
        ],
    )
    assert listed.exit_code == 0, listed.output
    assert any('"action":"POST /api/iocs"' in line for line in listed.stdout.splitlines())


def test_users_and_tokens_from_the_cli(tmp_path):
    data = tmp_path / "data"
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(main, ["--data-dir", str(data), *args], input=input)

    added = run(
        "user", "add", "ana", "--role", "analyst", "--password-stdin", input="correct horse battery\n"
    )
    assert added.exit_code == 0, added.output
    assert run("user", "add", "bo", "--role", "admin", "--password-stdin", input="short\n").exit_code == 2
    made = run("token", "create", "shipper-1", "--role", "ingest", "--expires", "30d")
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert secret.startswith("rey_") and "\n" not in secret  # the token alone on stdout
    listed = run("token", "list")
    assert "shipper-1" in listed.stdout and secret not in listed.stdout
    runtime = Runtime(Settings(data_dir=data))
    try:
        assert runtime.identity.authenticate(secret).name == "shipper-1"
        assert runtime.identity.sign_in("ana", "correct horse battery").role == Role.ANALYST
        assert runtime.identity.sign_in("ana", "wrong password") is None
        assert run("user", "disable", "ana").exit_code == 0
        assert runtime.identity.sign_in("ana", "correct horse battery") is None
        token_id = runtime.identity.tokens()[0].id
        assert run("token", "revoke", str(token_id)).exit_code == 0
        assert runtime.identity.authenticate(secret) is None
    finally:
        runtime.close()
    assert run("token", "create", "x", "--role", "root").exit_code == 2
