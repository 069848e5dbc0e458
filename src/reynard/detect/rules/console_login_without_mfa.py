"""console_login_without_mfa: a successful AWS console sign-in that did not use MFA.

Why: a console password alone is one phishing page or one reused password away from an attacker; an
account policy normally requires MFA for console users, so a sign-in without it is either a user the
policy missed or somebody who got hold of a password (MITRE ATT&CK T1078.004). CloudTrail records the
sign-in as `ConsoleLogin` with `additionalEventData.MFAUsed` "No" (compared case-insensitively here) and
`responseElements.ConsoleLogin` "Success"; failed sign-ins are left out (they are not a login).

Config keys:
    minutes   the window searched (default 15)
    severity  the alert's severity (default WARNING)
"""

from __future__ import annotations

from typing import ClassVar

from reynard.detect.rules._base import BuiltinRule
from reynard.query.mozdef import SearchQuery, TermMatch


class ConsoleLoginWithoutMfa(BuiltinRule):
    config_keys: ClassVar[tuple[str, ...]] = ("minutes", "severity")
    minutes = 15
    severity = "WARNING"

    def main(self) -> None:
        query = SearchQuery(minutes=self.minutes)
        query.add_must([TermMatch("source", "cloudtrail"), TermMatch("details.eventname", "ConsoleLogin")])
        self.filtersManual(query)
        self.searchEventsSimple()
        self.walkEvents()

    def onEvent(self, event: dict, *args: object, **kwargs: object) -> dict | None:
        details = event["_source"].get("details") or {}
        extra = details.get("additionaleventdata") or {}
        response = details.get("responseelements") or {}
        if str(extra.get("mfaused", "")).lower() != "no" or response.get("consolelogin") != "Success":
            return None
        identity = details.get("useridentity") or {}
        who = identity.get("arn") or details.get("username") or "unknown principal"
        # An address the ipfixup plugin could not parse is kept as `sourceipaddress_raw`.
        address = details.get("sourceipaddress") or details.get("sourceipaddress_raw") or "unknown address"
        summary = f"Console login without MFA: {who} from {address}"
        tags = ["cloudtrail", "aws", "mfa"]
        return self.createAlertDict(summary, "authentication", tags, [event], self.severity)
