"""ssh_bruteforce: many failed SSH logins from one source address within a few minutes (sshd syslog).

Why: password guessing against sshd is constant on any internet-facing host; a burst of failures from
one address is a brute-force or credential-stuffing run, and worth blocking before one guess succeeds
(MITRE ATT&CK T1110). One alert per source address per window, with the number of failures.

Counts the sshd events with `details.action` "failed" ("Failed password for ...", "Failed publickey
for ...", including "... for invalid user ..."). The "Invalid user X from ..." lines
(`details.action` "invalid_user") are not counted: sshd logs one before the "Failed ... for invalid
user X" line of the same attempt, so counting both would count that attempt twice.

Config keys:
    minutes    the window searched (default 5)
    threshold  failures from one address needed to alert (default 10)
    severity   the alert's severity (default WARNING)
"""

from __future__ import annotations

from typing import ClassVar

from reynard.detect.rules._base import BuiltinRule
from reynard.query.mozdef import SearchQuery, TermMatch


class SshBruteforce(BuiltinRule):
    config_keys: ClassVar[tuple[str, ...]] = ("minutes", "threshold", "severity")
    minutes = 5
    threshold = 10
    severity = "WARNING"

    def main(self) -> None:
        query = SearchQuery(minutes=self.minutes)
        query.add_must([TermMatch("details.program", "sshd"), TermMatch("details.action", "failed")])
        self.filtersManual(query)
        self.searchEventsAggregated("details.sourceipaddress", samplesLimit=10)
        self.walkAggregations(threshold=self.threshold)

    def onAggregation(self, aggregation: dict) -> dict:
        hosts = sorted({str(hit["_source"].get("hostname")) for hit in aggregation["allevents"]})
        users = sorted({str(hit["_source"]["details"].get("username")) for hit in aggregation["allevents"]})
        summary = (
            f"SSH brute force: {aggregation['count']} failed logins from {aggregation['value']} "
            f"in {self.minutes} minutes on {', '.join(hosts)} (users: {', '.join(users[:5])}"
            f"{', ...' if len(users) > 5 else ''})"
        )
        tags = ["sshd", "ssh", "bruteforce"]
        return self.createAlertDict(summary, "bruteforce", tags, aggregation["events"], self.severity)
