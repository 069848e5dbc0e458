"""Reynard's Sigma pipeline and backend in detail: logsources, field names, the nodes each value becomes,
regex search semantics, and the errors (with the YAML path the loader turns into a line)."""

from __future__ import annotations

import copy
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sigma.policy.profiles import TrustedPolicy
from sigma.rule import SigmaRule
from sigma.types import SigmaString
from test_sigma_convert import CLOUDTRAIL, LINUX, sigma, sigma_text

from reynard.detect.sigma.backend import convert, search_regex, string_node
from reynard.detect.sigma.errors import SigmaRuleError, SigmaUnsupported
from reynard.detect.sigma.pipeline import map_field, reynard_pipeline
from reynard.query import ast
from reynard.query.anchors import Anchor, anchors
from reynard.query.predicate import compile_predicate


# -- logsources and field names ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "logsource", "path"),
    [
        ("eventName", ("aws", "cloudtrail", None), "details.eventname"),
        ("userIdentity.arn", ("aws", "cloudtrail", None), "details.useridentity.arn"),
        ("requestParameters.bucketName", ("aws", "cloudtrail", None), "details.requestparameters.bucketname"),
        ("additionalEventData.MFAUsed", ("aws", "cloudtrail", None), "details.additionaleventdata.mfaused"),
        ("sourceIPAddress", ("aws", "cloudtrail", None), "details.sourceipaddress"),
        ("details.eventName", ("aws", "cloudtrail", None), "details.eventname"),
        ("summary", ("aws", "cloudtrail", None), "summary"),
        ("type", ("aws", "guardduty", None), "details.type"),
        ("severity", ("aws", "guardduty", None), "details.severity"),
        ("detail.severity", ("aws", "guardduty", None), "details.severity"),
        ("resource.instanceDetails.instanceId", ("aws", "guardduty", None), "details.resource.instancedetails"
         ".instanceid"),
        ("srcaddr", ("aws", "vpcflow", None), "details.sourceipaddress"),
        ("dstport", ("aws", "vpcflow", None), "details.destinationport"),
        ("log-status", ("aws", "vpcflow", None), "details.logstatus"),
        ("interface_id", ("aws", "vpcflow", None), "details.interfaceid"),
        ("type", ("aws", "vpcflow", None), "details.type"),
        ("pkt-srcaddr", ("aws", "vpcflow", None), "details.pktsrcaddr"),
        ("severity", ("aws", "vpcflow", None), "severity"),
        ("pam_user", ("linux", "sshd", None), "details.username"),
        ("pam_rhost", ("linux", "auth", None), "details.sourceipaddress"),
        ("username", ("linux", None, None), "details.username"),
        ("message", ("linux", "syslog", None), "summary"),
        ("processname", ("linux", "syslog", None), "processname"),
    ],
)  # fmt: skip
def test_map_field(name, logsource, path):
    assert map_field(name, logsource) == path


def test_map_field_refuses_what_has_no_equivalent():
    with pytest.raises(SigmaUnsupported, match="'CommandLine' has no equivalent in Reynard's syslog events"):
        map_field("CommandLine", ("linux", None, None))
    with pytest.raises(SigmaUnsupported, match="no events for logsource product windows"):
        map_field("Image", ("windows", None, "process_creation"))


def test_each_logsource_selects_its_events():
    def events_of(logsource: str) -> tuple[ast.Node, ...]:
        query = convert(sigma(logsource, "sel:\n  hostname: web1\ncondition: sel"))
        assert query.must[-1] == ast.Term("hostname", "web1", True)
        return query.must[:-1]

    assert events_of("{product: aws, service: cloudtrail}") == (ast.Term("source", "cloudtrail"),)
    assert events_of("{product: aws, service: guardduty}") == (ast.Term("source", "guardduty"),)
    assert events_of("{product: aws, service: vpcflow}") == (ast.Term("source", "vpcflow"),)
    assert events_of("{product: linux}") == (ast.Term("source", "syslog"),)
    assert events_of("{product: linux, service: syslog}") == (ast.Term("source", "syslog"),)
    assert events_of("{product: linux, service: sshd, definition: auth.log}") == (
        ast.Term("source", "syslog"),
        ast.Terms("processname", ("sshd", "sshd-session")),
    )


def test_a_converted_rule_has_an_anchor_for_the_streaming_matcher():
    rule = sigma(CLOUDTRAIL, "sel:\n  eventName: [ConsoleLogin, CheckMfa]\n  errorCode: null\ncondition: sel")
    assert set(anchors(convert(rule))) == {
        Anchor("source", frozenset({"cloudtrail"})),
        Anchor("details.eventname", frozenset({"consolelogin", "checkmfa"}), True),
    }


def test_convert_leaves_the_rule_as_it_was():
    rule = sigma(CLOUDTRAIL, "sel:\n  eventName: ConsoleLogin\n  userName|expand: '%admins%'\ncondition: sel")
    before = copy.deepcopy(rule.detection.detections)
    convert(rule, {"admins": ["alice"]})
    assert rule.detection.detections == before
    assert rule.detection.detections["sel"].detection_items[0].field == "eventName"


def test_the_pipeline_is_a_pysigma_pipeline_with_placeholders_as_vars():
    pipeline = reynard_pipeline({"admins": ["alice", "bob"], "one": "root"})
    assert pipeline.vars == {"admins": ["alice", "bob"], "one": ["root"]}
    assert [item.identifier for item in pipeline.items] == [
        "reynard_placeholders",
        "reynard_fields_aws_cloudtrail",
        "reynard_fields_aws_guardduty",
        "reynard_fields_aws_vpcflow",
        "reynard_fields_linux",
    ]


# -- values to nodes ----------------------------------------------------------------------------------
F = "details.x"


@pytest.mark.parametrize(
    ("text", "node"),
    [
        ("abc", ast.Term(F, "abc", True)),
        ("abc*", ast.Prefix(F, "abc", True)),
        ("*abc", ast.Suffix(F, "abc", True)),
        ("*abc*", ast.Contains(F, "abc", True)),
        ("*", ast.Contains(F, "", True)),
        ("a*c", ast.Wildcard(F, "a*c", True)),
        ("a?c*", ast.Wildcard(F, "a?c*", True)),
        ("*a*c*", ast.Wildcard(F, "*a*c*", True)),
        ("a\\*c", ast.Term(F, "a*c", True)),
        ("a\\?c*", ast.Prefix(F, "a?c", True)),
        ("*a\\*c", ast.Suffix(F, "a*c", True)),
        ("a\\*b*c", ast.Regex(F, r"a\*b[\s\S]*c", True)),
        ("a\\?b?", ast.Regex(F, r"a\?b[\s\S]", True)),
        ("C:\\Windows\\*", ast.Term(F, "C:\\Windows*", True)),
        ("C:\\Windows\\\\*", ast.Prefix(F, "C:\\Windows\\", True)),
    ],
)
def test_string_values(text, node):
    assert string_node(F, SigmaString(text), True) == node


@pytest.mark.parametrize(
    ("text", "node"),
    [
        ("root", ast.Wildcard("summary", "root", False)),
        ("what?", ast.Regex("summary", r"what\?", False)),
        ("fail*", ast.Prefix("summary", "fail", False)),
    ],
)
def test_equality_on_summary_is_the_whole_line(text, node):
    assert string_node("summary", SigmaString(text.replace("?", "\\?")), False) == node


@pytest.mark.parametrize(
    ("modifiers", "value", "node"),
    [
        ("|base64", "abc", ast.Term(F, "YWJj", False)),
        ("|base64|contains", "abc", ast.Contains(F, "YWJj", False)),
        ("|wide", "cmd", ast.Term(F, "c\x00m\x00d\x00", True)),
        ("|utf16le", "cmd", ast.Term(F, "c\x00m\x00d\x00", True)),
        ("|utf16be", "cmd", ast.Term(F, "\x00c\x00m\x00d", True)),
        ("|utf16", "cmd", ast.Term(F, "\ufeffc\x00m\x00d\x00", True)),
        ("|wide|base64", "cmd", ast.Term(F, "YwBtAGQA", False)),
        ("|utf16|base64", "cmd", ast.Term(F, "//5jAG0AZAA=", False)),
        (
            "|base64offset|contains",
            "abc",
            ast.Bool(should=tuple(ast.Contains(F, text, False) for text in ("YWJj", "FiY", "hYm"))),
        ),
        (
            "|windash|contains",
            " -c",
            ast.Bool(should=tuple(ast.Contains(F, f" {dash}c", True) for dash in "-/\u2013\u2014\u2015")),
        ),
        ("|gt", 5, ast.Range(F, gt=5)),
        ("|gte", 5.5, ast.Range(F, gte=5.5)),
        ("|lt", -1, ast.Range(F, lt=-1)),
        ("|lte", 0, ast.Range(F, lte=0)),
        ("|cidr", "10.0.0.0/8", ast.Cidr(F, "10.0.0.0/8")),
        ("|exists", True, ast.Exists(F)),
        ("|exists", False, ast.Bool(must_not=(ast.Exists(F),))),
        ("", None, ast.Bool(must_not=(ast.Exists(F),))),
        ("", 22, ast.Term(F, 22)),
        ("", 1.5, ast.Term(F, 1.5)),
        ("", True, ast.Term(F, True)),
        ("|neq", "a", ast.Bool(must_not=(ast.Term(F, "a", True),))),
        ("|fieldref", "y", ast.FieldRef(F, "details.y", True)),
        ("|cased|fieldref", "y", ast.FieldRef(F, "details.y", False)),
        ("|minute", 5, ast.TimePart(F, "minute", 5)),
        ("|week", 53, ast.TimePart(F, "week", 53)),
        ("|re", "a.b", ast.Regex(F, r"[\s\S]*?(?:a.b)[\s\S]*")),
        ("|re|i|m|s", "^a", ast.Regex(F, r"[\s\S]*?(?:^a)[\s\S]*", True, True, True)),
    ],
)  # fmt: skip
def test_modifiers(modifiers, value, node):
    detection = {"sel": {f"x{modifiers}": value}, "condition": "sel"}
    rule = SigmaRule.from_dict(
        {"title": "t", "logsource": {"product": "aws", "service": "cloudtrail"}, "detection": detection}
    )
    query = convert(rule)
    assert query == ast.Bool(must=(ast.Term("source", "cloudtrail"), node))


# -- regex search semantics ---------------------------------------------------------------------------
PATTERNS = ["a", "^a", "a$", "^a$", "b|^a", r"\Aab", r"b\Z", "(?i)AB", "(?im)^b$", "a.b", "a+", "", "$", "^",
            r"\bab\b", "(a|a)*b", "(a+)+b"]  # fmt: skip
VALUES = ["", "a", "ab", "ba", "aab", "abb", "a\nb", "b\na", "x ab y", "AB", "a\n", "bab"]


@given(st.sampled_from(PATTERNS), st.sampled_from(VALUES), st.booleans(), st.booleans(), st.booleans())
def test_regex_matches_where_a_search_finds_the_pattern(pattern, value, ci, multiline, dotall):
    flags = (re.I if ci else 0) | (re.M if multiline else 0) | (re.S if dotall else 0)
    node = ast.Regex("details.x", search_regex(pattern), ci, multiline, dotall)
    # Regexes run on RE2, whose `$` (not multiline) is the very end of the value: Python's `\Z`.
    python = pattern if multiline or "(?im)" in pattern else pattern.replace("$", r"\Z")
    expected = re.search(python, value, flags) is not None
    assert compile_predicate(node)({"details": {"x": value}}) == expected


@pytest.mark.parametrize(
    ("pattern", "construct"),
    [
        ("(?<=a)b", "lookbehind (?<=...)"),
        ("a(?!b)", "negative lookahead (?!...)"),
        ("(a)(b)\\2", "backreference \\2"),
        ("(?P<x>a)(?P=x)", "named backreference (?P=name)"),
        ("(?x) a  b # a comment", "verbose flag (?x)"),
        ("a++", "possessive repeat ++"),
    ],
)
def test_a_regex_re2_cannot_run_is_unsupported_naming_the_construct(pattern, construct):
    # Read with Python's regex engine (pySigma's TrustedPolicy), so that the conversion is what refuses it
    # (the loader's policy refuses it already: test_sigma_loader.py).
    text = sigma_text(CLOUDTRAIL, f"selection:\n  userAgent|re: '{pattern}'\ncondition: selection")
    rule = SigmaRule.from_yaml(text, policy=TrustedPolicy)
    with pytest.raises(SigmaUnsupported) as raised:
        convert(rule)
    assert raised.value.yaml_path == "detection.selection.userAgent|re"
    assert f"{construct} is not supported" in raised.value.message


# -- errors, with their YAML paths --------------------------------------------------------------------
ERRORS = [
    ("{product: windows, category: process_creation}", "sel:\n  Image: x\ncondition: sel", SigmaUnsupported,
     "logsource", "Reynard has no events for logsource product windows, category process_creation"),
    ("{product: linux, category: process_creation}", "sel:\n  Image: x\ncondition: sel", SigmaUnsupported,
     "logsource", "Reynard has no process_creation events for product linux"),
    ("{product: linux, service: auditd}", "sel:\n  type: EXECVE\ncondition: sel", SigmaUnsupported,
     "logsource", "no events for logsource product linux, service auditd"),
    ("{product: aws, service: s3}", "sel:\n  x: 1\ncondition: sel", SigmaUnsupported, "logsource",
     "product aws, service s3"),
    (CLOUDTRAIL, "selection:\n  eventName|re: '" + "a" * 1001 + "'\ncondition: selection", SigmaRuleError,
     "detection.selection.eventName|re", "regular expression is 1001 characters, more than 1000"),
    (CLOUDTRAIL, "selection:\n  - eventName: x\n  - userAgent|re|i: 'a\\Cb'\ncondition: selection",
     SigmaUnsupported, "detection.selection[1].userAgent|re|i",
     "regular expression 'a\\\\Cb': single byte \\C is not supported"),
    (CLOUDTRAIL, "keywords:\n  '|re': 'x\\C'\ncondition: keywords", SigmaUnsupported,
     "detection.keywords.|re", "single byte \\C is not supported"),
    (CLOUDTRAIL, "selection: {eventName: x, userIdentity.userName|expand: '%admins%'}\ncondition: selection",
     SigmaUnsupported, "detection.selection.userIdentity.userName|expand",
     "placeholder %admins% is not defined (set it in the sigma_placeholders setting)"),
    (LINUX, "selection:\n  CommandLine|contains: wget\ncondition: selection", SigmaUnsupported,
     "detection.selection.CommandLine|contains",
     "field 'CommandLine' has no equivalent in Reynard's syslog events"),
    (LINUX, "selection:\n  user|fieldref: Image\ncondition: selection", SigmaUnsupported,
     "detection.selection.user|fieldref", "field 'Image' has no equivalent"),
    (CLOUDTRAIL, "selection: {userName|fieldref|contains: eventName}\ncondition: selection", SigmaUnsupported,
     "detection.selection.userName|fieldref|contains", "fieldref with startswith, endswith or contains"),
    (CLOUDTRAIL, "keywords:\n  - true\ncondition: keywords", SigmaRuleError, "detection.keywords",
     "a Bool value needs a field"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("logsource", "detection", "error", "path", "message"),
    ERRORS,
    ids=[e[3] + ": " + e[4][:40] for e in ERRORS],
)
def test_errors_name_the_yaml_path(logsource, detection, error, path, message):
    with pytest.raises(error) as raised:
        convert(sigma(logsource, detection))
    assert raised.value.yaml_path == path
    assert message in raised.value.message
    assert str(raised.value).startswith(f"{path}: ")


def test_a_placeholder_with_no_values_is_refused():
    rule = sigma(CLOUDTRAIL, "sel:\n  userName|expand: '%admins%'\ncondition: sel")
    with pytest.raises(SigmaUnsupported, match="placeholder %admins% has no values") as raised:
        convert(rule, {"admins": []})
    assert raised.value.yaml_path == "detection.sel.userName|expand"


def test_errors_can_be_located_in_a_file():
    with pytest.raises(SigmaRuleError) as raised:
        convert(sigma(CLOUDTRAIL, "selection:\n  eventName|re: 'a\\Cb'\ncondition: selection"))
    located = raised.value.located(file="rules/x.yml", line=7)
    assert str(located).startswith("rules/x.yml:7: detection.selection.eventName|re: regular expression")
