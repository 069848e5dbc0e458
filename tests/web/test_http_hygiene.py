"""HTTP hygiene over real HTTP on loopback (the server's app and uvicorn configuration, on a thread):
allowed Host names, no CORS unless configured, state changes only with JSON (or each route's own
non-form types), security headers on every answer and no server banner, bodies limited while they
stream, a bounded number of ingest requests at once. TLS and `reynard serve`: test_tls.py."""

from __future__ import annotations

import json
import re
import socket
import time

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hygiene_support import ndjson_chunks, read_answer, request_head, serving, stream_chunked

from helpers import bearer
from reynard.errors import ConfigError
from reynard.settings import Settings, parse_settings
from reynard.web.hygiene import SAFELISTED_TYPES, STATE_CHANGING, allowed_host_names

EVENT = {"summary": "login", "hostname": "web-1", "category": "authentication", "details": {"n": 1}}
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


@pytest.fixture
def served(tmp_path):
    with serving(tmp_path / "data") as s:
        yield s


def stored(served) -> int:
    return served.http.get("/api/stats").json()["events"]


# -- Host --------------------------------------------------------------------------------------------------
def test_a_host_header_the_server_is_not_known_by_is_refused(served):
    """DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 sends Host: evil.example."""
    rebound = {**served.shipper, "host": f"evil.example:{served.port}"}
    refused = httpx.post(f"{served.url}/events", json=EVENT, headers=rebound)
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/json"
    assert "allowed_hosts" in refused.json()["error"]
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{served.url}/status", headers={"host": "evil.example"}).status_code == 400
    assert stored(served) == 0
    for name in ("localhost", "127.0.0.1", "[::1]", "LOCALHOST"):
        for host in (name, f"{name}:{served.port}"):
            assert httpx.get(f"{served.url}/status", headers={"host": host}).status_code == 200, host


def test_allowed_hosts_adds_names_and_domains(tmp_path):
    with serving(tmp_path / "data", allowed_hosts=("siem.example.com", "*.corp.example")) as s:
        for host, status in [
            ("siem.example.com", 200),
            ("siem.example.com:8443", 200),
            ("reynard.corp.example", 200),
            ("corp.example.evil", 400),
            ("example.com", 400),
            ("localhost", 200),  # the loopback names stay
        ]:
            assert httpx.get(f"{s.url}/status", headers={"host": host}).status_code == status, host


def test_the_bound_address_is_an_allowed_host(tmp_path):
    with serving(tmp_path / "data", host="127.0.0.2") as s:  # all of 127/8 is loopback on Linux
        assert httpx.get(f"{s.url}/status").status_code == 200  # Host: 127.0.0.2:port
    assert allowed_host_names(Settings(host="0.0.0.0"))[-1] == "0.0.0.0"
    assert allowed_host_names(Settings(host="::"))[-1] == "[::]"
    assert allowed_host_names(Settings(host="10.1.2.3", allowed_hosts=("siem.example.com",))) == [
        "localhost",
        "127.0.0.1",
        "[::1]",
        "10.1.2.3",
        "siem.example.com",
    ]


# -- CORS --------------------------------------------------------------------------------------------------
def test_no_cors_headers_and_preflights_refused_by_default(served):
    origin = {"origin": "https://evil.example"}
    answer = served.http.get("/api/stats", headers=origin)
    assert answer.status_code == 200
    assert not [h for h in answer.headers if h.startswith("access-control-")]
    preflight = httpx.options(
        f"{served.url}/api/iocs",
        headers={**origin, "access-control-request-method": "POST", "access-control-request-headers": "x-a"},
    )
    assert preflight.status_code >= 400
    assert not [h for h in preflight.headers if h.startswith("access-control-")]


def test_configured_cors_origins_only(tmp_path):
    with serving(tmp_path / "data", cors_origins=("https://console.example",)) as s:
        ask = {"access-control-request-method": "POST", "access-control-request-headers": "content-type"}
        allowed = httpx.options(f"{s.url}/api/iocs", headers={"origin": "https://console.example", **ask})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://console.example"
        assert "access-control-allow-credentials" not in allowed.headers  # tokens, never cookies
        other = httpx.options(f"{s.url}/api/iocs", headers={"origin": "https://evil.example", **ask})
        assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
        simple = httpx.get(f"{s.url}/status", headers={"origin": "https://console.example"})
        assert simple.headers["access-control-allow-origin"] == "https://console.example"
        assert (
            "access-control-allow-origin"
            not in httpx.get(f"{s.url}/status", headers={"origin": "https://evil.example"}).headers
        )


# -- JSON-only state changes -------------------------------------------------------------------------------
def state_changing_routes(app) -> list[tuple[str, str]]:
    """Every (method, path) that changes state: the OpenAPI description's, and the app's own routes
    left out of it (PUT /events, /events/, the hand-off)."""
    found = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method.upper() in STATE_CHANGING
    }
    for route in app.routes:
        if isinstance(route, APIRoute):
            found |= {(method, route.path) for method in route.methods & STATE_CHANGING}
    return sorted((method, re.sub(r"\{[^}]+\}", "1", path)) for method, path in found)


def test_every_state_changing_route_refuses_what_a_browser_sends_cross_site(served):
    """A cross-site form or fetch without preflight can send these three types, or none: 415, whatever
    the route (found by walking the app's routes), and from a browser even on /events."""
    routes = state_changing_routes(served.app)
    assert len(routes) > 25 and ("POST", "/events") in routes and ("DELETE", "/api/iocs/1") in routes
    browser = {"origin": "https://evil.example", "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors"}
    with httpx.Client(headers=served.admin) as http:  # even with a token (were it sent)
        for method, path in routes:
            for media in (*sorted(SAFELISTED_TYPES), None):
                headers = {**browser, **({"content-type": media} if media else {})}
                answer = http.request(method, f"{served.url}{path}", content=b"{}", headers=headers)
                assert answer.status_code == 415, (method, path, media, answer.text)
                assert "is not accepted" in answer.json()["error"]
        # A body-less POST without a content type (fetch(url, {method: "POST"})) is refused too.
        assert http.post(f"{served.url}/api/iocs/1/expire").status_code == 415
    assert stored(served) == 0


def test_json_and_each_routes_own_types_are_accepted(served):
    with httpx.Client(headers=served.admin) as http:
        added = http.post(f"{served.url}/api/iocs", json={"value": "203.0.113.9", "source": "feed"})
        assert added.status_code == 201
        iid = added.json()["indicator"]["id"]
        patch = "application/merge-patch+json"  # a JSON type too: never sent cross-site unasked
        expired = http.post(
            f"{served.url}/api/iocs/{iid}/expire", content=b"{}", headers={"content-type": patch}
        )
        assert expired.status_code == 200
        # A DELETE without a body needs no content type: a browser always asks before a cross-site DELETE.
        assert http.delete(f"{served.url}/api/iocs/{iid}").status_code == 200
        assert (
            http.delete(f"{served.url}/api/iocs/{iid}", headers={"content-type": "text/plain"}).status_code
            == 415
        )
        csv = b"kind,value\nip,198.51.100.7\n"
        imported = http.post(
            f"{served.url}/api/iocs/import", content=csv, headers={"content-type": "text/csv"}
        )
        assert imported.json()["added"] == 1
        listed = b"evil.example\n"
        octets = {"content-type": "application/octet-stream"}
        assert http.post(f"{served.url}/api/iocs/import", content=listed, headers=octets).json()["added"] == 1
        plain = http.post(
            f"{served.url}/api/iocs/import", content=listed, headers={"content-type": "text/plain"}
        )
        assert plain.status_code == 415
        ndjson = b"\n".join(json.dumps({**EVENT, "details": {"n": i}}).encode() for i in range(3))
        bulk = http.post(
            f"{served.url}/events", content=ndjson, headers={"content-type": "application/x-ndjson"}
        )
        assert bulk.json()["stored"] == 3
        one = http.put(f"{served.url}/events/", json={**EVENT, "details": {"n": 9}})
        assert one.json()["stored"] == 1


def test_mozdef_shippers_keep_working(served):
    """mozdef_client and MozDef's demo scripts post json.dumps(event) with requests' `data=`: no
    content type. nxlog's om_http sends text/plain unless told otherwise. Neither is a browser (no
    Origin, no Sec-Fetch-*), so /events takes both; from a browser, or on any other route, they are 415."""
    body = json.dumps(EVENT, sort_keys=True, indent=4).encode()  # as mozdef_client sends it
    with httpx.Client(headers=served.shipper) as http:  # an ingest token
        untyped = http.post(f"{served.url}/events", content=body)
        assert "content-type" not in untyped.request.headers
        assert untyped.status_code == 200 and untyped.json()["stored"] == 1
        nxlog = b'{"summary": "from nxlog", "hostname": "win-1"}\n{"summary": "again", "hostname": "win-1"}\n'
        text = http.post(f"{served.url}/events", content=nxlog, headers={"content-type": "text/plain"})
        assert text.status_code == 200 and text.json()["stored"] == 2
        put = http.put(f"{served.url}/events", content=b'{"summary": "put", "hostname": "h"}')
        assert put.status_code == 200
        from_a_page = http.post(
            f"{served.url}/events", content=body, headers={"origin": "https://evil.example"}
        )
        assert from_a_page.status_code == 415
        fetch_metadata = {"sec-fetch-site": "cross-site", "content-type": "text/plain"}
        assert http.post(f"{served.url}/events", content=body, headers=fetch_metadata).status_code == 415
        form = http.post(f"{served.url}/events", data={"summary": "a form"})  # what `curl -d` sends, too
        assert form.status_code == 415
        assert "application/json or application/x-ndjson" in form.json()["error"]
        elsewhere = http.post(f"{served.url}/api/iocs", content=b'{"value": "203.0.113.9"}')
        assert elsewhere.status_code == 415
    assert stored(served) == 4


# -- security headers, no banner ---------------------------------------------------------------------------
def test_every_answer_carries_the_security_headers_and_no_server_banner(served):
    url = served.url
    with httpx.Client(headers=served.admin) as http:
        answers = {
            "ok": http.get(f"{url}/status"),
            "no token": httpx.get(f"{url}/api/stats"),
            "wrong role": http.get(f"{url}/api/stats", headers=served.shipper),
            "json list": http.get(f"{url}/api/events"),
            "not found": http.get(f"{url}/api/events/{'0' * 32}"),
            "no route": http.get(f"{url}/nowhere"),
            "bad host": http.get(f"{url}/status", headers={"host": "evil.example"}),
            "bad type": http.post(f"{url}/api/iocs", content=b"{}", headers={"content-type": "text/plain"}),
            "invalid": http.post(f"{url}/api/iocs", json={}),
            "csv": http.get(f"{url}/api/iocs/export"),
            "openapi": http.get(f"{url}/openapi.json"),
        }
    assert [answers[k].status_code for k in ("no token", "wrong role", "invalid")] == [401, 403, 422]
    for what, answer in answers.items():
        assert "server" not in answer.headers, what
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers.get(name) == value, (what, name)
        csp = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp, what
        assert csp.startswith("default-src 'none';") and "script-src" not in csp, what
    assert "strict-transport-security" not in answers["ok"].headers  # only over TLS (test_tls.py)


def test_a_500_has_the_same_shape_and_headers(tmp_path):
    with serving(tmp_path / "data") as s:

        @s.app.get("/boom")
        def boom() -> None:
            raise RuntimeError("a bug")

        answer = httpx.get(f"{s.url}/boom")
    assert answer.status_code == 500
    assert answer.json() == {"error": "internal server error"}
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")


def test_an_html_answer_may_have_its_inline_style_and_nothing_else(tmp_path):
    from reynard.runtime import Runtime
    from reynard.web.app import create_app

    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    with TestClient(create_app(runtime), base_url="http://localhost") as client:
        client.headers.update(bearer(runtime.identity.create_token("ana", "analyst", by="tests")[1]))
        iid = client.post("/api/incidents", json={"title": "leak"}).json()["id"]
        html = client.get(f"/api/incidents/{iid}/postmortem", params={"format": "html"})
    runtime.close()
    assert html.headers["content-type"].startswith("text/html") and "<style>" in html.text
    assert html.headers["content-security-policy"] == (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none';"
        " form-action 'none'"
    )


# -- bodies limited while they stream ----------------------------------------------------------------------
def test_a_chunked_body_over_the_limit_is_413_as_soon_as_it_passes_it(tmp_path):
    limit = 2 * 1024 * 1024
    with serving(tmp_path / "data", max_body_bytes=limit) as s:
        answer = stream_chunked(s.port, "/events", ndjson_chunks(512 * 1024 * 1024), headers=s.shipper)
        assert answer.status == 413
        assert json.loads(answer.body) == {
            "error": f"the request body is over the {limit:,} bytes this route takes"
        }
        assert answer.headers["connection"] == "close"  # the server stops reading
        # What was sent before the answer: the limit, and what the sockets' buffers held.
        assert answer.sent < limit + 16 * 1024 * 1024
        assert answer.seconds < 5
        assert stored(s) == 0
        under = stream_chunked(s.port, "/events", ndjson_chunks(limit // 2), headers=s.shipper)
        assert under.status == 200 and json.loads(under.body)["stored"] > 0


def test_every_body_is_limited(tmp_path):
    with serving(tmp_path / "data") as s:
        # A JSON route: 1 MiB.
        search = stream_chunked(
            s.port,
            "/api/search",
            (b" " * 65536 for _ in range(10_000)),
            headers=s.admin,
            content_type="application/json",
        )
        assert search.status == 413 and search.sent < 20 * 1024 * 1024
        # An indicator import: 16 MiB.
        rows = (b"198.51.100.%d\n" % (i % 250) * 4000 for i in range(100_000))
        imported = stream_chunked(s.port, "/api/iocs/import", rows, headers=s.admin, content_type="text/csv")
        assert imported.status == 413 and 16 * 1024 * 1024 < imported.sent < 40 * 1024 * 1024
        # A body declared larger than the limit is refused before any of it is read.
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as conn:
            head = {**s.shipper, "Content-Type": "application/json", "Content-Length": str(10**9)}
            conn.sendall(request_head("POST", "/events", "127.0.0.1", head) + b"[")
            declared = read_answer(conn, 1, time.perf_counter())
            assert declared.status == 413 and declared.headers["content-type"] == "application/json"
            assert json.loads(declared.body)["error"].startswith("the request body is over the ")


def test_over_max_ingest_requests_the_next_one_is_503_with_retry_after_at_once(tmp_path):
    with serving(tmp_path / "data", max_ingest_requests=2) as s:
        slow = []
        for n in range(2):  # two ingest requests in flight: their bodies are still coming
            conn = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            head = {**s.shipper, "Content-Type": "application/x-ndjson", "Transfer-Encoding": "chunked"}
            line = json.dumps({**EVENT, "details": {"n": n}}).encode() + b"\n"
            conn.sendall(
                request_head("POST", "/events", "127.0.0.1", head) + b"%x\r\n%s\r\n" % (len(line), line)
            )
            slow.append(conn)
        time.sleep(0.3)
        started = time.perf_counter()
        busy = httpx.post(f"{s.url}/events", json=EVENT, headers=s.shipper)
        assert time.perf_counter() - started < 1
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert "max_ingest_requests" in busy.json()["error"]
        assert httpx.post(f"{s.url}/api/ingest/normalized", content=b"{}").status_code == 503
        assert s.http.get("/api/stats").status_code == 200  # the rest of the API is not limited
        for conn in slow:
            conn.sendall(b"0\r\n\r\n")
            assert read_answer(conn, 0, time.perf_counter()).status == 200
            conn.close()
        assert s.http.post("/events", json={**EVENT, "details": {"n": 2}}).status_code == 200
        assert stored(s) == 3


def test_a_body_that_does_not_arrive_in_time_is_408_and_gives_its_place_back(tmp_path):
    """A holder of an ingest token sending a byte now and then cannot keep an ingest place."""
    with serving(tmp_path / "data", max_ingest_requests=1, body_timeout_seconds=1) as s:
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as conn:
            head = {**s.shipper, "Content-Type": "application/json", "Content-Length": "1000"}
            started = time.perf_counter()
            conn.sendall(request_head("POST", "/events", "127.0.0.1", head) + b'{"summary": ')
            assert httpx.post(f"{s.url}/events", json=EVENT, headers=s.shipper).status_code == 503  # held
            answer = read_answer(conn, 12, started)
        assert answer.status == 408 and 0.9 < answer.seconds < 5
        assert answer.headers["connection"] == "close"
        assert "body_timeout_seconds" in json.loads(answer.body)["error"]
        assert httpx.post(f"{s.url}/events", json=EVENT, headers=s.shipper).status_code == 200
        assert stored(s) == 1


# -- settings ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"tls_cert": "cert.pem"}, "setting tls_cert needs tls_key too (both or neither)"),
        ({"tls_key": "key.pem"}, "setting tls_key needs tls_cert too (both or neither)"),
        (
            {"allowed_hosts": ["evil.*"]},
            "setting allowed_hosts: 'evil.*' is not a host name, '*.domain' or '*'",
        ),
        ({"cors_origins": ["https://console.example/app"]}, "'https://console.example/app' is not an origin"),
        ({"max_ingest_requests": 0}, "setting max_ingest_requests: must be at least 1"),
        ({"body_timeout_seconds": 0}, "setting body_timeout_seconds: 0 is not a positive number"),
        ({"session_idle_minutes": -5}, "setting session_idle_minutes: -5 is not a positive number"),
    ],
)
def test_http_settings_are_checked_when_loaded(values, message):
    with pytest.raises(ConfigError) as info:
        parse_settings(values)
    assert message in str(info.value)


def test_http_settings_from_the_environment():
    from reynard.settings import load_settings

    env = {
        "REYNARD_ALLOWED_HOSTS": "siem.example.com, *.corp.example",
        "REYNARD_CORS_ORIGINS": "https://console.example",
        "REYNARD_MAX_BODY_BYTES": "1048576",
        "REYNARD_MAX_INGEST_REQUESTS": "3",
    }
    settings = load_settings(env=env)
    assert settings.allowed_hosts == ("siem.example.com", "*.corp.example")
    assert settings.cors_origins == ("https://console.example",)
    assert (settings.max_body_bytes, settings.max_ingest_requests) == (1048576, 3)
