"""Dotted field paths over nested event dicts."""

from __future__ import annotations

from typing import Any

_MISSING = object()


def get_path(doc: dict, path: str, default: Any = None) -> Any:
    """`get_path(e, "details.useridentity.arn")`; a list on the way yields the values of its items."""
    value: Any = doc
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part, _MISSING)
        elif isinstance(value, list):
            found = [item.get(part, _MISSING) for item in value if isinstance(item, dict)]
            value = [v for v in found if v is not _MISSING] or _MISSING
        else:
            value = _MISSING
        if value is _MISSING:
            return default
    return value


# `details` keys that hold IP addresses. Their valid addresses also make up the virtual field `ip`
# ("every address in the event"), which queries can use like any other field: `ip:203.0.113.9`.
IP_KEYS = (
    "sourceipaddress",
    "destinationipaddress",
    "sourceipv4address",
    "destinationipv4address",
    "sourceipv6address",
    "destinationipv6address",
    "ipaddress",
    "ipaddressv4",
    "privateipaddress",
    "publicip",
)
ANY_IP = "ip"
