"""The server's rule scheduler: a thread that wakes every `interval` seconds and runs the rules that are
due, each on its own schedule (`5m`: five minutes after its last run; `*/5 * * * *` or
`crontab(minute='*/5')`: once a fire time has passed since its last run; see `reynard.detect.schedule`).

Each round is `run_rules` (dedup included) at the current time; rules evaluated by the streaming matcher
can be left out (`skip`). A rule that failed is due again on its schedule, so it is retried the next
time around. `stop()` wakes the thread and waits for the round under way to finish.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from reynard.detect.alerts import AlertStore
from reynard.detect.registry import RuleRegistry
from reynard.detect.runner import RunReport, run_rules

log = logging.getLogger("reynard.detect.scheduler")

INTERVAL_SECONDS = 30.0


class RuleScheduler:
    def __init__(
        self,
        registry: RuleRegistry,
        store: Any,
        alert_store: AlertStore,
        *,
        interval: float = INTERVAL_SECONDS,
        skip: Callable[[], set[str]] | None = None,
    ):
        self.registry = registry
        self.store = store
        self.alert_store = alert_store
        self.interval = interval
        self.skip = skip
        self.rounds = 0
        self.last_report: RunReport | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> RuleScheduler:
        self._thread = threading.Thread(target=self._run, name="reynard-scheduler", daemon=True)
        self._thread.start()
        return self

    def run_once(self, now: datetime | None = None) -> RunReport | None:
        """One round over the enabled rules that are due and not skipped; None when none is due."""
        now = now or datetime.now(UTC)
        skipped = self.skip() if self.skip else set()
        names = [
            r.name
            for r in self.registry.list()
            if r.enabled and r.name not in skipped and r.schedule.due(r.last_run, now)
        ]
        if not names:
            return None
        refresh = getattr(self.store, "refresh", None)
        if refresh is not None:
            refresh()
        report = run_rules(self.registry, self.store, self.alert_store, now, names=names)
        self.rounds += 1
        self.last_report = report
        return report

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:
                log.warning("scheduled rule run failed", exc_info=True)

    def stop(self, timeout: float | None = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


__all__ = ["INTERVAL_SECONDS", "RuleScheduler"]
