"""ssh_from_outside: SSH connections accepted from outside our networks (VPC flow logs).

Why: port 22 reachable from the internet is the most common way into a cloud instance (open security
group, brute force, stolen keys). An accepted flow to port 22 whose source is not one of our networks
means the port is open to the outside and somebody used it. One alert per source address per window,
with the flows as evidence.

Matches `source:vpcflow`, `details.action:ACCEPT`, `details.destinationport:22`, and a
`details.sourceipaddress` in none of `internal_cidrs`. (The vpcflow plugin's `details.direction` is not
used: a flow seen on a public interface is "external", and it is still SSH from outside.)

Config keys:
    minutes         the window searched (default 15)
    ports           destination ports counted as SSH (default (22,))
    internal_cidrs  networks that are ours (default: Reynard's default internal networks, RFC 1918 etc.)
    threshold       accepted flows from one source needed to alert (default 1)
    severity        the alert's severity (default WARNING)
"""

from __future__ import annotations

from typing import ClassVar

from reynard.detect.rules._base import BuiltinRule
from reynard.query.mozdef import SearchQuery, SubnetMatch, TermMatch, TermsMatch
from reynard.settings import DEFAULT_INTERNAL_CIDRS


class SshFromOutside(BuiltinRule):
    config_keys: ClassVar[tuple[str, ...]] = ("minutes", "ports", "internal_cidrs", "threshold", "severity")
    minutes = 15
    ports: tuple[int, ...] = (22,)
    internal_cidrs: tuple[str, ...] = DEFAULT_INTERNAL_CIDRS
    threshold = 1
    severity = "WARNING"

    def main(self) -> None:
        query = SearchQuery(minutes=self.minutes)
        query.add_must(
            [
                TermMatch("source", "vpcflow"),
                TermMatch("details.action", "ACCEPT"),
                TermsMatch("details.destinationport", list(self.ports)),
            ]
        )
        query.add_must_not([SubnetMatch("details.sourceipaddress", cidr) for cidr in self.internal_cidrs])
        self.filtersManual(query)
        self.searchEventsAggregated("details.sourceipaddress", samplesLimit=10)
        self.walkAggregations(threshold=self.threshold)

    def onAggregation(self, aggregation: dict) -> dict:
        source_ip = aggregation["value"]
        targets = sorted(
            {str(hit["_source"]["details"].get("destinationipaddress")) for hit in aggregation["allevents"]}
        )
        summary = (
            f"SSH from outside: {source_ip} reached SSH on {', '.join(targets)} "
            f"({aggregation['count']} accepted flows)"
        )
        tags = ["vpcflow", "ssh", "aws"]
        return self.createAlertDict(summary, "access", tags, aggregation["events"], self.severity)
