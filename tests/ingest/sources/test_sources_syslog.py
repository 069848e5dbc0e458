"""Syslog: RFC 3164 files on disk (real sshd and /var/log/messages from loghub), RFC 5424, sshd details.

Real data: logpai/loghub OpenSSH_2k.log and Linux_2k.log (research use; cite the ISSRE'23 loghub paper).
Expected counts are computed here from the raw lines with plain string checks.
"""

import gzip
from datetime import UTC, datetime

import pytest

from reynard.events.event import TZ_ASSUMED_TAG, finalize, stable_id
from reynard.ingest.reader import InputError, open_bytes, open_input
from reynard.ingest.records import Record, Rejected
from reynard.ingest.sources.base import ReadOptions
from reynard.ingest.sources.syslog import Syslog

SOURCE = Syslog()
REFERENCE = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def read(data: bytes | str, **options) -> list[Record | Rejected]:
    data = data.encode() if isinstance(data, str) else data
    options.setdefault("reference_time", REFERENCE)
    return list(SOURCE.read(open_bytes(data, "test"), ReadOptions(**options)))


def one(line: str) -> dict:
    [got] = read(line)
    assert isinstance(got, Record), got
    return got.draft


@pytest.fixture(scope="module")
def openssh(shared_data):
    path = shared_data / "sshd/loghub/OpenSSH_2k.log"
    lines = path.read_text().splitlines()
    return lines, list(SOURCE.read(open_input(path), ReadOptions(reference_time=REFERENCE)))


@pytest.fixture(scope="module")
def linux(shared_data):
    path = shared_data / "sshd/loghub/Linux_2k.log"
    lines = path.read_text().splitlines()
    return lines, list(SOURCE.read(open_input(path), ReadOptions(reference_time=REFERENCE)))


def actions(events, action, **details):
    return [
        e
        for e in events
        if e.draft["details"].get("action") == action
        and all(e.draft["details"].get(k) == v for k, v in details.items())
    ]


def test_every_openssh_line_is_an_event(openssh):
    lines, events = openssh
    assert len(lines) == len(events) == 2000
    assert all(isinstance(e, Record) for e in events)
    assert [e.position for e in events] == list(range(1, 2001))
    assert {e.draft["hostname"] for e in events} == {"LabSZ"}
    assert {e.draft["processname"] for e in events} == {"sshd"}
    assert [e.draft["processid"] for e in events] == [
        line.split("[", 1)[1].split("]", 1)[0] for line in lines
    ]
    assert [e.draft["summary"] for e in events] == [line.split("]: ", 1)[1] for line in lines]


def test_openssh_failed_passwords(openssh):
    lines, events = openssh
    raw = [line for line in lines if "Failed password" in line]
    failed = actions(events, "failed", authmethod="password")
    assert len(failed) == len(raw) == 520
    assert [e.draft["details"]["sourceipaddress"] for e in failed] == [
        line.split(" from ", 1)[1].split(" ", 1)[0] for line in raw
    ]
    assert [e.draft["details"]["sourceport"] for e in failed] == [
        int(line.split(" port ")[1].split()[0]) for line in raw
    ]
    assert len([e for e in failed if e.draft["details"]["sourceipaddress"] == "183.62.140.253"]) == len(
        [line for line in raw if " from 183.62.140.253 " in line]
    )
    assert sum("invalid user" in line for line in raw) == sum(
        e.draft["details"]["invaliduser"] for e in failed
    )
    assert {e.draft["category"] for e in failed} == {"authentication"}
    assert all(e.draft["details"]["success"] is False for e in failed)
    repeated = [e for e in failed if "repeated" in e.draft["details"]]
    assert (
        len(repeated) == sum("message repeated" in line for line in raw)
        and repeated[0].draft["details"]["repeated"] == 5
    )


def test_openssh_invalid_users_accepted_and_break_ins(openssh):
    lines, events = openssh
    invalid = actions(events, "invalid_user")
    raw_invalid = [line for line in lines if "Invalid user " in line]
    assert len(invalid) == len(raw_invalid)
    assert [e.draft["details"]["username"] for e in invalid] == [
        line.split("Invalid user ", 1)[1].rsplit(" from ", 1)[0] for line in raw_invalid
    ]
    [accepted] = actions(events, "accepted")
    [raw_accepted] = [line for line in lines if "Accepted password" in line]
    words = raw_accepted.split()
    assert accepted.draft["details"] == {
        "program": "sshd",
        "action": "accepted",
        "success": True,
        "authmethod": "password",
        "username": words[8],
        "sourceipaddress": words[10],
        "sourceport": int(words[12]),
    }
    assert len(actions(events, "break_in_attempt")) == sum(
        "POSSIBLE BREAK-IN ATTEMPT" in line for line in lines
    )


def test_openssh_pam_failures_keep_hostnames_apart(openssh):
    lines, events = openssh
    failures = actions(events, "auth_failure")
    raw = [line for line in lines if "pam_unix(sshd:auth): authentication failure;" in line]
    assert len(failures) == len(raw)
    rhosts = [line.split("rhost=", 1)[1].split()[0] for line in raw]
    got = [
        e.draft["details"].get("sourceipaddress") or e.draft["details"]["sourcehostname"] for e in failures
    ]
    assert got == rhosts
    named = [e for e in failures if "sourcehostname" in e.draft["details"]]
    assert named and all("sourceipaddress" not in e.draft["details"] for e in named)
    assert sum(" user=" in line for line in raw) == sum("username" in e.draft["details"] for e in failures)


def test_every_linux_messages_line_is_an_event(linux):
    lines, events = linux
    assert len(lines) == len(events) == 2000
    assert all(isinstance(e, Record) for e in events)
    failures = actions(events, "auth_failure")
    assert len(failures) == sum("authentication failure;" in line for line in lines) == 490
    hinet = [
        e for e in failures if e.draft["details"].get("sourcehostname") == "220-135-151-1.hinet-ip.hinet.net"
    ]
    assert hinet and all(e.draft["details"]["username"] == "root" for e in hinet)
    first = events[0].draft
    assert (first["processname"], first["processid"], first["details"]["subsystem"]) == (
        "sshd",
        "19939",
        "pam_unix",
    )
    assert first["details"]["sourceipaddress"] == "218.188.2.4"
    [restart] = [e for e in events if e.draft["summary"] == "syslogd 1.4.1: restart."][:1]
    assert restart.draft["processname"] is None


def test_year_less_timestamps_resolve_against_the_reference():
    ref = datetime(2024, 1, 2, 12, 0, tzinfo=UTC)
    got = read(
        "Dec 31 23:59:59 h p: a\nJan  3 10:00:00 h p: b\nJan  5 10:00:00 h p: c\nFeb 29 01:02:03 h p: d\n",
        reference_time=ref,
    )
    assert [r.draft["utctimestamp"] for r in got] == [
        datetime(2023, 12, 31, 23, 59, 59),
        datetime(2024, 1, 3, 10, 0),
        datetime(2023, 1, 5, 10, 0),
        datetime(2020, 2, 29, 1, 2, 3),
    ]
    leap = read("Feb 29 01:02:03 h p: d", reference_time=datetime(2025, 3, 1, tzinfo=UTC))
    assert leap[0].draft["utctimestamp"] == datetime(2024, 2, 29, 1, 2, 3)


def test_year_less_timestamps_are_flagged_as_assumed_utc_by_finalize():
    draft = one("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown")
    draft["id"] = stable_id("syslog", "x")
    event = finalize(draft, received="2024-03-01T12:00:00.000000+00:00", now=REFERENCE)
    assert event["utctimestamp"] == "2023-06-14T15:16:01.000000+00:00"
    assert TZ_ASSUMED_TAG in event["tags"]


def test_pri_gives_severity_and_facility():
    draft = one(
        "<38>Feb  5 17:32:18 10.0.0.99 sshd[1234]: "
        "Accepted publickey for deploy from 10.0.0.7 port 50022 ssh2: RSA SHA256:abcDEF123"
    )
    assert draft["severity"] == "INFO" and draft["details"]["facility"] == "auth"
    assert draft["details"]["keytype"] == "RSA" and draft["details"]["fingerprint"] == "SHA256:abcDEF123"
    assert one("<11>Feb  5 17:32:18 h kernel: oops")["severity"] == "ERROR"
    assert one("Feb  5 17:32:18 h kernel: oops")["severity"] == "INFO"


def test_rfc5424_lines_from_the_rfc():
    su = one(
        "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
        "\ufeff'su root' failed for lonvick on /dev/pts/8"
    )
    assert su["utctimestamp"] == "2003-10-11T22:14:15.003Z"
    assert (su["hostname"], su["processname"], su["processid"]) == ("mymachine.example.com", "su", None)
    assert su["severity"] == "CRITICAL" and su["details"] == {
        "msgid": "ID47",
        "facility": "auth",
        "program": "su",
    }
    assert su["summary"] == "'su root' failed for lonvick on /dev/pts/8"
    app = one(
        '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" '
        'eventSource="Application" eventID="1011"]'
        '[examplePriority@32473 class="high" note="a \\"quoted\\" \\] x"] An entry'
    )
    assert app["severity"] == "NOTICE" and app["details"]["facility"] == "local4"
    assert app["details"]["structureddata"] == {
        "examplesdid@32473": {"iut": "3", "eventsource": "Application", "eventid": "1011"},
        "examplepriority@32473": {"class": "high", "note": 'a "quoted" ] x'},
    }
    assert app["summary"] == "An entry"
    ssh = one(
        "<38>1 2024-02-20T08:00:00+01:00 bastion sshd 4242 - - "
        "Failed password for root from 198.51.100.4 port 2222 ssh2"
    )
    assert ssh["category"] == "authentication" and ssh["processid"] == "4242"
    assert ssh["details"]["sourceipaddress"] == "198.51.100.4"


def test_rsyslog_iso_timestamps():
    draft = one("2024-02-20T08:00:00.123456+01:00 web1 cron[99]: (root) CMD (run-parts /etc/cron.hourly)")
    assert draft["utctimestamp"] == "2024-02-20T08:00:00.123456+01:00"
    assert (draft["hostname"], draft["processname"], draft["processid"]) == ("web1", "cron", "99")


SSHD = [
    (
        "Failed password for invalid user admin from 203.0.113.5 port 4242 ssh2",
        {
            "action": "failed",
            "authmethod": "password",
            "username": "admin",
            "invaliduser": True,
            "success": False,
            "sourceipaddress": "203.0.113.5",
            "sourceport": 4242,
        },
    ),
    (
        "Failed password for root from 2001:db8::5 port 22 ssh2",
        {"username": "root", "invaliduser": False, "sourceipaddress": "2001:db8::5"},
    ),
    (
        "Failed keyboard-interactive/pam for bob from 203.0.113.5 port 1 ssh2",
        {"authmethod": "keyboard-interactive"},
    ),
    (
        "Accepted publickey for alice from 192.0.2.1 port 5 ssh2: ED25519 SHA256:xyz",
        {"action": "accepted", "success": True, "authmethod": "publickey", "keytype": "ED25519"},
    ),
    (
        "Invalid user oracle from 203.0.113.9 port 40000",
        {"action": "invalid_user", "username": "oracle", "sourceport": 40000, "invaliduser": True},
    ),
    ("Invalid user  0101 from 5.188.10.180", {"username": " 0101", "sourceipaddress": "5.188.10.180"}),
    (
        "Disconnected from authenticating user root 203.0.113.5 port 5 [preauth]",
        {"action": "disconnect", "username": "root", "invaliduser": False, "sourceport": 5},
    ),
    ("Disconnected from invalid user x 203.0.113.5 port 5 [preauth]", {"username": "x", "invaliduser": True}),
    ("Disconnected from 203.0.113.5 port 5", {"action": "disconnect", "sourceipaddress": "203.0.113.5"}),
    (
        "Received disconnect from 52.80.34.196: 11: Bye Bye [preauth]",
        {"action": "disconnect", "sourceipaddress": "52.80.34.196", "reasoncode": 11, "reason": "Bye Bye"},
    ),
    (
        "Received disconnect from 203.0.113.5 port 6:11: disconnected by user",
        {"sourceport": 6, "reason": "disconnected by user"},
    ),
    (
        "error: Received disconnect from 1.2.3.4: 14: No more user authentication methods available.",
        {"reasoncode": 14},
    ),
    (
        "Connection closed by authenticating user root 203.0.113.5 port 7 [preauth]",
        {"action": "connection_closed", "username": "root", "sourceport": 7},
    ),
    ("Connection closed by 212.47.254.145 [preauth]", {"sourceipaddress": "212.47.254.145"}),
    (
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
        "rhost=5.36.59.76.dynamic-dsl-ip.omantel.net.om  user=root",
        {
            "action": "auth_failure",
            "sourcehostname": "5.36.59.76.dynamic-dsl-ip.omantel.net.om",
            "username": "root",
        },
    ),
    (
        "reverse mapping checking getaddrinfo for ns.example.com [173.234.31.186] failed - "
        "POSSIBLE BREAK-IN ATTEMPT!",
        {
            "action": "break_in_attempt",
            "sourcehostname": "ns.example.com",
            "sourceipaddress": "173.234.31.186",
        },
    ),
    (
        "message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]",
        {"action": "failed", "repeated": 5, "username": "root", "sourceport": 42393},
    ),
    ("Did not receive identification string from 203.0.113.5", {"action": "no_identification"}),
    (
        "Disconnecting: Too many authentication failures for root [preauth]",
        {"action": "too_many_failures", "username": "root"},
    ),
    (
        "pam_unix(sshd:session): session opened for user fztu by (uid=0)",
        {"action": "session_opened", "username": "fztu"},
    ),
    ("Server listening on 0.0.0.0 port 22.", {}),
]


@pytest.mark.parametrize(("message", "expected"), SSHD, ids=[m[:40] for m, _ in SSHD])
def test_sshd_messages(message, expected):
    details = one(f"Dec 10 06:55:46 LabSZ sshd[24200]: {message}")["details"]
    assert {k: details.get(k) for k in expected} == expected
    if not expected:
        assert "action" not in details


def test_other_programs_are_not_read_as_sshd():
    draft = one("Dec 10 06:55:46 h nginx[1]: Failed password for root from 1.2.3.4 port 5 ssh2")
    assert draft["details"] == {"program": "nginx"} and draft["category"] == "syslog"
    sudo = one(
        "Dec 10 06:55:46 h sudo: pam_unix(sudo:auth): authentication failure; "
        "logname=bob uid=1000 euid=0 tty=/dev/pts/0 ruser=bob rhost=  user=bob"
    )
    assert sudo["details"] == {
        "action": "auth_failure",
        "success": False,
        "username": "bob",
        "program": "sudo",
    }


def test_lines_without_a_program_tag():
    draft = one("Dec 10 06:55:46 combo syslogd 1.4.1: restart.")
    assert (draft["hostname"], draft["processname"], draft["summary"]) == (
        "combo",
        None,
        "syslogd 1.4.1: restart.",
    )


GARBAGE = bytes(b for b in range(256) if b not in b"\r\n")


def test_bad_lines_are_rejected_or_flagged_and_reading_goes_on():
    data = b"\n".join(
        [
            b"Dec 10 06:55:46 h sshd[1]: ok one",
            GARBAGE,
            b"just some text without a header",
            b"Dec 10 06:55:46 h sshd[1]: caf\xe9 latin-1",
            b"Jun 31 06:55:46 h p: no such day",
            b"<999>Dec 10 06:55:46 h p: bad pri",
            b"Dec 10 06:55:47 h sshd[1]: " + b"x" * 500,
            b"Dec 10 06:55:48 h sshd[1]: ok two",
        ]
    )
    got = read(data, max_record_bytes=300)
    kinds = [(r.position, r.reason if isinstance(r, Rejected) else "ok") for r in got]
    assert kinds == [
        (1, "ok"),
        (2, "not a syslog line (no RFC 3164 or RFC 5424 header)"),
        (3, "not a syslog line (no RFC 3164 or RFC 5424 header)"),
        (4, "ok"),
        (5, "invalid date in syslog timestamp 'Jun 31 06:55:46'"),
        (6, "not a syslog line: PRI 999 is out of range (0-191)"),
        (7, "record is 527 bytes, more than the 300-byte limit"),
        (8, "ok"),
    ]
    assert got[3].draft["tags"] == ["invalid-utf8"] and got[3].draft["summary"] == "caf\ufffd latin-1"
    assert got[1].raw == GARBAGE


def test_identical_lines_in_one_second_get_occurrence_keys():
    line = "Dec 10 06:55:46 LabSZ sshd[24200]: Connection closed by 1.2.3.4 [preauth]"
    other = "Dec 10 06:55:47 LabSZ sshd[24200]: Connection closed by 1.2.3.4 [preauth]"
    data = "\n".join([line, line, other, other, line])
    keys = [r.key for r in read(data)]
    assert keys == [line, f"{line}#2", other, f"{other}#2", line]
    assert [r.key for r in read(data)] == keys


def test_truncated_gzip_yields_lines_before_the_damage(tmp_path):
    lines = [
        f"Dec 10 06:{i // 3600 % 60:02d}:{i % 60:02d} h sshd[{i}]: Invalid user u{i} from 10.{i % 256}.0.1"
        for i in range(100_000)
    ]
    data = gzip.compress("\n".join(lines).encode())
    path = tmp_path / "auth.log.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    got = []
    with pytest.raises(InputError, match="truncated gzip"):
        got.extend(SOURCE.read(open_input(path), ReadOptions(reference_time=REFERENCE)))
    assert 0 < len(got) < len(lines)
    assert [r.draft["details"]["username"] for r in got] == [f"u{i}" for i in range(len(got))]
