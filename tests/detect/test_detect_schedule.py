"""Rule schedules (`reynard.detect.schedule`): intervals, cron expressions, and MozDef's crontab(...) and
timedelta(...) forms; their canonical texts, errors, `due` and `fire_times`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reynard.detect.errors import RuleError
from reynard.detect.schedule import MAX_TEXT, Cron, Interval, parse_schedule


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


S, M, H, D = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)

# text, kind, canonical text, nominal interval
ACCEPTED = [
    ("30s", Interval, "30s", 30 * S),
    ("5m", Interval, "5m", 5 * M),
    ("1h", Interval, "1h", H),
    ("1d", Interval, "1d", D),
    (" 90 s ", Interval, "90s", 90 * S),
    ("60s", Interval, "1m", M),
    ("120m", Interval, "2h", 2 * H),
    ("*/5 * * * *", Cron, "*/5 * * * *", 5 * M),
    ("0 9-17 * * MON-FRI", Cron, "0 9-17 * * mon-fri", H),
    ("  0   0 * *  sun ", Cron, "0 0 * * sun", 7 * D),
    ("0,30 * * * *", Cron, "0,30 * * * *", 30 * M),
    ("@hourly", Cron, "@hourly", H),
    ("@daily", Cron, "@daily", D),
    ("@WEEKLY", Cron, "@weekly", 7 * D),
    ("crontab(minute='*/1')", Cron, "crontab(minute='*/1')", M),
    (
        "crontab(minute='0', hour='*/2', day_of_week='mon-fri')",
        Cron,
        "crontab(minute='0', hour='*/2', day_of_week='mon-fri')",
        2 * H,
    ),
    (
        "crontab(day_of_week='Monday-Friday', hour=[9, 17], minute=0)",
        Cron,
        "crontab(minute='0', hour='9,17', day_of_week='mon-fri')",
        8 * H,
    ),
    ("crontab(minute='*', hour=3)", Cron, "crontab(hour='3')", M),  # Celery: every minute of 03:00-03:59
    ("crontab()", Cron, "crontab()", M),
    (
        "celery.schedules.crontab(minute=30, hour=4, day_of_month=1, month_of_year='jan,July')",
        Cron,
        "crontab(minute='30', hour='4', day_of_month='1', month_of_year='jan,jul')",
        181 * D,
    ),
    ("crontab(minute='0',\n        hour='*/6')", Cron, "crontab(minute='0', hour='*/6')", 6 * H),
    ("timedelta(minutes=1)", Interval, "1m", M),
    ("timedelta(seconds=30, minutes=1)", Interval, "90s", 90 * S),
    ("timedelta(days=1, hours=2)", Interval, "26h", 26 * H),
    ("datetime.timedelta(hours=0.5)", Interval, "30m", 30 * M),
    ("timedelta(weeks=1)", Interval, "7d", 7 * D),
]


@pytest.mark.parametrize(("text", "kind", "canonical", "interval"), ACCEPTED)
def test_accepted_forms_and_their_canonical_text(text, kind, canonical, interval):
    schedule = parse_schedule(text)
    assert type(schedule) is kind
    assert schedule.text == canonical
    assert schedule.interval == interval
    assert parse_schedule(schedule.text) == schedule  # what the registry stores reads back the same


BAD = [
    ("", "an empty schedule is not an interval"),
    ("often", "not an interval (30s, 5m, 1h, 1d), a 5-field cron expression"),
    ("5", "not an interval"),
    ("0m", "a zero interval"),
    ("9999999999999999d", "too long an interval"),
    ("timedelta(seconds=0)", "a zero interval"),
    ("timedelta()", "a zero interval"),
    ("timedelta(seconds=0.5)", "not a whole number of seconds"),
    ("timedelta(minutes=-1)", "minutes= must be a number of zero or more, not -1"),
    ("timedelta(minutes='5')", "minutes= must be a number"),
    ("timedelta(milliseconds=500)", "unknown timedelta keyword 'milliseconds'"),
    ("timedelta(1)", "timedelta() takes keyword arguments only"),
    ("crontab(minutes='*/5')", "unknown crontab keyword 'minutes' (use minute, hour, day_of_week"),
    ("crontab('*/5')", "crontab() takes keyword arguments only"),
    ("crontab(**spec)", "crontab() takes keyword arguments only"),
    ("crontab(minute=MINUTES)", "minute= is not a literal"),
    ("crontab(minute=__import__('os').system('false'))", "minute= is not a literal"),
    ("crontab(minute='*/1'", "not a valid crontab(...) or timedelta(...) call"),
    ("crontab(minute=1, minute=2)", "minute= is given twice"),
    ("eval('5m')", "not an interval"),
    ("schedule(minutes=1)", "not an interval"),
    ("crontab(minute='61')", "crontab minute='61': croniter refuses it"),
    ("crontab(hour='*/0')", "crontab hour='*/0': croniter refuses it"),
    ("crontab(minute=-5)", "crontab minute='-5': croniter refuses it"),
    ("crontab(day_of_week='someday')", "crontab day_of_week='som': croniter refuses it"),
    ("crontab(minute='L')", "crontab minute='L' is not a crontab pattern"),
    ("crontab(day_of_week='mon#2')", "is not a crontab pattern"),
    ("crontab(day_of_week=7)", "day_of_week 7 is out of range: Celery counts 0 (Sunday) to 6"),
    ("crontab(day_of_week='5-7')", "day_of_week 7 is out of range"),
    ("crontab(minute=True)", "minute= must be a string, an integer or a list of integers, not True"),
    ("crontab(minute=1.5)", "not 1.5"),
    ("crontab(minute=[])", "not []"),
    ("crontab(day_of_month=31, month_of_year=2)", "it never fires"),
    ("0 0 30 2 *", "it never fires"),
    ("61 * * * *", "croniter refuses it"),
    ("* * * *", "a cron expression has 5 fields (minute hour day month weekday), not 4"),
    ("0 0 * * * 2024", "not 6"),
    ("@reboot", "not a cron macro (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)"),
    ("H * * * *", "H and R (hashed and random fields) are not cron"),
    ("R 0 * * *", "H and R"),
    (
        f"crontab(minute='{','.join(map(str, range(60)))}', hour='{','.join(map(str, range(24)))}')",
        f"longer than {MAX_TEXT} characters",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_forms_are_one_rule_error_naming_the_text(text, message):
    with pytest.raises(RuleError) as raised:
        parse_schedule(text)
    assert message in str(raised.value)
    if text:
        assert repr(text.strip()) in str(raised.value)


# -- Celery's day_of_week: 0 = Sunday, names, wrapping ranges; every day field must match -----------------
WEEK = (at(2024, 2, 5), at(2024, 2, 12))  # Monday 5 February 00:00 to the next Monday 00:00


@pytest.mark.parametrize(
    ("day_of_week", "days"),
    [
        (0, [11]),
        ("0", [11]),
        ("sun", [11]),
        ("Sunday", [11]),
        (1, [5]),
        ("mon", [5]),
        (6, [10]),
        ("sat", [10]),
        ("mon-fri", [5, 6, 7, 8, 9]),
        ("1-5", [5, 6, 7, 8, 9]),
        ("fri-mon", [5, 9, 10, 11]),  # wraps round the week, as Celery's ranges do
        ("*/2", [6, 8, 10, 11]),  # days divisible by two: Sunday (0), Tuesday, Thursday, Saturday
        ([0, 6], [10, 11]),
        ("sat,sun", [10, 11]),
    ],
)
def test_celery_day_of_week(day_of_week, days):
    schedule = parse_schedule(f"crontab(minute=0, hour=12, day_of_week={day_of_week!r})")
    assert schedule.fire_times(*WEEK, 100) == [at(2024, 2, day, 12) for day in days]


@pytest.mark.parametrize("weekday", ["0", "7", "sun"])
def test_cron_counts_sunday_as_0_or_7(weekday):
    assert parse_schedule(f"0 12 * * {weekday}").fire_times(*WEEK, 100) == [at(2024, 2, 11, 12)]


QUARTER = (at(2023, 12, 31), at(2024, 3, 31))


def test_crontab_days_must_match_both_day_fields():
    """Celery: a day in day_of_month *and* day_of_week (the first Monday); cron: either."""
    celery = parse_schedule("crontab(minute=0, hour=0, day_of_month='1-7', day_of_week='mon')")
    assert celery.fire_times(*QUARTER, 100) == [at(2024, 1, 1), at(2024, 2, 5), at(2024, 3, 4)]
    cron = parse_schedule("0 0 1-7 * mon").fire_times(*QUARTER, 100)
    assert cron[:9] == [at(2024, 1, day) for day in (1, 2, 3, 4, 5, 6, 7, 8, 15)]


def test_cron_day_field_starting_with_a_star_restricts_with_the_other():
    """As in cron: `*/2` in day-of-month and `mon`: the Mondays that are odd days of the month."""
    mondays = parse_schedule("0 0 */2 * mon").fire_times(at(2023, 12, 31), at(2024, 2, 29), 100)
    assert mondays == [at(2024, 1, 1), at(2024, 1, 15), at(2024, 1, 29), at(2024, 2, 5), at(2024, 2, 19)]


# -- due and fire_times around the boundaries ------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "last_run", "now", "due"),
    [
        ("5m", None, at(2024, 2, 5, 17), True),
        ("5m", at(2024, 2, 5, 17), at(2024, 2, 5, 17, 4, 59), False),
        ("5m", at(2024, 2, 5, 17), at(2024, 2, 5, 17, 5), True),
        ("5m", at(2024, 2, 5, 17, 2, 30), at(2024, 2, 5, 17, 5), False),  # an interval counts from the run
        ("*/5 * * * *", None, at(2024, 2, 5, 17), True),
        ("*/5 * * * *", at(2024, 2, 5, 17), at(2024, 2, 5, 17, 4, 59, 999999), False),
        ("*/5 * * * *", at(2024, 2, 5, 17), at(2024, 2, 5, 17, 5), True),  # exactly at the fire time
        ("*/5 * * * *", at(2024, 2, 5, 17, 2, 30), at(2024, 2, 5, 17, 5), True),  # cron: the clock
        ("*/5 * * * *", at(2024, 2, 5, 17, 5), at(2024, 2, 5, 17, 5), False),  # ran at that fire time
        ("*/5 * * * *", at(2024, 2, 5, 17, 5), at(2024, 2, 5, 17, 9, 59), False),
        ("*/5 * * * *", at(2024, 2, 5, 17, 5), at(2024, 2, 5, 18), True),  # missed several: due once
        ("*/5 * * * *", at(2024, 2, 5, 18), at(2024, 2, 5, 17), False),  # a clock set back
        ("0 9-17 * * mon-fri", at(2024, 2, 9, 17), at(2024, 2, 12, 8, 59), False),  # the weekend
        ("0 9-17 * * mon-fri", at(2024, 2, 9, 17), at(2024, 2, 12, 9), True),
        ("crontab(minute=0, hour='*/2', day_of_week='sat')", at(2024, 2, 9, 23), at(2024, 2, 10), True),
        ("crontab(minute=0, hour='*/2', day_of_week='sat')", at(2024, 2, 11), at(2024, 2, 16, 23), False),
    ],
)
def test_due(spec, last_run, now, due):
    assert parse_schedule(spec).due(last_run, now) is due


@pytest.mark.parametrize(
    ("spec", "start", "end", "limit", "times"),
    [
        ("5m", (17, 0), (17, 15), 100, [(17, 5), (17, 10), (17, 15)]),  # start left out, end kept
        ("5m", (17, 0), (17, 14, 59), 100, [(17, 5), (17, 10)]),
        ("5m", (17, 2), (17, 15), 100, [(17, 7), (17, 12)]),  # counted from the start
        ("5m", (17, 0), (17, 15), 2, [(17, 10), (17, 15)]),  # the latest
        ("5m", (17, 15), (17, 0), 100, []),
        ("*/5 * * * *", (17, 0), (17, 15), 100, [(17, 5), (17, 10), (17, 15)]),
        ("*/5 * * * *", (16, 59, 59), (17, 10), 100, [(17, 0), (17, 5), (17, 10)]),
        ("*/5 * * * *", (17, 2), (17, 15), 100, [(17, 5), (17, 10), (17, 15)]),  # on the clock
        ("*/5 * * * *", (17, 0), (17, 15), 2, [(17, 10), (17, 15)]),
        ("*/5 * * * *", (17, 1), (17, 4), 100, []),
        ("*/5 * * * *", (17, 15), (17, 0), 100, []),
        ("crontab(minute='5-50/15')", (17, 0), (18, 0), 100, [(17, 5), (17, 20), (17, 35), (17, 50)]),
    ],
)
def test_fire_times(spec, start, end, limit, times):
    fired = parse_schedule(spec).fire_times(at(2024, 2, 5, *start), at(2024, 2, 5, *end), limit)
    assert fired == [at(2024, 2, 5, *t) for t in times]


def test_naive_times_are_utc():
    schedule = parse_schedule("*/5 * * * *")
    assert schedule.fire_times(datetime(2024, 2, 5, 17), datetime(2024, 2, 5, 17, 5), 10) == [
        at(2024, 2, 5, 17, 5)
    ]
    assert schedule.due(datetime(2024, 2, 5, 17), at(2024, 2, 5, 17, 5))


def test_a_long_catch_up_keeps_the_latest_steps_without_walking_them_all():
    every_minute = parse_schedule("* * * * *")
    fired = every_minute.fire_times(at(2000, 1, 1), at(2024, 2, 5), 3)
    assert fired == [at(2024, 2, 4, 23, 58), at(2024, 2, 4, 23, 59), at(2024, 2, 5)]


def test_describe():
    assert parse_schedule("timedelta(minutes=1)").describe() == "every 1m"
    assert parse_schedule("0 9-17 * * mon-fri").describe() == "on 0 9-17 * * mon-fri (UTC; at most every 1h)"


# -- properties ------------------------------------------------------------------------------------------
SCHEDULES = [
    "7m",
    "1h",
    "*/5 * * * *",
    "0 9-17 * * mon-fri",
    "crontab(minute='0', hour='*/2', day_of_week=0)",
]
MOMENTS = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2024, 1, 15), timezones=st.just(UTC)
)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(SCHEDULES), MOMENTS, MOMENTS)
def test_due_exactly_when_a_fire_time_has_passed(spec, last_run, now):
    schedule = parse_schedule(spec)
    assert schedule.due(last_run, now) == bool(schedule.fire_times(last_run, now, 1))


CRON_PARTS = ["*", "*/5", "0", "1-5", "mon", "fri-mon", "61", "L", "5#2", "?", "-1", "0,30", "x", "*/0", "@"]
CRONTAB_VALUES = st.one_of(
    st.integers(-3, 70), st.sampled_from(["*/5", "mon-fri", "x", "", "1-7", "sun,sat", "L"]), st.none()
)
TEXTS = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(CRON_PARTS), max_size=7).map(" ".join),
    st.dictionaries(
        st.sampled_from(["minute", "hour", "day_of_week", "day_of_month", "month_of_year", "seconds"]),
        CRONTAB_VALUES,
        max_size=4,
    ).map(lambda kw: "crontab(" + ", ".join(f"{k}={v!r}" for k, v in kw.items()) + ")"),
)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_any_text_is_a_schedule_that_reads_back_or_one_rule_error(text):
    try:
        schedule = parse_schedule(text)
    except RuleError:
        return
    assert parse_schedule(schedule.text) == schedule
    assert len(schedule.text) <= MAX_TEXT
