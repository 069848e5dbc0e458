"""The normalized event: what finalize accepts, completes, flags and refuses."""

from datetime import UTC, datetime

import pytest

from reynard.errors import InvalidEvent
from reynard.events.event import TZ_ASSUMED_TAG, finalize, severity_name, stable_id

RECEIVED = "2026-11-28T10:00:00.000000+00:00"
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def draft(**fields):
    base = {"id": stable_id("test", "1"), "utctimestamp": "2026-11-28T09:00:00Z", "summary": "a line"}
    base.update(fields)
    return base


def test_completes_a_minimal_draft_in_mozdef_shape():
    event = finalize(draft(), received=RECEIVED, now=NOW)
    assert event["utctimestamp"] == "2026-11-28T09:00:00.000000+00:00"
    assert event["timestamp"] == event["utctimestamp"]
    assert event["receivedtimestamp"] == RECEIVED
    assert event["severity"] == "INFO"
    assert event["type"] == "event"
    assert event["tags"] == [] and event["plugins"] == [] and event["details"] == {}
    assert event["hostname"] == event["category"] == event["source"] == "UNKNOWN"
    assert event["mozdefhostname"]


def test_offsets_become_utc_and_the_original_is_kept():
    event = finalize(
        draft(utctimestamp="2026-11-28T11:30:00+02:00", timestamp="2026-11-28T11:30:00+02:00"),
        received=RECEIVED,
        now=NOW,
    )
    assert event["utctimestamp"] == "2026-11-28T09:30:00.000000+00:00"
    assert event["timestamp"] == "2026-11-28T09:30:00+00:00"
    assert TZ_ASSUMED_TAG not in event["tags"]


def test_a_timestamp_without_zone_is_taken_as_utc_and_flagged():
    event = finalize(draft(utctimestamp="2026-11-28T09:00:00"), received=RECEIVED, now=NOW)
    assert event["utctimestamp"] == "2026-11-28T09:00:00.000000+00:00"
    assert TZ_ASSUMED_TAG in event["tags"]


def test_epoch_seconds_and_milliseconds():
    assert finalize(draft(utctimestamp=1795856400), received=RECEIVED, now=NOW)["utctimestamp"].startswith(
        "2026-11-28T09:00:00"
    )
    assert finalize(draft(utctimestamp=1795856400123), received=RECEIVED, now=NOW)["utctimestamp"] == (
        "2026-11-28T09:00:00.123000+00:00"
    )


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"utctimestamp": None}, "no timestamp"),
        ({"utctimestamp": "yesterday"}, "not an ISO 8601 timestamp"),
        ({"utctimestamp": "\u00b2"}, "not an ISO 8601 timestamp"),  # a digit to str.isdigit only
        ({"utctimestamp": "1970-01-01T00:00:00Z"}, "out of range"),
        ({"utctimestamp": "2099-01-01T00:00:00Z"}, "out of range"),
        ({"utctimestamp": 10**30}, "out of range"),
        ({"summary": ""}, "no summary"),
        ({"summary": 42}, "no summary"),
        ({"details": "text"}, "details must be an object"),
        ({"tags": 3}, "tags must be a list"),
        ({"id": ""}, "no id"),
    ],
)
def test_refuses_what_cannot_be_an_event(fields, reason):
    with pytest.raises(InvalidEvent, match=reason):
        finalize(draft(**fields), received=RECEIVED, now=NOW)


def test_refuses_a_value_that_is_not_an_object():
    with pytest.raises(InvalidEvent, match="not an event object: list"):
        finalize([1, 2], received=RECEIVED, now=NOW)


def test_keep_received_keeps_the_exported_receivedtimestamp():
    exported = draft(receivedtimestamp="2019-05-01T10:00:00+00:00")
    assert finalize(dict(exported), received=RECEIVED, keep_received=True, now=NOW)["receivedtimestamp"] == (
        "2019-05-01T10:00:00.000000+00:00"
    )
    assert finalize(dict(exported), received=RECEIVED, now=NOW)["receivedtimestamp"] == RECEIVED


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("info", "INFO"),
        ("warn", "WARNING"),
        (3, "ERROR"),
        ("crit", "CRITICAL"),
        ("Notice", "NOTICE"),
        ("x", None),
    ],
)
def test_severity_names(given, name):
    assert severity_name(given) == name


def test_unknown_severity_is_noted_not_lost():
    event = finalize(draft(severity="bogus"), received=RECEIVED, now=NOW)
    assert event["severity"] == "INFO"
    assert "bogus" in event["errors"][0]


def test_stable_ids_depend_on_source_and_key():
    assert stable_id("cloudtrail", "abc") == stable_id("cloudtrail", "abc")
    assert stable_id("cloudtrail", "abc") != stable_id("syslog", "abc")
    assert len(stable_id("a", "b")) == 32
