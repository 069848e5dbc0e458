"""The active indicators of a data directory, kept current for a long-running process (the server, an
ingest run): reloaded when the lists change, looked at no more than every `check_every` seconds.

"Changed" is the table's fingerprint (newest revision, row count: one indexed query), so an indicator
added by the API, by `reynard ioc add` in another process or by an import is matched from the first
event after the next check. Expiry needs no change to the table: the set is rebuilt as soon as the
earliest expiry in it has passed, so an expired indicator never matches an event processed after its
expiry. A reload that fails (database locked, unreadable) keeps the previous set and is logged.

`open_store()` gives the indicator store, or None while there is none to read (the runtime answers None
while the data directory has no state database, so `reynard rules test`, which runs the pipeline in
memory, leaves no files behind); the check is then repeated at the same pace.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from reynard.intel.match import EMPTY, IndicatorSet
from reynard.intel.store import IndicatorStore, epoch

log = logging.getLogger("reynard.intel.indicators")


class LiveIndicators:
    def __init__(self, open_store: Callable[[], IndicatorStore | None], check_every: float = 1.0):
        self.open_store = open_store
        self.check_every = check_every
        self.reloads = 0
        self._store: IndicatorStore | None = None
        self._set: IndicatorSet = EMPTY
        self._mark: tuple[int, int] | None = None
        self._next_expiry = float("inf")  # epoch seconds of the earliest expiry in the set
        self._checked = float("-inf")
        self._lock = threading.Lock()
        self.refresh()

    def current(self) -> IndicatorSet:
        """The set to match with now. Cheap: a clock read, and a reload only when one is due."""
        due = time.time() >= self._next_expiry or time.monotonic() - self._checked >= self.check_every
        if due and self._lock.acquire(blocking=False):  # another thread reloading: use the set it replaces
            try:
                self._refresh()
            finally:
                self._lock.release()
        return self._set

    def refresh(self) -> None:
        """Check now, whatever the pace."""
        with self._lock:
            self._checked = float("-inf")
            self._refresh()

    def _refresh(self) -> None:
        now = time.monotonic()
        expired = time.time() >= self._next_expiry
        if not expired and now - self._checked < self.check_every:
            return
        self._checked = now
        try:
            store = self._open()
            if store is None:
                return
            mark = store.fingerprint()
            if mark == self._mark and not expired:
                return
            items = store.matchable(datetime.now(UTC))
            self._set = IndicatorSet(items)
            expiries = [epoch(item.expires) for item in items if item.expires is not None]
            self._next_expiry = min(expiries, default=float("inf"))
            self._mark = mark
            self.reloads += 1
        except Exception:  # a database that cannot be read (locked, damaged, newer): keep matching
            if expired:  # retry at the normal pace, not on every event
                self._next_expiry = time.time() + self.check_every
            log.warning("indicator lists could not be reloaded; keeping the previous ones", exc_info=True)

    def _open(self) -> IndicatorStore | None:
        if self._store is None:
            self._store = self.open_store()
        return self._store
