"""VPC flow logs: the default v2 format, custom formats with a header, NODATA/SKIPDATA, IPv6.

There is no public corpus; lines follow the AWS documentation's examples.
"""

import random

import pytest

from reynard.ingest.reader import open_bytes
from reynard.ingest.records import Record, Rejected
from reynard.ingest.sources.base import ReadOptions
from reynard.ingest.sources.vpcflow import VpcFlow, header_fields

SOURCE = VpcFlow()

ACCEPT = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"  # noqa: E501
REJECT = "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK"  # noqa: E501
NODATA = "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA"
SKIPDATA = "2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA"
IPV6 = (
    "2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 "
    "2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK"
)
V3_HEADER = (
    "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport "
    "pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status"
)
V3_LINE = (
    "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 "
    "IPv4 52.213.180.42 10.0.0.62 43416 5001 52.213.180.42 10.0.0.62 6 568 8 1566848875 1566848933 "
    "ACCEPT 2 OK"
)


def read(*lines: str, **options) -> list[Record | Rejected]:
    return list(SOURCE.read(open_bytes("\n".join(lines).encode(), "test"), ReadOptions(**options)))


def test_default_format_accept_line():
    [got] = read(ACCEPT)
    assert got.draft["details"] == {
        "version": 2,
        "accountid": "123456789010",
        "interfaceid": "eni-1235b8ca123456789",
        "sourceipaddress": "172.31.16.139",
        "destinationipaddress": "172.31.16.21",
        "sourceport": 20641,
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
    draft = got.draft
    assert draft["utctimestamp"] == 1418530010
    assert draft["summary"] == "172.31.16.139:20641 -> 172.31.16.21:22 tcp ACCEPT 20 packets 4249 bytes"
    assert draft["hostname"] == "eni-1235b8ca123456789"
    assert draft["source"] == draft["category"] == draft["processname"] == "vpcflow"
    assert draft["tags"] == []
    assert got.key == ACCEPT and got.raw == ACCEPT.encode()


def test_reject_and_ipv6_lines():
    reject, ipv6 = read(REJECT, IPV6)
    assert (
        reject.draft["details"]["action"] == "REJECT" and reject.draft["details"]["destinationport"] == 3389
    )
    assert ipv6.draft["details"]["sourceipaddress"] == "2001:db8:1234:a100:8d6e:3477:df66:f105"
    assert ipv6.draft["summary"].startswith("[2001:db8:1234:a100:8d6e:3477:df66:f105]:34892 -> [2001:db8:")


@pytest.mark.parametrize(("line", "tag"), [(NODATA, "nodata"), (SKIPDATA, "skipdata")])
def test_nodata_and_skipdata_are_events(line, tag):
    [got] = read(line)
    details = got.draft["details"]
    assert set(details) == {"version", "accountid", "interfaceid", "start", "end", "logstatus"}
    assert got.draft["tags"] == [tag]
    assert got.draft["summary"] == (
        f"{tag.upper()} for {details['interfaceid']} from 2015-05-10T18:01:16Z to 2015-05-10T18:02:14Z"
    )


def test_custom_format_from_a_header_line():
    [got] = read(V3_HEADER, V3_LINE)
    details = got.draft["details"]
    assert got.position == 2
    assert details["vpcid"] == "vpc-abcdefab012345678"
    assert details["instanceid"] == "i-01234567890123456"
    assert details["type"] == "IPv4"
    assert details["pktsrcaddr"] == "52.213.180.42"
    assert details["tcpflags"] == 2
    assert (details["bytes"], details["packets"]) == (568, 8)
    assert got.draft["utctimestamp"] == 1566848875


def test_fields_in_any_order_and_a_new_header_midway():
    header = "start end srcaddr dstaddr dstport protocol action log-status interface-id"
    line = "1700000000 1700000060 10.0.0.5 203.0.113.9 443 17 ACCEPT OK eni-0a"
    got = read(header, line, V3_HEADER, V3_LINE)
    assert got[0].draft["summary"] == "10.0.0.5 -> 203.0.113.9:443 udp ACCEPT ? packets ? bytes"
    assert got[1].draft["details"]["vpcid"] == "vpc-abcdefab012345678"


def test_header_detection():
    assert header_fields(V3_HEADER.encode()) == V3_HEADER.split()
    assert header_fields(b"version account_id interface_id srcaddr") == [
        "version",
        "account-id",
        "interface-id",
        "srcaddr",
    ]
    assert header_fields(ACCEPT.encode()) is None
    assert header_fields(b"hello world how are you") is None


def test_bad_lines_are_rejected_naming_the_problem():
    got = read(
        ACCEPT,
        ACCEPT.rsplit(" ", 1)[0],
        ACCEPT.replace(" 20641 ", " http "),
        ACCEPT.replace("1418530010", "soon"),
        REJECT,
    )
    assert [r.reason for r in got if isinstance(r, Rejected)] == [
        "expected 14 fields (version account-id interface-id srcaddr dstaddr srcport dstport protocol "
        "packets bytes start end action log-status), found 13",
        "field srcport is not a number: 'http'",
        "field start is not a number: 'soon'",
    ]
    assert [r.position for r in got] == [1, 2, 3, 4, 5]
    assert isinstance(got[-1], Record)


def test_identical_lines_in_one_window_get_occurrence_keys_and_reread_is_stable():
    lines = (ACCEPT, ACCEPT, REJECT, ACCEPT, NODATA, ACCEPT)
    keys = [r.key for r in read(*lines)]
    assert keys == [ACCEPT, f"{ACCEPT}#2", REJECT, f"{ACCEPT}#3", NODATA, ACCEPT]
    assert [r.key for r in read(*lines)] == keys


def test_oversized_and_non_utf8_lines():
    got = list(
        SOURCE.read(
            open_bytes(ACCEPT.encode() + b" \xff\n" + b"9" * 300 + b"\n" + REJECT.encode(), "t"),
            ReadOptions(max_record_bytes=200),
        )
    )
    assert got[0].reason.startswith("expected 14 fields")
    assert got[1].reason == "record is 300 bytes, more than the 200-byte limit"
    assert isinstance(got[2], Record)


def test_generated_flows():
    rng = random.Random(7)
    lines = []
    for i in range(1000):
        src = f"10.0.{rng.randrange(256)}.{rng.randrange(256)}"
        dst = f"203.0.113.{rng.randrange(256)}"
        proto = rng.choice((1, 6, 17, 58))
        start = 1700000000 + i
        lines.append(
            f"2 123456789010 eni-0a1b2c3d {src} {dst} {rng.randrange(65536)} {rng.randrange(1024)} {proto} "
            f"{rng.randrange(1, 100)} {rng.randrange(40, 100000)} {start} {start + 60} "
            f"{rng.choice(('ACCEPT', 'REJECT'))} OK"
        )
    got = read(*lines)
    assert len(got) == 1000 and all(isinstance(r, Record) for r in got)
    assert {r.draft["details"]["protocolname"] for r in got} == {"icmp", "tcp", "udp", "icmpv6"}
    assert [r.draft["details"]["sourceipaddress"] for r in got] == [line.split()[3] for line in lines]
