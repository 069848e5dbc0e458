"""indicators: tag the events that touch an active indicator (IOC) of the indicator lists.

Why: "did anything talk to this address / query this domain / use this key?" should be answered once,
as the event arrives, not by every rule and every search. An event that touches an active indicator
gets the tag `ioc` and, in `details.iocs`, one entry per indicator it touches:

    {"kind": "ip", "value": "203.0.113.0/24", "field": "details.destinationipaddress",
     "matched": "203.0.113.9", "source": "abuse-feed", "reference": "https://...", "id": 7}

(`source` and `reference` only when the indicator has them; `id` is the indicator's id in this data
directory). The `indicator_match` rule alerts on these events; `tags:ioc` and `details.iocs.value:...`
find them. What is looked at for each kind is in `reynard.intel.match`.

Runs after ipfixup (the address fields hold valid, canonical addresses by then). The lists are the
runtime's `LiveIndicators` (`reynard.intel.live`), reloaded when they change, checked at most every
`Settings.rules_reload_seconds`; an indicator is matched from the
first event after it was added, and no longer after it expired or was removed. Without indicators,
`wants` is false and the plugin costs a clock read per event (about 0.4 µs).
"""

from __future__ import annotations

from typing import ClassVar

from reynard.intel.live import LiveIndicators
from reynard.settings import Settings

TAG = "ioc"
FIELD = "iocs"


class Indicators:
    """Tag `ioc` and `details.iocs` on the events that touch an active indicator."""

    name: ClassVar[str] = "indicators"
    priority: ClassVar[int] = 16

    def __init__(self, settings: Settings | None = None, live: LiveIndicators | None = None):
        self.live = live  # None: no indicator lists (the plugin matches nothing)

    def wants(self, draft: dict) -> bool:
        return self.live is not None and bool(self.live.current())

    def apply(self, draft: dict) -> dict:
        assert self.live is not None
        hits = self.live.current().match(draft)
        if not hits:
            return draft
        details = draft.get("details")
        if type(details) is not dict:
            details = draft["details"] = {}
        details[FIELD] = [hit.as_dict() for hit in hits]
        tags = draft.get("tags")
        if not isinstance(tags, list):
            tags = draft["tags"] = [] if tags is None else [tags]
        if TAG not in tags:
            tags.append(TAG)
        return draft
