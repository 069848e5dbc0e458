"""guardduty: summary, severity bands, resource ids, the remote address, sample findings."""

from __future__ import annotations

import copy
import json

import pytest

from reynard.ingest.pipeline import Pipeline
from reynard.ingest.plugins import default_plugins
from reynard.ingest.plugins.guardduty import GuardDuty, severity_for
from reynard.ingest.plugins.lower_keys import LowerKeys
from reynard.settings import Settings


def draft_of(finding: dict) -> dict:
    """A draft as the GuardDuty source hands it over, after lower_keys (which always runs first)."""
    draft = {
        "source": "guardduty",
        "summary": finding.get("title", "x"),
        "tags": [],
        "details": copy.deepcopy(finding),
    }
    return LowerKeys().apply(draft)


ACCESS_KEY_FINDING = {
    "schemaVersion": "2.0",
    "accountId": "123456789012",
    "region": "us-east-1",
    "id": "5ab0f1c2d3e4f5a6b7c8d9e0f1a2b3c4",
    "type": "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
    "title": "Credentials for instance role used from an external IP address.",
    "severity": 8,
    "createdAt": "2024-08-02T09:10:00.000Z",
    "updatedAt": "2024-08-02T09:10:00.000Z",
    "resource": {
        "resourceType": "AccessKey",
        "accessKeyDetails": {
            "accessKeyId": "ASIAEXAMPLEKEY000009",
            "principalId": "AROAEXAMPLEROLEID:i-0a1b2c3d4e5f60718",
            "userName": "stratus-red-team-ec2-steal-credentials-role",
            "userType": "AssumedRole",
        },
        "s3BucketDetails": [{"name": "corp-backups"}, {"name": "corp-logs"}],
    },
    "service": {
        "serviceName": "guardduty",
        "action": {
            "actionType": "AWS_API_CALL",
            "awsApiCallAction": {
                "api": "ListBuckets",
                "serviceName": "s3.amazonaws.com",
                "remoteIpDetails": {"ipAddressV4": "198.51.100.23", "country": {"countryName": "Nowhere"}},
            },
        },
        "additionalInfo": {"sample": True},
    },
}


def test_the_real_port_probe_finding_end_to_end(shared_data):
    # Netflix security_monkey test data (Apache-2.0): an EventBridge event whose `detail` is the finding.
    event = json.loads((shared_data / "guardduty" / "guardduty_portprobe_ssh_event.json").read_text())
    draft = {
        "source": "guardduty",
        "summary": event["detail"]["title"],
        "tags": [],
        "details": event["detail"],
    }
    out = Pipeline(default_plugins(Settings())).run(draft)
    d = out["details"]
    assert out["plugins"] == ["lower_keys", "guardduty", "ipfixup", "geoip"]
    assert out["category"] == "guardduty"
    assert out["summary"] == (
        "GuardDuty Recon:EC2/PortProbeUnprotectedPort: "
        "Unprotected port on EC2 instance i-036cb01d26bb09166 is being probed."
    )
    assert out["severity"] == "INFO"  # score 2: Low
    assert out["tags"] == ["guardduty", "Recon"]
    assert d["findingtype"] == "Recon:EC2/PortProbeUnprotectedPort"
    assert d["resourcetype"] == "Instance"
    assert d["instanceid"] == "i-036cb01d26bb09166"
    assert d["sourceipaddress"] == "221.132.75.236"  # the first prober
    assert d["destinationport"] == 22
    assert d["sourceipgeolocation"]["country_code"] == "KR"
    assert "sample" not in d
    assert "errors" not in out


def test_an_access_key_finding():
    out = GuardDuty().apply(draft_of(ACCESS_KEY_FINDING))
    d = out["details"]
    assert out["severity"] == "ERROR"
    assert out["summary"].startswith(
        "GuardDuty UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS: "
    )
    assert d["accesskeyid"] == "ASIAEXAMPLEKEY000009"
    assert d["username"] == "stratus-red-team-ec2-steal-credentials-role"
    assert d["bucketnames"] == ["corp-backups", "corp-logs"]
    assert d["sourceipaddress"] == "198.51.100.23"
    assert d["sample"] is True
    assert out["tags"] == ["guardduty", "UnauthorizedAccess", "sample"]


def test_network_connection_and_dns_findings():
    finding = copy.deepcopy(ACCESS_KEY_FINDING)
    finding["service"]["additionalInfo"] = {}
    finding["service"]["action"] = {
        "actionType": "NETWORK_CONNECTION",
        "networkConnectionAction": {
            "connectionDirection": "INBOUND",
            "remoteIpDetails": {"ipAddressV4": "203.0.113.77"},
            "localPortDetails": {"port": 3389, "portName": "RDP"},
        },
    }
    d = GuardDuty().apply(draft_of(finding))["details"]
    assert d["sourceipaddress"] == "203.0.113.77"
    assert d["destinationport"] == 3389
    assert "sample" not in d

    finding["service"]["action"] = {
        "actionType": "DNS_REQUEST",
        "dnsRequestAction": {"domain": "pool.minexmr.example", "protocol": "UDP", "blocked": False},
    }
    finding["type"] = "CryptoCurrency:EC2/BitcoinTool.B!DNS"
    out = GuardDuty().apply(draft_of(finding))
    assert out["details"]["domain"] == "pool.minexmr.example"
    assert "sourceipaddress" not in out["details"]
    assert "CryptoCurrency" in out["tags"]


@pytest.mark.parametrize(
    ("score", "name"),
    [
        (1, "INFO"),
        (3.9, "INFO"),
        (4, "WARNING"),
        (6.9, "WARNING"),
        (7.0, "ERROR"),
        (8.9, "ERROR"),
        (9, "CRITICAL"),
        (10, "CRITICAL"),
        ("5.5", "WARNING"),
        ("HIGH", "ERROR"),
        ("odd", None),
        (None, None),
        (True, None),
    ],
)
def test_severity_bands(score, name):
    assert severity_for(score) == name


def test_wants_guardduty_only_and_tolerates_a_bare_finding():
    plugin = GuardDuty()
    assert plugin.wants({"source": "guardduty"}) and not plugin.wants({"source": "cloudtrail"})
    out = plugin.apply({"source": "guardduty", "summary": "s", "details": {"title": "Something"}})
    assert out["summary"] == "GuardDuty: Something"
    assert out["tags"] == ["guardduty"]
