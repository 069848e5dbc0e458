"""Sigma rules in the engine: registered with `rules add --sigma`, run by the runner over a real store
and streamed by the server; the shipped workshop rules give the alerts the built-in Python rules give
on the same events."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from detect_support import (
    INVICTUS_NOW,
    NOW,
    STOLEN_ROLE,
    cloudtrail,
    create_bucket,
    flow,
    ingest,
    ingest_files,
    policy,
    put_acl_canned,
    put_acl_grant,
    put_block,
    put_policy,
)
from helpers import Server
from paths import REPO
from reynard.cli import main
from reynard.detect.alerts import AlertStore
from reynard.detect.registry import RuleRegistry
from reynard.detect.runner import run_rules
from reynard.settings import Settings
from reynard.state import open_state
from reynard.store.tantivy.store import TantivyEventStore

SHIPPED = REPO / "src" / "reynard" / "detect" / "sigma" / "rules"
PAIRS = {  # built-in rule -> the shipped Sigma rule names that do the same
    "principal_multiple_ips": ("sigma:aws-principal-calling-from-several-addresses",),
    "excessive_describe": (
        "sigma:excessive-describe-calls-by-a-production-service",
        "sigma:excessive-describe-calls-by-a-principal",
    ),
    "s3_bucket_public": ("sigma:s3-public-access-change", "sigma:new-s3-bucket-made-public"),
    "ssh_from_outside": ("sigma:ssh-from-outside",),
}


class Engine:
    """A data directory: a store holding `events`, the built-in rules and the shipped Sigma rules."""

    def __init__(self, root: Path, events: list[dict]):
        self.settings = Settings(data_dir=root / "data")
        store = TantivyEventStore(self.settings.events_dir, writable=True)
        try:
            store.write(events, commit=True)
        finally:
            store.close()
        engine = open_state(self.settings.state_url)
        self.registry = RuleRegistry(engine, self.settings.data_dir / "rules")
        self.registry.ensure_builtins()
        report = self.registry.add_sigma([str(SHIPPED)])
        assert not report.problems, [p.reason for p in report.problems]
        self.alerts = AlertStore(engine)

    def run(self, since: datetime, now: datetime, names: list[str]) -> dict[str, list[dict]]:
        report = run_rules(
            self.registry, TantivyEventStore(self.settings.events_dir), self.alerts, now, since, names
        )
        assert not report.failed, report.lines()
        found: dict[str, list[dict]] = defaultdict(list)
        for alert in self.alerts.list():
            found[alert["rule"]].append(self.alerts.get(alert["id"]))
        return found


def groups(alerts: list[dict]) -> set[str]:
    return {a["group_key"] for a in alerts}


def alerted_events(alerts: list[dict]) -> set[str]:
    return {event_id for a in alerts for event_id in a["event_ids"]}


def test_the_shipped_rules_are_registered_under_their_titles(tmp_path):
    engine = Engine(tmp_path, [])
    names = {i.name: i for i in engine.registry.list() if i.kind == "sigma"}
    assert set(names) == {n for pair in PAIRS.values() for n in pair}  # base rules of correlations: none
    assert names["sigma:ssh-from-outside"].schedule.text == "1m"  # correlations: a short interval
    assert names["sigma:s3-public-access-change"].schedule.text == "5m"  # detections stream
    listed = CliRunner().invoke(main, ["--data-dir", str(engine.settings.data_dir), "rules", "list"])
    assert "sigma:ssh-from-outside" in listed.stdout and "sigma " in listed.stdout


@pytest.fixture(scope="module")
def invictus_engine(shared_data, tmp_path_factory):
    events = ingest_files(
        list((shared_data / "cloudtrail/invictus/CloudTrail").glob("*.json")),
        "cloudtrail",
        received="2023-07-10T12:38:00+00:00",
    )
    return Engine(tmp_path_factory.mktemp("invictus"), events)


def test_multiple_ips_as_sigma_finds_what_the_builtin_finds(invictus_engine):
    names = ["principal_multiple_ips", *PAIRS["principal_multiple_ips"]]
    found = invictus_engine.run(INVICTUS_NOW - timedelta(hours=2), INVICTUS_NOW, names)
    builtin, (sigma,) = found["principal_multiple_ips"], [found[n] for n in PAIRS["principal_multiple_ips"]]
    assert groups(builtin) == groups(sigma)
    assert STOLEN_ROLE.lower() in {g.lower() for g in groups(sigma)}
    stolen = next(a for a in sigma if a["group_key"].lower() == STOLEN_ROLE.lower())
    assert stolen["severity"] == "WARNING" and stolen["category"] == "sigma"
    assert "correlation" in stolen["tags"] and "attack.t1552.005" in stolen["tags"]


def test_excessive_describe_as_sigma_finds_what_the_builtin_finds(invictus_engine):
    names = ["excessive_describe", *PAIRS["excessive_describe"]]
    found = invictus_engine.run(INVICTUS_NOW - timedelta(hours=2), INVICTUS_NOW, names)
    builtin = found["excessive_describe"]
    sigma = [a for name in PAIRS["excessive_describe"] for a in found[name]]
    assert builtin and groups(builtin) == groups(sigma) == {"arn:aws:iam::123837392027:user/bert-jan"}
    assert {a["severity"] for a in builtin} == {a["severity"] for a in sigma} == {"INFO"}


def test_s3_bucket_public_as_sigma_alerts_on_the_same_calls(tmp_path):
    events = cloudtrail(
        create_bucket("exfil-staging"),
        put_acl_canned("exfil-staging", "public-read-write"),
        put_acl_canned("logs", "public-read"),
        put_acl_canned("private", "private"),
        put_acl_grant("shared", "http://acs.amazonaws.com/groups/global/AllUsers"),
        put_policy("site", policy("site", "*")),
        put_policy("site-aws", policy("site-aws", {"AWS": "*"})),
        put_policy("narrowed", policy("narrowed", "*", {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
        put_policy("account", policy("account", {"AWS": "arn:aws:iam::111122223333:root"})),
        put_block("open", BlockPublicPolicy=False),
        put_block("closed"),
    )
    engine = Engine(tmp_path, events)
    names = ["s3_bucket_public", *PAIRS["s3_bucket_public"]]
    found = engine.run(NOW - timedelta(minutes=30), NOW, names)
    builtin, change, new_bucket = (found[n] for n in names)
    assert alerted_events(builtin) == alerted_events(change)
    assert len(change) == 6  # two ACLs, a grant, two policies, a block turned off
    # The built-in rule's CRITICAL (a bucket created and opened within its window) is the correlation.
    critical = [a for a in builtin if a["severity"] == "CRITICAL"]
    assert [a["summary"].split(" ")[6] for a in critical] == ["exfil-staging"]
    (correlated,) = new_bucket
    assert correlated["severity"] == "CRITICAL" and correlated["group_key"] == "exfil-staging"


def test_ssh_from_outside_as_sigma_one_alert_per_source(tmp_path):
    data = b"".join(
        [
            flow("198.51.100.7", "10.0.1.5", 22),
            flow("198.51.100.7", "10.0.1.6", 22, minutes_ago=5),
            flow("203.0.113.9", "10.0.1.5", 22),
            flow("10.0.2.9", "10.0.1.5", 22),  # internal
            flow("198.51.100.7", "10.0.1.5", 22, action="REJECT"),
            flow("198.51.100.7", "10.0.1.5", 443),
        ]
    )
    engine = Engine(tmp_path, ingest(data, "vpcflow"))
    names = ["ssh_from_outside", *PAIRS["ssh_from_outside"]]
    found = engine.run(NOW - timedelta(minutes=30), NOW, names)
    builtin, (sigma,) = found["ssh_from_outside"], [found[n] for n in PAIRS["ssh_from_outside"]]
    assert groups(builtin) == groups(sigma) == {"198.51.100.7", "203.0.113.9"}
    assert alerted_events(builtin) == alerted_events(sigma)


def test_a_second_run_raises_nothing_new(tmp_path):
    data = flow("198.51.100.7", "10.0.1.5", 22) + flow("203.0.113.9", "10.0.1.5", 22)
    engine = Engine(tmp_path, ingest(data, "vpcflow"))
    names = list(PAIRS["ssh_from_outside"])
    first = engine.run(NOW - timedelta(minutes=30), NOW, names)
    again = engine.run(NOW - timedelta(minutes=30), NOW + timedelta(minutes=2), names)
    assert sum(map(len, first.values())) == sum(map(len, again.values())) == 2


# -- the CLI -----------------------------------------------------------------------------------------------
def run_cli(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_rules_add_sigma_reports_what_it_added_and_refuses_invalid_files(tmp_path):
    data_dir = tmp_path / "data"
    added = run_cli("--data-dir", data_dir, "rules", "add", "--sigma", SHIPPED)
    assert added.exit_code == 0, added.output
    assert "added sigma:ssh-from-outside" in added.stdout
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "title: Bad\nlogsource: {product: aws, service: cloudtrail}\n"
        "detection:\n  selection:\n    eventName|nope: X\n  condition: selection\n"
    )
    refused = run_cli("--data-dir", data_dir, "rules", "add", "--sigma", bad)
    assert refused.exit_code == 1
    assert (
        "invalid" in refused.stderr
        and "eventName|nope" in refused.stderr
        and "nothing added" in refused.stderr
    )
    listed = run_cli("--data-dir", data_dir, "rules", "list", "--format", "json")
    assert "sigma:bad" not in listed.stdout
    usage = run_cli("--data-dir", data_dir, "rules", "add")
    assert usage.exit_code == 2


def test_sigma_test_prints_the_alerts_as_json_lines(tmp_path, shared_data):
    stratus = shared_data / "cloudtrail/stratus/aws.defense-evasion.cloudtrail-stop.json"
    rule = tmp_path / "stop.yml"
    rule.write_text(
        "title: CloudTrail logging stopped\nid: 0f1e2d3c-4b5a-4697-8877-665544332211\n"
        "logsource: {product: aws, service: cloudtrail}\n"
        "detection:\n  selection:\n    eventName: stoplogging\n  condition: selection\nlevel: high\n"
    )
    result = run_cli("sigma", "test", rule, "--events", stratus)
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    alert = json.loads(line)
    assert (alert["title"], alert["id"], alert["kind"]) == (
        "CloudTrail logging stopped",
        "0f1e2d3c-4b5a-4697-8877-665544332211",
        "detection",
    )
    assert [e["details"]["eventname"] for e in alert["events"]] == ["StopLogging"]  # case-insensitive
    shipped = run_cli("sigma", "test", SHIPPED, "--events", stratus)
    assert shipped.exit_code == 0 and shipped.stdout == ""


# -- streaming in the server -------------------------------------------------------------------------------
@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "data").start()
    yield s
    s.stop()


def test_a_sigma_rule_added_while_the_server_runs_alerts_on_posted_events(server, tmp_path):
    rule = tmp_path / "mfa.yml"
    rule.write_text(
        "title: Console login without MFA\nid: 5c6b7a89-0d1e-4f2a-9b3c-4d5e6f708192\n"
        "logsource: {product: aws, service: cloudtrail}\n"
        "detection:\n  selection:\n    eventName: ConsoleLogin\n    additionalEventData.MFAUsed: 'NO'\n"
        "  condition: selection\nlevel: medium\n"
    )
    added = run_cli("--data-dir", server.data_dir, "rules", "add", "--sigma", rule)
    assert added.exit_code == 0, added.output
    time.sleep(1.2)  # the server looks for changed rules at most once a second
    record = {
        "eventVersion": "1.08",
        "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "eventType": "AwsConsoleSignIn",
        "sourceIPAddress": "203.0.113.7",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/bob", "userName": "bob"},
        "responseElements": {"ConsoleLogin": "Success"},
        "additionalEventData": {"MFAUsed": "No"},
        "eventID": "7d1f0000-0000-4000-8000-00000000a001",
    }
    assert (
        server.post(f"{server.url}/events", content=json.dumps({"Records": [record]})).json()["stored"] == 1
    )
    deadline = time.monotonic() + 5
    alerts: list[dict] = []
    while time.monotonic() < deadline and not any(a["rule"].startswith("sigma:") for a in alerts):
        alerts = server.get(f"{server.url}/api/alerts").json()["alerts"]
        time.sleep(0.02)
    (sigma,) = [a for a in alerts if a["rule"] == "sigma:console-login-without-mfa"]
    assert sigma["severity"] == "WARNING" and sigma["summary"].startswith("Console login without MFA: ")
    assert {"console_login_without_mfa"} <= {a["rule"] for a in alerts}  # the built-in rule agrees
