"""geoip: country and network owner of public addresses; private and special ranges skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from reynard.errors import ConfigError
from reynard.ingest.plugins.geoip import GeoIP
from reynard.settings import Settings


@pytest.fixture(scope="module")
def geoip() -> GeoIP:
    return GeoIP(Settings())


def locate(plugin: GeoIP, **details) -> dict:
    return plugin.apply({"source": "mozdef", "details": dict(details)})["details"]


def test_google_dns_is_in_the_us_and_owned_by_google(geoip):
    d = locate(geoip, sourceipaddress="8.8.8.8", destinationipaddress="2001:4860:4860::8888")
    assert d["sourceipgeolocation"] == {
        "country_code": "US",
        "country_name": "United States",
        "asn_name": "GOOGLE",
    }
    assert d["destinationipgeolocation"]["country_code"] == "US"
    assert "sourceipgeopoint" not in d  # the shipped data has no location


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "100.64.0.1",
        "127.0.0.1",
        "169.254.169.254",
        "192.168.1.1",
        "192.0.2.1",
        "224.0.0.251",
        "255.255.255.255",
        "fe80::1",
        "fd00::1",
        "ff02::1",
        "2001:db8::1",
    ],
)
def test_non_global_addresses_are_skipped(geoip, address):
    d = locate(geoip, sourceipaddress=address)
    assert "sourceipgeolocation" not in d


def test_each_event_gets_its_own_copy(geoip):
    a = locate(geoip, sourceipaddress="8.8.8.8")
    a["sourceipgeolocation"]["country_code"] = "XX"
    assert locate(geoip, sourceipaddress="8.8.8.8")["sourceipgeolocation"]["country_code"] == "US"


def test_wants_address_fields_only(geoip):
    assert geoip.wants({"details": {"destinationipaddress": "1.1.1.1"}})
    assert not geoip.wants({"details": {"sourceipaddress_raw": "253.252.51.07"}})
    assert not geoip.wants({})


def test_a_missing_database_is_a_config_error_naming_it(tmp_path: Path):
    path = tmp_path / "GeoLite2-City.mmdb"
    with pytest.raises(ConfigError) as e:
        GeoIP(Settings(geoip_mmdb=path))
    assert str(path) in str(e.value) and "not found" in str(e.value)


def test_a_corrupt_database_is_a_config_error_naming_it(tmp_path: Path):
    path = tmp_path / "GeoLite2-City.mmdb"
    path.write_bytes(b"this is not a MaxMind database" * 100)
    with pytest.raises(ConfigError) as e:
        GeoIP(Settings(geoip_mmdb=path))
    assert str(path) in str(e.value) and "geoip_mmdb" in str(e.value)


def _write_mmdb(path: Path, kind: str, networks: dict[str, dict]) -> Path:
    mmdb_writer = pytest.importorskip("mmdb_writer")
    netaddr = pytest.importorskip("netaddr")
    writer = mmdb_writer.MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=kind, languages=["en"])
    for cidr, record in networks.items():
        writer.insert_network(netaddr.IPSet([cidr]), record)
    writer.to_db_file(str(path))
    return path


def test_a_maxmind_city_and_asn_database_give_city_location_and_asn(tmp_path: Path):
    city = _write_mmdb(
        tmp_path / "city.mmdb",
        "GeoLite2-City",
        {
            "81.2.69.0/24": {
                "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
                "city": {"names": {"en": "London"}},
                "location": {"latitude": 51.5142, "longitude": -0.0931},
            },
            "2a02:ff0::/32": {"registered_country": {"iso_code": "DE", "names": {"en": "Germany"}}},
        },
    )
    asn = _write_mmdb(
        tmp_path / "asn.mmdb",
        "GeoLite2-ASN",
        {
            "81.2.69.0/24": {
                "autonomous_system_number": 20712,
                "autonomous_system_organization": "Andrews & Arnold",
            }
        },
    )
    plugin = GeoIP(Settings(geoip_mmdb=city, geoip_asn_mmdb=asn))
    d = locate(plugin, sourceipaddress="81.2.69.142", destinationipaddress="2a02:ff0::1")
    assert d["sourceipgeolocation"] == {
        "country_code": "GB",
        "country_name": "United Kingdom",
        "city": "London",
        "asn": 20712,
        "asn_name": "Andrews & Arnold",
    }
    assert d["sourceipgeopoint"] == "51.5142,-0.0931"
    assert d["destinationipgeolocation"] == {"country_code": "DE", "country_name": "Germany"}
    assert "sourceipgeolocation" not in locate(plugin, sourceipaddress="8.8.8.8")  # not in this database

    with pytest.raises(ConfigError) as e:
        GeoIP(Settings(geoip_mmdb=asn))  # an ASN database where a City one belongs
    assert "City or Country" in str(e.value) and str(asn) in str(e.value)
