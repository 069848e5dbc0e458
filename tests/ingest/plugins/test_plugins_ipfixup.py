"""ipfixup: after it, the address fields hold valid IPs only, and nothing the source said is lost."""

from __future__ import annotations

import ipaddress
import json

import pytest

from reynard.ingest.pipeline import Pipeline
from reynard.ingest.plugins import default_plugins
from reynard.ingest.plugins.ipfixup import IpFixup, parse_ip
from reynard.settings import Settings


def fix(details: dict) -> dict:
    return IpFixup().apply({"source": "mozdef", "details": details})


def test_valid_addresses_are_split_by_version():
    out = fix({"sourceipaddress": "203.0.113.9", "destinationipaddress": "2001:DB8:0:0:0:0:0:1"})
    d = out["details"]
    assert d["sourceipaddress"] == d["sourceipv4address"] == "203.0.113.9"
    assert d["destinationipaddress"] == d["destinationipv6address"] == "2001:db8::1"
    assert "errors" not in out


def test_ipv4_mapped_ipv6_becomes_ipv4():
    d = fix({"sourceipaddress": "::ffff:198.51.100.4"})["details"]
    assert d["sourceipaddress"] == d["sourceipv4address"] == "198.51.100.4"
    assert "sourceipv6address" not in d


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("198.51.100.4:443", "198.51.100.4"),
        ("[2001:db8::5]:22", "2001:db8::5"),
        (" 10.0.0.1 ", "10.0.0.1"),
        ("fe80::1%eth0", "fe80::1"),
    ],
)
def test_ports_brackets_zones_and_spaces_are_stripped(text, canonical):
    assert fix({"sourceipaddress": text})["details"]["sourceipaddress"] == canonical


@pytest.mark.parametrize("bad", ["253.252.51.07", "035.249.253.232", "255.18.064.253", "300.1.1.1", "1.2.3"])
def test_invalid_addresses_move_to_raw_with_a_note(bad):
    out = fix({"sourceipaddress": bad})
    d = out["details"]
    assert "sourceipaddress" not in d
    assert d["sourceipaddress_raw"] == bad
    assert out["errors"] == [f"details.sourceipaddress: '{bad}' is not a valid IP address"]


def test_service_callers_and_host_names_move_silently():
    out = fix({"sourceipaddress": "AWS Internal", "destinationipaddress": "ec2.amazonaws.com"})
    assert out["details"] == {"sourceservice": "AWS Internal", "destinationservice": "ec2.amazonaws.com"}
    assert "errors" not in out
    out = fix({"sourceipaddress": "bastion-1.corp.example.org"})
    assert out["details"] == {"sourcehostname": "bastion-1.corp.example.org"}
    assert "errors" not in out


def test_aliases_fill_the_standard_fields_only_when_they_are_absent():
    d = fix({"srcip": "192.0.2.10", "dst": "192.0.2.20"})["details"]
    assert d == {
        "sourceipaddress": "192.0.2.10",
        "sourceipv4address": "192.0.2.10",
        "destinationipaddress": "192.0.2.20",
        "destinationipv4address": "192.0.2.20",
    }
    d = fix({"sourceipaddress": "192.0.2.1", "src": "192.0.2.99"})["details"]
    assert d["sourceipaddress"] == "192.0.2.1" and d["src"] == "192.0.2.99"


def test_forwarded_for_first_hop_is_the_source_when_there_is_none():
    d = fix({"http_x_forwarded_for": "203.0.113.50, 10.1.2.3"})["details"]
    assert d["sourceipaddress"] == "203.0.113.50"
    assert d["http_x_forwarded_for"] == "203.0.113.50, 10.1.2.3"
    assert "sourceipaddress" not in fix({"http_x_forwarded_for": "-"})["details"]


def test_empty_values_are_removed_and_odd_types_never_raise():
    out = fix({"sourceipaddress": "-", "destinationipaddress": ""})
    assert out["details"] == {} and "errors" not in out
    assert fix({"sourceipaddress": None})["details"] == {}
    out = fix({"sourceipaddress": 3232235777, "destinationipaddress": {"ip": "10.0.0.1"}})
    assert out["details"] == {
        "sourceipaddress_raw": 3232235777,
        "destinationipaddress_raw": {"ip": "10.0.0.1"},
    }
    assert len(out["errors"]) == 2


def test_wants_events_with_an_address_field_only():
    plugin = IpFixup()
    assert plugin.wants({"details": {"dstip": "10.0.0.1"}})
    assert not plugin.wants({"details": {"username": "root"}})
    assert not plugin.wants({"summary": "no details"})


def test_parse_ip():
    assert parse_ip("8.8.8.8") == ("8.8.8.8", 4)
    assert parse_ip("::1") == ("::1", 6)
    assert parse_ip("example.com") is None


def test_stratus_records_end_with_valid_addresses_only(shared_data):
    # DataDog/stratus-red-team detonation logs (Apache-2.0), anonymised with invalid IPs like 253.252.51.07.
    pipeline = Pipeline(default_plugins(Settings()))
    notes = 0
    records = 0
    for path in sorted((shared_data / "cloudtrail" / "stratus").glob("*.json")):
        for record in json.loads(path.read_text()):
            records += 1
            draft = {"source": "cloudtrail", "summary": "x", "tags": [], "details": record}
            out = pipeline.run(draft)
            d = out["details"]
            if "sourceipaddress" in d:
                ipaddress.ip_address(d["sourceipaddress"])  # valid, or this raises
            else:
                assert "sourceipaddress_raw" in d or "sourceservice" in d or "sourcehostname" in d
            if "sourceipaddress_raw" in d:
                notes += 1
                assert any("is not a valid IP address" in e for e in out["errors"])
            assert not any("failed" in e for e in out.get("errors", []))
    assert records == 310
    assert notes > 50  # 253.252.51.07 alone is in 56 records
