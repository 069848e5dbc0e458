"""Registry and auto-detection: each real file and fixture goes to the right source; garbage to none."""

import random

import orjson
import pytest

from reynard.ingest.reader import open_bytes, open_input
from reynard.ingest.sources import SOURCES, detect_source
from reynard.ingest.sources.base import ReadOptions

EXPECTED = {
    "cloudtrail/invictus/CloudTrail": "cloudtrail",
    "cloudtrail/stratus": "cloudtrail",
    "cloudtrail/otrf": "cloudtrail",
    "guardduty": "guardduty",
    "sshd/loghub": "syslog",
}


def test_registry_names():
    assert list(SOURCES) == ["cloudtrail", "guardduty", "vpcflow", "syslog", "mozdef"]
    assert all(source.name == name for name, source in SOURCES.items())


@pytest.mark.parametrize("folder", EXPECTED)
def test_every_real_file_is_detected(shared_data, folder):
    files = [p for p in (shared_data / folder).iterdir() if p.suffix in (".json", ".log")]
    assert files
    for path in files:
        inp = open_input(path)
        source = detect_source(inp.head())
        inp.close()
        assert source is not None and source.name == EXPECTED[folder], path


FIXTURES = [
    (
        orjson.dumps(
            {
                "Records": [
                    {"eventVersion": "1.08", "eventSource": "s3.amazonaws.com", "eventName": "GetObject"}
                ]
            }
        ),
        "cloudtrail",
    ),
    (
        b'{"eventName": "CreateUser", "eventSource": "iam.amazonaws.com"}\n'
        b'{"eventName": "X", "eventSource": "y"}\n',
        "cloudtrail",
    ),
    (orjson.dumps({"detail-type": "GuardDuty Finding", "detail": {"id": "1"}}), "guardduty"),
    (
        orjson.dumps({"findings": [{"schemaVersion": "2.0", "id": "1", "service": {}, "resource": {}}]}),
        "guardduty",
    ),
    (
        orjson.dumps(
            [
                {
                    "schemaVersion": "2.0",
                    "type": "Recon:EC2/PortProbeUnprotectedPort",
                    "service": {},
                    "resource": {},
                }
            ]
        ),
        "guardduty",
    ),
    (
        b"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 "
        b"1418530010 1418530070 ACCEPT OK\n",
        "vpcflow",
    ),
    (
        b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
        b"action log-status\n",
        "vpcflow",
    ),
    (b"2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA\n", "vpcflow"),
    (b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed\n", "syslog"),
    (b"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186\n", "syslog"),
    (b'{"summary": "hello", "utctimestamp": "2024-01-01T00:00:00Z"}\n', "mozdef"),
    (b'[{"message": "hello"}]', "mozdef"),
    (b'{"_index": "events", "_id": "1", "_source": {"summary": "x"}}', "mozdef"),
]


@pytest.mark.parametrize(("head", "name"), FIXTURES, ids=[f"{n}-{i}" for i, (_, n) in enumerate(FIXTURES)])
def test_fixtures_are_detected(head, name):
    source = detect_source(head)
    assert source is not None and source.name == name


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"\n\n",
        bytes(range(256)) * 10,
        random.Random(1).randbytes(65536),
        b"\x89PNG\r\n\x1a\n" + b"\0" * 100,
        b"hello world\nthis is not a log\n",
    ],
    ids=["empty", "blank", "all-bytes", "random", "png", "prose"],
)
def test_garbage_is_nobodys(head):
    assert detect_source(head) is None
    assert all(source.sniff(head) == 0 for source in SOURCES.values())


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (
            b'{ "Records" : [ { "eventName": "A", "eventSource": "b", "eventTime": "2024-01-01" } ] }',
            "cloudtrail",
        ),
        (b"\xef\xbb\xbfDec 10 06:55:46 LabSZ sshd[24200]: Invalid user a from 1.2.3.4\n", "syslog"),
        (b'\xef\xbb\xbf{"summary": "x"}\n', "mozdef"),
    ],
)
def test_spacing_and_a_byte_order_mark_do_not_hide_the_format(head, name):
    assert detect_source(head).name == name
    [record] = SOURCES[name].read(open_bytes(head, "t"), ReadOptions())
    assert record.draft["summary"]
