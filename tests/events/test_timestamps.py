"""The text forms of a time (events/timestamps.py): one function per form, each byte-stable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reynard.events.timestamps import display, iso_or_none, isoformat, parse_timestamp, zulu
from reynard.respond.asl.timestamps import parse_timestamp as parse_asl

PARIS = timezone(timedelta(hours=1))
WHOLE = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
FRACTION = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def test_the_stored_form_always_has_microseconds_and_utc():
    assert isoformat(WHOLE) == "2026-01-02T03:04:05.000000+00:00"
    assert isoformat(FRACTION) == "2026-01-02T03:04:05.123456+00:00"
    assert isoformat(datetime(2026, 1, 2, 4, 4, 5, tzinfo=PARIS)) == "2026-01-02T03:04:05.000000+00:00"


def test_the_api_form_is_pythons_and_keeps_none():
    assert iso_or_none(WHOLE) == "2026-01-02T03:04:05+00:00"
    assert iso_or_none(FRACTION) == "2026-01-02T03:04:05.123456+00:00"
    assert iso_or_none(None) is None


def test_display_is_to_the_second():
    assert display(FRACTION) == "2026-01-02T03:04:05"


@pytest.mark.parametrize(
    ("moment", "timespec", "text"),
    [
        (WHOLE, "seconds", "2026-01-02T03:04:05Z"),
        (FRACTION, "seconds", "2026-01-02T03:04:05Z"),  # cut, not rounded
        (WHOLE, "milliseconds", "2026-01-02T03:04:05.000Z"),
        (FRACTION, "milliseconds", "2026-01-02T03:04:05.123Z"),
        (WHOLE, "auto", "2026-01-02T03:04:05Z"),
        (FRACTION, "auto", "2026-01-02T03:04:05.123Z"),
        (WHOLE.replace(microsecond=999), "auto", "2026-01-02T03:04:05.000Z"),
        (datetime(2026, 1, 2, 4, 4, 5, tzinfo=PARIS), "auto", "2026-01-02T03:04:05Z"),
        (datetime(2026, 1, 2, 3, 4, 5), "auto", "2026-01-02T03:04:05Z"),  # naive: taken as UTC
    ],
)
def test_zulu(moment, timespec, text):
    assert zulu(moment, timespec) == text


moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@given(moments)
def test_step_functions_form_byte_for_byte(moment):
    # What Step Functions prints: UTC, exactly three fraction digits, Z.
    expected = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    assert zulu(moment, "milliseconds") == expected
    assert parse_asl(expected) == moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@given(moments)
def test_every_form_reads_back(moment):
    assert parse_timestamp(isoformat(moment))[0] == moment
    assert parse_timestamp(iso_or_none(moment))[0] == moment
    assert parse_timestamp(zulu(moment, "seconds"))[0] == moment.replace(microsecond=0)
    assert isoformat(moment) < isoformat(moment + timedelta(microseconds=1))  # text order is time order
