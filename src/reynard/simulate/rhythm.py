"""The daily rhythm of benign activity: how busy each hour of the day is, and arrival times drawn from it.

A rate is written at its peak (`per_hour`) and scaled by the hour's weight (0 to 1), by UTC hour: people
work office hours, a website is busy all day and quieter at night, machines keep a flat pace. Arrivals
are a Poisson process per hour (counts vary like real traffic), drawn from a seeded generator, so the
same seed gives the same times.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any

from reynard.simulate.reading import ScenarioError, number

PROFILES: dict[str, tuple[float, ...]] = {
    # Quiet at night, a morning ramp, a lunch dip, the afternoon peak (UTC hours 0 to 23).
    "office": (
        *(0.04, 0.03, 0.03, 0.03, 0.04, 0.06, 0.12, 0.35),
        *(0.75, 0.95, 1.0, 0.95, 0.7, 0.85, 1.0, 0.95),
        *(0.8, 0.55, 0.3, 0.18, 0.12, 0.08, 0.06, 0.05),
    ),
    # A public website: busy from morning to late evening, never idle.
    "web": (
        *(0.35, 0.3, 0.25, 0.22, 0.22, 0.25, 0.35, 0.5),
        *(0.7, 0.85, 0.9, 0.95, 1.0, 0.95, 0.9, 0.9),
        *(0.9, 0.9, 0.95, 0.9, 0.8, 0.65, 0.5, 0.4),
    ),
    # Agents, health checks, credential refreshes: the same at any hour.
    "flat": (1.0,) * 24,
}


def profile(value: Any, where: str) -> tuple[float, ...]:
    """A named profile, or 24 weights from 0 to 1 (UTC hours 0 to 23)."""
    if isinstance(value, str):
        if value not in PROFILES:
            raise ScenarioError(
                f"{where}: {value!r} is not a rhythm (known: {', '.join(PROFILES)}, or 24 weights)"
            )
        return PROFILES[value]
    if not isinstance(value, list) or len(value) != 24:
        raise ScenarioError(f"{where}: a rhythm name or a list of 24 weights (UTC hours 0 to 23)")
    return tuple(float(number(w, f"{where}[{n}]", high=1)) for n, w in enumerate(value))


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson-distributed count (Knuth's method for small means, the normal approximation above)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def arrivals(
    rng: random.Random, start: datetime, end: datetime, per_hour: float, weights: tuple[float, ...]
) -> list[datetime]:
    """The moments of a Poisson process of `per_hour` at peak, scaled hour by hour, from start to end."""
    moments: list[datetime] = []
    slice_start = start
    while slice_start < end:
        hour_end = slice_start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        slice_end = min(hour_end, end)
        span = (slice_end - slice_start).total_seconds()
        count = poisson(rng, per_hour * weights[slice_start.hour] * span / 3600)
        moments.extend(
            sorted(
                slice_start + timedelta(milliseconds=int(rng.random() * span * 1000)) for _ in range(count)
            )
        )
        slice_start = slice_end
    return moments


__all__ = ["PROFILES", "arrivals", "poisson", "profile"]
