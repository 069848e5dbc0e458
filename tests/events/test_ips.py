"""IP addresses (events/ips.py): one parse, IPv4-mapped IPv6 read as IPv4, networks."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reynard.events.ips import (
    as_ip,
    in_networks,
    ip_address,
    ip_number,
    is_ip,
    loose_ip,
    mapped,
    network,
    networks,
    parse_ip,
    unmapped,
)

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address


@pytest.mark.parametrize(
    ("text", "compared", "written"),
    [
        ("203.0.113.9", V4("203.0.113.9"), V4("203.0.113.9")),
        ("::ffff:203.0.113.9", V4("203.0.113.9"), V6("::ffff:203.0.113.9")),
        ("2001:DB8::1", V6("2001:db8::1"), V6("2001:db8::1")),
        ("::1", V6("::1"), V6("::1")),
        ("203.0.113.9:443", None, None),
        ("[2001:db8::1]", None, None),
        ("010.0.0.1", None, None),  # a leading zero: octal or decimal? refused
        ("example.com", None, None),
        ("", None, None),
    ],
)
def test_parse_and_as_written(text, compared, written):
    assert parse_ip(text) == compared
    assert as_ip(text) == compared
    assert is_ip(text) is (compared is not None)
    assert ip_address(text) == written


def test_as_ip_takes_strings_only():
    assert as_ip(3232235777) is None
    assert as_ip(None) is None
    assert as_ip(["10.0.0.1"]) is None


@pytest.mark.parametrize(
    ("text", "address"),
    [
        (" 198.51.100.4 ", "198.51.100.4"),
        ("198.51.100.4:443", "198.51.100.4"),
        ("[2001:db8::5]:22", "2001:db8::5"),
        ("[2001:db8::5]", "2001:db8::5"),
        ("fe80::1%eth0", "fe80::1"),
        ("::ffff:198.51.100.4", "198.51.100.4"),
        ("[::ffff:198.51.100.4]:80", "198.51.100.4"),
        ("ec2.amazonaws.com", None),
        ("1.2.3.4:5:6", None),
    ],
)
def test_loose_ip_takes_off_what_logs_add(text, address):
    found = loose_ip(text)
    assert (str(found) if found is not None else None) == address


def test_mapped_is_the_ipv6_form_of_ip_fields():
    assert mapped(V4("10.0.0.1")) == "::ffff:10.0.0.1"
    assert mapped(V6("2001:db8::1")) == "2001:db8::1"
    assert unmapped(V6(mapped(V4("10.0.0.1")))) == V4("10.0.0.1")


def test_a_network_allows_host_bits():
    assert str(network("10.0.0.1/8")) == "10.0.0.0/8"
    assert str(network("10.0.0.1")) == "10.0.0.1/32"
    assert str(network("2001:db8::1/32")) == "2001:db8::/32"
    for bad in ("10.0.0.0/33", "example.com", ""):
        with pytest.raises(ValueError):
            network(bad)


def test_networks_and_membership():
    nets = networks(["10.0.0.1/8", "2001:db8::/32"])
    assert [str(n) for n in nets] == ["10.0.0.0/8", "2001:db8::/32"]
    assert in_networks(V4("10.1.2.3"), nets)
    assert in_networks(V6("2001:db8::9"), nets)
    assert not in_networks(V4("11.0.0.1"), nets)
    assert not in_networks(V6("::ffff:10.0.0.1"), nets)  # as written, mapped is IPv6: map it first
    assert in_networks(unmapped(V6("::ffff:10.0.0.1")), nets)
    with pytest.raises(ValueError):
        networks(["10.0.0.0/33"])


@given(st.ip_addresses())
def test_every_address_reads_back(address):
    text = str(address)
    assert ip_address(text) == address
    assert parse_ip(text) == unmapped(address)
    assert loose_ip(text) == unmapped(address)
    assert ip_number(text) == (address.version, int(address))
    assert parse_ip(mapped(address)) == unmapped(address)


@given(st.ip_addresses(v=4))
def test_mapped_ipv4_reads_as_ipv4(address):
    assert parse_ip(f"::ffff:{address}") == address
    assert loose_ip(f"[::ffff:{address}]:8080") == address
