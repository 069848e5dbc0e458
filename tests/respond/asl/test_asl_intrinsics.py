"""The 18 intrinsic functions, through a Pass state's Parameters: good arguments and bad ones."""

import base64
import hashlib
import uuid

import pytest

from asl_support import execute, single
from reynard.respond.errors import DefinitionError

INPUT = {
    "name": "bob",
    "n": 3,
    "items": [1, 2, 2, 3],
    "obj": {"a": 1, "b": {"c": 1}},
    "other": {"b": {"d": 2}, "e": 5},
    "text": '{"k": [1, 2]}',
    "csv": "a,b;;c",
    "flag": True,
    "nul": None,
}


def value(expression, data=None):
    outcome = execute(
        single({"Type": "Pass", "Parameters": {"v.$": expression}}), INPUT if data is None else data
    )
    assert outcome.status == "SUCCEEDED", (outcome.error, outcome.cause)
    return outcome.output["v"]


def failure(expression):
    outcome = execute(single({"Type": "Pass", "Parameters": {"v.$": expression}}), INPUT)
    assert outcome.status == "FAILED"
    return outcome.error, outcome.cause


GOOD = [
    ("States.Format('Hello, {}!', $.name)", "Hello, bob!"),
    ("States.Format('{} has {} items ({}) {}', $.name, $.n, $.flag, $.nul)", "bob has 3 items (true) null"),
    ("States.Format('braces \\{\\} and {}', 'x')", "braces {} and x"),
    ("States.Format('it\\'s {}', $$.Execution.Name)", "it's test-run"),
    ("States.StringToJson($.text)", {"k": [1, 2]}),
    ("States.JsonToString($.obj)", '{"a":1,"b":{"c":1}}'),
    ("States.Array(1, 'two', $.flag, $.obj.a)", [1, "two", True, 1]),
    ("States.Array()", []),
    ("States.ArrayPartition($.items, 3)", [[1, 2, 2], [3]]),
    ("States.ArrayContains($.items, 2)", True),
    ("States.ArrayContains($.items, '2')", False),
    ("States.ArrayRange(1, 9, 2)", [1, 3, 5, 7, 9]),
    ("States.ArrayRange(5, 1, -2)", [5, 3, 1]),
    ("States.ArrayGetItem($.items, 3)", 3),
    ("States.ArrayLength($.items)", 4),
    ("States.ArrayUnique($.items)", [1, 2, 3]),
    ("States.Base64Encode($.name)", base64.b64encode(b"bob").decode()),
    ("States.Base64Decode('Ym9i')", "bob"),
    ("States.Hash($.name, 'SHA-256')", hashlib.sha256(b"bob").hexdigest()),
    ("States.Hash('x', 'MD5')", hashlib.md5(b"x").hexdigest()),
    ("States.JsonMerge($.obj, $.other, false)", {"a": 1, "b": {"d": 2}, "e": 5}),
    ("States.MathAdd($.n, -5)", -2),
    ("States.StringSplit($.csv, ',;')", ["a", "b", "c"]),
    ("States.ArrayLength(States.StringSplit('a b c', ' '))", 3),
    ("States.MathRandom(5, 6)", 5),
]


@pytest.mark.parametrize(("expression", "expected"), GOOD)
def test_intrinsic_values(expression, expected):
    assert value(expression) == expected


def test_math_random_with_a_seed_is_repeatable_and_in_range():
    first = value("States.MathRandom(1, 1000, 42)")
    assert first == value("States.MathRandom(1, 1000, 42)")
    assert 1 <= first < 1000


def test_uuid_is_a_version_4_uuid():
    assert uuid.UUID(value("States.UUID()")).version == 4


BAD = [
    ("States.Format('{} and {}', $.name)", "more {} placeholders"),
    ("States.Format('{}', $.obj)", "strings, numbers, booleans or null"),
    ("States.Format('x', $.name)", "1 values for 0"),
    ("States.StringToJson($.name)", "not JSON"),
    ("States.StringToJson($.n)", "must be string"),
    ("States.ArrayPartition($.items, 0)", "must be positive"),
    ("States.ArrayPartition($.name, 2)", "must be array"),
    ("States.ArrayRange(1, 5, 0)", "cannot be 0"),
    ("States.ArrayRange(0, 2000, 1)", "more than 1000"),
    ("States.ArrayGetItem($.items, 4)", "out of range"),
    ("States.ArrayLength($.obj)", "must be array"),
    ("States.Base64Decode('***')", "not base64"),
    ("States.Hash($.name, 'SHA-3')", "algorithm must be one of"),
    ("States.Hash($.n, 'MD5')", "must be string"),
    ("States.JsonMerge($.obj, $.other, true)", "only the shallow merge"),
    ("States.JsonMerge($.obj, $.items, false)", "must be object"),
    ("States.MathAdd($.name, 1)", "must be integer"),
    ("States.MathAdd(1.5, 1)", None),  # refused at validation: see test_literal_types_are_checked_early
    ("States.MathRandom(5, 5)", "greater than start"),
    ("States.StringSplit($.csv, '')", "delimiter is empty"),
    ("States.ArrayLength($.missing)", "no such value"),
]


@pytest.mark.parametrize(("expression", "message"), [b for b in BAD if b[1]])
def test_wrong_arguments_are_intrinsic_failures(expression, message):
    error, cause = failure(expression)
    assert error == "States.IntrinsicFailure"
    assert message in cause


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("States.Nope(1)", "unknown intrinsic function States.Nope"),
        ("States.ArrayLength()", "takes 1 argument(s), got 0"),
        ("States.MathAdd(1, 2, 3)", "takes 2 argument(s), got 3"),
        ("States.MathRandom(1)", "takes 2 to 3 argument(s)"),
        ("States.UUID(1)", "takes 0 argument(s)"),
        ("States.MathAdd(1.5, 1)", "argument left must be integer, got number"),
        ("States.ArrayLength('abc')", "argument array must be array, got string"),
        ("States.Format('x' 'y')", "expected , or )"),
        ("States.Format('x'", "expected , or )"),
        ("States.Format($.a[)", "expected"),
        ("States.Format('unterminated)", "unterminated string"),
    ],
)
def test_literal_types_are_checked_early(expression, message):
    with pytest.raises(DefinitionError) as raised:
        execute(single({"Type": "Pass", "Parameters": {"v.$": expression}}))
    assert message in str(raised.value)
    assert "S: Parameters.v.$" in str(raised.value)
