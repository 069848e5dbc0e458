"""What a correlation's window measures, kept up to date as matches enter and leave it.

Each measure takes a moment's matches of one group at a time (`add`), is told when one leaves
(`leave`: slid out of the window, or fired in another group), and gives the window's value: a count,
a distinct count, an exact sum or average, or the longest run of the referenced rules in order.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction

from reynard.detect.sigma.model import CorrelationRule

Number = int | Fraction
NEVER = -(2**62)  # before any time: "no run"


@dataclass(slots=True)
class Entry:
    """One match in one group: for temporal types one per referenced rule (slot), else one per event."""

    time: int  # microseconds since the epoch
    eid: str
    event: dict
    slot: int  # the referenced rule's position in `rule.rules`
    group: tuple[str, ...]  # casefolded term texts: the group's identity
    shown: tuple[str, ...]  # the same values as the event has them
    values: tuple = ()  # value_count: casefolded texts; value_sum/avg: numbers
    state: int = 0  # 0 not in a window yet, 1 in one, 2 gone (left the window, consumed)


class Measure:
    """What a window measures, kept up to date as matches come in and go."""

    def add(self, time: int, batch: list[Entry]) -> None:
        """The matches of one group at one moment (later than any added before)."""
        for entry in batch:
            self.enter(entry)

    def enter(self, entry: Entry) -> None:
        raise NotImplementedError

    def leave(self, entry: Entry, consumed: bool) -> None:
        """`entry` slid out of the window (`consumed`: it fired in another group)."""
        raise NotImplementedError

    def value(self, start: int, live: Callable[[], Iterable[Entry]]) -> Number:
        """The measure of the window starting at `start` (`live()`: its matches, for a rebuild)."""
        raise NotImplementedError


class Events(Measure):
    """How many events (event_count: an event is one entry per group)."""

    def __init__(self) -> None:
        self.count = 0

    def add(self, time: int, batch: list[Entry]) -> None:
        self.count += len(batch)

    def enter(self, entry: Entry) -> None:
        self.count += 1

    def leave(self, entry: Entry, consumed: bool) -> None:
        self.count -= 1

    def value(self, start: int, live: Callable[[], Iterable[Entry]]) -> Number:
        return self.count


class Distinct(Measure):
    """Distinct values (value_count) or distinct referenced rules (temporal)."""

    def __init__(self, of_rules: bool) -> None:
        self.of_rules = of_rules
        self.counts: Counter = Counter()

    def _keys(self, entry: Entry) -> tuple:
        return (entry.slot,) if self.of_rules else entry.values

    def enter(self, entry: Entry) -> None:
        for key in self._keys(entry):
            self.counts[key] += 1

    def leave(self, entry: Entry, consumed: bool) -> None:
        for key in self._keys(entry):
            self.counts[key] -= 1
            if not self.counts[key]:
                del self.counts[key]

    def value(self, start: int, live: Callable[[], Iterable[Entry]]) -> Number:
        return len(self.counts)


class Sum(Measure):
    """The sum or the average of the values, exact (ints and Fractions): "0.1" + "0.2" is 0.3."""

    def __init__(self, average: bool) -> None:
        self.average = average
        self.total: Number = 0
        self.count = 0

    def enter(self, entry: Entry) -> None:
        self.total += sum(entry.values)
        self.count += len(entry.values)

    def leave(self, entry: Entry, consumed: bool) -> None:
        self.total -= sum(entry.values)
        self.count -= len(entry.values)

    def value(self, start: int, live: Callable[[], Iterable[Entry]]) -> Number:
        if not self.average:
            return self.total
        return Fraction(self.total, self.count) if self.count else 0


class Chains(Measure):
    """The longest run of the referenced rules, in their order, at strictly increasing times.

    `best[j][n]` is the latest start of a run of `n` rules ending with rule `j`: a run is in the window
    when its start is, and the latest start is the one to extend. O(rules^2) per moment; a match that
    fired in another group (rare: list-valued or aliased group-by) makes it rebuild from the window."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._reset()

    def _reset(self) -> None:
        self.best = [[NEVER] * (self.size + 1) for _ in range(self.size)]
        self.top = [NEVER] * (self.size + 1)  # the latest start of a run of n rules, any last rule
        self.stale = False

    def add(self, time: int, batch: list[Entry]) -> None:
        best, top = self.best, self.top
        updates = []
        for j in sorted({entry.slot for entry in batch}):
            row = [NEVER] * (self.size + 1)
            row[1] = time
            for n in range(2, j + 2):
                latest = NEVER
                for i in range(n - 2, j):
                    if best[i][n - 1] > latest:
                        latest = best[i][n - 1]
                row[n] = latest
            updates.append((j, row))
        for j, row in updates:  # after all: runs need strictly earlier times
            old = best[j]
            for n in range(1, j + 2):
                if row[n] > old[n]:
                    old[n] = row[n]
                    if row[n] > top[n]:
                        top[n] = row[n]

    def leave(self, entry: Entry, consumed: bool) -> None:
        self.stale = self.stale or consumed  # a run that slid out starts too early to count anyway

    def value(self, start: int, live: Callable[[], Iterable[Entry]]) -> Number:
        if self.stale:
            self._reset()
            for time, batch in itertools.groupby(live(), key=lambda e: e.time):
                self.add(time, list(batch))
        for n in range(self.size, 0, -1):
            if self.top[n] >= start:
                return n
        return 0


def measure_for(rule: CorrelationRule) -> Measure:
    """A new, empty measure for the rule's type."""
    if rule.type == "event_count":
        return Events()
    if rule.type in ("value_count", "temporal"):
        return Distinct(of_rules=rule.type == "temporal")
    if rule.type in ("value_sum", "value_avg"):
        return Sum(average=rule.type == "value_avg")
    if rule.type == "temporal_ordered":
        return Chains(len(rule.rules))
    raise ValueError(f"{rule.meta.key}: unknown correlation type {rule.type!r}")


__all__ = ["Chains", "Distinct", "Entry", "Events", "Measure", "Number", "Sum", "measure_for"]
