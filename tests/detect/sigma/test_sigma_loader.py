"""Loading Sigma files: every YAML document gets an outcome (loaded, unsupported, invalid); every
problem names the file, the line and the YAML path; the other rules load on."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from paths import REPO
from reynard.cli import main
from reynard.detect.sigma.loader import load
from reynard.detect.sigma.model import CorrelationRule, DetectionRule, Threshold

SHIPPED = REPO / "src" / "reynard" / "detect" / "sigma" / "rules"

GOOD = """\
title: CloudTrail logging stopped
id: 11111111-2222-4333-8444-555555555555
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventName: StopLogging
    condition: selection
level: high
"""

# One document per problem the issue names, each with the line and YAML path it must be reported at.
BAD = [
    (
        "unknown modifier",
        "detection:\n    selection:\n        eventName|foo: StopLogging\n    condition: selection\n",
        "invalid",
        "line 7: detection.selection.eventName|foo: Unknown modifier 'foo'",
    ),
    (
        "condition naming a missing selection",
        "detection:\n    selection:\n        eventName: StopLogging\n"
        "    condition: selection and not filter\n",
        "invalid",
        "line 8: detection.condition: Detection 'filter' not defined in detections",
    ),
    (
        "regex the engine cannot run",
        "detection:\n    selection:\n        userIdentity.arn|re: 'arn:(aws'\n    condition: selection\n",
        "invalid",
        "line 7: detection.selection.userIdentity.arn|re: Regular expression 'arn:(aws' is invalid",
    ),
    (
        "regex with a construct RE2 cannot run",
        "detection:\n    selection:\n        userAgent|re: '(?<=curl)/7'\n    condition: selection\n",
        "unsupported",
        "line 7: detection.selection.userAgent|re: regular expression '(?<=curl)/7': lookbehind (?<=...)",
    ),
]


def document(title: str, body: str, logsource: str = "    product: aws\n    service: cloudtrail\n") -> str:
    return f"title: {title}\nlogsource:\n{logsource}{body}"


def test_the_shipped_rules_load():
    result = load([SHIPPED])
    assert [o.status for o in result.outcomes] == ["loaded"] * len(result.outcomes)
    rules = {r.meta.title: r for r in result.rules}
    multiple = rules["AWS principal calling from several addresses"]
    assert isinstance(multiple, CorrelationRule)
    assert multiple.type == "value_count"
    assert multiple.timespan == timedelta(minutes=60)
    assert multiple.threshold == Threshold((("gte", 2.0),))
    (key,) = multiple.rules
    assert multiple.group_by == {key: ("details.useridentity.arn",)}
    assert multiple.value_field[key].startswith("details.sourceipaddress")
    base = rules["AWS API call from an address"]
    assert isinstance(base, DetectionRule) and base.meta.key == key
    assert base.meta.generates is False  # only the correlation uses it
    assert rules["S3 bucket or account opened to the public"].meta.generates is True
    assert rules["New S3 bucket made public"].type == "temporal_ordered"
    assert rules["SSH from outside"].group_by[rules["Accepted SSH flow from outside"].meta.key] == (
        "details.sourceipaddress",
    )


@pytest.mark.parametrize(("what", "body", "status", "detail"), BAD, ids=[b[0] for b in BAD])
def test_each_problem_names_the_file_line_and_yaml_path(tmp_path, what, body, status, detail):
    path = tmp_path / "rules.yml"
    path.write_text(GOOD + "---\n" + document(what, body) + "---\n" + GOOD.replace("1111", "9999"))
    result = load([path])
    first, bad, last = result.outcomes
    assert (first.status, last.status) == ("loaded", "loaded")  # the others load on
    assert bad.status == status
    assert bad.document == 1
    offset = GOOD.count("\n") + 1  # the document starts after the first one and its "---"
    local, rest = detail.split(": ", 1)
    assert bad.detail.startswith(f"line {int(local.removeprefix('line ')) + offset}: {rest}"), bad.detail
    assert bad.reason.startswith(f"{path}:{bad.error.line}: ")


def test_invalid_yaml_an_unsupported_logsource_and_a_missing_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "broken.yaml").write_text("title: broken\ndetection:\n  selection: [\n")
    (tmp_path / "windows.yml").write_text(
        document(
            "Windows",
            "detection:\n    selection:\n        Image|endswith: '\\\\cmd.exe'\n    condition: selection\n",
            logsource="    product: windows\n    category: process_creation\n",
        )
    )
    (tmp_path / "good.yml").write_text(GOOD)
    result = load([tmp_path, tmp_path / "nope.yml"])
    by_file = {Path(o.file).name: o for o in result.outcomes}
    assert by_file["nope.yml"].status == "invalid" and "no such file" in by_file["nope.yml"].reason
    broken = by_file["broken.yaml"]
    assert broken.status == "invalid" and broken.detail.startswith("line 4: invalid YAML: ")
    windows = by_file["windows.yml"]
    assert windows.status == "unsupported"
    assert windows.detail.startswith("line 2: logsource: Reynard has no events for logsource product windows")
    assert by_file["good.yml"].status == "loaded"


def test_a_correlation_referencing_an_unknown_rule(tmp_path):
    correlation = (
        "title: Burst\ncorrelation:\n    type: event_count\n    rules:\n"
        "        - 11111111-2222-4333-8444-555555555555\n        - no_such_rule\n"
        "    group-by:\n        - userIdentity.arn\n    timespan: 10m\n    condition:\n        gte: 2\n"
    )
    (tmp_path / "base.yml").write_text(GOOD)
    (tmp_path / "burst.yml").write_text(correlation)
    outcomes = {Path(o.file).name: o for o in load([tmp_path]).outcomes}
    assert outcomes["base.yml"].status == "loaded"
    assert outcomes["burst.yml"].status == "invalid"
    assert outcomes["burst.yml"].detail == (
        "line 6: correlation.rules[1]: Rule 'no_such_rule' not found in rule collection"
    )


def test_correlations_reference_rules_of_other_files_by_name_and_id(tmp_path):
    (tmp_path / "a.yml").write_text(GOOD.replace("title: CloudTrail", "name: stopped\ntitle: CloudTrail"))
    (tmp_path / "b.yml").write_text(
        "title: Stopped twice\ncorrelation:\n    type: event_count\n    rules: [stopped]\n"
        "    group-by: [userIdentity.arn]\n    timespan: 1h\n    condition: {gte: 2}\n"
    )
    rules = {r.meta.title: r for r in load([tmp_path]).rules}
    assert rules["Stopped twice"].rules == ("11111111-2222-4333-8444-555555555555",)
    assert rules["CloudTrail logging stopped"].meta.generates is False


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_sigma_check_prints_a_table_and_exits_1_on_invalid_rules(tmp_path):
    (tmp_path / "good.yml").write_text(GOOD)
    ok = run("sigma", "check", str(tmp_path))
    assert ok.exit_code == 0, ok.output
    assert "CloudTrail logging stopped" in ok.stdout and "loaded" in ok.stdout
    (tmp_path / "bad.yml").write_text(document(*BAD[0][:2]))
    bad = run("sigma", "check", "--format", "json", str(tmp_path))
    assert bad.exit_code == 1
    rows = [json.loads(line) for line in bad.stdout.splitlines()]
    assert [(Path(r["file"]).name, r["status"]) for r in rows] == [
        ("bad.yml", "invalid"),
        ("good.yml", "loaded"),
    ]
    assert rows[0]["reason"].endswith("detection.selection.eventName|foo: Unknown modifier 'foo'")
    assert rows[1]["id"] == "11111111-2222-4333-8444-555555555555" and rows[1]["kind"] == "detection"


def test_an_extended_temporal_condition_is_unsupported_not_a_crash(tmp_path):
    (tmp_path / "ext.yml").write_text(
        "title: Extended\ncorrelation:\n  type: temporal\n  rules: [rule_a, rule_b]\n"
        "  group-by: [userIdentity.arn]\n  timespan: 10m\n  condition: rule_a and not rule_b\n---\n"
        + GOOD.replace("title: CloudTrail", "name: rule_a\ntitle: CloudTrail")
        + "---\n"
        + GOOD.replace("title: CloudTrail", "name: rule_b\ntitle: CloudTrail").replace("1111", "2222")
    )
    extended, a, b = load([tmp_path]).outcomes
    assert (a.status, b.status) == ("loaded", "loaded")
    assert extended.status == "unsupported"
    assert extended.detail.startswith("line 7: correlation.condition: a condition over the referenced rules")
