"""New alerts to the configured notifiers, every delivery recorded.

Notifiers come from the settings file, as a list of tables:

    [[notifiers]]
    type = "slack"
    url = "https://hooks.slack.com/services/..."

    [[notifiers]]
    type = "sns"
    topic_arn = "arn:aws:sns:us-east-1:123456789012:security-alerts"
    region = "us-east-1"

`AlertStore(engine, notify=Notifications.from_settings(settings, engine))` calls it for each alert it
stores. A notifier that fails (after its retries) is recorded as failed; it never stops the alert from
being stored or the other notifiers from being tried.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, insert, select

from reynard.detect.notifiers import build_notifier
from reynard.detect.notifiers.base import Delivery, Notifier, notify_all
from reynard.settings import Settings
from reynard.state.tables import deliveries


class Notifications:
    def __init__(self, engine: Engine, notifiers: Sequence[Notifier], **options: Any):
        self.engine = engine
        self.notifiers = list(notifiers)
        self.options = options  # retries, backoff, sleep: passed to `deliver`

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine) -> Notifications:
        """The notifiers of the settings (`[[notifiers]]`, checked when the settings were loaded)."""
        return cls(engine, [build_notifier(spec) for spec in settings.notifiers])

    def __call__(self, alert_id: int, alert: dict) -> list[Delivery]:
        if not self.notifiers:
            return []
        outcomes = notify_all(self.notifiers, {**alert, "id": alert_id}, **self.options)
        rows = [
            {
                "alert_id": alert_id,
                "notifier": d.notifier,
                "ok": d.ok,
                "attempts": d.attempts,
                "error": d.error,
                "started": d.started,
                "finished": d.finished,
            }
            for d in outcomes
        ]
        with self.engine.begin() as connection:
            connection.execute(insert(deliveries), rows)
        return outcomes

    def recorded(self, alert_id: int) -> list[dict]:
        """The deliveries of one alert, oldest first."""
        with self.engine.connect() as connection:
            found = connection.execute(
                select(deliveries).where(deliveries.c.alert_id == alert_id).order_by(deliveries.c.id)
            ).all()
        return [dict(row._mapping) for row in found]
