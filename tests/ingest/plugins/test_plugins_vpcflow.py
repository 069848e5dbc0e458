"""vpcflow: summary and direction against the internal networks setting."""

from __future__ import annotations

import pytest

from reynard.ingest.plugins.vpcflow import VpcFlow
from reynard.settings import Settings


def flow(src: str, dst: str, **more) -> dict:
    details = {
        "version": 2,
        "accountid": "123456789012",
        "interfaceid": "eni-0a1b2c3d4e5f60718",
        "sourceipaddress": src,
        "destinationipaddress": dst,
        "sourceport": 53211,
        "destinationport": 22,
        "protocol": 6,
        "protocolname": "tcp",
        "packets": 20,
        "bytes": 4249,
        "start": 1418530010,
        "end": 1418530070,
        "action": "ACCEPT",
        "logstatus": "OK",
    }
    details.update(more)
    return {"source": "vpcflow", "category": "vpcflow", "summary": "parser summary", "details": details}


def test_summary():
    out = VpcFlow(Settings()).apply(flow("10.0.0.5", "203.0.113.9"))
    assert out["summary"] == "10.0.0.5:53211 -> 203.0.113.9:22 tcp ACCEPT 20 packets 4249 bytes"
    out = VpcFlow(Settings()).apply(
        flow(
            "2001:db8::5",
            "10.0.0.5",
            sourceport="-",
            destinationport="-",
            protocolname=None,
            protocol=1,
            action="REJECT",
            packets=None,
        )
    )
    assert out["summary"] == "2001:db8::5 -> 10.0.0.5 1 REJECT"
    out = VpcFlow(Settings()).apply(flow("2001:db8::5", "2001:db8::6"))
    assert out["summary"] == "[2001:db8::5]:53211 -> [2001:db8::6]:22 tcp ACCEPT 20 packets 4249 bytes"


@pytest.mark.parametrize(
    ("src", "dst", "direction"),
    [
        ("198.51.100.7", "10.0.0.5", "inbound"),
        ("10.0.0.5", "198.51.100.7", "outbound"),
        ("10.0.0.5", "172.16.3.4", "internal"),
        ("198.51.100.7", "203.0.113.9", "external"),
        ("2001:db8::1", "fd00::1", "inbound"),
        ("100.64.1.1", "10.0.0.1", "internal"),
    ],
)
def test_direction_with_default_networks(src, dst, direction):
    assert VpcFlow(Settings()).apply(flow(src, dst))["details"]["direction"] == direction


def test_direction_follows_the_internal_networks_setting():
    plugin = VpcFlow(Settings(internal_cidrs=("203.0.113.0/24",)))
    assert plugin.apply(flow("10.0.0.5", "203.0.113.9"))["details"]["direction"] == "inbound"


def test_nodata_records_keep_their_summary_and_get_no_direction():
    out = VpcFlow(Settings()).apply(
        flow(
            "-",
            "-",
            sourceport="-",
            destinationport="-",
            protocol="-",
            protocolname="-",
            action="-",
            logstatus="NODATA",
        )
    )
    assert out["summary"] == "parser summary"
    assert "direction" not in out["details"]
    out = VpcFlow(Settings()).apply(
        {"source": "vpcflow", "summary": "s", "details": {"logstatus": "SKIPDATA"}}
    )
    assert out["summary"] == "s" and "direction" not in out["details"]


def test_an_unparsable_address_gets_no_direction():
    out = VpcFlow(Settings()).apply(flow("10.0.0.5", "not-an-ip"))
    assert "direction" not in out["details"]


def test_wants_vpcflow_only():
    assert VpcFlow(Settings()).wants({"source": "vpcflow"})
    assert not VpcFlow(Settings()).wants({"source": "syslog", "category": "vpcflow"})
