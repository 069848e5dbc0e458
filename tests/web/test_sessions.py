"""Console sessions over real HTTP: signing in sets an HttpOnly, SameSite=Strict cookie (Secure over TLS);
the cookie reads, but changes nothing without the session's CSRF token; signing out, disabling the user,
idling and age end it; wrong passwords are slowed down and audited."""

from __future__ import annotations

import sqlite3
import ssl
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hygiene_support import self_signed, serving

from reynard.identity.principal import Principal
from reynard.identity.roles import Role
from reynard.identity.sessions import SessionStore
from reynard.runtime import Runtime
from reynard.settings import Settings
from reynard.web.auth import SESSION_COOKIE
from reynard.web.sessions import PER_NAME_AND_ADDRESS, Failures

PASSWORD = "correct horse battery staple"


@pytest.fixture
def served(tmp_path):
    with serving(tmp_path / "data") as s:
        s.app.state.identity.add_user("alice", "analyst", PASSWORD, by="tests")
        yield s


def sign_in(served, name: str = "alice", password: str = PASSWORD) -> tuple[httpx.Client, httpx.Response]:
    browser = httpx.Client(base_url=served.url, timeout=30)  # no token: only what signing in gives
    return browser, browser.post("/api/session", json={"name": name, "password": password})


def test_signing_in_sets_a_cookie_scripts_cannot_read_and_other_sites_cannot_send(served):
    browser, answer = sign_in(served)
    assert answer.status_code == 200, answer.text
    cookie = answer.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "max-age"} <= attributes
    assert "samesite=strict" in cookie.lower()
    assert "secure" not in attributes  # plain HTTP on loopback: a Secure cookie would never come back
    body = answer.json()
    assert body["name"] == "alice" and body["role"] == "analyst" and len(body["csrfToken"]) >= 40
    secret = browser.cookies[SESSION_COOKIE]
    assert secret not in answer.text  # the secret is in the cookie only
    database = sqlite3.connect(served.settings.data_dir / "state.db")
    assert secret not in str(database.execute("select * from sessions").fetchall())  # kept hashed

    who = browser.get("/api/session").json()
    assert who == {**body, "kind": "user"}
    assert browser.get("/api/stats").status_code == 200


def test_a_state_change_needs_the_csrf_token_with_the_cookie(served):
    browser, answer = sign_in(served)
    csrf = answer.json()["csrfToken"]
    incident = {"title": "session test", "severity": "low"}
    for headers in ({}, {"x-csrf-token": "wrong"}, {"x-csrf-token": ""}):
        refused = browser.post("/api/incidents", json=incident, headers=headers)
        assert refused.status_code == 403, refused.text
        assert "CSRF" in refused.json()["error"]
    assert served.http.get("/api/incidents").json()["incidents"] == []  # nothing was created

    made = browser.post("/api/incidents", json=incident, headers={"x-csrf-token": csrf})
    assert made.status_code == 201, made.text
    assert made.json()["created_by"] == "alice"
    audit = served.http.get("/api/audit").json()["entries"]
    creations = [(e["actor"], e["result"]) for e in audit if e["action"] == "POST /api/incidents"]
    assert creations == [("alice", "403")] * 3 + [("alice", "201")]


def test_signing_out_ends_the_session_even_for_a_copied_cookie(served):
    browser, answer = sign_in(served)
    copied = browser.cookies[SESSION_COOKIE]
    out = browser.delete("/api/session", headers={"x-csrf-token": answer.json()["csrfToken"]})
    assert out.status_code == 204
    assert SESSION_COOKIE not in browser.cookies  # the browser was told to drop it
    replay = httpx.get(f"{served.url}/api/stats", cookies={SESSION_COOKIE: copied})
    assert replay.status_code == 401


def test_an_authorization_header_wins_over_the_cookie_even_when_it_is_wrong(served):
    browser, _ = sign_in(served)
    assert browser.get("/api/stats", headers={"authorization": "Bearer rey_not-a-token"}).status_code == 401
    assert browser.get("/api/session", headers=served.admin).json()["kind"] == "token"


def test_signing_in_again_ends_the_previous_session(served):
    browser, _ = sign_in(served)
    first = browser.cookies[SESSION_COOKIE]
    again = browser.post("/api/session", json={"name": "alice", "password": PASSWORD})
    assert again.status_code == 200 and browser.cookies[SESSION_COOKIE] != first
    assert httpx.get(f"{served.url}/api/stats", cookies={SESSION_COOKIE: first}).status_code == 401
    assert browser.get("/api/stats").status_code == 200


def test_signing_out_needs_the_csrf_token_and_a_session(served):
    browser, _ = sign_in(served)
    assert browser.delete("/api/session").status_code == 403
    assert browser.get("/api/session").status_code == 200  # still signed in
    assert served.http.delete("/api/session").status_code == 400  # a token is not a session


def test_disabling_the_user_ends_their_sessions_at_once(served):
    browser, _ = sign_in(served)
    assert browser.get("/api/stats").status_code == 200
    served.app.state.identity.set_disabled("alice")
    assert browser.get("/api/stats").status_code == 401
    assert sign_in(served)[1].status_code == 401


def test_wrong_passwords_are_one_message_audited_and_slowed_down(served):
    for name in ("alice", "nobody"):
        _, answer = sign_in(served, name, "not the password at all")
        assert answer.status_code == 401
        assert answer.json()["error"] == "wrong name or password"  # whether the name exists or not
    for _ in range(PER_NAME_AND_ADDRESS - 1):
        assert sign_in(served, "alice", "still not the password")[1].status_code == 401
    _, refused = sign_in(served)  # the right password, after too many wrong ones from here
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 15 * 60 + 1

    entries = served.http.get("/api/audit").json()["entries"]
    attempts = [
        (e["actor"], e["actor_kind"], e["result"]) for e in entries if e["action"] == "POST /api/session"
    ]
    assert attempts[:2] == [("alice", "attempt", "401"), ("nobody", "attempt", "401")]
    assert PASSWORD not in str(entries) and "not the password" not in str(entries)


def test_a_successful_sign_in_is_audited_as_the_user(served):
    sign_in(served)
    entries = served.http.get("/api/audit").json()["entries"]
    assert [
        (e["actor"], e["actor_kind"], e["result"]) for e in entries if e["action"] == "POST /api/session"
    ] == [("alice", "user", "200")]


def test_a_form_cannot_sign_anyone_in(served):
    """Login CSRF: a page on another site posting a form would sign the visitor in as the attacker."""
    answer = httpx.post(f"{served.url}/api/session", data={"name": "alice", "password": PASSWORD})
    assert answer.status_code == 415
    assert SESSION_COOKIE not in answer.cookies


def test_over_tls_the_cookie_is_secure(tmp_path):
    cert, key = self_signed(tmp_path)
    with serving(tmp_path / "data", tls_cert=cert, tls_key=key) as served:
        served.app.state.identity.add_user("alice", "viewer", PASSWORD, by="tests")
        answer = httpx.post(
            f"https://127.0.0.1:{served.port}/api/session",
            json={"name": "alice", "password": PASSWORD},
            verify=ssl.create_default_context(cafile=str(cert)),
        )
        assert answer.status_code == 200, answer.text
        assert "secure" in {part.strip().lower() for part in answer.headers["set-cookie"].split(";")}


def test_a_session_ends_after_its_idle_time_and_its_age(tmp_path):
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    try:
        runtime.identity.add_user("bob", "viewer", PASSWORD, by="tests")
        store = SessionStore(runtime.state, max_age=timedelta(hours=2), idle=timedelta(minutes=30))
        bob = Principal("bob", Role.VIEWER, "user")
        start = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
        _, secret = store.open(bob, "127.0.0.1", now=start)
        assert store.find(secret, now=start + timedelta(minutes=29)) is not None  # and it is touched
        kept = store.find(secret, now=start + timedelta(minutes=58))
        assert kept is not None and kept.expires == start + timedelta(minutes=58 + 30)
        assert store.find(secret, now=start + timedelta(minutes=58 + 31)) is None  # idle
        _, other = store.open(bob, "127.0.0.1", now=start)
        for minutes in range(20, 120, 20):
            assert store.find(other, now=start + timedelta(minutes=minutes)) is not None
        assert store.find(other, now=start + timedelta(hours=2)) is None  # however busy
        assert store.find("reys_" + "x" * 43, now=start) is None
        assert store.find("rey_not-a-session", now=start) is None
    finally:
        runtime.close()


def test_failures_are_forgotten_after_their_window():
    now = [0.0]
    failures = Failures(window=60, clock=lambda: now[0])
    key = ("name", "alice", "10.0.0.1")
    for _ in range(3):
        failures.add(key)
        now[0] += 1
    assert failures.wait(key, 3) == pytest.approx(57)
    assert failures.wait(key, 4) == 0
    now[0] = 60.5
    assert failures.wait(key, 3) == 0  # the first failure left the window
