"""`/api/iocs` in-process (the server's own wiring, the runtime), and a server that matches
indicators added while it runs: in-process through the API, and a real `reynard serve` with
`reynard ioc add` from another process."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from helpers import Server, bearer
from reynard.cli import main
from reynard.runtime import Runtime
from reynard.settings import Settings
from reynard.web.app import create_app

NOW = datetime.now(UTC).replace(microsecond=0)


def flow(src: str, dst: str, sport: int = 49152) -> bytes:
    start = int(NOW.timestamp()) - 120
    return (
        f"2 123456789010 eni-0f1e2d3c4b5a69788 {src} {dst} {sport} 443 6 20 4249 "
        f"{start} {start + 60} ACCEPT OK\n"
    ).encode()


@pytest.fixture
def client(tmp_path):
    runtime = Runtime(Settings(data_dir=tmp_path / "data", rules_reload_seconds=0.1))
    with TestClient(create_app(runtime), base_url="http://localhost") as client:
        client.headers.update(bearer(runtime.identity.create_token("alice", "admin", by="tests")[1]))
        yield client
    runtime.close()


def test_add_list_show_expire_remove(client):
    added = client.post("/api/iocs", json={"value": "203.0.113.0/24", "source": "feed", "creator": "ana"})
    assert added.status_code == 201
    body = added.json()
    assert body["created"] is True
    item = body["indicator"]
    assert (item["kind"], item["value"], item["state"], item["creator"]) == (
        "ip",
        "203.0.113.0/24",
        "active",
        "alice",  # who the token is: a "creator" in the body is not listened to
    )
    again = client.post("/api/iocs", json={"value": "203.0.113.0/24", "comment": "scanner", "creator": "ben"})
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["indicator"]["comment"] == "scanner"

    client.post("/api/iocs", json={"value": "svc-backup", "kind": "principal", "expires": "30d"})
    listed = client.get("/api/iocs").json()
    assert listed["count"] == 2
    assert [
        i["value"] for i in client.get("/api/iocs", params={"kind": "principal"}).json()["indicators"]
    ] == ["svc-backup"]

    one = client.get(f"/api/iocs/{item['id']}").json()
    assert [(h["action"], h["by"]) for h in one["history"]] == [("added", "alice"), ("updated", "alice")]

    expired = client.post(f"/api/iocs/{item['id']}/expire", json={"by": "ana"})
    assert expired.json()["state"] == "expired"
    assert client.get("/api/iocs", params={"state": "expired"}).json()["count"] == 1
    removed = client.delete(f"/api/iocs/{item['id']}", params={"by": "ana", "reason": "feed retired"})
    assert (removed.json()["state"], removed.json()["removed_by"]) == ("removed", "alice")
    assert client.get("/api/iocs", params={"state": "removed"}).json()["count"] == 1


def test_bad_input_is_400_or_404_with_the_reason(client):
    bad = client.post("/api/iocs", json={"value": "10.0.0.5/24"})
    assert bad.status_code == 400
    assert bad.json() == {"error": "'10.0.0.5/24': the network has host bits set (did you mean 10.0.0.0/24?)"}
    assert client.post("/api/iocs", json={"value": "x", "kind": "url"}).status_code == 422
    assert (
        "is not a time"
        in client.post("/api/iocs", json={"value": "evil.example", "expires": "soon"}).json()["error"]
    )
    assert client.get("/api/iocs/999").status_code == 404
    assert client.post("/api/iocs/999/expire", json={}).json() == {"error": "no indicator with id 999"}
    assert client.delete("/api/iocs/999").status_code == 404


def test_an_indicator_id_past_what_is_stored_is_refused_naming_it(client):
    """Past 2**63 - 1 SQLite cannot compare an id with a column: these were 500s (schemathesis,
    tests/web/test_api_fuzz.py); an id is 1 to 2**53 - 1 (web/fields.py)."""
    huge = 2**70
    added = client.post("/api/iocs", json={"value": "203.0.113.9"}).json()["indicator"]
    for response in (
        client.get(f"/api/iocs/{huge}"),
        client.post(f"/api/iocs/{huge}/expire", json={}),
        client.delete(f"/api/iocs/{huge}", params={"reason": "x"}),
        client.get("/api/iocs/0"),
    ):
        assert response.status_code == 422, response.text
        assert [d["loc"] for d in response.json()["detail"]] == [["path", "indicator_id"]]
    assert client.get(f"/api/iocs/{2**53 - 1}").json() == {"error": f"no indicator with id {2**53 - 1}"}
    assert client.get(f"/api/iocs/{added['id']}").json()["state"] == "active"


def test_import_and_export(client):
    body = "kind,value,comment\nip,203.0.113.9,scanner\nip,10.0.0.5/24,typo\ndomain,evil.example,\n"
    report = client.post("/api/iocs/import", content=body, headers={"content-type": "text/csv"}).json()
    assert report == {
        "added": 2,
        "updated": 0,
        "rejected": 1,
        "errors": [
            {"line": 3, "reason": "'10.0.0.5/24': the network has host bits set (did you mean 10.0.0.0/24?)"}
        ],
    }
    text = client.post(
        "/api/iocs/import",
        params={"source": "pools"},
        content="pool.minexmr.com # monero\n",
        headers={"content-type": "application/octet-stream"},
    )
    assert text.json()["added"] == 1
    csv = client.get("/api/iocs/export")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[1].startswith("ip,203.0.113.9,,,,scanner,")
    plain = client.get("/api/iocs/export", params={"format": "text", "kind": "domain"})
    assert plain.text == "evil.example\npool.minexmr.com\n"


def test_the_api_documents_its_models(client):
    spec = client.get("/openapi.json").json()
    assert {"/api/iocs", "/api/iocs/import", "/api/iocs/export", "/api/iocs/{indicator_id}"} <= set(
        spec["paths"]
    )
    assert {"IndicatorIn", "IndicatorOut", "ImportOut", "IndicatorDetail"} <= set(
        spec["components"]["schemas"]
    )


def test_the_server_matches_an_indicator_added_while_it_runs(client):
    first = client.post("/events", content=flow("10.0.3.17", "203.0.113.50")).json()
    assert first["stored"] == 1
    client.post("/api/iocs", json={"value": "203.0.113.50", "source": "feed"})
    time.sleep(0.15)  # the plugin looks for changes every rules_reload_seconds (0.1 here)
    assert client.post("/events", content=flow("10.0.3.18", "203.0.113.50")).json()["stored"] == 1
    found = client.get("/api/search", params={"q": "tags:ioc"}).json()["events"]
    assert [e["details"]["sourceipaddress"] for e in found] == ["10.0.3.18"]  # the earlier one came before
    alerts = client.get("/api/alerts").json()["alerts"]
    assert [a["rule"] for a in alerts] == ["indicator_match"]  # streamed as the batch committed


def test_a_running_server_sees_an_indicator_added_by_the_cli(tmp_path):
    server = Server(tmp_path / "data").start()
    try:
        added = CliRunner().invoke(main, ["ioc", "add", "203.0.113.0/24", "--data-dir", str(server.data_dir)])
        assert added.exit_code == 0, added.output
        deadline = time.monotonic() + 10
        tagged: list = []
        sport = 40000
        while not tagged and time.monotonic() < deadline:  # the server checks once a second by default
            sport += 1  # a new flow each time (the same line again would be a duplicate)
            server.post(f"{server.url}/events", content=flow("10.0.3.17", "203.0.113.50", sport))
            time.sleep(0.3)
            tagged = server.get(f"{server.url}/api/search", params={"q": "tags:ioc"}).json()["events"]
        assert tagged and tagged[0]["details"]["iocs"][0]["value"] == "203.0.113.0/24"
    finally:
        server.stop()
