"""The built-in rules (`reynard.detect.rules`), each with events that went through the real ingest path
(source parser, default plugins, finalize): hand-written log lines and records, and the real samples in
../shared/data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from detect_support import (
    INVICTUS_NOW,
    NOW,
    STOLEN_ROLE,
    api_call,
    cloudtrail,
    flow,
    ingest,
    ingest_files,
    run,
)
from reynard.detect import MemorySource, RuleError
from reynard.detect.rules import BUILTIN_RULES


def test_registry_names_classes():
    assert "ssh_from_outside" in BUILTIN_RULES
    for cls in BUILTIN_RULES.values():
        assert cls.__doc__ or __import__(cls.__module__).__doc__


def test_unknown_config_key_is_refused():
    with pytest.raises(RuleError, match="unknown config key 'treshold'"):
        BUILTIN_RULES["ssh_from_outside"](MemorySource([]), config={"treshold": 3})


# -- ssh_from_outside -------------------------------------------------------------------------------------


def test_ssh_from_outside_one_alert_per_source():
    data = b"".join(
        [
            flow("198.51.100.7", "10.0.1.5", 22),
            flow("198.51.100.7", "10.0.1.6", 22, minutes_ago=5),
            flow("203.0.113.9", "10.0.1.5", 22),
        ]
    )
    alerts = run("ssh_from_outside", ingest(data, "vpcflow"))
    assert sorted(a["summary"] for a in alerts) == [
        "SSH from outside: 198.51.100.7 reached SSH on 10.0.1.5, 10.0.1.6 (2 accepted flows)",
        "SSH from outside: 203.0.113.9 reached SSH on 10.0.1.5 (1 accepted flows)",
    ]
    assert {a["severity"] for a in alerts} == {"WARNING"}
    assert len(alerts[0]["events"]) == 2


def test_ssh_from_outside_ignores_internal_rejected_other_ports_and_old_flows():
    data = b"".join(
        [
            flow("10.0.2.9", "10.0.1.5", 22),  # internal
            flow("172.16.4.4", "10.0.1.5", 22),  # internal
            flow("198.51.100.7", "10.0.1.5", 22, action="REJECT"),  # blocked
            flow("198.51.100.7", "10.0.1.5", 443),  # not ssh
            b"2 123456789010 eni-0a1b2c3d4e5f67890 - - - - - - - 1431280876 1431280934 - NODATA\n",
        ]
    )
    events = ingest(data, "vpcflow")
    old = flow("198.51.100.8", "10.0.1.5", 22, minutes_ago=40)  # before the window
    events += ingest(old, "vpcflow", received=(NOW - timedelta(minutes=39)).isoformat())
    assert len(events) == 6
    assert run("ssh_from_outside", events) == []


def test_ssh_from_outside_config():
    data = flow("198.51.100.7", "10.0.1.5", 2222) + flow("198.51.100.8", "10.0.1.5", 22)
    alerts = run(
        "ssh_from_outside",
        ingest(data, "vpcflow"),
        config={"ports": [2222], "internal_cidrs": ["198.51.100.8/32"]},
    )
    assert [a["summary"].split(" ")[3] for a in alerts] == ["198.51.100.7"]


# -- principal_multiple_ips -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def invictus(shared_data) -> list[dict]:
    return ingest_files(
        list((shared_data / "cloudtrail/invictus/CloudTrail").glob("*.json")),
        "cloudtrail",
        received="2023-07-10T12:38:00+00:00",
    )


def test_principal_multiple_ips_finds_the_stolen_instance_role(invictus):
    alerts = run("principal_multiple_ips", invictus, now=INVICTUS_NOW)
    by_arn = {a["summary"].split(" ")[0]: a for a in alerts}
    stolen = by_arn[STOLEN_ROLE]
    assert "2 addresses: 192.168.10.20, 3.225.16.109" in stolen["summary"]
    assert stolen["severity"] == "WARNING"
    assert len(stolen["events"]) == 2
    # The two console users also worked from several (internal) addresses in that hour.
    assert set(by_arn) == {
        STOLEN_ROLE,
        "arn:aws:iam::123837392027:user/benjamin",
        "arn:aws:iam::123837392027:user/bert-jan",
    }
    # An hour later the window holds nothing.
    assert run("principal_multiple_ips", invictus, now=INVICTUS_NOW + timedelta(hours=2)) == []


def test_principal_multiple_ips_ignores_one_address_and_service_callers():
    role = "arn:aws:sts::123456789012:assumed-role/app/i-0abc"
    events = cloudtrail(
        api_call(role, "198.51.100.7", 1),
        api_call(role, "198.51.100.7", 2),
        api_call(role, "AWS Internal", 3),  # a service acting for the role: no address
        api_call(
            role,
            "s3.amazonaws.com",
            4,
            userIdentity={"type": "AWSService", "arn": role, "invokedBy": "s3.amazonaws.com"},
        ),
    )
    assert run("principal_multiple_ips", events) == []
    events += cloudtrail(api_call(role, "203.0.113.50", 6))
    (alert,) = run("principal_multiple_ips", events)
    assert alert["summary"].startswith(
        f"{role} called the AWS API from 2 addresses: 198.51.100.7, 203.0.113.50"
    )
    assert run("principal_multiple_ips", events, config={"min_ips": 3}) == []


# -- excessive_describe -----------------------------------------------------------------------------------
OTRF_NOW = datetime(2020, 9, 14, 1, 15, tzinfo=UTC)  # the sample spans 00:44-01:13 UTC
PEDRO = "arn:aws:iam::123456789123:user/pedro"


@pytest.fixture(scope="module")
def otrf(shared_data) -> list[dict]:
    path = shared_data / "cloudtrail/otrf/ec2_proxy_s3_exfiltration_2020-09-14011940.json"
    return ingest(path.read_bytes(), "cloudtrail", received="2020-09-14T01:14:00+00:00")


def test_excessive_describe_console_user_is_benign(otrf):
    assert sum(e["details"].get("eventverb") == "Describe" for e in otrf) == 85
    assert run("excessive_describe", otrf, now=OTRF_NOW, config={"minutes": 60}) == []
    # The same calls from a principal configured as a production service do alert.
    (alert,) = run(
        "excessive_describe", otrf, now=OTRF_NOW, config={"minutes": 60, "production_principals": [PEDRO]}
    )
    assert alert["severity"] == "WARNING"
    assert alert["summary"].startswith(f"Excessive Describe calls by production principal {PEDRO}: 85 in 60")


def test_excessive_describe_enumeration_by_other_principal_is_info(invictus):
    (alert,) = run("excessive_describe", invictus, now=INVICTUS_NOW, config={"minutes": 60})
    assert alert["severity"] == "INFO"
    assert alert["summary"].startswith(
        "Excessive Describe calls by arn:aws:iam::123837392027:user/bert-jan: 1050 in 60 minutes"
    )
    assert alert["notify_mozdefbot"] is False
    # "More than" the threshold: 1,050 calls do not pass a threshold of 1,050.
    assert (
        run("excessive_describe", invictus, now=INVICTUS_NOW, config={"minutes": 60, "threshold": 1050}) == []
    )


def test_excessive_describe_production_role_over_twenty():
    role = "arn:aws:sts::123456789012:assumed-role/prod-billing/i-0abc"
    calls = [api_call(role, "10.0.3.4", i % 9, name="DescribeInstances") for i in range(21)]
    for i, call in enumerate(calls):
        call["eventID"] = f"describe-{i}"
    (alert,) = run("excessive_describe", cloudtrail(*calls))
    assert alert["severity"] == "WARNING"
    assert "production principal" in alert["summary"] and "21 in 10 minutes" in alert["summary"]
    assert run("excessive_describe", cloudtrail(*calls[:20])) == []
    assert run("excessive_describe", cloudtrail(*calls), config={"production_threshold": 21}) == []


# -- guardduty_finding ------------------------------------------------------------------------------------
GD_NOW = datetime(2018, 1, 8, 1, 0, tzinfo=UTC)  # the sample finding was last updated 00:52 UTC


def guardduty(shared_data, **service_info) -> list[dict]:
    finding = json.loads((shared_data / "guardduty/guardduty_portprobe_ssh_event.json").read_bytes())
    detail = finding.get("detail", finding)
    detail["service"]["additionalInfo"].update(service_info)
    return ingest(json.dumps(finding).encode(), "guardduty", received="2018-01-08T00:53:00+00:00")


def test_guardduty_finding_alerts_at_the_finding_severity(shared_data):
    events = guardduty(shared_data)
    (alert,) = run("guardduty_finding", events, now=GD_NOW)
    assert alert["summary"] == (
        "GuardDuty Recon:EC2/PortProbeUnprotectedPort: Unprotected port on EC2 instance i-036cb01d26bb09166 "
        "is being probed."
    )
    assert alert["severity"] == events[0]["severity"] == "INFO"
    assert "sample" not in alert["tags"]
    assert run("guardduty_finding", events, now=GD_NOW + timedelta(hours=1)) == []


def test_guardduty_sample_findings_are_flagged(shared_data):
    events = guardduty(shared_data, sample=True)
    assert events[0]["details"]["sample"] is True
    (alert,) = run("guardduty_finding", events, now=GD_NOW)
    assert alert["summary"].startswith("[sample] GuardDuty Recon:EC2/PortProbeUnprotectedPort")
    assert "sample" in alert["tags"]
    assert run("guardduty_finding", events, now=GD_NOW, config={"include_samples": False}) == []


# -- cloudtrail_logging_stopped ---------------------------------------------------------------------------
def test_cloudtrail_logging_stopped_stratus(shared_data):
    stratus = shared_data / "cloudtrail/stratus"
    stop = ingest(
        (stratus / "aws.defense-evasion.cloudtrail-stop.json").read_bytes(),
        "cloudtrail",
        received="2024-07-31T13:07:00+00:00",
    )
    delete = ingest(
        (stratus / "aws.defense-evasion.cloudtrail-delete.json").read_bytes(),
        "cloudtrail",
        received="2024-07-31T12:47:00+00:00",
    )
    (alert,) = run("cloudtrail_logging_stopped", stop + delete, now=datetime(2024, 7, 31, 13, 10, tzinfo=UTC))
    assert alert["summary"].startswith(
        "CloudTrail logging stopped: StopLogging of stratus-red-team-ct-stop-trail"
    )
    assert alert["severity"] == "CRITICAL"
    (alert,) = run("cloudtrail_logging_stopped", delete, now=datetime(2024, 7, 31, 12, 50, tzinfo=UTC))
    assert alert["summary"].startswith("CloudTrail logging stopped: DeleteTrail")


def test_cloudtrail_logging_stopped_ignores_denied_and_other_calls():
    role = "arn:aws:sts::123456789012:assumed-role/dev/alice"
    events = cloudtrail(
        api_call(
            role,
            "198.51.100.7",
            name="StopLogging",
            errorCode="AccessDenied",
            requestParameters={"name": "main"},
        ),
        api_call(role, "198.51.100.7", name="StartLogging", requestParameters={"name": "main"}),
    )
    assert run("cloudtrail_logging_stopped", events) == []
