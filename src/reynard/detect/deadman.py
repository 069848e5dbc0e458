"""`DeadmanAlertTask`: alerts on the *absence* of events, so it only asks whether any matched."""

from __future__ import annotations

from reynard.detect.alerttask import AlertTask


class DeadmanAlertTask(AlertTask):
    """Searches for one hit at most: `walkEvents` then calls `onNoEvent` when there was none."""

    def executeSearchEventsSimple(self, limit: int | None = 1) -> list[dict]:
        return super().executeSearchEventsSimple(limit=limit)
