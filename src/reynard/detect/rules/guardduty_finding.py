"""guardduty_finding: every GuardDuty finding, as an alert at the finding's own severity.

Why: GuardDuty has already done the detecting (threat intelligence, anomaly models, port probes,
credential exfiltration); a finding that only sits in the event store is never triaged. The alert keeps
the severity the ingest plugin derived from GuardDuty's score (below 4 INFO, below 7 WARNING, else
CRITICAL/ALERT). GuardDuty's generated sample findings (`details.sample`) are still alerted, so that a
test of the integration shows end to end, but flagged: tag `sample`, summary prefixed "[sample]".

Config keys:
    minutes           the window searched (default 15)
    include_samples   alert on sample findings too (default True)
"""

from __future__ import annotations

from typing import ClassVar

from reynard.detect.rules._base import BuiltinRule
from reynard.query.mozdef import SearchQuery, TermMatch


class GuarddutyFinding(BuiltinRule):
    config_keys: ClassVar[tuple[str, ...]] = ("minutes", "include_samples")
    minutes = 15
    include_samples = True

    def main(self) -> None:
        query = SearchQuery(minutes=self.minutes)
        query.add_must(TermMatch("source", "guardduty"))
        if not self.include_samples:
            query.add_must_not(TermMatch("details.sample", True))
        self.filtersManual(query)
        self.searchEventsSimple()
        self.walkEvents()

    def onEvent(self, event: dict, *args: object, **kwargs: object) -> dict:
        source = event["_source"]
        details = source.get("details") or {}
        sample = details.get("sample") is True
        # The guardduty plugin's summary: "GuardDuty <finding type>: <title>".
        summary = source.get("summary") or f"GuardDuty {details.get('findingtype') or 'finding'}"
        tags = ["guardduty", "aws"]
        if sample:
            summary = "[sample] " + summary
            tags.append("sample")
        severity = source.get("severity") or "NOTICE"
        return self.createAlertDict(summary, "guardduty", tags, [event], severity)
