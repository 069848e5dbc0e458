"""ipfixup: after this plugin, `details.sourceipaddress` and `details.destinationipaddress` hold only
valid IP addresses (or are absent).

Why: the event store indexes both as IP fields (so a CIDR is a range query), and one bad value would make
the event unstorable. Sources disagree on what they put there: CloudTrail writes a service name (`AWS
Internal`, `ec2.amazonaws.com`) when AWS itself made the call, anonymised samples hold `253.252.51.07`
(a leading zero: octal or decimal? Python refuses to guess, and so do we), other logs use `src`, `dstip`
or an `X-Forwarded-For` header.

What it does, for the source side (the destination side is the same with `destination...`):

- `src`, `srcip`, `sourceip` move to `sourceipaddress` when that is absent (`dst`, `dstip`,
  `destinationip` to `destinationipaddress`); failing those, the first hop of `http_x_forwarded_for`
  (the original client) becomes `sourceipaddress`.
- A valid address is written back in canonical form (an IPv4-mapped IPv6 address becomes the IPv4
  address; `[v6]`, `:port` and an IPv6 zone are stripped) and copied to `sourceipv4address` or
  `sourceipv6address`.
- An AWS service caller (`AWS Internal`, `*.amazonaws.com`) moves to `sourceservice`, any other host
  name to `sourcehostname`, silently: that is what the source meant.
- Anything else is not an address: it moves to `sourceipaddress_raw`, text kept, and a note goes to the
  event's `errors`. Empty values (`""`, `-`, null) are removed. This plugin never raises.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import ClassVar

from reynard.events.ips import loose_ip
from reynard.settings import Settings

_SIDES = (
    ("sourceipaddress", "source", ("srcip", "src", "sourceip")),
    ("destinationipaddress", "destination", ("dstip", "dst", "destinationip")),
)
_VERSIONED = {(prefix, v): f"{prefix}ipv{v}address" for _, prefix, _ in _SIDES for v in (4, 6)}
_XFF = "http_x_forwarded_for"
_KEYS = (*(k for field, _, aliases in _SIDES for k in (field, *aliases)), _XFF)
_EMPTY = ("", "-")
_HOSTNAME = re.compile(
    r"(?=.*[a-z_])[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?",
    re.IGNORECASE,
)


@lru_cache(maxsize=65_536)
def parse_ip(text: str) -> tuple[str, int] | None:
    """(canonical text, version) of an IP address written in `text` (`events.ips.loose_ip`: brackets,
    port and zone taken off, IPv4-mapped IPv6 as IPv4), or None when it is not one."""
    ip = loose_ip(text)
    return None if ip is None else (str(ip), ip.version)


def _is_service(text: str) -> bool:
    low = text.lower()
    return low == "aws internal" or low.endswith((".amazonaws.com", ".amazonaws.com.cn", ".amazon.com"))


class IpFixup:
    """Make the source and destination address fields hold valid IP addresses only."""

    name: ClassVar[str] = "ipfixup"
    priority: ClassVar[int] = 15

    def __init__(self, settings: Settings | None = None):
        pass

    def wants(self, draft: dict) -> bool:
        details = draft.get("details")
        return type(details) is dict and any(k in details for k in _KEYS)

    def apply(self, draft: dict) -> dict:
        details = draft["details"]
        for field, prefix, aliases in _SIDES:
            if field in details:
                self._fix(draft, details, field, prefix)
                continue
            for alias in aliases:
                if alias in details:
                    details[field] = details.pop(alias)
                    self._fix(draft, details, field, prefix)
                    break
            else:
                if field == "sourceipaddress" and _XFF in details:
                    hop = details[_XFF]
                    hop = hop.split(",", 1)[0] if isinstance(hop, str) else None
                    if hop and parse_ip(hop):
                        details[field] = hop
                        self._fix(draft, details, field, prefix)
        return draft

    @staticmethod
    def _fix(draft: dict, details: dict, field: str, prefix: str) -> None:
        value = details[field]
        if type(value) is str:
            parsed = parse_ip(value)
            if parsed is not None:
                text, version = parsed
                details[field] = text
                details[_VERSIONED[prefix, version]] = text
                return
        del details[field]
        if value is None:
            return
        if type(value) is str:
            text = value.strip()
            if text in _EMPTY:
                return
            if _is_service(text):
                details[f"{prefix}service"] = text
                return
            if _HOSTNAME.fullmatch(text):
                details[f"{prefix}hostname"] = text
                return
        details[f"{field}_raw"] = value
        draft.setdefault("errors", []).append(f"details.{field}: {value!r} is not a valid IP address")
