"""The time budget of a query: every store stops answering a query past it, with `QueryTimeout`.

A query string is the user's to write, and some are slow by nature (a regex over the summaries of
months of events: every candidate read back and tested). So the stores check a `Deadline` while they
answer (between days, between the events they read and test), and past it raise `QueryTimeout` naming
the budget: the `query_timeout_seconds` setting (default 10 s; 0 for none), which the backends' opener
gives each store (`store/backends.py`).

`search`, `count` and `aggregate` run under the budget, whole. A `stream` is read at its reader's pace
(an NDJSON export, a retro-hunt), so the budget bounds the work between two events it hands out, not
the whole stream: finding the next match may take up to the budget, however many matches came before.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from reynard.errors import ReynardError

T = TypeVar("T")
CHECK_EVERY = 256  # items between two looks at the clock in `every` (a look costs about 50 ns)


class QueryTimeout(ReynardError):
    """A query that ran past its time budget (503 over HTTP: the server would not spend more on it; the
    same query, narrowed, will answer)."""

    http_status = 503

    def __init__(self, seconds: float):
        super().__init__(
            f"the query ran past its time budget of {seconds:g} s (setting query_timeout_seconds) and was"
            " stopped: narrow it (a shorter time range, an exact field value rather than a pattern)"
        )
        self.seconds = seconds


class Deadline:
    """When a query must be answered by (`seconds` from now; None or 0: never)."""

    __slots__ = ("end", "seconds")

    def __init__(self, seconds: float | None = None):
        self.seconds = seconds
        self.end = time.monotonic() + seconds if seconds else float("inf")

    def check(self) -> None:
        """QueryTimeout when the budget is spent."""
        if time.monotonic() > self.end:
            raise QueryTimeout(self.seconds or 0)

    def restart(self) -> None:
        """A whole budget again, from now (a stream, after handing out an event)."""
        if self.seconds:
            self.end = time.monotonic() + self.seconds

    def every(self, items: Iterable[T]) -> Iterator[T]:
        """`items`, checking the budget every CHECK_EVERY of them."""
        if not self.seconds:
            yield from items
            return
        for count, item in enumerate(items):
            if not count % CHECK_EVERY:
                self.check()
            yield item


NO_DEADLINE = Deadline()
