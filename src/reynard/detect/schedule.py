"""When a rule runs: an interval (`5m`), a cron expression (`*/5 * * * *`, in UTC), or one of MozDef's
forms from its alerts/lib/config.py (`crontab(minute='*/1')`, `timedelta(minutes=1)`).

`parse_schedule(text)` is the one way in; a bad text is one RuleError naming it and what is wrong. Each
schedule's `text` is canonical (what the registry stores; it parses back to the same schedule):
`timedelta(...)` becomes the interval it means (`timedelta(seconds=90)` is `90s`), a cron expression is
lowercased with single spaces, and a crontab keeps MozDef's form with only its non-`*` keywords.

Cron is evaluated by croniter. Celery's crontab maps onto it field by field, with Celery's meaning kept:
a day must match day_of_month *and* day_of_week (cron's "either, when both are set" rule does not
apply), day_of_week counts 0 = Sunday to 6 and takes names (`mon`, `monday`), and ranges may wrap
(`fri-mon`, as in Celery and croniter). MozDef's text is read with `ast`, literal arguments only: it is
never evaluated.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from itertools import islice, pairwise, takewhile

from croniter import croniter

from reynard.detect.errors import RuleError

# The longest canonical text: the registry's `schedule` column (String(200) from migration 0005) holds it.
MAX_TEXT = 200

_INTERVAL = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_TIMEDELTA_KEYWORDS = ("weeks", "days", "hours", "minutes", "seconds")
# Celery's crontab(minute, hour, day_of_week, day_of_month, month_of_year), and where each goes in cron.
_CRONTAB_KEYWORDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
_CRON_ORDER = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
_NUMBER_PATTERN = re.compile(r"^[0-9*/,-]+$")
_NAMED_PATTERN = re.compile(r"^[0-9a-z*/,-]+$")  # day_of_week, month_of_year
_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_HASHED = re.compile(r"(?<![a-z])[hr](?![a-z])")  # croniter's H (hashed) and R (random): not cron
# Where a cron schedule's nominal interval is measured from (a Saturday, so weekday gaps show).
_REFERENCE = datetime(2000, 1, 1, tzinfo=UTC)
_TICK = timedelta(microseconds=1)
FORMS = (
    "an interval (30s, 5m, 1h, 1d), a 5-field cron expression (*/5 * * * *), crontab(...) or timedelta(...)"
)


def _bad(text: str, problem: str) -> RuleError:
    return RuleError(f"schedule {text!r}: {problem}")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def interval_text(every: timedelta) -> str:
    """`90s`, `5m`, `2h`, `1d`: the largest unit that divides the interval."""
    seconds = int(every.total_seconds())
    unit = next(u for u, size in _UNITS.items() if seconds % size == 0)
    return f"{seconds // _UNITS[unit]}{unit}"


def interval_times(start: datetime, end: datetime, every: timedelta, limit: int) -> list[datetime]:
    """start + every, start + 2 * every, ... up to `end` (included): the latest `limit` of them."""
    count = (end - start) // every if end > start else 0
    first = max(1, count - limit + 1)
    return [start + i * every for i in range(first, count + 1)]


@dataclass(frozen=True)
class Interval:
    """Every `every` after the last run (whole seconds, more than zero)."""

    every: timedelta

    def __post_init__(self) -> None:
        if self.every <= timedelta(0) or self.every % timedelta(seconds=1):
            raise RuleError(f"an interval must be a whole number of seconds above zero, not {self.every}")

    @property
    def text(self) -> str:
        return interval_text(self.every)

    @property
    def interval(self) -> timedelta:
        return self.every

    def due(self, last_run: datetime | None, now: datetime) -> bool:
        return last_run is None or _utc(now) - _utc(last_run) >= self.every

    def fire_times(self, start: datetime, end: datetime, limit: int) -> list[datetime]:
        """The moments in (start, end] it would have run at, counting from `start`: the latest `limit`."""
        return interval_times(_utc(start), _utc(end), self.every, limit)

    def describe(self) -> str:
        return f"every {self.text}"


@dataclass(frozen=True)
class Cron:
    """At the fire times of `expression` (5 cron fields or an @-macro, UTC), written `text`.

    `day_or` is cron's rule for a day that both day fields restrict: either may match (False: both must,
    as in Celery's crontab). `source` is the text it was parsed from, for error messages."""

    text: str
    expression: str
    day_or: bool = True
    source: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        try:
            croniter(self.expression, _REFERENCE, day_or=self.day_or)
        except Exception as e:  # croniter refuses a bad expression with several exception types
            raise _bad(self.source or self.text, f"croniter refuses it: {e}") from None
        if next(self._walk(_REFERENCE), None) is None:
            raise _bad(self.source or self.text, "it never fires (no date matches it)")

    def _walk(self, moment: datetime, backward: bool = False) -> Iterator[datetime]:
        """Its fire times after `moment` (before it, `backward`), nearest first."""
        it = croniter(self.expression, _utc(moment), day_or=self.day_or)
        step = it.get_prev if backward else it.get_next
        while True:
            try:
                yield step(datetime)
            except (ValueError, OverflowError):  # no (more) date matches, as far as croniter can reach
                return

    @cached_property
    def interval(self) -> timedelta:
        """The shortest gap between its first fire times: how often it runs, at most (for display)."""
        times = list(islice(self._walk(_REFERENCE), 16))
        gaps = [later - earlier for earlier, later in pairwise(times)]
        return min(gaps, default=timedelta(days=366))

    def due(self, last_run: datetime | None, now: datetime) -> bool:
        """Never run, or a fire time in (last_run, now]."""
        if last_run is None:
            return True
        fire = next(self._walk(last_run), None)
        return fire is not None and fire <= _utc(now)

    def fire_times(self, start: datetime, end: datetime, limit: int) -> list[datetime]:
        """The fire times in (start, end], in order: the latest `limit` (walked back from `end`)."""
        start = _utc(start)
        back = takewhile(lambda moment: moment > start, self._walk(_utc(end) + _TICK, backward=True))
        return list(islice(back, limit))[::-1]

    def describe(self) -> str:
        return f"on {self.text} (UTC; at most every {interval_text(self.interval)})"


Schedule = Interval | Cron


def parse_schedule(text: str) -> Schedule:
    """`30s`, `5m`, `*/5 * * * *`, `@hourly`, `crontab(minute='*/1')`, `timedelta(minutes=1)`; see the
    module doc. RuleError for anything else."""
    text = (text or "").strip()
    if not text:
        raise RuleError(f"an empty schedule is not {FORMS}")
    found = _INTERVAL.match(text)
    if found:
        if int(found[1]) == 0:
            raise _bad(text, "a zero interval never comes round")
        try:
            schedule: Schedule = Interval(timedelta(seconds=int(found[1]) * _UNITS[found[2]]))
        except OverflowError:
            raise _bad(text, "too long an interval") from None
    elif "(" in text:
        schedule = _parse_call(text)
    else:
        schedule = _parse_cron(text)
    if len(schedule.text) > MAX_TEXT:
        raise _bad(text, f"longer than {MAX_TEXT} characters")
    return schedule


def _parse_cron(text: str) -> Cron:
    fields = text.lower().split()
    if len(fields) == 1 and fields[0].startswith("@"):
        if fields[0] not in _MACROS:
            raise _bad(text, f"not a cron macro ({', '.join(_MACROS)})")
        return Cron(fields[0], fields[0], source=text)
    if len(fields) != 5:
        if len(fields) > 1 and any(c.isdigit() or c == "*" for c in text):
            raise _bad(
                text, f"a cron expression has 5 fields (minute hour day month weekday), not {len(fields)}"
            )
        raise _bad(text, f"not {FORMS}")
    if _HASHED.search(text.lower()):
        raise _bad(text, "H and R (hashed and random fields) are not cron")
    # Cron's rule: a day field that starts with `*` leaves the other alone; two set day fields are "either".
    day_or = not (fields[2].startswith("*") or fields[4].startswith("*"))
    return Cron(" ".join(fields), " ".join(fields), day_or=day_or, source=text)


def _parse_call(text: str) -> Schedule:
    try:
        with warnings.catch_warnings():  # no SyntaxWarning on stderr: the error says what is wrong
            warnings.simplefilter("ignore")
            node = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise _bad(text, "not a valid crontab(...) or timedelta(...) call") from None
    func = node.func if isinstance(node, ast.Call) else None
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if not isinstance(node, ast.Call) or name not in ("crontab", "timedelta"):
        raise _bad(text, f"not {FORMS}")
    if node.args or any(k.arg is None for k in node.keywords):
        raise _bad(text, f"{name}() takes keyword arguments only, such as minute='*/5' or minutes=5")
    arguments = {}
    for keyword in node.keywords:
        if keyword.arg in arguments:
            raise _bad(text, f"{keyword.arg}= is given twice")
        try:
            arguments[keyword.arg] = ast.literal_eval(keyword.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise _bad(text, f"{keyword.arg}= is not a literal (a string or a number)") from None
    return _crontab(text, arguments) if name == "crontab" else _timedelta(text, arguments)


def _timedelta(text: str, arguments: dict) -> Interval:
    total = timedelta(0)
    for key, value in arguments.items():
        if key not in _TIMEDELTA_KEYWORDS:
            raise _bad(text, f"unknown timedelta keyword {key!r} (use {', '.join(_TIMEDELTA_KEYWORDS)})")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise _bad(text, f"timedelta {key}= must be a number of zero or more, not {value!r}")
        try:
            total += timedelta(**{key: value})
        except OverflowError:
            raise _bad(text, f"timedelta {key}={value!r} is too large") from None
    if total <= timedelta(0):
        raise _bad(text, "a zero interval never comes round")
    if total % timedelta(seconds=1):
        raise _bad(text, "not a whole number of seconds")
    return Interval(total)


def _crontab(text: str, arguments: dict) -> Cron:
    fields = dict.fromkeys(_CRONTAB_KEYWORDS, "*")
    for key, value in arguments.items():
        if key not in fields:
            raise _bad(text, f"unknown crontab keyword {key!r} (use {', '.join(_CRONTAB_KEYWORDS)})")
        fields[key] = _crontab_field(text, key, value)
    for key in _CRONTAB_KEYWORDS:  # each field on its own, so that the message names it
        if fields[key] != "*":
            alone = " ".join(fields[k] if k == key else "*" for k in _CRON_ORDER)
            try:
                croniter(alone, _REFERENCE)
            except Exception as e:  # croniter refuses a bad field with several exception types
                raise _bad(text, f"crontab {key}={fields[key]!r}: croniter refuses it: {e}") from None
    canonical = ", ".join(f"{k}={fields[k]!r}" for k in _CRONTAB_KEYWORDS if fields[k] != "*")
    expression = " ".join(fields[k] for k in _CRON_ORDER)
    return Cron(f"crontab({canonical})", expression, day_or=False, source=text)


def _crontab_field(text: str, key: str, value: object) -> str:
    """A crontab argument as a cron field: Celery takes a string, an integer or a collection of them."""
    if isinstance(value, list | tuple | set | frozenset) and value and all(map(_is_int, value)):
        value = ",".join(map(str, sorted(value) if isinstance(value, set | frozenset) else value))
    elif _is_int(value):
        value = str(value)
    if not isinstance(value, str):
        raise _bad(text, f"crontab {key}= must be a string, an integer or a list of integers, not {value!r}")
    spec = re.sub(r"\s+", "", value.lower())
    named = key in ("day_of_week", "month_of_year")
    if named:
        spec = re.sub(r"[a-z]+", lambda m: m[0][:3], spec)  # Celery reads a name's first 3 letters
    if not (_NAMED_PATTERN if named else _NUMBER_PATTERN).match(spec):
        kinds = "numbers, names" if named else "numbers"
        raise _bad(text, f"crontab {key}={value!r} is not a crontab pattern ({kinds}, * - / ,)")
    if key == "day_of_week":
        for day in re.findall(r"(?<![/\d])\d+", spec):  # not the steps: */7 is fine
            if int(day) > 6:
                raise _bad(text, f"crontab day_of_week {day} is out of range: Celery counts 0 (Sunday) to 6")
    return spec


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


__all__ = [
    "FORMS",
    "MAX_TEXT",
    "Cron",
    "Interval",
    "Schedule",
    "interval_text",
    "interval_times",
    "parse_schedule",
]
