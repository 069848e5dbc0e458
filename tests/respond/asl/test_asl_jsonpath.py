"""JSONPath as Step Functions evaluates it: definite paths give the value itself, indefinite ones a list."""

import pytest

from reynard.respond.asl import jsonpath

DOC = {
    "r": [{"who": "bob", "n": 1}, {"who": "ann", "n": 2}, {"who": "eve", "n": 3}],
    "tags": ["a", "b", "c"],
    "deep": {"x": {"id": 7}, "y": [{"id": 8}]},
    "odd key": 1,
    "nul": None,
}

SELECT = [
    ("$", DOC),
    ("$.r[0].who", "bob"),  # definite: the value, not ["bob"]
    ("$.tags[1]", "b"),
    ("$['odd key']", 1),
    ('$["tags"][2]', "c"),
    ("$.tags[-1]", "c"),
    ("$.nul", None),
    ("$.deep.x.id", 7),
    ("$.r[*].who", ["bob", "ann", "eve"]),
    ("$.tags[*]", ["a", "b", "c"]),
    ("$.deep.*", [{"id": 7}, [{"id": 8}]]),
    ("$.tags[0:2]", ["a", "b"]),
    ("$.tags[::2]", ["a", "c"]),
    ("$.tags[0,2]", ["a", "c"]),
    ("$.r[0]['who','n']", ["bob", 1]),
    ("$..id", [7, 8]),
    ("$.r[?(@.n > 1)].who", ["ann", "eve"]),
    ("$.r[?(@.n >= 2 && @.who != 'eve')].who", ["ann"]),
    ("$.r[?(@.who == 'bob' || @.n == 3)].n", [1, 3]),
    ("$.r[?(!(@.n < 3))].who", ["eve"]),
    ("$.r[?(@.who =~ /A.*/i)].n", [2]),
    ("$.r[?(@.who in ['ann', 'eve'])].n", [2, 3]),
    ("$.r[?(@.who nin ['ann'])].n", [1, 3]),
    ("$.r[?(@.missing)]", []),
    ("$.r[?(@.n == '1')]", []),  # a string is never equal to a number
    ("$.r[?(@.n < $.deep.x.id)].n", [1, 2, 3]),
    ("$.r[9:]", []),
    ("$.nothing[*]", []),  # indefinite and empty: an empty list, not an error
]


@pytest.mark.parametrize(("path", "expected"), SELECT)
def test_select(path, expected):
    assert jsonpath.select(jsonpath.parse(path), DOC) == expected


@pytest.mark.parametrize(
    ("path", "definite"),
    [
        ("$", True),
        ("$.a.b[0]", True),
        ("$['a']", True),
        ("$.a[*]", False),
        ("$..a", False),
        ("$.a[0:1]", False),
        ("$.a[0,1]", False),
        ("$.a[?(@.x)]", False),
    ],
)
def test_definite(path, definite):
    assert jsonpath.parse(path).definite is definite


@pytest.mark.parametrize("path", ["$.missing", "$.r[5].who", "$.tags.x", "$.r[0].who.deeper"])
def test_a_definite_path_that_finds_nothing_is_an_error(path):
    with pytest.raises(jsonpath.PathNotFound):
        jsonpath.select(jsonpath.parse(path), DOC)


@pytest.mark.parametrize(
    ("path", "root"), [("$.a", "$"), ("$$.Execution.Id", "$$"), ("$name", "name"), ("$name.x[0]", "name")]
)
def test_roots(path, root):
    assert jsonpath.parse(path).root == root


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("a.b", "starts with $"),
        ("$.", "expected a field name"),
        ("$[", "expected *"),
        ("$.a[0", "expected ]"),
        ("$.a.length()", "functions such as length() are not supported"),
        ("$.a[?(@.b == )]", "expected @"),
        ("$.a[1:2:0]", "step cannot be 0"),
        ("$.a[?(@.b =~ 'x')]", "needs a /regex/"),
        ("$['a", "unterminated string"),
    ],
)
def test_syntax_errors_say_what_and_where(path, message):
    with pytest.raises(jsonpath.PathSyntaxError) as raised:
        jsonpath.parse(path)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("path", "document", "expected"),
    [
        ("$", {"a": 1}, "R"),
        ("$.out", {"a": 1}, {"a": 1, "out": "R"}),
        ("$.a", {"a": 1}, {"a": "R"}),
        ("$.x.y.z", {"a": 1}, {"a": 1, "x": {"y": {"z": "R"}}}),
        ("$.l[1]", {"l": [0, 1]}, {"l": [0, "R"]}),
    ],
)
def test_assign_sets_a_copy(path, document, expected):
    before = repr(document)
    assert jsonpath.assign(jsonpath.parse(path), document, "R") == expected
    assert repr(document) == before


@pytest.mark.parametrize(
    ("path", "document"),
    [("$.a", "text"), ("$.a.b", {"a": 5}), ("$.l[3]", {"l": [0]}), ("$.a", [1, 2])],
)
def test_assign_into_something_that_is_not_an_object_fails(path, document):
    with pytest.raises(jsonpath.ResultPathError):
        jsonpath.assign(jsonpath.parse(path), document, "R")
