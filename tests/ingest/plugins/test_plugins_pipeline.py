"""The default plugin set run by the Pipeline end to end: order, per-source plugins, failures kept."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import ClassVar

import pytest

from reynard.errors import ConfigError
from reynard.events.event import finalize
from reynard.ingest.pipeline import Pipeline
from reynard.ingest.plugins import PLUGINS, default_plugins
from reynard.settings import Settings

ORDER = ["lower_keys", "cloudtrail", "guardduty", "vpcflow", "ipfixup", "indicators", "geoip"]

CLOUDTRAIL_RECORD = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEPRINCIPAL",
        "arn": "arn:aws:iam::123456789012:user/christophe",
        "accountId": "123456789012",
        "accessKeyId": "AKIAEXAMPLEKEY000001",
        "userName": "christophe",
    },
    "eventTime": "2024-08-02T09:08:27Z",
    "eventSource": "ssm.amazonaws.com",
    "eventName": "DescribeInstanceInformation",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "8.8.8.8",
    "userAgent": "stratus-red-team_ea782787",
    "requestParameters": {
        "filters": [{"key": "InstanceIds", "values": ["i-00456a8d163f546ff"]}],
        "maxResults": 50,
    },
    "responseElements": None,
    "eventID": "4723aee9-d1e5-4e32-b48c-0ec39a6d84ea",
    "readOnly": True,
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "123456789012",
}


def base(source: str, summary: str, details: dict, category: str = "event") -> dict:
    return {
        "id": "0" * 32,
        "utctimestamp": "2024-08-02T09:08:27Z",
        "timestamp": "2024-08-02T09:08:27Z",
        "category": category,
        "source": source,
        "hostname": "host",
        "processname": source,
        "processid": "1",
        "severity": "INFO",
        "summary": summary,
        "tags": [],
        "type": "event",
        "details": details,
    }


def cloudtrail_draft(**changes) -> dict:
    record = copy.deepcopy(CLOUDTRAIL_RECORD)
    record.update(changes)
    summary = f"{record['sourceIPAddress']} performed {record['eventName']} in {record['eventSource']}"
    return base("cloudtrail", summary, record, "AwsApiCall")


def syslog_draft(ip: str = "183.62.140.253") -> dict:
    return base(
        "syslog",
        f"Failed password for root from {ip} port 57949 ssh2",
        {"program": "sshd", "sourceipaddress": ip, "username": "root", "sourceport": "57949"},
        "syslog",
    )


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(default_plugins(Settings()))


def test_default_set_and_table():
    plugins = default_plugins(Settings())
    assert [p.name for p in plugins] == ORDER
    assert [p.priority for p in plugins] == [4, 10, 10, 10, 15, 16, 20]
    assert sorted(PLUGINS) == sorted(ORDER)
    for name, cls in PLUGINS.items():
        assert cls(Settings()).name == name


def test_a_bad_geoip_setting_fails_when_the_set_is_built(tmp_path):
    with pytest.raises(ConfigError):
        default_plugins(Settings(geoip_mmdb=tmp_path / "missing.mmdb"))


def test_cloudtrail_end_to_end(pipeline):
    out = pipeline.run(cloudtrail_draft())
    assert out["plugins"] == ["lower_keys", "cloudtrail", "ipfixup", "geoip"]
    d = out["details"]
    assert out["summary"] == "8.8.8.8 performed DescribeInstanceInformation in ssm.amazonaws.com"
    assert d["eventverb"] == "Describe"
    assert d["username"] == "christophe"
    assert d["success"] is True
    assert d["sourceipv4address"] == "8.8.8.8"
    assert d["sourceipgeolocation"]["asn_name"] == "GOOGLE"
    assert d["requestparameters"]["maxresults"] == "50"
    assert d["useridentity"]["accesskeyid"] == "AKIAEXAMPLEKEY000001"
    assert "errors" not in out
    event = finalize(out, received=datetime(2024, 8, 2, 9, 10, tzinfo=UTC))
    assert event["plugins"] == ["lower_keys", "cloudtrail", "ipfixup", "geoip"]


def test_cloudtrail_service_caller_and_anonymised_address(pipeline):
    out = pipeline.run(cloudtrail_draft(sourceIPAddress="AWS Internal"))
    assert out["details"]["sourceservice"] == "AWS Internal"
    assert "sourceipaddress" not in out["details"] and "errors" not in out
    assert out["summary"] == "AWS Internal performed DescribeInstanceInformation in ssm.amazonaws.com"

    out = pipeline.run(cloudtrail_draft(sourceIPAddress="253.252.51.07"))
    assert out["details"]["sourceipaddress_raw"] == "253.252.51.07"
    assert out["errors"] == ["details.sourceipaddress: '253.252.51.07' is not a valid IP address"]


def test_syslog_end_to_end(pipeline):
    out = pipeline.run(syslog_draft())
    assert out["plugins"] == ["lower_keys", "ipfixup", "geoip"]
    assert out["details"]["sourceipgeolocation"]["country_code"] == "CN"
    out = pipeline.run(syslog_draft("10.0.0.1"))
    assert "sourceipgeolocation" not in out["details"]


def test_vpcflow_end_to_end(pipeline):
    details = {
        "sourceipaddress": "198.51.100.7",
        "destinationipaddress": "10.0.0.5",
        "sourceport": 40112,
        "destinationport": 22,
        "protocol": 6,
        "protocolname": "tcp",
        "action": "REJECT",
        "packets": 3,
        "bytes": 180,
        "logstatus": "OK",
    }
    out = pipeline.run(base("vpcflow", "x", details, "vpcflow"))
    assert out["plugins"] == ["lower_keys", "vpcflow", "ipfixup", "geoip"]
    assert out["summary"] == "198.51.100.7:40112 -> 10.0.0.5:22 tcp REJECT 3 packets 180 bytes"
    assert out["details"]["direction"] == "inbound"


class Boom:
    name: ClassVar[str] = "boom"
    priority: ClassVar[int] = 12

    def wants(self, draft: dict) -> bool:
        return True

    def apply(self, draft: dict) -> dict:
        raise RuntimeError("kaput")


class Rebuild:
    """Returns a new dict without the plugins list, as a careless plugin might."""

    name: ClassVar[str] = "rebuild"
    priority: ClassVar[int] = 5

    def wants(self, draft: dict) -> bool:
        return True

    def apply(self, draft: dict) -> dict:
        return {k: v for k, v in draft.items() if k != "plugins"}


def test_a_failing_plugin_leaves_a_note_and_the_rest_still_run():
    pipeline = Pipeline([*default_plugins(Settings()), Boom()])
    assert [p.name for p in pipeline.plugins] == [
        "lower_keys",
        "cloudtrail",
        "guardduty",
        "vpcflow",
        "boom",
        "ipfixup",
        "indicators",
        "geoip",
    ]
    out = pipeline.run(cloudtrail_draft())
    assert out["errors"] == ["plugin boom failed: RuntimeError: kaput"]
    assert out["plugins"] == ["lower_keys", "cloudtrail", "ipfixup", "geoip"]
    assert out["details"]["sourceipgeolocation"]["country_code"] == "US"


def test_a_plugin_returning_a_new_dict_keeps_the_list_of_plugins():
    out = Pipeline([*default_plugins(Settings()), Rebuild()]).run(syslog_draft())
    assert out["plugins"] == ["lower_keys", "rebuild", "ipfixup", "geoip"]
