"""indicator_match: an event touched an active indicator of the indicator lists (an IOC hit).

Why: the lists say which addresses, domains, access keys, principals, hashes and terms are known bad;
an event that touches one needs an analyst: the workshop's "Lambda function talking to known-bad IP
addresses" is a VPC flow to an address on the list. The `indicators` ingest plugin matches every event
as it arrives (tag `ioc`, the indicators in `details.iocs`); this rule is one search, `tags:ioc`,
walked event by event, so the streaming matcher evaluates it on each committed batch and the alert is
raised within moments of the event. One alert per event, naming every indicator it touched.

Indicators are not matched again at rule time: an event is judged against the lists as they were when
it arrived (the plugin's view). For indicators added later, `reynard ioc hunt --since 24h --alert`
searches the stored events and raises this rule's alerts for what it finds.

Config keys:
    minutes    the window searched when the rule runs on schedule (default 15)
    severity   the alert's severity (default WARNING)
    kinds      the indicator kinds that alert (default: all six; e.g. ["ip", "domain"] to leave terms
               to searches)
"""

from __future__ import annotations

from typing import ClassVar

from reynard.detect.rules._base import BuiltinRule
from reynard.intel.indicators import KINDS
from reynard.query.mozdef import SearchQuery, TermMatch

SHOWN = 3


def describe(hits: list[dict]) -> str:
    """`ip 203.0.113.0/24 (abuse-feed), domain evil.example`, the first few, then how many more."""
    parts = []
    for hit in hits[:SHOWN]:
        text = f"{hit.get('kind')} {hit.get('value')}"
        parts.append(f"{text} ({hit['source']})" if hit.get("source") else text)
    if len(hits) > SHOWN:
        parts.append(f"and {len(hits) - SHOWN} more")
    return ", ".join(parts)


class IndicatorMatch(BuiltinRule):
    config_keys: ClassVar[tuple[str, ...]] = ("minutes", "severity", "kinds")
    minutes = 15
    severity = "WARNING"
    kinds: tuple[str, ...] = KINDS

    def main(self) -> None:
        query = SearchQuery(minutes=self.minutes)
        query.add_must(TermMatch("tags", "ioc"))
        self.filtersManual(query)
        self.searchEventsSimple()
        self.walkEvents()

    def onEvent(self, event: dict, *args: object, **kwargs: object) -> dict | None:
        source = event["_source"]
        details = source.get("details") or {}
        iocs = details.get("iocs") if isinstance(details, dict) else None
        hits = [h for h in iocs or [] if isinstance(h, dict) and h.get("kind") in self.kinds]
        if not hits:
            return None
        what = source.get("summary") or f"{source.get('source', 'an')} event"
        summary = f"Indicator match: {describe(hits)} in {what}"
        kinds = sorted({str(h["kind"]) for h in hits})
        tags = ["ioc", *kinds, *([source["source"]] if source.get("source") else [])]
        return self.createAlertDict(summary, "indicator", tags, [event], self.severity)
