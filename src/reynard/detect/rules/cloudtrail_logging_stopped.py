"""cloudtrail_logging_stopped: a CloudTrail trail stopped or deleted.

Why: turning off the audit log is what an attacker does before the actions they do not want seen
(MITRE ATT&CK T1562.008). A successful `StopLogging` or `DeleteTrail` is rarely legitimate outside a
planned change, and nothing after it is recorded by that trail. Denied attempts are left out.

Config keys:
    minutes   the window searched (default 15)
    severity  the alert's severity (default CRITICAL)
"""

from __future__ import annotations

from typing import ClassVar

from reynard.detect.rules._base import BuiltinRule
from reynard.query.mozdef import ExistsMatch, SearchQuery, TermMatch, TermsMatch


class CloudtrailLoggingStopped(BuiltinRule):
    config_keys: ClassVar[tuple[str, ...]] = ("minutes", "severity")
    minutes = 15
    severity = "CRITICAL"

    def main(self) -> None:
        query = SearchQuery(minutes=self.minutes)
        query.add_must(
            [
                TermMatch("source", "cloudtrail"),
                TermsMatch("details.eventname", ["StopLogging", "DeleteTrail"]),
            ]
        )
        query.add_must_not(ExistsMatch("details.errorcode"))
        self.filtersManual(query)
        self.searchEventsSimple()
        self.walkEvents()

    def onEvent(self, event: dict, *args: object, **kwargs: object) -> dict:
        details = event["_source"].get("details") or {}
        trail = (details.get("requestparameters") or {}).get("name") or "unknown trail"
        who = (details.get("useridentity") or {}).get("arn") or details.get("username") or "unknown principal"
        summary = f"CloudTrail logging stopped: {details.get('eventname')} of {trail} by {who}"
        tags = ["cloudtrail", "aws", "defense-evasion"]
        return self.createAlertDict(summary, "AWSCloudtrail", tags, [event], self.severity)
