"""Integers beyond 64 bits: read, finalized and written as their exact decimal text, never rounded."""

import orjson
import pytest

from reynard.errors import InvalidEvent
from reynard.events import numbers
from reynard.events.event import finalize

HUGE = 123456789012345678901234567890
RECEIVED = "2026-11-28T00:00:00.000000+00:00"


def test_orjson_alone_would_round_them():
    assert orjson.loads(b'{"n": 123456789012345678901234567890}')["n"] == 1.2345678901234568e29


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (b"123456789012345678901234567890", "123456789012345678901234567890"),
        (b"-9223372036854775809", "-9223372036854775809"),
        (b"18446744073709551616", "18446744073709551616"),
        (b"18446744073709551615", 2**64 - 1),
        (b"-9223372036854775808", -(2**63)),
        (b"9" * 5000, "9" * 5000),
        (b"1.00000000000000000001", 1.0),  # floats are floats, as orjson reads them
        (b'"12345678901234567890123"', "12345678901234567890123"),
    ],
)
def test_loads_keeps_integers_beyond_64_bits_as_text(text, value):
    assert numbers.loads(b'{"a": [1, {"n": ' + text + b"}]}") == {"a": [1, {"n": value}]}


def test_loads_refuses_what_orjson_refuses():
    for bad in (b'{"n": 12345678901234567890123', b"[NaN, 12345678901234567890123]", b"\xff"):
        with pytest.raises(orjson.JSONDecodeError):
            numbers.loads(bad)


def test_a_long_document_is_searched_in_pieces_without_missing_a_run_across_them():
    filler = b" " * ((1 << 20) - 10)
    assert numbers.loads(b"[" + filler + b"123456789012345678901234567890]") == [
        "123456789012345678901234567890"
    ]


def test_dumps_writes_them_as_text_and_leaves_the_rest_alone():
    value = {"n": HUGE, "l": [2**64, -(2**63) - 1, 1, 2**64 - 1], "s": "x", "big": 10**5000}
    assert orjson.loads(numbers.dumps(value)) == {
        "n": str(HUGE),
        "l": [str(2**64), str(-(2**63) - 1), 1, 2**64 - 1],
        "s": "x",
        "big": "1" + "0" * 5000,
    }
    plain = {"a": [1, 2]}
    assert numbers.as_text(plain) is plain
    with pytest.raises(TypeError):
        numbers.dumps({"a": {1, 2}})


def test_finalize_makes_them_text_and_refuses_values_json_cannot_hold():
    draft = {"id": "x", "utctimestamp": "2026-11-20T10:00:00Z", "summary": "s", "details": {"n": [HUGE]}}
    assert finalize(draft, received=RECEIVED)["details"] == {"n": [str(HUGE)]}
    draft = {"id": "x", "utctimestamp": "2026-11-20T10:00:00Z", "summary": "s", "details": {"n": {1, 2}}}
    with pytest.raises(InvalidEvent, match="details: Type is not JSON serializable: set"):
        finalize(draft, received=RECEIVED)
