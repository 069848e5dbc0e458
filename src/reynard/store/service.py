"""Group commit: many concurrent writers, one store writer thread, acknowledgments only once durable.

HTTP requests hand their events to `WriterService.write`, which blocks until a commit that includes
them has finished. The thread takes everything queued, writes it, commits once and wakes every
waiter: under load the batches grow, so the commit cost is shared, and readers see each batch as soon
as it is acknowledged. When a write fails, every waiter of that round gets the error: an error means
"maybe stored", and a retry is safe because event ids are stable.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

from reynard.store.base import EventStore, WriteResult

_STOP = object()
log = logging.getLogger("reynard.store.service")


class WriterService:
    def __init__(
        self,
        store: EventStore,
        *,
        max_batch: int = 50_000,
        on_committed: Callable[[list[dict]], None] | None = None,
    ):
        """`on_committed(events)` is called with each committed batch (after the waiters are woken), on
        its own thread: acknowledgments never wait for it, and an exception in it is only logged."""
        self.store = store
        self.max_batch = max_batch
        self.on_committed = on_committed
        self._queue: queue.Queue = queue.Queue()
        self._committed: queue.Queue | None = None
        self._notifier: threading.Thread | None = None
        if on_committed is not None:
            self._committed = queue.Queue()
            self._notifier = threading.Thread(target=self._notify, name="reynard-committed", daemon=True)
            self._notifier.start()
        self._thread = threading.Thread(target=self._run, name="reynard-writer", daemon=True)
        self._thread.start()

    def write(self, events: list[dict]) -> WriteResult:
        """Store and commit `events`; returns once they are durable."""
        if not events:
            return WriteResult()
        future: Future[WriteResult] = Future()
        self._queue.put((events, future))
        return future.result()

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join()
        if self._committed is not None and self._notifier is not None:
            self._committed.put(_STOP)
            self._notifier.join(30)
        self.store.close()

    def _notify(self) -> None:
        assert self._committed is not None and self.on_committed is not None
        while True:
            events = self._committed.get()
            if events is _STOP:
                return
            while True:  # take what else is waiting: one call per backlog
                try:
                    more = self._committed.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    self._committed.put(_STOP)
                    break
                events.extend(more)
            try:
                self.on_committed(events)
            except Exception:
                log.warning("on_committed failed", exc_info=True)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            jobs = [first]
            size = len(first[0])
            stop = False
            while size < self.max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is _STOP:
                    stop = True
                    break
                jobs.append(job)
                size += len(job[0])
            self._commit(jobs)
            if stop:
                return

    def _commit(self, jobs: list) -> None:
        results = []
        try:
            for events, _ in jobs:
                results.append(self.store.write(events))
            self.store.commit()
        except BaseException as e:  # every waiter learns the write failed; nothing is acknowledged
            for _, future in jobs:
                future.set_exception(e)
            return
        for (_, future), result in zip(jobs, results, strict=True):
            future.set_result(result)
        if self._committed is not None:
            committed = []
            for (events, _), result in zip(jobs, results, strict=True):
                refused = {event_id for event_id, _ in result.failed}
                committed.extend(e for e in events if not refused or e.get("id") not in refused)
            if committed:
                self._committed.put(committed)
