"""IP addresses in events, read one way everywhere: parsing, IPv4-mapped IPv6, networks.

Reynard compares addresses as the event store indexes them: an IPv4-mapped IPv6 address
(`::ffff:203.0.113.9`) *is* the IPv4 address, so `ip:203.0.113.9`, a CIDR `203.0.113.0/24`, an indicator
`203.0.113.9` and the geolocation of the address all find it. The functions, from strictest to loosest:

- `ip_address(text)`: the address exactly as written (a mapped address stays IPv6), or None. For places
  whose meaning is the written form (EventBridge's `cidr`, an incident's indicator value).
- `parse_ip(text)` / `as_ip(value)`: the address as Reynard compares it (mapped IPv6 taken as IPv4), or
  None; remembered for the last 65,536 distinct texts, since a stream repeats its addresses.
- `is_ip(text)`: whether a text is an address at all (remembered the same way).
- `loose_ip(text)`: an address as logs write one in an address field: `[v6]`, `[v6]:port`, `v4:port` and an
  IPv6 zone (`%eth0`) are taken off, then read as `parse_ip` does.

And back to text: `mapped(address)` writes an IPv4 address in the IPv6 form IP fields store
(`::ffff:a.b.c.d`). `network(cidr)` reads a CIDR the way every query language here does (host bits
allowed); `networks(cidrs)` and `in_networks(address, nets)` answer "is this address ours" (internal or
external, `Settings.internal_cidrs`).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

REMEMBERED = 65_536  # distinct texts whose parse is remembered


def ip_address(text: str) -> Address | None:
    """The address `text` writes, as written (`::ffff:10.0.0.1` stays IPv6); None when it is not one."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def unmapped(address: Address) -> Address:
    """An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address; any other unchanged."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=REMEMBERED)
def parse_ip(text: str) -> Address | None:
    """The address in `text` as Reynard compares it (IPv4-mapped IPv6 is IPv4); None when not one."""
    address = ip_address(text)
    return None if address is None else unmapped(address)


def as_ip(value: Any) -> Address | None:
    """`parse_ip` of a value that may not be a string (a number is never an address here)."""
    if not isinstance(value, str):
        return None
    return parse_ip(value)


def is_ip(text: str) -> bool:
    """Whether `text` is an IPv4 or IPv6 address, as written (no brackets, port or zone)."""
    return parse_ip(text) is not None


def loose_ip(text: str) -> Address | None:
    """The address a log wrote in an address field, or None: `parse_ip` after taking off surrounding
    space, `[v6]` or `[v6]:port` brackets, the port of `v4:port` and an IPv6 zone (`fe80::1%eth0`)."""
    s = text.strip()
    if s.startswith("["):  # [v6] or [v6]:port
        end = s.find("]")
        s = s[1:end] if end > 0 else s
    elif s.count(":") == 1 and "." in s:  # v4:port
        s = s.partition(":")[0]
    address = ip_address(s)
    if address is None:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None and address.scope_id:
        return ipaddress.IPv6Address(s.partition("%")[0])
    return unmapped(address)


def ip_number(canonical: str) -> tuple[int, int]:
    """(version, integer) of an address in canonical form (`str(address)`, as indicators store it):
    quick for IPv4, for tables built from many addresses. ValueError for anything else."""
    if ":" in canonical:
        return 6, int(ipaddress.IPv6Address(canonical))
    try:
        return 4, int.from_bytes(socket.inet_aton(canonical), "big")
    except OSError:
        raise ValueError(f"not an IPv4 address: {canonical!r}") from None


def mapped(address: Address) -> str:
    """An address as IPv6 text, the form IP fields store: IPv4 as `::ffff:a.b.c.d`, IPv6 unchanged."""
    return f"::ffff:{address}" if address.version == 4 else str(address)


def network(cidr: str) -> Network:
    """The network a CIDR text names, host bits allowed (`10.0.0.1/8` is `10.0.0.0/8`; an address alone
    is a network of one); ValueError for a text that is not one."""
    return ipaddress.ip_network(cidr, strict=False)


def networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """`network` of each CIDR text (`Settings.internal_cidrs`)."""
    return tuple(network(c) for c in cidrs)


def in_networks(address: Address, nets: Iterable[Network]) -> bool:
    """Whether `address` is inside one of `nets` (an IPv4 address is never inside an IPv6 network)."""
    return any(address in net for net in nets)


__all__ = [
    "Address",
    "Network",
    "as_ip",
    "in_networks",
    "ip_address",
    "ip_number",
    "is_ip",
    "loose_ip",
    "mapped",
    "network",
    "networks",
    "parse_ip",
    "unmapped",
]
