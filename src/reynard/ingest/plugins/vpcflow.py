"""vpcflow: a readable summary and the direction of each VPC flow record.

Why: "which flows came in from outside" is the first question asked of flow logs, and the answer depends
on which networks are ours, a setting (`Settings.internal_cidrs`), not something a query can know. The
direction is computed once here and stored as `details.direction`:

    inbound   source outside the internal networks, destination inside
    outbound  source inside, destination outside
    internal  both inside
    external  both outside (seen on a public interface, or internal_cidrs is incomplete)

Summary: `10.0.0.5:53211 -> 203.0.113.9:22 tcp ACCEPT 20 packets 4249 bytes` (ports, counts left out when
the record has none).
Records with no addresses (`logstatus` NODATA or SKIPDATA) keep the parser's summary and get no direction.
"""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from reynard.events.ips import in_networks, loose_ip
from reynard.settings import Settings

_NO_PORT = (None, "", "-")


class VpcFlow:
    """Summary and direction (inbound, outbound, internal, external) for VPC flow records."""

    name: ClassVar[str] = "vpcflow"
    priority: ClassVar[int] = 10

    def __init__(self, settings: Settings | None = None):
        networks = (settings or Settings()).networks()
        self._inside = lru_cache(maxsize=65_536)(lambda text: _inside(text, networks))

    def wants(self, draft: dict) -> bool:
        return draft.get("source") == "vpcflow"

    def apply(self, draft: dict) -> dict:
        details = draft.get("details")
        if type(details) is not dict:
            return draft
        src = details.get("sourceipaddress")
        dst = details.get("destinationipaddress")
        if type(src) is not str or type(dst) is not str or src in _NO_PORT or dst in _NO_PORT:
            return draft  # NODATA / SKIPDATA: nothing to say about a flow
        proto = details.get("protocolname") or details.get("protocol")
        source = _endpoint(src, details.get("sourceport"))
        parts = [f"{source} -> {_endpoint(dst, details.get('destinationport'))}"]
        if proto not in _NO_PORT:
            parts.append(str(proto))
        if details.get("action") not in _NO_PORT:
            parts.append(str(details["action"]))
        if details.get("packets") is not None and details.get("bytes") is not None:
            parts.append(f"{details['packets']} packets {details['bytes']} bytes")
        draft["summary"] = " ".join(parts)

        src_in, dst_in = self._inside(src), self._inside(dst)
        if src_in is not None and dst_in is not None:
            details["direction"] = (
                ("internal" if dst_in else "outbound") if src_in else ("inbound" if dst_in else "external")
            )
        return draft


def _endpoint(address: str, port: object) -> str:
    if port in _NO_PORT:
        return address
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _inside(text: str, networks: tuple) -> bool | None:
    """Whether an address is in one of `networks`; None when `text` is not an address."""
    ip = loose_ip(text)
    return None if ip is None else in_networks(ip, networks)
