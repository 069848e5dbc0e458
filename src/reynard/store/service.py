"""Group commit: many concurrent writers, one store writer thread, acknowledgments only once durable.

HTTP requests hand their events to `WriterService.write`, which blocks until a commit that includes
them has finished. The thread takes everything queued, writes it, commits once and wakes every
waiter: under load the batches grow, so the commit cost is shared, and readers see each batch as soon
as it is acknowledged. When a write fails, every waiter of that round gets the error: an error means
"maybe stored", and a retry is safe because event ids are stable.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

from reynard.store.base import WriteResult
from reynard.store.tantivy_store import TantivyEventStore

_STOP = object()


class WriterService:
    def __init__(self, store: TantivyEventStore, *, max_batch: int = 50_000):
        self.store = store
        self.max_batch = max_batch
        self._queue: queue.Queue = queue.Queue()
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
        self.store.close()

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
