"""More built-in rules (`reynard.detect.rules`): s3_bucket_public, ssh_bruteforce, root_account_usage and
console_login_without_mfa, each with events that went through the real ingest path (the helpers of
test_detect_rules.py) from hand-written CloudTrail records and sshd lines, and the real samples in
../shared/data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from detect_support import (
    ALICE,
    NOW,
    api_call,
    cloudtrail,
    create_bucket,
    host,
    ingest,
    policy,
    put_acl_canned,
    put_acl_grant,
    put_block,
    put_policy,
    run,
    s3_call,
)
from reynard.detect.rules import BUILTIN_RULES
from reynard.ingest.sources.base import ReadOptions


def test_new_rules_are_registered():
    for name in ("s3_bucket_public", "ssh_bruteforce", "root_account_usage", "console_login_without_mfa"):
        assert BUILTIN_RULES[name].__module__.endswith(name)


# -- s3_bucket_public -------------------------------------------------------------------------------------


def summaries(alerts: list[dict]) -> list[str]:
    return sorted(
        a["summary"].split(f" by {ALICE}: ")[0] + " | " + a["summary"].split(": ")[-1] for a in alerts
    )


def test_s3_bucket_public_acls():
    events = cloudtrail(
        put_acl_canned("logs", "public-read"),
        put_acl_canned("web", "authenticated-read"),
        put_acl_grant("data", "http://acs.amazonaws.com/groups/global/AllUsers"),
        put_acl_grant("data2", "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"),
    )
    assert events[0]["details"]["requestparameters"]["x-amz-acl"] == ["public-read"]
    alerts = run("s3_bucket_public", events)
    assert summaries(alerts) == [
        "S3 public access: PutBucketAcl on bucket data | grant to AllUsers",
        "S3 public access: PutBucketAcl on bucket data2 | grant to AuthenticatedUsers",
        "S3 public access: PutBucketAcl on bucket logs | canned ACL public-read",
        "S3 public access: PutBucketAcl on bucket web | canned ACL authenticated-read",
    ]
    assert {a["severity"] for a in alerts} == {"WARNING"}


def test_s3_bucket_public_private_acls_are_ignored():
    events = cloudtrail(
        put_acl_canned("logs", "private"),
        put_acl_canned("logs", "bucket-owner-full-control", minutes_ago=6),
        put_acl_grant("data", "http://acs.amazonaws.com/groups/s3/LogDelivery"),
        {**put_acl_canned("web", "public-read", minutes_ago=7), "errorCode": "AccessDenied"},
    )
    assert len(events) == 4
    assert run("s3_bucket_public", events) == []


@pytest.mark.parametrize("as_string", [False, True])
def test_s3_bucket_public_policy(as_string):
    def put(bucket: str, principal: object, condition: dict | None = None) -> dict:
        document = policy(bucket, principal, condition)
        return put_policy(bucket, json.dumps(document) if as_string else document)

    events = cloudtrail(
        put("open", "*"),
        put("open-aws", {"AWS": "*"}),
        put("open-list", {"AWS": ["arn:aws:iam::111122223333:root", "*"]}),
        put("account", {"AWS": "arn:aws:iam::111122223333:root"}),
        put("vpce", "*", {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}),
    )
    alerts = run("s3_bucket_public", events)
    assert summaries(alerts) == [
        f"S3 public access: PutBucketPolicy on bucket {bucket} | policy allows Principal *"
        for bucket in ("open", "open-aws", "open-list")
    ]


def test_s3_bucket_public_policy_deny_statement_is_ignored():
    document = policy("b", "*")
    document["Statement"][0]["Effect"] = "Deny"
    assert run("s3_bucket_public", cloudtrail(put_policy("b", document))) == []
    assert run("s3_bucket_public", cloudtrail(put_policy("b", "not json"))) == []


def test_s3_bucket_public_access_blocks():
    events = cloudtrail(
        put_block("b1", BlockPublicPolicy=False, RestrictPublicBuckets=False),
        put_block("b2"),  # all four on: fine
        s3_call("DeleteBucketPublicAccessBlock", {**host("b3"), "publicAccessBlock": [""]}),
        s3_call(
            "DeleteAccountPublicAccessBlock",
            {"accountId": "123456789012"},
            source="s3-control.amazonaws.com",
        ),
    )
    assert events[0]["details"]["requestparameters"]["publicaccessblockconfiguration"][
        "blockpublicpolicy"
    ] in (
        "false",
        False,
    )
    alerts = run("s3_bucket_public", events)
    assert summaries(alerts) == [
        "S3 public access: DeleteAccountPublicAccessBlock on account 123456789012 | "
        "public access block removed",
        "S3 public access: DeleteBucketPublicAccessBlock on bucket b3 | public access block removed",
        "S3 public access: PutPublicAccessBlock on bucket b1 | "
        "turned off blockpublicpolicy, restrictpublicbuckets",
    ]


def test_s3_bucket_public_new_bucket_is_critical():
    events = cloudtrail(
        create_bucket("exfil-staging"),
        put_acl_canned("exfil-staging", "public-read-write"),
        put_acl_canned("old-bucket", "public-read"),
    )
    alerts = {a["summary"].split(" ")[6]: a for a in run("s3_bucket_public", events)}
    assert alerts["exfil-staging"]["severity"] == "CRITICAL"
    assert alerts["exfil-staging"]["summary"].endswith("(bucket created within the window)")
    assert alerts["old-bucket"]["severity"] == "WARNING"
    # A bucket created long before the window: only a WARNING.
    old = ingest(
        json.dumps({"Records": [create_bucket("exfil-staging", minutes_ago=120)]}).encode(),
        "cloudtrail",
        received=(NOW - timedelta(minutes=118)).isoformat(),
    )
    later = cloudtrail(put_acl_canned("exfil-staging", "public-read-write"))
    (alert,) = run("s3_bucket_public", old + later)
    assert alert["severity"] == "WARNING"
    (alert,) = run("s3_bucket_public", events[:2], config={"new_bucket_severity": "ALERT"})
    assert alert["severity"] == "ALERT"


# -- ssh_bruteforce ---------------------------------------------------------------------------------------
LOGHUB_OPTIONS = ReadOptions(reference_time=datetime(2026, 1, 1, tzinfo=UTC))  # "Dec 10" is 2025-12-10
BURST_NOW = datetime(2025, 12, 10, 10, 58, tzinfo=UTC)  # 183.62.140.253 fails every ~2 s from 10:54:29


@pytest.fixture(scope="module")
def loghub(shared_data) -> list[dict]:
    """The loghub OpenSSH sample, each event received when it was logged (as a live feed would)."""
    events = ingest((shared_data / "sshd/loghub/OpenSSH_2k.log").read_bytes(), "syslog", LOGHUB_OPTIONS)
    for event in events:
        event["receivedtimestamp"] = event["utctimestamp"]
    return events


def until(events: list[dict], now: datetime) -> list[dict]:
    """The events that had arrived by `now` (MozDef's window has no end: later ones would match too)."""
    return [e for e in events if datetime.fromisoformat(e["utctimestamp"]) <= now]


def test_ssh_bruteforce_loghub_burst(loghub):
    alerts = run("ssh_bruteforce", until(loghub, BURST_NOW), now=BURST_NOW)
    (alert,) = alerts
    failures = [
        e
        for e in until(loghub, BURST_NOW)
        if e["details"].get("action") == "failed"
        and e["details"].get("sourceipaddress") == "183.62.140.253"
        and e["utctimestamp"] >= (BURST_NOW - timedelta(minutes=5)).isoformat()
    ]
    assert len(failures) >= 10
    assert alert["summary"].startswith(
        f"SSH brute force: {len(failures)} failed logins from 183.62.140.253 in 5 minutes on LabSZ (users: "
    )
    assert alert["severity"] == "WARNING"
    assert len(alert["events"]) == 10
    assert run("ssh_bruteforce", until(loghub, BURST_NOW), now=BURST_NOW, config={"threshold": 1000}) == []


def sshd_failed(ip: str, at: datetime, user: str = "admin", pid: int = 4100) -> bytes:
    stamp = f"{at:%b} {at.day:2d} {at:%H:%M:%S}"  # syslog pads the day with a space
    return (
        f"{stamp} web1 sshd[{pid}]: Failed password for {user} from {ip} port {40000 + pid % 1000} ssh2\n"
    ).encode()


def sshd_events(lines: list[tuple[str, datetime]]) -> list[dict]:
    events = []
    for i, (ip, at) in enumerate(lines):
        events += ingest(sshd_failed(ip, at, pid=4100 + i), "syslog", received=at.isoformat())
    return events


def test_ssh_bruteforce_nine_failures_do_not_alert():
    nine = sshd_events([("203.0.113.9", NOW - timedelta(seconds=20 * i + 10)) for i in range(9)])
    assert len(nine) == 9 and {e["details"]["action"] for e in nine} == {"failed"}
    assert run("ssh_bruteforce", nine) == []
    ten = nine + sshd_events([("203.0.113.9", NOW - timedelta(seconds=5))])
    (alert,) = run("ssh_bruteforce", ten)
    assert alert["summary"].startswith(
        "SSH brute force: 10 failed logins from 203.0.113.9 in 5 minutes on web1"
    )
    # Ten failures from ten addresses are not a brute force of one.
    spread = sshd_events([(f"203.0.113.{i}", NOW - timedelta(seconds=10 * i + 5)) for i in range(10)])
    assert run("ssh_bruteforce", spread) == []


def test_ssh_bruteforce_failures_spread_over_more_than_five_minutes():
    slow = sshd_events([("203.0.113.9", NOW - timedelta(seconds=40 * i + 10)) for i in range(12)])  # 7.5 min
    assert len(slow) == 12
    assert run("ssh_bruteforce", slow) == []
    (alert,) = run("ssh_bruteforce", slow, config={"minutes": 10})
    assert "12 failed logins" in alert["summary"]


# -- root_account_usage -----------------------------------------------------------------------------------
ROOT = {
    "type": "Root",
    "principalId": "123456789012",
    "arn": "arn:aws:iam::123456789012:root",
    "accountId": "123456789012",
    "accessKeyId": "ASIAEXAMPLEROOT",
}


def test_root_account_usage():
    events = cloudtrail(
        api_call(ROOT["arn"], "198.51.100.7", 3, name="CreateAccessKey", userIdentity=ROOT),
        api_call(
            ROOT["arn"],
            "198.51.100.7",
            4,
            name="GetAccountSummary",
            userIdentity=ROOT,
            errorCode="AccessDenied",
        ),
    )
    alerts = run("root_account_usage", events)
    assert sorted(a["summary"] for a in alerts) == [
        "Root account of 123456789012 used: CreateAccessKey in s3.amazonaws.com from 198.51.100.7",
        "Root account of 123456789012 used: GetAccountSummary in s3.amazonaws.com from 198.51.100.7 "
        "(AccessDenied)",
    ]
    assert {a["severity"] for a in alerts} == {"WARNING"}


def test_root_account_usage_ignores_services_and_other_principals():
    events = cloudtrail(
        api_call(
            ROOT["arn"],
            "support.amazonaws.com",
            name="DescribeTrustedAdvisorChecks",
            userIdentity={**ROOT, "invokedBy": "support.amazonaws.com"},
        ),
        api_call(ALICE, "198.51.100.7", name="CreateAccessKey"),
        api_call(
            "arn:aws:iam::123456789012:user/root",  # an IAM user that happens to be called root
            "198.51.100.7",
            name="ListBuckets",
            userIdentity={
                "type": "IAMUser",
                "arn": "arn:aws:iam::123456789012:user/root",
                "userName": "root",
            },
        ),
    )
    assert len(events) == 3
    assert run("root_account_usage", events) == []


# -- console_login_without_mfa ----------------------------------------------------------------------------
STRATUS_LOGIN_NOW = datetime(2024, 8, 2, 9, 0, tzinfo=UTC)  # the sign-in is at 08:53:24


def console_login(mfa: str, result: str = "Success", user: str = "bob") -> dict:
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": f"arn:aws:iam::123456789012:user/{user}",
            "accountId": "123456789012",
            "userName": user,
        },
        "eventTime": (NOW - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "Mozilla/5.0",
        "requestParameters": None,
        "responseElements": {"ConsoleLogin": result},
        "additionalEventData": {
            "LoginTo": "https://console.aws.amazon.com/console/home",
            "MobileVersion": "No",
            "MFAUsed": mfa,
        },
        "eventID": f"login-{user}-{mfa}-{result}",
        "eventType": "AwsConsoleSignIn",
        "recipientAccountId": "123456789012",
    }


def test_console_login_without_mfa_stratus(shared_data):
    path = shared_data / "cloudtrail/stratus/aws.initial-access.console-login-without-mfa.json"
    events = ingest(path.read_bytes(), "cloudtrail", received="2024-08-02T08:54:00+00:00")
    (alert,) = run("console_login_without_mfa", events, now=STRATUS_LOGIN_NOW)
    assert alert["summary"] == (
        "Console login without MFA: arn:aws:iam::562283505220:user/stratus-red-team-nmfalu-jfzdtsvchl "
        "from 225.01.00.16"
    )
    assert alert["severity"] == "WARNING"
    assert run("console_login_without_mfa", events, now=STRATUS_LOGIN_NOW + timedelta(hours=1)) == []


def test_console_login_without_mfa_ignores_mfa_and_failures():
    events = cloudtrail(
        console_login("Yes", user="carol"),
        console_login("No", result="Failure", user="dave"),
        console_login("no", user="erin"),  # other casing still counts
    )
    (alert,) = run("console_login_without_mfa", events)
    assert alert["summary"].startswith("Console login without MFA: arn:aws:iam::123456789012:user/erin")
