"""The checked values an incident is made of: severities, tags (free, or MITRE ATT&CK technique ids),
indicators, timeline links and entry kinds. Each check raises InvalidValue naming the value, so a bad
value is refused before anything is written."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from reynard.cases.errors import InvalidValue
from reynard.events.ips import ip_address

SEVERITIES = ("critical", "high", "medium", "low")
# An alert's RFC 5424 severity (DESIGN.md) to an incident's.
ALERT_SEVERITY = {
    "EMERGENCY": "critical",
    "ALERT": "critical",
    "CRITICAL": "critical",
    "ERROR": "high",
    "WARNING": "medium",
    "NOTICE": "low",
    "INFO": "low",
    "DEBUG": "low",
}

MAX_TITLE = 300
MAX_TAG = 100


def parse_severity(value: str) -> str:
    found = str(value).strip().lower()
    if found not in SEVERITIES:
        raise InvalidValue(f"{value!r} is not a severity (one of: {', '.join(SEVERITIES)})")
    return found


def severity_of_alert(severity: str | None) -> str:
    """The incident severity for an alert's: unknown or missing is medium."""
    return ALERT_SEVERITY.get(str(severity or "").upper(), "medium")


def more_severe(a: str, b: str) -> str:
    return a if SEVERITIES.index(a) <= SEVERITIES.index(b) else b


def title(value: str) -> str:
    text = " ".join(str(value).split())
    if not text:
        raise InvalidValue("an incident needs a title")
    if len(text) > MAX_TITLE:
        raise InvalidValue(f"a title is at most {MAX_TITLE} characters, this one has {len(text)}")
    return text


def required_text(value: str, what: str) -> str:
    text = str(value).strip()
    if not text:
        raise InvalidValue(f"{what} is empty")
    return text


# -- tags -------------------------------------------------------------------------------------------------
TECHNIQUE = re.compile(r"T\d{4}(?:\.\d{3})?")
# What claims to be a technique id: T and a digit, or Sigma's `attack.t1078.004`.
_LOOKS_LIKE_TECHNIQUE = re.compile(r"(?:attack\.)?t\d", re.IGNORECASE)


def parse_tag(value: str) -> str:
    """A tag as stored: free text, or a technique id in its canonical form (`T1078`, `T1078.004`).

    Anything that looks like a technique id (`T` and a digit, Sigma's `attack.t1078.004`) must be one."""
    text = str(value).strip()
    if not text:
        raise InvalidValue("a tag is empty")
    if len(text) > MAX_TAG:
        raise InvalidValue(f"a tag is at most {MAX_TAG} characters: {text[:40]!r}...")
    if _LOOKS_LIKE_TECHNIQUE.match(text):
        candidate = text.removeprefix("attack.").removeprefix("ATTACK.").upper()
        if not TECHNIQUE.fullmatch(candidate):
            raise InvalidValue(f"{text!r} is not a MITRE ATT&CK technique id (T1234 or T1234.001)")
        return candidate
    return text


def parse_tags(values: Iterable[str]) -> list[str]:
    """Tags checked and canonical, each once, in order."""
    return list(dict.fromkeys(parse_tag(v) for v in values))


def lenient_tags(values: Iterable[str]) -> tuple[list[str], list[str]]:
    """(tags, refused): an alert's tags where a malformed technique id is left out, not fatal."""
    kept, refused = [], []
    for value in values:
        try:
            kept.append(parse_tag(value))
        except InvalidValue:
            refused.append(str(value))
    return list(dict.fromkeys(kept)), refused


def is_technique(tag: str) -> bool:
    return TECHNIQUE.fullmatch(tag) is not None


# -- indicators -------------------------------------------------------------------------------------------
INDICATOR_KINDS = ("ip", "principal", "access_key", "instance", "bucket", "domain")

PRINCIPAL = re.compile(
    r"arn:aws[a-z-]*:(?:iam|sts)::\d{12}:(?:root|user/.+|role/.+|assumed-role/.+|federated-user/.+)"
)
ACCESS_KEY = re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16}")
INSTANCE = re.compile(r"i-[0-9a-f]{8}(?:[0-9a-f]{9})?")
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
DOMAIN = re.compile(
    r"(?=.{1,253}\.?$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]\.?"
)


@dataclass(frozen=True, order=True)
class Indicator:
    """Something an attacker used or touched: an IP, a principal (an IAM/STS ARN), an access key id,
    an EC2 instance id, an S3 bucket name or a domain. Build it with `indicator()` to check it."""

    kind: str
    value: str


def indicator(kind: str, value: str) -> Indicator:
    """A checked indicator in canonical form (IPs compressed, domains lowercased without the dot)."""
    text = str(value).strip()
    if kind == "ip":
        address = ip_address(text)  # as written: an IPv4-mapped address stays IPv6
        if address is None:
            raise InvalidValue(f"{text!r} is not an IP address")
        return Indicator(kind, str(address))
    checks = {
        "principal": (PRINCIPAL, "an IAM or STS principal ARN"),
        "access_key": (ACCESS_KEY, "an AWS access key id (AKIA... or ASIA..., 20 characters)"),
        "instance": (INSTANCE, "an EC2 instance id (i- and 8 or 17 hex digits)"),
        "bucket": (BUCKET, "an S3 bucket name (3-63 lowercase letters, digits, dots, dashes)"),
        "domain": (DOMAIN, "a domain name"),
    }
    if kind not in checks:
        raise InvalidValue(f"{kind!r} is not an indicator kind (one of: {', '.join(INDICATOR_KINDS)})")
    if kind == "domain":
        text = text.lower().rstrip(".")
    pattern, what = checks[kind]
    if not pattern.fullmatch(text) or (kind == "bucket" and ".." in text):
        raise InvalidValue(f"{text!r} is not {what}")
    return Indicator(kind, text)


# -- the timeline -----------------------------------------------------------------------------------------
# Entries the store writes for the changes it makes (each one a new version of the incident).
CHANGE_KINDS = ("opened", "phase", "field", "alert", "event", "indicator", "member", "postmortem", "runbook")
# Entries anyone may append through `add_entry` (the incident itself does not change).
APPEND_KINDS = ("note", "playbook", "notification", "correction", "evidence")
ENTRY_KINDS = CHANGE_KINDS + APPEND_KINDS

_LINK = re.compile(r"[a-z][a-z0-9_-]*:\S.*")


def parse_link(value: str | None) -> str | None:
    """A link to the entry's object, `scheme:id`: `alert:12`, `event:<id>`, `entry:7`,
    `execution:<id>`, `delivery:3`, or a URL."""
    if value is None:
        return None
    text = str(value).strip()
    if not _LINK.fullmatch(text):
        raise InvalidValue(f"{text!r} is not a link (scheme:id, as alert:12, entry:7 or execution:<id>)")
    return text


def append_kind(kind: str) -> str:
    if kind not in APPEND_KINDS:
        extra = " (the store writes those itself)" if kind in CHANGE_KINDS else ""
        raise InvalidValue(
            f"{kind!r} is not an entry kind one can add{extra}: one of {', '.join(APPEND_KINDS)}"
        )
    return kind


# -- the postmortem ---------------------------------------------------------------------------------------
# Section key → its heading, in the document's order.
POSTMORTEM_SECTIONS = {
    "problem": "Problem description",
    "timeline": "Timeline",
    "root_cause": "Root cause",
    "actions": "What was done",
    "worked": "What worked and what did not",
    "recommendations": "Recommendations",
    "team": "Postmortem team",
}


def postmortem_section(name: str) -> str:
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    if key not in POSTMORTEM_SECTIONS:
        raise InvalidValue(f"{name!r} is not a postmortem section (one of: {', '.join(POSTMORTEM_SECTIONS)})")
    return key
