"""root_account_usage: the AWS account's root user made an API call or signed in.

Why: the root user can do anything in the account, cannot be restricted by IAM policies, and AWS
recommends using it only for the handful of tasks that need it. Any use of it, successful or denied, is
worth a look: either a planned break-glass task or its credentials are in the wrong hands (MITRE ATT&CK
T1078.004). Calls that AWS services make on the root's behalf name the service in
`details.useridentity.invokedby` and are left out; nothing else is (denied calls and failed console
sign-ins are alerted too: somebody is trying the root credentials).

Config keys:
    minutes   the window searched (default 15)
    severity  the alert's severity (default WARNING)
"""

from __future__ import annotations

from typing import ClassVar

from reynard.detect.rules._base import BuiltinRule
from reynard.query.mozdef import ExistsMatch, SearchQuery, TermMatch


class RootAccountUsage(BuiltinRule):
    config_keys: ClassVar[tuple[str, ...]] = ("minutes", "severity")
    minutes = 15
    severity = "WARNING"

    def main(self) -> None:
        query = SearchQuery(minutes=self.minutes)
        query.add_must([TermMatch("source", "cloudtrail"), TermMatch("details.useridentity.type", "Root")])
        query.add_must_not(ExistsMatch("details.useridentity.invokedby"))
        self.filtersManual(query)
        self.searchEventsSimple()
        self.walkEvents()

    def onEvent(self, event: dict, *args: object, **kwargs: object) -> dict:
        details = event["_source"].get("details") or {}
        identity = details.get("useridentity") or {}
        account = identity.get("accountid") or details.get("recipientaccountid") or "unknown account"
        summary = (
            f"Root account of {account} used: {details.get('eventname')} in {details.get('eventsource')} "
            f"from {details.get('sourceipaddress') or 'unknown address'}"
        )
        if details.get("errorcode"):
            summary += f" ({details['errorcode']})"
        tags = ["cloudtrail", "aws", "root"]
        return self.createAlertDict(summary, "AWSCloudtrail", tags, [event], self.severity)
