"""Syslog: RFC 3164 lines as files on disk hold them, RFC 5424 lines, and sshd's messages in detail.

RFC 3164 (`<PRI>Mmm dd hh:mm:ss host prog[pid]: msg`, the PRI usually absent on disk; rsyslog's ISO 8601
timestamp is accepted in its place) carries no year and no zone. The year is the reference time's,
unless that puts the line more than two days after the reference, then the year before (a December
line read in January); the time is passed on as a naive datetime so `finalize` tags the event
`tz-assumed-utc`. A tag such as `sshd(pam_unix)[123]` is processname `sshd`, subsystem `pam_unix`; a line
with no `prog:` tag has no processname and its whole text is the summary. RFC 5424
(`<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG`) keeps its structured data under
`details.structureddata`.

A line that has neither header is rejected ("not a syslog line"), whatever its content: without a
timestamp the event could not be placed in time, and the dead-letter store keeps it for a replay.
Bytes that are not UTF-8 are replaced (U+FFFD) and the event is tagged `invalid-utf8`: log text is often
mis-encoded and the rest of the line is still worth having.

sshd messages are parsed into `details` (`action`, `username`, `sourceipaddress` or `sourcehostname`,
`sourceport`, `authmethod`, `success`, `invaliduser`), because most authentication detections read
them; only sshd's lines are looked at, by their first word, so other programs cost nothing extra.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from reynard.events.event import SEVERITIES
from reynard.events.ips import is_ip
from reynard.ingest.reader import Input, iter_lines
from reynard.ingest.records import Record, Rejected
from reynard.ingest.sources.base import ReadOptions
from reynard.ingest.sources.common import BOM, Occurrences, too_big
from reynard.ingest.sources.mozdef import MISSING_TIME_TAG

INVALID_UTF8_TAG = "invalid-utf8"
MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}  # noqa: SIM905
FACILITIES = (  # noqa: SIM905
    "kern user mail daemon auth syslog lpr news uucp cron authpriv ftp ntp security console solaris-cron "
    "local0 local1 local2 local3 local4 local5 local6 local7"
).split()
AHEAD = timedelta(days=2)
NOT_SYSLOG = "not a syslog line (no RFC 3164 or RFC 5424 header)"

_BSD = re.compile(
    r"(?:<(\d{1,3})>)?"
    r"(?:(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d{1,2}) (\d\d):(\d\d):(\d\d)"
    r"|(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?))"
    r" +(\S+)(?: (.*))?"
)
_RFC5424 = re.compile(r"<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+)(?: (.*))?")
_TAG = re.compile(r"([^\s\[\]:(]+)(?:\(([^)\s]*)\))?(?:\[(\d+)\])?:(?: |$)(.*)")
_SD_ELEMENT = re.compile(r'\[([^\s\]="]+)((?: +[^\s\]="]+="(?:[^"\\]|\\.)*")*) *\]')
_SD_PARAM = re.compile(r'([^\s\]="]+)="((?:[^"\\]|\\.)*)"')
_SD_ESCAPE = re.compile(r"\\([\"\\\]])")

# sshd messages, chosen by their first word.
_FAILED = re.compile(r"Failed (\S+) for (invalid user )?(.*?) from (\S+) port (\d+)")
_ACCEPTED = re.compile(r"Accepted (\S+) for (.*?) from (\S+) port (\d+)(?: ssh\d?)?(?:: (\S+) (\S+))?")
_INVALID = re.compile(r"Invalid user (.*?) from (\S+)(?: port (\d+))?$")
_DISCONNECTED = re.compile(
    r"Disconnected from (?:(?:(authenticating|invalid) )?user (.*?) )?(\S+) port (\d+)"
)
_RECEIVED = re.compile(
    r"(?:error: )?Received disconnect from (\S+?)(?: port (\d+))?: ?(\d+): (.*?)(?: \[preauth\])?$"
)
_CLOSED = re.compile(
    r"Connection closed by (?:(?:(authenticating|invalid) )?user (.*?) )?(\S+)(?: port (\d+))?"
)
_REVERSE = re.compile(r"reverse mapping checking getaddrinfo for (\S+) \[(\S+)\] failed - POSSIBLE BREAK-IN")
_MAPS = re.compile(
    r"Address (\S+) maps to (\S+), but this does not map back to the address - POSSIBLE BREAK-IN"
)
_REPEATED = re.compile(r"message repeated (\d+) times: \[ ?(.*)\]$")
_USERAUTH = re.compile(r"input_userauth_request: invalid user (.*?) \[preauth\]")
_NO_ID = re.compile(r"Did not receive identification string from (\S+)(?: port (\d+))?")
_TOO_MANY = re.compile(
    r"Disconnecting: Too many authentication failures for (invalid user )?(.*?)(?: \[preauth\])?$"
)
_SESSION = re.compile(r"pam_unix\(sshd:session\): session (opened|closed) for user (\S+)")
_PAM_FIELD = re.compile(r"(\w+)=(\S*)")
_AUTH_FAILURE = "authentication failure;"
AUTH_ACTIONS = frozenset(("failed", "accepted", "invalid_user", "auth_failure", "too_many_failures"))


def _peer(details: dict, host: str, port: str | None = None) -> None:
    """Put a remote end under sourceipaddress (an address) or sourcehostname (a name)."""
    if is_ip(host):
        details["sourceipaddress"] = host
    else:
        details["sourcehostname"] = host
    if port:
        details["sourceport"] = int(port)


def _pam_failure(text: str, details: dict) -> None:
    details["action"] = "auth_failure"
    details["success"] = False
    fields = dict(_PAM_FIELD.findall(text))
    if fields.get("rhost"):
        _peer(details, fields["rhost"])
    if fields.get("user"):
        details["username"] = fields["user"]


def parse_sshd(msg: str, details: dict) -> None:
    """Add what an sshd message says (who, from where, what happened) to details."""
    word = msg.partition(" ")[0]
    m = None
    if word == "Failed":
        if m := _FAILED.match(msg):
            details.update(action="failed", success=False, authmethod=m[1].split("/")[0], username=m[3])
            details["invaliduser"] = m[2] is not None
            _peer(details, m[4], m[5])
    elif word == "Accepted":
        if m := _ACCEPTED.match(msg):
            details.update(action="accepted", success=True, authmethod=m[1].split("/")[0], username=m[2])
            _peer(details, m[3], m[4])
            if m[5]:
                details["keytype"], details["fingerprint"] = m[5], m[6]
    elif word == "Invalid":
        if m := _INVALID.match(msg):
            details.update(action="invalid_user", success=False, invaliduser=True, username=m[1])
            _peer(details, m[2], m[3])
    elif word in ("Received", "error:"):
        if m := _RECEIVED.match(msg):
            details.update(action="disconnect", reasoncode=int(m[3]), reason=m[4])
            _peer(details, m[1], m[2])
    elif word == "Disconnected":
        if m := _DISCONNECTED.match(msg):
            details["action"] = "disconnect"
            if m[2] is not None:
                details["username"] = m[2]
                details["invaliduser"] = m[1] == "invalid"
            _peer(details, m[3], m[4])
    elif word == "Connection":
        if m := _CLOSED.match(msg):
            details["action"] = "connection_closed"
            if m[2] is not None:
                details["username"] = m[2]
                details["invaliduser"] = m[1] == "invalid"
            _peer(details, m[3], m[4])
    elif word == "pam_unix(sshd:auth):":
        if msg.startswith(_AUTH_FAILURE, 21):
            _pam_failure(msg[21 + len(_AUTH_FAILURE) :], details)
    elif word == "pam_unix(sshd:session):":
        if m := _SESSION.match(msg):
            details.update(action=f"session_{m[1]}", username=m[2])
    elif word == "authentication":  # Linux: `sshd(pam_unix)[pid]: authentication failure; ...`
        if msg.startswith(_AUTH_FAILURE):
            _pam_failure(msg[len(_AUTH_FAILURE) :], details)
    elif word == "reverse":
        if m := _REVERSE.match(msg):
            details.update(action="break_in_attempt", sourcehostname=m[1], sourceipaddress=m[2])
    elif word == "Address":
        if m := _MAPS.match(msg):
            details.update(action="break_in_attempt", sourceipaddress=m[1], sourcehostname=m[2])
    elif word == "message":
        if m := _REPEATED.match(msg):
            details["repeated"] = int(m[1])
            parse_sshd(m[2], details)
    elif word == "input_userauth_request:":
        if m := _USERAUTH.match(msg):
            details.update(username=m[1], invaliduser=True)
    elif word == "Did":
        if m := _NO_ID.match(msg):
            details["action"] = "no_identification"
            _peer(details, m[1], m[2])
    elif word == "Disconnecting:" and (m := _TOO_MANY.match(msg)):
        details.update(action="too_many_failures", success=False, username=m[2], invaliduser=m[1] is not None)


def parse_structured_data(text: str) -> tuple[dict, str]:
    """RFC 5424 structured data at the start of `text`: ({sd-id: {param: value}}, the message after it)."""
    data: dict = {}
    pos = 0
    while text.startswith("[", pos) and (m := _SD_ELEMENT.match(text, pos)):
        params = {}
        for name, value in _SD_PARAM.findall(m[2]):
            params[name.lower()] = _SD_ESCAPE.sub(r"\1", value) if "\\" in value else value
        data[m[1].lower()] = params
        pos = m.end()
    return data, text[pos:]


class Syslog:
    name = "syslog"

    def sniff(self, head: bytes) -> int:
        lines = [line for line in head.removeprefix(BOM).split(b"\n", 5)[:5] if line.strip()]
        if not lines:
            return 0
        matched = 0
        for line in lines:
            text = line.decode("utf-8", "replace")
            matched += bool(_RFC5424.match(text) or _BSD.match(text))
        return 80 if matched == len(lines) else 50 if matched * 2 >= len(lines) else 0

    def read(self, inp: Input, options: ReadOptions) -> Iterator[Record | Rejected]:
        name = self.name
        origin = inp.origin
        limit = options.max_record_bytes
        reference = options.reference_time
        if reference.tzinfo is not None:
            reference = reference.astimezone(UTC).replace(tzinfo=None)
        latest = reference + AHEAD
        occurrences = Occurrences()
        last_stamp, last_moment = None, None
        for position, line in iter_lines(inp, limit):
            if len(line) > limit:
                yield Rejected(name, origin, position, too_big(len(line), limit), line)
                continue
            if position == 1:
                line = line.removeprefix(BOM)
            try:
                text = line.decode()
                tags = []
            except UnicodeDecodeError:
                text = line.decode("utf-8", "replace")
                tags = [INVALID_UTF8_TAG]
            details: dict = {}
            if text.startswith("<") and (m := _RFC5424.match(text)):
                pri, stamp, host, program, pid, msgid, rest = m.groups()
                if stamp == "-":
                    moment = options.reference_time
                    tags.append(MISSING_TIME_TAG)
                else:
                    moment = stamp
                if msgid != "-":
                    details["msgid"] = msgid
                rest = rest or ""
                if rest.startswith("["):
                    structured, rest = parse_structured_data(rest)
                    details["structureddata"] = structured
                elif rest.startswith("-"):
                    rest = rest[1:]
                msg = rest.removeprefix(" ").removeprefix("\ufeff")
                host, program, pid = (None if v == "-" else v for v in (host, program, pid))
            elif m := _BSD.match(text):
                pri, month, day, hh, mm, ss, iso, host, rest = m.groups()
                if iso:
                    moment = stamp = iso
                else:
                    stamp = text[m.start(2) : m.end(6)]
                    if stamp != last_stamp:
                        last_stamp = stamp
                        last_moment = _resolve(MONTHS[month], int(day), int(hh), int(mm), int(ss), latest)
                    moment = last_moment
                    if moment is None:
                        reason = f"invalid date in syslog timestamp {stamp!r}"
                        yield Rejected(name, origin, position, reason, line)
                        continue
                rest = rest or ""
                if host.endswith(":"):  # no hostname: the tag came first
                    rest = f"{host} {rest}"
                    host = None
                program = pid = None
                msg = rest
                if tag := _TAG.match(rest):
                    program, subsystem, pid, msg = tag.groups()
                    if subsystem:
                        details["subsystem"] = subsystem
            else:
                yield Rejected(name, origin, position, NOT_SYSLOG, line)
                continue

            severity = "INFO"
            if pri is not None:
                code = int(pri)
                if code > 191:
                    reason = f"not a syslog line: PRI {code} is out of range (0-191)"
                    yield Rejected(name, origin, position, reason, line)
                    continue
                severity = SEVERITIES[code & 7]
                details["facility"] = FACILITIES[code >> 3]
            if program == "sshd":
                parse_sshd(msg, details)
            elif msg.startswith(_AUTH_FAILURE) and details.get("subsystem") == "pam_unix":
                # `gdm(pam_unix)[pid]: authentication failure; ...`
                _pam_failure(msg[len(_AUTH_FAILURE) :], details)
            elif msg.startswith("pam_unix(") and (at := msg.find("): " + _AUTH_FAILURE, 9, 80)) > 0:
                # `sudo: pam_unix(sudo:auth): authentication failure; ...`
                _pam_failure(msg[at + 3 + len(_AUTH_FAILURE) :], details)
            if program:
                details["program"] = program  # where MozDef's syslog events and alerts keep it
            category = "authentication" if details.get("action") in AUTH_ACTIONS else name
            draft = {
                "utctimestamp": moment,
                "category": category,
                "source": name,
                "hostname": host,
                "processname": program,
                "processid": pid,
                "severity": severity,
                "summary": msg if msg.strip() else rest or text,
                "tags": tags,
                "details": details,
            }
            yield Record(draft, name, origin, position, occurrences.key(text, stamp), line)


def _resolve(month: int, day: int, hour: int, minute: int, second: int, latest: datetime) -> datetime | None:
    """The latest date with this month, day and time not after `latest`, within four years; None if none."""
    for year in range(latest.year, latest.year - 5, -1):
        try:
            moment = datetime(year, month, day, hour, minute, second)
        except ValueError:  # Feb 29 in a common year, or no such day or time at all
            continue
        if moment <= latest:
            return moment
    return None
