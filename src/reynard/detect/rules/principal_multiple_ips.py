"""principal_multiple_ips: one AWS principal calling the API from several addresses within a window.

Why: a session's credentials are normally used from one place. Temporary credentials stolen from an
instance's metadata service (or access keys leaked from a laptop) and replayed by an attacker show up as
the same `details.useridentity.arn` calling from a second address. Calls made by AWS services on the
principal's behalf carry no address of their own (`details.sourceservice`, e.g. "AWS Internal") or
name the service in `details.useridentity.invokedby`; they are left out.

Groups the CloudTrail events of the window by `details.useridentity.arn` and alerts for each ARN whose
events come from at least `min_ips` distinct `details.sourceipaddress` values.

Addresses inside `internal_cidrs` count as one place: a person at two desks of the office (or on the
office network and the company VPN) is still in one place, while the same key used inside and from
outside, or from two outside addresses, is two. By default every address counts on its own.

Config keys:
    minutes         the window searched (default 60)
    min_ips         distinct source addresses (places) needed to alert (default 2)
    internal_cidrs  networks whose addresses count as one place (default: none)
    severity        the alert's severity (default WARNING)
"""

from __future__ import annotations

from typing import ClassVar

from reynard.detect.rules._base import BuiltinRule
from reynard.events.ips import in_networks, networks, parse_ip
from reynard.query.mozdef import ExistsMatch, SearchQuery, TermMatch


class PrincipalMultipleIps(BuiltinRule):
    config_keys: ClassVar[tuple[str, ...]] = ("minutes", "min_ips", "internal_cidrs", "severity")
    minutes = 60
    min_ips = 2
    internal_cidrs: tuple[str, ...] = ()
    severity = "WARNING"

    def place(self, address: str) -> str:
        """The address, or "internal" for one inside `internal_cidrs`."""
        ip = parse_ip(address)
        return "internal" if ip is not None and in_networks(ip, networks(self.internal_cidrs)) else address

    def main(self) -> None:
        query = SearchQuery(minutes=self.minutes)
        query.add_must([TermMatch("source", "cloudtrail"), ExistsMatch("details.sourceipaddress")])
        query.add_must_not(
            [ExistsMatch("details.useridentity.invokedby"), ExistsMatch("details.sourceservice")]
        )
        self.filtersManual(query)
        self.searchEventsAggregated("details.useridentity.arn", samplesLimit=10)
        self.walkAggregations(threshold=self.min_ips)

    def onAggregation(self, aggregation: dict) -> dict | None:
        first_by_ip: dict[str, dict] = {}
        for hit in reversed(aggregation["allevents"]):  # oldest first: the first call from each address
            first_by_ip.setdefault(str(hit["_source"]["details"]["sourceipaddress"]), hit)
        if len({self.place(ip) for ip in first_by_ip}) < self.min_ips:
            return None
        ips = sorted(first_by_ip)
        summary = (
            f"{aggregation['value']} called the AWS API from {len(ips)} addresses: {', '.join(ips)} "
            f"({aggregation['count']} calls in {self.minutes} minutes)"
        )
        tags = ["cloudtrail", "aws", "credentials"]
        return self.createAlertDict(summary, "credentials", tags, list(first_by_ip.values()), self.severity)
