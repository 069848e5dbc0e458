"""Runbooks over HTTP (`/api/runbooks`, in the real app) and through `reynard runbook`, in-process; and a
real alert from a real rule run, escalated to its runbook."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from helpers import bearer
from reynard.cases.runbooks import load_runbooks, suggester
from reynard.cli import main
from reynard.detect.alerts import AlertStore
from reynard.runtime import Runtime
from reynard.settings import Settings
from reynard.state import open_state
from reynard.web.app import create_app

CRYPTO = "CryptoCurrency:EC2/BitcoinTool.B!DNS"
MINE = """\
---
title: Our <b>own</b> runbook
urgency: low
rules: [our_rule]
---
## Problem
<script>alert(1)</script> and [a link](javascript:alert(1)) and **bold**.

| a | b |
|---|---|
| 1 | 2 |
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def client(tmp_path):
    runtime = Runtime(Settings(data_dir=tmp_path))
    with TestClient(create_app(runtime), base_url="http://localhost") as test_client:
        test_client.headers.update(bearer(runtime.identity.create_token("reader", "viewer", by="tests")[1]))
        yield test_client
    runtime.close()


# -- API --------------------------------------------------------------------------------------------------
def test_list_runbooks(client, tmp_path):
    write(tmp_path / "runbooks", "broken", "---\ntitle: x\n---\nbody\n")
    body = client.get("/api/runbooks").json()
    names = [r["name"] for r in body["runbooks"]]
    assert names == sorted(names) and "guardduty_crypto_mining" in names
    assert body["count"] == len(names) == len(load_runbooks(None))
    (problem,) = body["problems"]
    assert problem["path"].endswith("broken.md") and problem["line"] == 2
    assert problem["message"] == "missing 'urgency'"
    crypto = next(r for r in body["runbooks"] if r["name"] == "guardduty_crypto_mining")
    assert crypto["urgency"] == "critical" and crypto["origin"] == "shipped"
    assert "body" not in crypto


def test_get_one_runbook_with_markdown_and_escaped_html(client, tmp_path):
    write(tmp_path / "runbooks", "mine", MINE)
    body = client.get("/api/runbooks/mine").json()
    assert body["front_matter"]["title"] == "Our <b>own</b> runbook"
    assert body["body"].startswith("## Problem\n<script>")
    html = body["html"]
    assert "<h2>Problem</h2>" in html and "<strong>bold</strong>" in html and "<table>" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript:' not in html
    assert body["missing_sections"][0] == "Data to gather"


def test_get_the_crypto_runbook(client):
    body = client.get("/api/runbooks/guardduty_crypto_mining").json()
    front = body["front_matter"]
    assert front["playbook"] == "guardduty_crypto_mining.asl.json"
    assert CRYPTO in front["finding_types"]
    assert front["escalation"][0]["reach"] == "PagerDuty: ir-oncall"
    assert "<h2>Contain</h2>" in body["html"]
    assert body["missing_sections"] == []


def test_unknown_runbook_is_404(client):
    response = client.get("/api/runbooks/nope")
    assert response.status_code == 404
    assert response.json()["error"] == "no runbook named 'nope'"


@pytest.mark.parametrize(
    ("query", "name", "by"),
    [
        ({"finding_type": CRYPTO}, "guardduty_crypto_mining", "finding_type"),
        (
            {"finding_type": "CryptoCurrency:EC2/Future", "category": "guardduty"},
            "guardduty_crypto_mining",
            "finding_type_pattern",
        ),
        ({"rule": "guardduty_finding", "category": "guardduty"}, "guardduty_finding", "category"),
        ({"rule": "ssh_bruteforce", "finding_type": CRYPTO}, "ssh_bruteforce", "rule"),
        ({"rule": ["unknown", "root_account_usage"]}, "root_account_usage", "rule"),
    ],
)
def test_suggest(client, query, name, by):
    body = client.get("/api/runbooks/suggest", params=query).json()
    assert body["runbook"]["name"] == name
    assert body["matched"]["by"] == by


def test_suggest_none_and_no_parameters(client):
    assert client.get("/api/runbooks/suggest", params={"category": "nothing"}).json() == {
        "runbook": None,
        "matched": None,
    }
    response = client.get("/api/runbooks/suggest")
    assert response.status_code == 400


def test_an_edited_user_runbook_shows_without_a_restart(client, tmp_path):
    assert client.get("/api/runbooks/mine").status_code == 404
    write(tmp_path / "runbooks", "mine", MINE)
    assert client.get("/api/runbooks/mine").status_code == 200
    assert (
        client.get("/api/runbooks/suggest", params={"rule": "our_rule"}).json()["runbook"]["name"] == "mine"
    )


def test_the_runbook_api_is_in_the_openapi_description(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/runbooks", "/api/runbooks/suggest", "/api/runbooks/{name}"} <= set(paths)


# -- CLI --------------------------------------------------------------------------------------------------
def run(*args, data_dir=None):
    prefix = ["--data-dir", str(data_dir)] if data_dir else []
    return CliRunner().invoke(main, [*prefix, *map(str, args)], catch_exceptions=False)


def test_cli_list(tmp_path):
    write(tmp_path / "runbooks", "ssh_bruteforce", MINE)
    result = run("runbook", "list", data_dir=tmp_path)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "URGENCY", "ORIGIN", "TITLE"]
    row = next(line for line in lines if line.startswith("ssh_bruteforce "))
    assert row.split()[1:3] == ["low", "user"]
    crypto = next(line for line in lines if line.startswith("guardduty_crypto_mining "))
    assert crypto.split()[1:3] == ["critical", "shipped"]
    as_json = [
        json.loads(line)
        for line in run("runbook", "list", "--format", "json", data_dir=tmp_path).stdout.splitlines()
    ]
    assert len(as_json) == len(lines) - 1


def test_cli_list_reports_bad_user_files_and_keeps_the_rest(tmp_path):
    write(tmp_path / "runbooks", "bad", "---\ntitle: x\nurgency: low\nurl: x\n---\nbody\n")
    result = run("runbook", "list", data_dir=tmp_path)
    assert result.exit_code == 0
    assert "bad.md:4: unknown key 'url'" in result.stderr
    assert "guardduty_crypto_mining" in result.stdout


def test_cli_show(tmp_path):
    result = run("runbook", "show", "guardduty_crypto_mining", data_dir=tmp_path)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("# EC2 instance mining cryptocurrency\n")
    assert "urgency: critical" in out and "playbook: guardduty_crypto_mining.asl.json" in out
    assert "  1. Incident response on-call, " in out
    assert "## Contain" in out
    as_json = json.loads(run("runbook", "show", "ssh_bruteforce", "--format", "json").stdout)
    assert as_json["front_matter"]["name"] == "ssh_bruteforce" and as_json["body"].startswith("## Problem")


def test_cli_show_unknown_name_is_one_line_exit_2(tmp_path):
    result = run("runbook", "show", "nope", data_dir=tmp_path)
    assert result.exit_code == 2
    assert result.stderr.startswith("reynard: no runbook named 'nope' (known: cloudtrail_logging_stopped, ")
    assert len(result.stderr.splitlines()) == 1


def test_cli_check_the_library(tmp_path):
    result = run("runbook", "check", data_dir=tmp_path)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("ok ") == len(load_runbooks(None))
    assert "warning" not in result.stdout
    assert result.stderr.strip() == f"{len(load_runbooks(None))} ok, 0 invalid"


def test_cli_check_files_exits_1_on_an_invalid_one(tmp_path):
    good = write(tmp_path / "rb", "good", "---\ntitle: G\nurgency: low\n---\n## Problem\nx\n")
    write(tmp_path / "rb", "bad", "---\ntitle: B\nurgency: low\nrules: one\n---\nbody\n")
    result = run("runbook", "check", tmp_path / "rb", tmp_path / "missing.md")
    assert result.exit_code == 1
    out = result.stdout
    assert f"invalid  {tmp_path / 'rb' / 'bad.md'}:4: 'rules' must be a list of strings" in out
    assert f"invalid  {tmp_path / 'missing.md'}: no such file or folder" in out
    assert f"ok       {good}  (good, low)" in out
    assert f"warning  {good}: no section for Data to gather, Analyze," in out
    assert result.stderr.strip() == "1 ok, 2 invalid"
    assert run("runbook", "check", good).exit_code == 0


def test_cli_check_warns_about_a_user_runbook_claiming_a_shipped_ones_rule(tmp_path):
    text = "---\ntitle: S\nurgency: low\nrules: [ssh_bruteforce]\n---\nbody\n"
    write(tmp_path / "runbooks", "zz_ssh", text)
    result = run("runbook", "check", data_dir=tmp_path)
    assert result.exit_code == 0
    note = "warning  rule 'ssh_bruteforce' is claimed by zz_ssh, ssh_bruteforce: zz_ssh applies"
    assert note in result.stdout
    suggested = run("runbook", "suggest", "--rule", "ssh_bruteforce", data_dir=tmp_path)
    assert suggested.stdout.startswith("zz_ssh ")


def test_cli_suggest(tmp_path):
    result = run("runbook", "suggest", "--finding-type", CRYPTO, "--category", "guardduty", data_dir=tmp_path)
    assert result.exit_code == 0
    assert result.stdout.startswith("guardduty_crypto_mining  (by finding type ")
    none = run("runbook", "suggest", "--category", "nothing", data_dir=tmp_path)
    assert none.exit_code == 1 and "no runbook applies" in none.stderr
    assert run("runbook", "suggest", data_dir=tmp_path).exit_code == 2


# -- a real alert, from a real rule run -------------------------------------------------------------------
def finding(finding_type: str) -> dict:
    return {
        "schemaVersion": "2.0",
        "accountId": "111122223333",
        "region": "us-east-1",
        "id": "a1b2c3d4e5f6",
        "type": finding_type,
        "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0123456789abcdef0"}},
        "service": {
            "serviceName": "guardduty",
            "action": {"actionType": "DNS_REQUEST", "dnsRequestAction": {"domain": "pool.example"}},
            "count": 1,
        },
        "severity": 8,
        "createdAt": "2026-12-01T10:00:00.000Z",
        "updatedAt": "2026-12-01T10:00:00.000Z",
        "title": "Bitcoin-related domain name queried by EC2 instance i-0123456789abcdef0.",
    }


@pytest.mark.parametrize(
    ("finding_type", "expected"),
    [(CRYPTO, "guardduty_crypto_mining"), ("Backdoor:EC2/Spambot", "guardduty_finding")],
)
def test_a_guardduty_rule_alert_gets_its_runbook(tmp_path, finding_type, expected):
    log = tmp_path / "finding.json"
    log.write_text(json.dumps(finding(finding_type)))
    result = run("rules", "test", "guardduty_finding", "--events", log, "--now", "2026-12-01T10:05:00Z")
    assert result.exit_code == 0, result.output
    (alert,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert load_runbooks(None).suggest(alert).name == expected
    # as escalation will: the stored alert, through suggest_runbook
    settings = Settings(data_dir=tmp_path / "data")
    alerts = AlertStore(open_state(settings.state_url))
    stored = alerts.get(alerts.add(alert, "guardduty_finding"))
    assert stored["rule"] == "guardduty_finding" and stored["category"] == "guardduty"
    assert suggester(settings)(stored) == expected
    # and escalated, the incident carries it
    runtime = Runtime(settings)
    escalation = runtime.cases.escalator().escalate(stored["id"], by="analyst")
    runtime.close()
    assert escalation.created and escalation.incident.runbook == expected


def test_an_ssh_bruteforce_alert_gets_its_runbook(tmp_path):
    lines = [
        f"Feb  5 17:30:{i:02d} bastion sshd[{1000 + i}]: "
        f"Failed password for root from 203.0.113.7 port {40000 + i} ssh2"
        for i in range(12)
    ]
    log = tmp_path / "auth.log"
    log.write_text("\n".join(lines) + "\n")
    result = run("rules", "test", "ssh_bruteforce", "--events", log, "--now", "2024-02-05T17:32:00Z")
    (alert,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert load_runbooks(None).suggest(alert).name == "ssh_bruteforce"
