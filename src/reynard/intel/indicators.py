"""Indicators (IOCs): the kinds, how a value is checked, and the one written form of each.

MozDef kept three lists (IP blocklist, FQDN blocklist, watchlist); Reynard keeps one, with a kind per
indicator. `check(kind, value)` is the only way in: it refuses a value that is not of its kind with an
`IndicatorError` naming the value and why, and returns the canonical value (what is stored and shown)
and the key (what dedup and matching compare):

    ip          an IPv4/IPv6 address or CIDR network. `203.0.113.9/32` is written `203.0.113.9`; an
                IPv4-mapped IPv6 address is the IPv4 address; a network with host bits set
                (`10.0.0.5/24`) is refused, naming the network it probably means; `/0` is refused.
    domain      an FQDN, lowercase, no trailing dot, Unicode as IDNA (punycode). It stands for the zone:
                `evil.example` matches `evil.example` and every name under it (`a.b.evil.example`).
                `*.evil.example` is accepted and written `evil.example`. A URL or an IP is refused.
    access_key  an AWS access key id: AKIA (long-term) or ASIA (temporary) and 16 letters or digits.
    principal   an ARN (`arn:aws:iam::123456789012:user/alice`), an account id, or a user name;
                compared case-insensitively (IAM names are unique regardless of case).
    hash        MD5, SHA-1 or SHA-256: 32, 40 or 64 hex digits, lowercase.
    term        free text (2 to 200 characters, at least one letter or digit), matched as whole
                words, case-insensitively (see `indicators_match`).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from reynard.errors import NotFound, ReynardError
from reynard.events.ips import is_ip, unmapped
from reynard.events.timestamps import iso_or_none

Kind = Literal["ip", "domain", "access_key", "principal", "hash", "term"]
KINDS: tuple[Kind, ...] = ("ip", "domain", "access_key", "principal", "hash", "term")
STATES = ("active", "expired", "removed", "all")
MAX_VALUE = 1024

HASH_LENGTHS = {32: "md5", 40: "sha1", 64: "sha256"}
_ACCESS_KEY = re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16}")
_HEX = re.compile(r"[0-9a-f]+")
_IP_LIKE = re.compile(r"(?:\d+(?:\.\d*)+|[0-9A-Fa-f.]*:[0-9A-Fa-f.:]*)(?:/\d*)?")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_ACCOUNT = re.compile(r"\d{12}")
_NAME = re.compile(r"[A-Za-z0-9+=,.@_:/-]{1,256}")
_WORD = re.compile(r"\w")
_WORDS = re.compile(r"\w+")


class IndicatorError(ReynardError):
    """An indicator that cannot be used (bad value, unknown kind or id), or a refused operation."""


class UnknownIndicator(IndicatorError, NotFound):
    """No indicator with that id (or kind and value)."""


@dataclass(frozen=True)
class Checked:
    """A value checked for its kind: `value` as stored and shown, `key` as compared."""

    kind: Kind
    value: str
    key: str


def _show(text: str) -> str:
    """A value as error messages quote it (long ones cut)."""
    return repr(text if len(text) <= 80 else text[:77] + "...")


def check(kind: str | None, value: object) -> Checked:
    """`value` checked as an indicator of `kind` (detected when None); raises IndicatorError."""
    if not isinstance(value, str):
        raise IndicatorError(f"an indicator value is text, not {type(value).__name__}")
    text = value.strip()
    if not text:
        raise IndicatorError("empty indicator value")
    if len(text) > MAX_VALUE:
        raise IndicatorError(f"indicator value of {len(text)} characters: at most {MAX_VALUE}")
    if kind is None or kind == "":
        kind = detect_kind(text)
    if kind not in _CHECKS:
        raise IndicatorError(f"unknown indicator kind {kind!r} (kinds: {', '.join(KINDS)})")
    return _CHECKS[kind](text)


def detect_kind(text: str) -> Kind:
    """The kind a value evidently is: IP/CIDR, access key id, hash, ARN or account id, domain.
    A user name or free text cannot be told apart: the caller must say `principal` or `term`."""
    text = text.strip()
    try:
        _ip(text)
        return "ip"
    except IndicatorError:
        if _IP_LIKE.fullmatch(text):  # meant as an address: say what is wrong with it
            raise
    if _ACCESS_KEY.fullmatch(text):
        return "access_key"
    if len(text) in HASH_LENGTHS and _HEX.fullmatch(text.lower()):
        return "hash"
    if text.lower().startswith("arn:") or _ACCOUNT.fullmatch(text):
        return "principal"
    try:
        _domain(text)
        return "domain"
    except IndicatorError:
        if "." in text and not any(c.isspace() for c in text):  # meant as a domain
            raise
    raise IndicatorError(
        f"cannot tell what kind of indicator {_show(text)} is (not an IP, CIDR, domain, access key id, "
        "ARN or hash): give its kind (term or principal)"
    )


def _ip(text: str) -> Checked:
    try:
        if "/" in text:
            network = ipaddress.ip_network(text, strict=True)
        else:
            address = unmapped(ipaddress.ip_address(text))
            return Checked("ip", str(address), str(address))
    except ValueError:
        if "/" in text:
            try:
                meant = ipaddress.ip_network(text, strict=False)
            except ValueError:
                pass
            else:
                raise IndicatorError(
                    f"{_show(text)}: the network has host bits set (did you mean {meant}?)"
                ) from None
        raise IndicatorError(f"{_show(text)} is not an IP address or CIDR network") from None
    if network.prefixlen == 0:
        raise IndicatorError(f"{_show(text)} is every address: refused")
    value = str(network.network_address) if network.num_addresses == 1 else str(network)
    return Checked("ip", value, value)


def _domain(text: str) -> Checked:
    name = text.lower().rstrip(".")
    if "://" in name or "/" in name:
        host = name.split("://", 1)[-1].split("/", 1)[0]
        raise IndicatorError(f"{_show(text)} is a URL, not a domain: give its host name ({host})")
    if name.startswith("*."):
        name = name[2:]
    if is_ip(name.strip("[]")):
        raise IndicatorError(f"{_show(text)} is an IP address, not a domain: give it as kind ip")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError as e:
            raise IndicatorError(
                f"{_show(text)} is not a valid internationalized domain name ({e})"
            ) from None
    labels = name.split(".")
    if len(labels) < 2:
        raise IndicatorError(f"{_show(text)} is not a domain: it needs at least two labels (evil.example)")
    if len(name) > 253:
        raise IndicatorError(f"{_show(text)} is not a domain: longer than 253 characters")
    for label in labels:
        if not _LABEL.fullmatch(label):
            why = "an empty label" if not label else f"the label {_show(label)}"
            raise IndicatorError(
                f"{_show(text)} is not a domain: {why} is not 1 to 63 letters, digits or hyphens"
            )
    if labels[-1].isdigit():
        raise IndicatorError(f"{_show(text)} is not a domain: its last label is a number")
    return Checked("domain", name, name)


def _access_key(text: str) -> Checked:
    key = text.upper()
    if not _ACCESS_KEY.fullmatch(key):
        raise IndicatorError(
            f"{_show(text)} is not an AWS access key id (AKIA or ASIA and 16 letters or digits, 20 in all)"
        )
    return Checked("access_key", key, key)


def _principal(text: str) -> Checked:
    if text.lower().startswith("arn:"):
        parts = text.split(":", 5)
        if len(parts) < 6 or not parts[1].startswith("aws") or not parts[2] or not parts[5]:
            raise IndicatorError(
                f"{_show(text)} is not an ARN (arn:partition:service:region:account:resource)"
            )
        if any(c.isspace() for c in text):
            raise IndicatorError(f"{_show(text)} is not an ARN: it contains white space")
        return Checked("principal", text, text.lower())
    if not _NAME.fullmatch(text):
        raise IndicatorError(
            f"{_show(text)} is not a principal: an ARN, an account id or a user name "
            "(letters, digits and +=,.@_:/- only)"
        )
    return Checked("principal", text, text.lower())


def _hash(text: str) -> Checked:
    digest = text.lower()
    if len(digest) not in HASH_LENGTHS or not _HEX.fullmatch(digest):
        raise IndicatorError(f"{_show(text)} is not an MD5, SHA-1 or SHA-256 hash (32, 40 or 64 hex digits)")
    return Checked("hash", digest, digest)


def _term(text: str) -> Checked:
    if len(text) < 2 or len(text) > 200:
        raise IndicatorError(f"term {_show(text)}: 2 to 200 characters")
    if any(c in text for c in "\r\n\t\x00"):
        raise IndicatorError(f"term {_show(text)}: one line of text, no tabs or control characters")
    if not _WORD.search(text):
        raise IndicatorError(f"term {_show(text)}: needs at least one letter or digit")
    return Checked("term", text, " ".join(words(text)))


def words(text: str) -> list[str]:
    """The words of a text as terms compare them: lowercased runs of letters, digits and `_`."""
    return _WORDS.findall(text.lower())


_CHECKS = {
    "ip": _ip,
    "domain": _domain,
    "access_key": _access_key,
    "principal": _principal,
    "hash": _hash,
    "term": _term,
}


@dataclass(frozen=True)
class Indicator:
    """One stored indicator. Active while not removed and not past `expires`."""

    id: int
    kind: Kind
    value: str
    key: str
    source: str | None
    reference: str | None
    comment: str | None
    creator: str
    created: datetime
    updated: datetime
    expires: datetime | None = None
    removed: datetime | None = None
    removed_by: str | None = None

    def state(self, now: datetime) -> Literal["active", "expired", "removed"]:
        if self.removed is not None:
            return "removed"
        if self.expires is not None and self.expires <= now:
            return "expired"
        return "active"

    def active(self, now: datetime) -> bool:
        return self.state(now) == "active"

    def as_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "value": self.value,
            "source": self.source,
            "reference": self.reference,
            "comment": self.comment,
            "creator": self.creator,
            "created": self.created.isoformat(),
            "updated": self.updated.isoformat(),
            "expires": iso_or_none(self.expires),
            "removed": iso_or_none(self.removed),
            "removed_by": self.removed_by,
            "state": self.state(now),
            "active": self.active(now),
        }
