"""excessive_describe: a principal enumerating the account with many Describe* calls in a short window.

Why: right after getting credentials, attackers (and tools such as Pacu or ScoutSuite) enumerate what
the account holds: hundreds of `Describe*` calls in minutes. A production service's role makes a known,
small set of calls, so a burst of Describe calls from it is suspicious early; people and admin tools
browse the console, which makes many Describe calls too (the console user "pedro" in the OTRF sample
made 85 in half an hour), so other principals only alert far higher, at a lower severity.

Groups the window's `details.eventverb:Describe` CloudTrail events by `details.useridentity.arn`. A
principal matching one of `production_principals` (glob patterns on the ARN) alerts above
`production_threshold` calls; any other principal above `threshold`.

Config keys:
    minutes                 the window searched (default 10)
    production_principals   ARN glob patterns of production services (default: roles named prod-*)
    production_threshold    calls a production principal may make before alerting (default 20)
    production_severity     the severity for a production principal (default WARNING)
    threshold               calls any other principal may make before alerting (default 500)
    severity                the severity for other principals (default INFO)
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import ClassVar

from reynard.detect.rules._base import BuiltinRule
from reynard.query.mozdef import SearchQuery, TermMatch


class ExcessiveDescribe(BuiltinRule):
    config_keys: ClassVar[tuple[str, ...]] = (
        "minutes",
        "production_principals",
        "production_threshold",
        "production_severity",
        "threshold",
        "severity",
    )
    minutes = 10
    production_principals: tuple[str, ...] = (
        "arn:aws:sts::*:assumed-role/prod-*",
        "arn:aws:iam::*:role/prod-*",
    )
    production_threshold = 20
    production_severity = "WARNING"
    threshold = 500
    severity = "INFO"

    def is_production(self, arn: str) -> bool:
        return any(fnmatchcase(arn, pattern) for pattern in self.production_principals)

    def main(self) -> None:
        query = SearchQuery(minutes=self.minutes)
        query.add_must([TermMatch("source", "cloudtrail"), TermMatch("details.eventverb", "Describe")])
        self.filtersManual(query)
        self.searchEventsAggregated("details.useridentity.arn", samplesLimit=10)
        # "more than N": a group needs N + 1 calls; the higher bar is checked per principal below.
        self.walkAggregations(threshold=min(self.production_threshold, self.threshold) + 1)

    def onAggregation(self, aggregation: dict) -> dict | None:
        arn, count = str(aggregation["value"]), aggregation["count"]
        production = self.is_production(arn)
        limit = self.production_threshold if production else self.threshold
        if count <= limit:
            return None
        calls = sorted(
            {hit["_source"]["details"].get("eventname") for hit in aggregation["allevents"]} - {None}
        )
        kind = "production principal " if production else ""
        summary = (
            f"Excessive Describe calls by {kind}{arn}: {count} in {self.minutes} minutes "
            f"({len(calls)} different: {', '.join(calls[:5])}{', ...' if len(calls) > 5 else ''})"
        )
        severity = self.production_severity if production else self.severity
        tags = ["cloudtrail", "aws", "discovery"]
        return self.createAlertDict(summary, "discovery", tags, aggregation["events"], severity)
