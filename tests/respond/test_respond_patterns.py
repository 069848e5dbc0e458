"""EventBridge event patterns: every operator, arrays, nesting, $or, and the patterns EventBridge refuses."""

from __future__ import annotations

import pytest

from reynard.respond.patterns import PatternError, compile_pattern

FINDING = {
    "version": "0",
    "source": "aws.guardduty",
    "detail-type": "GuardDuty Finding",
    "account": "123456789012",
    "region": "us-east-1",
    "resources": [],
    "detail": {
        "type": "CryptoCurrency:EC2/BitcoinTool.B!DNS",
        "severity": 8,
        "title": "EC2 instance querying a Bitcoin domain",
        "resource": {
            "resourceType": "Instance",
            "instanceDetails": {
                "instanceId": "i-0abc",
                "networkInterfaces": [
                    {"privateIpAddress": "10.0.1.5", "publicIp": "54.1.2.3"},
                    {"privateIpAddress": "10.0.2.7"},
                ],
                "tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": "pay"}],
            },
        },
        "service": {"additionalInfo": {"sample": True}, "count": 3, "archived": False},
        "empty": "",
        "nothing": None,
        "ratio": 300.0,
    },
}

CASES = [
    # exact values, nesting, arrays in the pattern (any) and in the event (any element)
    ({"source": ["aws.guardduty"]}, True),
    ({"source": ["aws.ec2", "aws.guardduty"]}, True),
    ({"source": ["AWS.GuardDuty"]}, False),  # exact is case-sensitive
    ({"detail": {"type": ["CryptoCurrency:EC2/BitcoinTool.B!DNS"]}}, True),
    (
        {
            "detail": {
                "resource": {"resourceType": ["Instance"], "instanceDetails": {"instanceId": ["i-0abc"]}}
            }
        },
        True,
    ),
    ({"detail": {"resource": {"resourceType": ["AccessKey"]}}}, False),
    (
        {
            "detail": {
                "resource": {"instanceDetails": {"networkInterfaces": {"privateIpAddress": ["10.0.2.7"]}}}
            }
        },
        True,
    ),
    ({"detail": {"resource": {"instanceDetails": {"tags": {"value": ["pay"]}}}}}, True),
    ({"detail": {"severity": [8]}}, True),
    ({"detail": {"severity": [8.0]}}, False),  # numbers match by their JSON text
    ({"detail": {"ratio": [300]}}, False),
    ({"detail": {"severity": ["8"]}}, False),  # a string is not a number
    ({"detail": {"empty": [""]}}, True),
    ({"detail": {"nothing": [None]}}, True),
    ({"detail": {"service": {"archived": [False]}}}, True),
    ({"detail": {"service": {"additionalInfo": {"sample": [True]}}}}, True),
    ({"detail": {"missing": ["x"]}}, False),  # an absent field matches nothing
    ({"detail": {"resource": ["Instance"]}}, False),  # conditions are on leaves, not objects
    # prefix, suffix, equals-ignore-case
    ({"detail": {"type": [{"prefix": "CryptoCurrency:EC2/"}]}}, True),
    ({"detail": {"type": [{"prefix": "cryptocurrency:"}]}}, False),
    ({"detail": {"type": [{"prefix": {"equals-ignore-case": "cryptocurrency:"}}]}}, True),
    ({"detail": {"type": [{"suffix": "!DNS"}]}}, True),
    ({"detail": {"type": [{"suffix": {"equals-ignore-case": "!dns"}}]}}, True),
    ({"detail-type": [{"equals-ignore-case": "guardduty finding"}]}, True),
    ({"detail": {"severity": [{"prefix": "8"}]}}, False),  # string operators take strings
    # wildcard
    ({"detail": {"type": [{"wildcard": "CryptoCurrency:*/BitcoinTool.*"}]}}, True),
    ({"detail": {"type": [{"wildcard": "*Trojan*"}]}}, False),
    ({"detail": {"title": [{"wildcard": "EC2 instance*"}]}}, True),
    # anything-but, in all its forms
    ({"region": [{"anything-but": "eu-west-1"}]}, True),
    ({"region": [{"anything-but": ["us-east-1", "eu-west-1"]}]}, False),
    ({"detail": {"severity": [{"anything-but": [1, 2]}]}}, True),
    ({"detail": {"severity": [{"anything-but": 8}]}}, False),
    ({"detail": {"type": [{"anything-but": {"prefix": "Trojan:"}}]}}, True),
    ({"detail": {"type": [{"anything-but": {"prefix": "CryptoCurrency"}}]}}, False),
    ({"detail": {"type": [{"anything-but": {"suffix": "!DNS"}}]}}, False),
    ({"region": [{"anything-but": {"equals-ignore-case": ["US-EAST-1"]}}]}, False),
    ({"region": [{"anything-but": {"equals-ignore-case": "eu-west-1"}}]}, True),
    ({"region": [{"anything-but": {"wildcard": "us-*"}}]}, False),
    ({"region": [{"anything-but": {"wildcard": ["eu-*", "ap-*"]}}]}, True),
    ({"detail": {"missing": [{"anything-but": "x"}]}}, False),  # needs the field
    # numeric ranges
    ({"detail": {"severity": [{"numeric": [">=", 7]}]}}, True),
    ({"detail": {"severity": [{"numeric": [">", 0, "<=", 5]}]}}, False),
    ({"detail": {"severity": [{"numeric": ["=", 8]}]}}, True),
    ({"detail": {"service": {"count": [{"numeric": [">", 1, "<", 4]}]}}}, True),
    ({"detail": {"type": [{"numeric": [">", 0]}]}}, False),
    # cidr
    (
        {
            "detail": {
                "resource": {
                    "instanceDetails": {"networkInterfaces": {"privateIpAddress": [{"cidr": "10.0.2.0/24"}]}}
                }
            }
        },
        True,
    ),
    (
        {
            "detail": {
                "resource": {"instanceDetails": {"networkInterfaces": {"publicIp": [{"cidr": "10.0.0.0/8"}]}}}
            }
        },
        False,
    ),
    # exists
    ({"detail": {"service": {"count": [{"exists": True}]}}}, True),
    ({"detail": {"nothing": [{"exists": True}]}}, True),  # null is present
    ({"detail": {"missing": [{"exists": False}]}}, True),
    ({"detail": {"service": {"count": [{"exists": False}]}}}, False),
    # $or
    ({"$or": [{"source": ["aws.ec2"]}, {"detail": {"severity": [{"numeric": [">=", 7]}]}}]}, True),
    ({"detail": {"$or": [{"type": [{"prefix": "Trojan"}]}, {"severity": [1]}]}}, False),
    # the workshop's rule
    (
        {
            "source": ["aws.guardduty"],
            "detail-type": ["GuardDuty Finding"],
            "detail": {
                "type": ["CryptoCurrency:EC2/BitcoinTool.B!DNS"],
                "resource": {"resourceType": ["Instance"]},
                "severity": [{"numeric": [">=", 7]}],
            },
        },
        True,
    ),
]


@pytest.mark.parametrize(("pattern", "expected"), CASES)
def test_pattern(pattern, expected):
    assert compile_pattern(pattern).matches(FINDING) is expected


REFUSED = [
    ({}, "a pattern is a non-empty JSON object"),
    ({"source": "aws.guardduty"}, "source: a field's conditions are a list"),
    ({"source": []}, "source: an empty list matches nothing"),
    ({"detail": {}}, "detail: an empty object matches nothing"),
    ({"detail": {"severity": [{"numeric": [">>", 7]}]}}, "detail.severity[0].numeric: numeric operator '>>'"),
    ({"detail": {"severity": [{"numeric": [">", 6e9]}]}}, "within ±5e9"),
    ({"detail": {"severity": [{"numeric": [">"]}]}}, "one or two [operator, number] pairs"),
    ({"ip": [{"cidr": "10.0.0.0/33"}]}, 'ip[0].cidr: cidr "10.0.0.0/33" is not a network'),
    ({"t": [{"wildcard": "a**b"}]}, "two * in a row"),
    ({"t": [{"exists": "yes"}]}, "exists takes true or false"),
    ({"t": [{"prefix": 5}]}, "prefix takes a string"),
    ({"t": [{"anything-but": {"numeric": [">", 1]}}]}, "anything-but cannot take 'numeric'"),
    ({"t": [{"regex": "a.*"}]}, "t[0]: unknown operator 'regex'"),
    ({"t": [{"prefix": "a", "suffix": "b"}]}, "one operator"),
    ({"$or": [{"a": ["x"]}]}, "$or: $or takes a list of at least two patterns"),
    ({"t": [[1]]}, "not a value EventBridge matches"),
]


@pytest.mark.parametrize(("pattern", "message"), REFUSED)
def test_refused_patterns_name_the_place(pattern, message):
    with pytest.raises(PatternError) as caught:
        compile_pattern(pattern)
    assert message in str(caught.value)


def test_wildcard_escapes_a_literal_star():
    pattern = compile_pattern({"k": [{"wildcard": "a\\*b*"}]})
    assert pattern.matches({"k": "a*bcd"}) and not pattern.matches({"k": "axbcd"})
