"""The `indicator_match` alerts of a retro-hunt (`reynard.intel.hunt`): one per event found, configured as
the registry has the rule, and none for an event that already alerted for it."""

from __future__ import annotations

from datetime import UTC, datetime

from reynard.detect.alerts import AlertStore, NewAlert
from reynard.detect.alerttask import EVENT_INDEX
from reynard.detect.registry import RuleRegistry
from reynard.intel.match import Hit

RULE = "indicator_match"


def raise_alerts(
    registry: RuleRegistry, alerts: AlertStore, found: list[tuple[dict, list[Hit]]]
) -> list[int]:
    """The `indicator_match` alerts for hunted events that have not alerted for it yet; their ids."""
    if not found:
        return []
    task = registry.tasks(RULE)[0]
    done = alerts.already_alerted(RULE, [str(event["id"]) for event, _ in found])
    new = []
    for event, hits in found:
        event_id = str(event["id"])
        if event_id in done:
            continue
        done.add(event_id)
        tags = [t for t in event.get("tags") or [] if t != "ioc"]
        tagged = {**event, "tags": [*tags, "ioc"], "details": dict(event.get("details") or {})}
        tagged["details"]["iocs"] = [hit.as_dict() for hit in hits]
        task.now = datetime.now(UTC)
        alert = task.onEvent({"_id": event_id, "_index": EVENT_INDEX, "_source": tagged})
        if alert:
            new.append(NewAlert(task.tagBotNotify(alert), RULE, event_id))
    return alerts.add_many(new)
