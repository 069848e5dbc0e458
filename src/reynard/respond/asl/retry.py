"""`Retry` and `Catch`: which retrier or catcher takes an error, and how long a retry waits.

Each retrier counts its own attempts within one visit of the state. The first retrier whose
`ErrorEquals` matches decides: when its `MaxAttempts` are spent, the error goes to the catchers, never
to a later retrier. The wait before retry n (0-based) is `IntervalSeconds * BackoffRate ** n`, at most
`MaxDelaySeconds`; with `JitterStrategy: FULL` a uniform draw between 0 and that.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from .names import matches

DEFAULT_INTERVAL = 1
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_BACKOFF = 2.0


def first_match(handlers: Sequence[dict[str, Any]], error: str, *, from_branch: bool = False) -> int | None:
    """The index of the first retrier or catcher whose ErrorEquals matches `error`."""
    for index, handler in enumerate(handlers):
        if matches(handler["ErrorEquals"], error, from_branch=from_branch):
            return index
    return None


def max_attempts(retrier: dict[str, Any]) -> int:
    return int(retrier.get("MaxAttempts", DEFAULT_MAX_ATTEMPTS))


def delay(retrier: dict[str, Any], retries_done: int, rng: random.Random) -> float:
    """Seconds to wait before the retry that follows `retries_done` earlier retries of this retrier."""
    seconds = (
        float(retrier.get("IntervalSeconds", DEFAULT_INTERVAL))
        * float(retrier.get("BackoffRate", DEFAULT_BACKOFF)) ** retries_done
    )
    if "MaxDelaySeconds" in retrier:
        seconds = min(seconds, float(retrier["MaxDelaySeconds"]))
    if retrier.get("JitterStrategy", "NONE") == "FULL":
        seconds = rng.uniform(0.0, seconds)
    return seconds
