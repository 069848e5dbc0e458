"""Sigma correlations, evaluated: `evaluate(rule, matches, now=, since=, fired=)` -> the firings.

`matches[key]` are the stored events that matched the referenced detection rule `key`; each firing is
a group, a window, the measured value and the events that made it fire. A pure function: the same
matches give the same firings in any order, and whether it runs once a day or every five minutes.
docs/sigma.md ("Correlations") is the user's account; the decisions, in short:

- Event time (`utctimestamp`), exact counts. Conditions with only `gt`/`gte` bounds *reach* a value:
  a sliding window ends at each match, `[t - timespan, t]` both ends included, and fires the moment it
  first satisfies the condition. Any `lt`/`lte`/`eq`/`neq` bound, and every `value_avg`, asks how much
  a whole window held (one event already satisfies `lt: 5`; an average goes down as well as up): such
  a condition is judged on *closed* windows, tumbling and aligned to the Unix epoch (`1h` is the clock
  hour), `[k * timespan, (k + 1) * timespan)`, once each has ended (end <= `now`), once per group.
  Fixed windows are what lets every run agree on them; a window with no match is never judged.
- Measures: distinct events; distinct values (term text casefolded); exact sums and averages of
  numbers and numeric strings (other values ignored); how many referenced rules matched (temporal);
  the most of them matched in the listed order at strictly increasing times (temporal_ordered).
- Groups: term text casefolded at each rule's group-by paths (as pySigma's SQLite backend lowercases
  keys); a list puts the event in each element's group; a missing value puts it in none.
- Consumption: a firing consumes its events, so an event fires at most once per correlation, in any
  group. A reaching window counts only unconsumed events; a closed window measures everything it held
  and fires with the unconsumed ones, so judging it twice gives one answer. `fired` (ids already in
  the rule's alerts) carries consumption from earlier runs, as the runner's dedup does by leaving them
  out of the matches.
- `now`: later matches have not happened. `since`: the matches are complete from then on (a search's
  start); a window reaching before it is not judged (the run that saw all of it did).
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from reynard.detect.sigma.measures import Entry, Number, measure_for
from reynard.detect.sigma.model import CorrelationRule
from reynard.events.fields import leaf_getter
from reynard.events.timestamps import TimestampError, parse_timestamp
from reynard.query.values import term_text

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class Firing:
    """One firing: the group, its window, the measured value and the events that made it fire.

    `group`: the group-by values as the firing's earliest event has them (() without group-by).
    `start`/`end`: the window; a reaching window is `[start, end]` and ends at the match that fired it,
    a closed one is `[start, end)`. `value`: the count, distinct count, sum, average or number of rules.
    `events`: each event once, in time order (then id). `rules`: the referenced rules with a match among
    them, in the correlation's order."""

    group: tuple[str, ...]
    start: datetime
    end: datetime
    value: float
    events: tuple[dict, ...]
    rules: tuple[str, ...]


def closed_windows(rule: CorrelationRule) -> bool:
    """Whether the rule's condition is judged on closed windows (see the module docstring)."""
    reaching = all(op in ("gt", "gte") for op, _bound in rule.threshold.bounds)
    return rule.type == "value_avg" or not reaching


def evaluate(
    rule: CorrelationRule,
    matches: Mapping[str, Sequence[dict]],
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    fired: Collection[str] = frozenset(),
) -> list[Firing]:
    """Every firing of `rule` over `matches` (see the module docstring), ordered by window end, then
    group. `fired`: ids of events that fired in an earlier evaluation (they never fire again).
    ValueError for a rule it cannot evaluate (no timespan, no value field) or a match without an id.
    """
    span = rule.timespan // _US
    if span <= 0:
        raise ValueError(f"{rule.meta.key}: a correlation needs a positive timespan")
    measure_for(rule)  # an unknown type is an error even without matches
    latest = None if now is None else _micros(now)
    entries = [e for e in _entries(rule, matches) if latest is None or e.time <= latest]
    earliest = None if since is None else _micros(since)
    consumed = {str(i) for i in fired}
    if closed_windows(rule):
        firings = _tumbling(rule, entries, span, latest, earliest, consumed)
    else:
        entries = [e for e in entries if e.eid not in consumed]
        firings = _sliding(rule, entries, span, earliest)
    return sorted(firings, key=lambda f: (f.end, f.group, f.start))


# -- matches to entries ---------------------------------------------------------------------------------
def _micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // _US


def _moment(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def _time(event: dict) -> int | None:
    value = event.get("utctimestamp")
    if type(value) is str:  # the stored form, ISO 8601 with an offset: the fast way
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return (moment - EPOCH) // _US
    try:
        return _micros(parse_timestamp(value)[0])
    except TimestampError:
        return None  # it cannot be placed in time; the store never holds such an event


Reader = Callable[[dict], list]


def _texts(leaves: list) -> list[tuple[str, str]]:
    """The distinct `(casefolded, as written)` term texts of the leaves at a path, in their order."""
    if len(leaves) == 1:  # the usual case, without the bookkeeping
        text = term_text(leaves[0])
        return [] if text is None else [(text.casefold(), text)]
    found: dict[str, str] = {}
    for leaf in leaves:
        text = term_text(leaf)
        if text is not None:
            found.setdefault(text.casefold(), text)
    return list(found.items())


def _groups(event: dict, readers: list[Reader]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """`(group, as shown)` for each group of the event: each combination of the paths' values."""
    if len(readers) == 1:
        return [((key,), (shown,)) for key, shown in _texts(readers[0](event))]
    per_path = [_texts(read(event)) for read in readers]
    return [  # a path with no value: no combination
        (tuple(k for k, _ in combination), tuple(s for _, s in combination))
        for combination in itertools.product(*per_path)
    ]


def _number(value: object) -> Number | None:
    """A number, or a string that is one ("1500", "2.5", "1e3"), exactly; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return int(value) if value.is_integer() else Fraction(value)
    if isinstance(value, str) and "_" not in value:
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = Fraction(text)  # refuses "nan", "inf", "0x1f"
        except (ValueError, ZeroDivisionError):
            return None
        return int(number) if number.denominator == 1 else number
    return None


def _values(kind: str, read: Reader, event: dict) -> tuple:
    leaves = read(event)
    if kind == "value_count":
        return tuple(key for key, _shown in _texts(leaves))
    numbers = (_number(leaf) for leaf in leaves)
    return tuple(n for n in numbers if n is not None)


def _entries(rule: CorrelationRule, matches: Mapping[str, Sequence[dict]]) -> list[Entry]:
    """Every match as an entry, sorted by time, group, event id and slot: the one sort. An event is
    one entry per group (per group and referenced rule for the temporal types)."""
    kind = rule.type
    valued = kind in ("value_count", "value_sum", "value_avg")
    entries: list[Entry] = []
    append = entries.append
    for slot, key in enumerate(rule.rules):
        field = rule.value_field.get(key)
        if valued and not field:
            raise ValueError(f"{rule.meta.key}: a {kind} correlation needs a value field for {key}")
        value_of = leaf_getter(field) if valued and field else None
        readers = [leaf_getter(path) for path in rule.group_by.get(key, ())]
        for event in matches.get(key, ()):
            eid = event.get("id")
            if eid is None:
                raise ValueError(f"{rule.meta.key}: a match of {key} has no id")
            time = _time(event)
            if time is None:
                continue
            values = () if value_of is None else _values(kind, value_of, event)
            if valued and not values:
                continue
            if readers:
                for group, shown in _groups(event, readers):
                    append(Entry(time, str(eid), event, slot, group, shown, values))
            else:
                append(Entry(time, str(eid), event, slot, (), (), values))
    entries.sort(key=lambda e: (e.time, e.group, e.eid, e.slot))
    return _distinct(entries, per_rule=kind.startswith("temporal"))


def _distinct(entries: list[Entry], per_rule: bool) -> list[Entry]:
    """Without repeats (an event given twice, or matching two rules of an event count): sorted, a
    repeat follows what it repeats."""
    out: list[Entry] = []
    last: Entry | None = None
    for entry in entries:
        if (
            last is not None
            and entry.eid == last.eid
            and entry.group == last.group
            and entry.time == last.time
            and (entry.slot == last.slot or not per_rule)
        ):
            continue
        out.append(entry)
        last = entry
    return out


# -- firings --------------------------------------------------------------------------------------------
def _plain(value: Number) -> float:
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else float(value)
    return value


def _firing(rule: CorrelationRule, live: list[Entry], start: int, end: int, value: Number) -> Firing:
    ordered = sorted(live, key=lambda e: (e.time, e.eid, e.slot))
    events = tuple({e.eid: e.event for e in ordered}.values())
    slots = sorted({e.slot for e in ordered})
    return Firing(
        group=ordered[0].shown,
        start=_moment(start),
        end=_moment(end),
        value=_plain(value),
        events=events,
        rules=tuple(dict.fromkeys(rule.rules[s] for s in slots)),
    )


def _batches(entries: list[Entry]) -> Iterator[list[Entry]]:
    """Runs of entries of one group at one moment."""
    i, n = 0, len(entries)
    while i < n:
        time, group = entries[i].time, entries[i].group
        j = i + 1
        while j < n and entries[j].time == time and entries[j].group == group:
            j += 1
        yield entries[i:j]
        i = j


class _Window:
    """A group's sliding window: the matches in it, oldest first, and their measure."""

    def __init__(self, rule: CorrelationRule) -> None:
        self.rule = rule
        self.entries: deque[Entry] = deque()
        self.measure = measure_for(rule)

    def slide(self, start: int) -> None:
        entries = self.entries
        while entries and entries[0].time < start:
            entry = entries.popleft()
            if entry.state == 1:
                entry.state = 2
                self.measure.leave(entry, consumed=False)

    def live(self) -> list[Entry]:
        return [e for e in self.entries if e.state == 1]

    def clear(self) -> None:
        for entry in self.entries:
            entry.state = 2
        self.entries.clear()
        self.measure = measure_for(self.rule)


def _sliding(rule: CorrelationRule, entries: list[Entry], span: int, since: int | None) -> list[Firing]:
    """Reaching conditions: a window ends at each match; the first that satisfies the condition fires.

    One pass in time order (groups in key order at one moment, so consumption across groups is
    deterministic), two pointers per group (the window's deque)."""
    windows: dict[tuple[str, ...], _Window] = {}
    # The events in several groups (a list at a group-by path, aliases): when one fires in a group,
    # it leaves the others' windows.
    shared: dict[str, list[Entry]] = {}
    for eid, count in Counter(e.eid for e in entries).items():
        if count > 1:
            shared[eid] = []
    for entry in entries:
        if entry.eid in shared:
            shared[entry.eid].append(entry)
    holds = rule.threshold.holds
    consumed: set[str] = set()
    firings: list[Firing] = []
    for batch in _batches(entries):
        if consumed:
            batch = [e for e in batch if e.eid not in consumed]
            if not batch:
                continue
        time = batch[0].time
        window = windows.get(batch[0].group)
        if window is None:
            window = windows[batch[0].group] = _Window(rule)
        window.slide(time - span)
        window.measure.add(time, batch)
        for entry in batch:
            entry.state = 1
        window.entries.extend(batch)
        if since is not None and time - span < since:
            continue  # a window reaching before the matches start: judged by an earlier run
        value = window.measure.value(time - span, window.live)
        if not holds(_plain(value)):
            continue
        live = window.live()
        firings.append(_firing(rule, live, time - span, time, value))
        consumed.update(entry.eid for entry in live)
        window.clear()
        for entry in live:  # the same events in other groups' windows leave them
            for other in shared.get(entry.eid, ()):
                if other.state == 1:
                    other.state = 2
                    windows[other.group].measure.leave(other, consumed=True)
    return firings


def _tumbling(
    rule: CorrelationRule,
    entries: list[Entry],
    span: int,
    now: int | None,
    since: int | None,
    consumed: set[str],
) -> list[Firing]:
    """Closed-window conditions: epoch-aligned windows, each judged once closed, in (window, group)
    order. A window measures every match in it, fired or not (so judging it again, after another group
    fired some of its events, gives the same answer); it fires with the matches that have not fired."""
    entries = sorted(entries, key=lambda e: (e.time // span, e.group))  # stable: time order kept
    firings: list[Firing] = []
    for (index, _group), chunk in itertools.groupby(entries, key=lambda e: (e.time // span, e.group)):
        start, end = index * span, (index + 1) * span
        if (now is not None and end > now) or (since is not None and start < since):
            continue
        window = list(chunk)
        measure = measure_for(rule)
        for time, batch in itertools.groupby(window, key=lambda e: e.time):
            measure.add(time, list(batch))
        value = measure.value(start, lambda window=window: window)
        live = [e for e in window if e.eid not in consumed]
        if live and rule.threshold.holds(_plain(value)):
            firings.append(_firing(rule, live, start, end, value))
            consumed.update(e.eid for e in live)
    return firings


__all__ = ["Firing", "closed_windows", "evaluate"]
