"""Runbooks: the file format and its errors (file and line), loading and user overrides, which runbook
applies (the precedence), and the shipped set: every runbook loads, every built-in and shipped Sigma
rule has one, and the commands in them are ones Reynard accepts."""

from __future__ import annotations

import re
import shlex
import textwrap
from pathlib import Path

import pytest

from reynard.cases.runbook_file import SECTIONS, RunbookError, missing_sections, parse_runbook
from reynard.cases.runbooks import (
    SHIPPED_DIR,
    RunbookLibrary,
    load_runbooks,
    read_folder,
    suggester,
    user_dir,
)
from reynard.detect.rules import BUILTIN_RULES
from reynard.detect.sigma import catalog
from reynard.detect.sigma.loader import load
from reynard.query.lucene import parse_query
from reynard.runtime import Runtime
from reynard.settings import Settings, load_settings

SIGMA_RULES = Path(catalog.__file__).parent / "rules"

GOOD = """\
---
title: Test runbook
urgency: high
rules: [rule_a]
escalation:
  - name: SOC
    role: triage
    reach: "PagerDuty: soc"
---
## Problem
Something.
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(textwrap.dedent(text))
    return path


def runbook_text(**front: str) -> str:
    """A valid runbook whose front matter lines are `key: value` as given (title and urgency default)."""
    front = {"title": "T", "urgency": "low", **front}
    lines = "".join(f"{k}: {v}\n" for k, v in front.items())
    return f"---\n{lines}---\n## Problem\nbody\n"


# -- the format -------------------------------------------------------------------------------------------
def test_a_runbook_parses_with_every_key():
    text = """\
    ---
    title: Crypto
    summary: An instance mines.
    rules: [a, b, a]
    categories: [guardduty]
    finding_types: ["CryptoCurrency:EC2/*", CryptoCurrency:EC2/BitcoinTool.B]
    urgency: Critical
    escalation:
      - {name: IR, role: commander, reach: "PagerDuty: ir", when: at once}
      - {name: Owner, role: owner, reach: chat}
    playbook: guardduty_crypto_mining.asl.json
    mitre_attack: [T1496, T1078.004]
    ---
    ## Problem
    text
    """
    runbook = parse_runbook(textwrap.dedent(text), "x/crypto.md")
    assert runbook.name == "crypto"
    assert runbook.urgency == "critical"
    assert runbook.rules == ("a", "b")  # repeats dropped, order kept
    assert runbook.finding_types == ("CryptoCurrency:EC2/*", "CryptoCurrency:EC2/BitcoinTool.B")
    assert [c.name for c in runbook.escalation] == ["IR", "Owner"]
    assert runbook.escalation[0].when == "at once" and runbook.escalation[1].when is None
    assert runbook.playbook == "guardduty_crypto_mining.asl.json"
    assert runbook.body == "## Problem\ntext\n"
    assert runbook.front_matter()["escalation"][0] == {
        "name": "IR",
        "role": "commander",
        "reach": "PagerDuty: ir",
        "when": "at once",
    }


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (runbook_text(urgncy="low"), 4, "unknown key 'urgncy'"),
        (runbook_text(rules="ssh_bruteforce"), 4, "'rules' must be a list of strings"),
        (runbook_text(rules="[a, 3]"), 4, "'rules': each item must be a non-empty string"),
        ("---\nurgency: low\n---\nbody\n", 2, "missing 'title'"),
        ("---\ntitle: T\n---\nbody\n", 2, "missing 'urgency'"),
        (runbook_text(urgency="urgent"), 3, "'urgency' must be one of critical, high, medium, low"),
        (runbook_text(title="''"), 2, "'title' must be a non-empty string"),
        (runbook_text(playbook="../x.json"), 4, "without folders"),
        (runbook_text(mitre_attack="[Discovery]"), 4, "not a MITRE ATT&CK technique id"),
        (runbook_text(finding_types='["Recon:EC2/**"]'), 4, "finding type"),
        ("---\ntitle: T\ntitle: U\nurgency: low\n---\nbody\n", 3, "'title' is given twice"),
        ("---\ntitle: [T\nurgency: low\n---\nbody\n", 3, "invalid YAML"),
        ("---\n- a\n- b\n---\nbody\n", 2, "must be a mapping"),
        ("---\n---\nbody\n", 2, "the front matter is empty"),
        ("# no front matter\n", 1, "no front matter"),
        ("---\ntitle: T\nurgency: low\n", 1, "not closed"),
    ],
)
def test_bad_front_matter_is_one_error_naming_file_and_line(text, line, message):
    with pytest.raises(RunbookError) as caught:
        parse_runbook(text, "rb/bad.md")
    error = caught.value
    assert (error.path, error.line) == ("rb/bad.md", line)
    assert message in error.message
    assert str(error).startswith(f"rb/bad.md:{line}: ")


def test_escalation_contacts_are_checked_with_their_line():
    contacts = "\n  - name: A\n    role: r\n    reach: x\n  - name: B\n    role: r\n    phone: 1"
    with pytest.raises(RunbookError) as caught:
        parse_runbook(runbook_text(escalation=contacts), "rb/esc.md")
    assert caught.value.line == 10
    assert "unknown key 'phone'" in caught.value.message
    with pytest.raises(RunbookError, match=r"rb/esc\.md:5: escalation contact: missing 'reach'"):
        parse_runbook(runbook_text(escalation="\n  - {name: A, role: r}"), "rb/esc.md")
    with pytest.raises(RunbookError, match="'escalation' must be a list of contacts"):
        parse_runbook(runbook_text(escalation="someone"), "rb/esc.md")


def test_empty_body_and_bad_file_names_are_errors():
    with pytest.raises(RunbookError, match="the body is empty"):
        parse_runbook("---\ntitle: T\nurgency: low\n---\n\n", "rb/empty.md")
    with pytest.raises(RunbookError, match="runbook name 'Bad Name'"):
        parse_runbook(runbook_text(), "rb/Bad Name.md")


def test_missing_sections_reads_headings_outside_code_blocks():
    body = "## Problem\n```sh\n# Contain this\n```\n## Data to gather\n### Contain\n"
    runbook = parse_runbook(f"---\ntitle: T\nurgency: low\n---\n{body}", "rb/x.md")
    assert missing_sections(runbook) == [
        s for s in SECTIONS if s not in ("Problem", "Data to gather", "Contain")
    ]


# -- loading and overrides --------------------------------------------------------------------------------
def test_a_folder_reports_bad_files_and_keeps_the_good_ones(tmp_path):
    write(tmp_path, "good", GOOD)
    write(tmp_path, "bad", runbook_text(urgncy="low"))
    (tmp_path / "notes.txt").write_text("not a runbook")
    good, bad = read_folder(tmp_path)
    assert [r.name for r in good] == ["good"]
    assert len(bad) == 1
    assert str(bad[0]).startswith(f"{tmp_path / 'bad.md'}:4: unknown key 'urgncy' (did you mean 'urgency'? ")
    assert bad[0].as_dict() == {"path": str(tmp_path / "bad.md"), "line": 4, "message": bad[0].message}


def test_a_user_runbook_overrides_the_shipped_one_of_its_name(tmp_path):
    write(tmp_path, "ssh_bruteforce", GOOD.replace("Test runbook", "Our SSH runbook"))
    write(tmp_path, "our_own", GOOD.replace("rule_a", "our_rule"))
    found = load_runbooks(tmp_path)
    assert found.overridden == ("ssh_bruteforce",)
    mine = found.get("ssh_bruteforce")
    assert mine.title == "Our SSH runbook" and mine.origin == "user"
    assert found.get("our_own").origin == "user"
    assert found.get("root_account_usage").origin == "shipped"
    # the override is what applies: its rules (rule_a), not the shipped one's (ssh_bruteforce)
    assert found.suggest({"rule": "rule_a"}).name == "ssh_bruteforce"
    assert found.match(rules=["ssh_bruteforce"]) is None


def test_a_broken_override_keeps_the_shipped_runbook_and_is_reported(tmp_path):
    write(tmp_path, "ssh_bruteforce", runbook_text(urgency="soon"))
    found = load_runbooks(tmp_path)
    assert found.get("ssh_bruteforce").origin == "shipped"
    assert found.overridden == ()
    assert [p.path for p in found.problems] == [str(tmp_path / "ssh_bruteforce.md")]


def test_a_missing_user_folder_is_empty_and_a_file_in_its_place_is_a_problem(tmp_path):
    assert load_runbooks(tmp_path / "absent").problems == ()
    (tmp_path / "file").write_text("x")
    assert "not a folder" in str(load_runbooks(tmp_path / "file").problems[0])


def test_the_user_folder_comes_from_the_settings(tmp_path):
    assert user_dir(Settings(data_dir=tmp_path)) == tmp_path / "runbooks"
    settings = load_settings(env={"REYNARD_RUNBOOKS_DIR": str(tmp_path / "mine")})
    assert user_dir(settings) == tmp_path / "mine"


def test_the_library_reloads_when_a_file_changes(tmp_path):
    library = RunbookLibrary(tmp_path)
    assert library.current().get("mine") is None
    path = write(tmp_path, "mine", GOOD)
    assert library.current().get("mine").title == "Test runbook"
    first = library.current()
    assert library.current() is first  # nothing changed: nothing parsed again
    path.write_text(GOOD.replace("Test runbook", "Edited title, longer"))
    assert library.current().get("mine").title == "Edited title, longer"
    path.unlink()
    assert library.current().get("mine") is None


# -- precedence -------------------------------------------------------------------------------------------
@pytest.fixture
def ranked(tmp_path):
    """Runbooks that compete for one GuardDuty alert at every step (no shipped ones)."""
    folder = tmp_path / "rb"
    write(folder, "by_rule", runbook_text(rules="[special_rule]"))
    write(folder, "by_type", runbook_text(finding_types='["Backdoor:EC2/Spambot"]'))
    write(folder, "by_family", runbook_text(finding_types='["Backdoor:EC2/*"]'))
    write(folder, "by_any_ec2", runbook_text(finding_types='["*:EC2/*"]'))
    write(folder, "by_anything", runbook_text(finding_types='["*"]'))
    write(folder, "by_category", runbook_text(categories="[GuardDuty]"))
    return load_runbooks(None, shipped=folder)


def alert(rule="guardduty_finding", finding_type="Backdoor:EC2/Spambot", category="guardduty"):
    return {
        "rule": rule,
        "classname": "GuarddutyFinding",
        "category": category,
        "events": [{"documentsource": {"details": {"findingtype": finding_type}}}],
    }


@pytest.mark.parametrize(
    ("given", "expected", "by"),
    [
        (alert(rule="special_rule"), "by_rule", "rule"),
        (alert(), "by_type", "finding_type"),
        (alert(finding_type="backdoor:ec2/SPAMBOT"), "by_type", "finding_type"),  # case-insensitive
        (alert(finding_type="Backdoor:EC2/C&CActivity.B"), "by_family", "finding_type_pattern"),
        (alert(finding_type="Trojan:EC2/DropPoint"), "by_any_ec2", "finding_type_pattern"),
        (alert(finding_type="Policy:IAMUser/RootCredentialUsage"), "by_anything", "finding_type_pattern"),
        ({"rule": "other", "category": "GUARDDUTY"}, "by_category", "category"),
    ],
)
def test_precedence_rule_then_type_then_wildcard_then_category(ranked, given, expected, by):
    found = ranked.suggest_alert(given)
    assert (found.runbook.name, found.by) == (expected, by)


def test_no_runbook_applies(ranked):
    assert ranked.suggest({"rule": "other", "category": "sigma"}) is None
    assert ranked.match() is None


def test_ties_go_to_the_first_runbook_by_name_and_are_reported(tmp_path):
    write(tmp_path, "zeta", runbook_text(rules="[shared]"))
    write(tmp_path, "alpha", runbook_text(rules="[Shared]"))
    found = load_runbooks(None, shipped=tmp_path)
    assert found.suggest({"rule": "shared"}).name == "alpha"
    assert found.overlaps() == ["rule 'Shared' is claimed by alpha, zeta: alpha applies"]


def test_rule_names_compare_by_slug_and_every_name_of_an_alert_counts(tmp_path):
    write(tmp_path, "ssh", runbook_text(rules="[ssh_from_outside]"))
    write(tmp_path, "mozdef", runbook_text(rules="[AlertBruteforceSsh]"))
    found = load_runbooks(None, shipped=tmp_path)
    assert found.suggest({"rule": "sigma:ssh-from-outside"}).name == "ssh"
    assert found.suggest({"sigma": {"title": "SSH from outside"}}).name == "ssh"
    assert found.suggest({"rule": "bruteforce_ssh:AlertBruteforceSsh"}).name == "mozdef"
    assert found.suggest({"rule": "x", "classname": "AlertBruteforceSsh"}).name == "mozdef"


def test_the_rule_itself_beats_its_classname(tmp_path):
    write(tmp_path, "by_name", runbook_text(rules="[the_rule]"))
    write(tmp_path, "a_by_class", runbook_text(rules="[TheRule]"))
    found = load_runbooks(None, shipped=tmp_path)
    assert found.suggest({"rule": "the_rule", "classname": "TheRule"}).name == "by_name"


def test_suggester_returns_the_name_for_escalation(tmp_path):
    write(tmp_path / "runbooks", "ours", runbook_text(rules="[our_rule]"))
    suggest_runbook = suggester(Settings(data_dir=tmp_path))
    assert suggest_runbook({"rule": "our_rule"}) == "ours"
    assert suggest_runbook({"rule": "ssh_bruteforce", "category": "bruteforce"}) == "ssh_bruteforce"
    assert suggest_runbook({"rule": "nothing", "category": "nothing"}) is None


# -- the shipped set --------------------------------------------------------------------------------------
SHIPPED = load_runbooks(None)
EXPECTED_BUILTIN = {
    "ssh_from_outside": "ssh_from_outside",
    "principal_multiple_ips": "principal_multiple_ips",
    "excessive_describe": "excessive_describe",
    "guardduty_finding": "guardduty_finding",
    "cloudtrail_logging_stopped": "cloudtrail_logging_stopped",
    "s3_bucket_public": "s3_bucket_public",
    "ssh_bruteforce": "ssh_bruteforce",
    "root_account_usage": "root_account_usage",
    "console_login_without_mfa": "console_login_without_mfa",
    "indicator_match": "indicator_match",
}
# The category each built-in rule gives its alerts (`createAlertDict` in its module).
BUILTIN_CATEGORY = {"guardduty_finding": "guardduty", "indicator_match": "indicator"}
EXPECTED_SIGMA_FILE = {
    "aws_excessive_describe.yml": "excessive_describe",
    "aws_principal_multiple_ips.yml": "principal_multiple_ips",
    "aws_s3_bucket_public.yml": "s3_bucket_public",
    "aws_ssh_from_outside.yml": "ssh_from_outside",
}


def test_every_shipped_runbook_loads_complete():
    assert SHIPPED.problems == ()
    assert len(SHIPPED) == len(list(SHIPPED_DIR.glob("*.md"))) >= 10
    assert SHIPPED.overlaps() == []
    for runbook in SHIPPED:
        assert runbook.origin == "shipped"
        assert missing_sections(runbook) == [], runbook.name
        assert runbook.escalation, runbook.name
        assert runbook.summary, runbook.name


def test_every_builtin_rule_has_its_runbook(tmp_path):
    registry = Runtime(Settings(data_dir=tmp_path)).rules
    builtins = [info.name for info in registry.list() if info.name in BUILTIN_RULES]
    assert sorted(builtins) == sorted(BUILTIN_RULES) == sorted(EXPECTED_BUILTIN)
    for name in builtins:
        alert = {
            "rule": name,
            "classname": BUILTIN_RULES[name].__name__,
            "category": BUILTIN_CATEGORY.get(name, "other"),
        }
        assert SHIPPED.suggest(alert).name == EXPECTED_BUILTIN[name], name


def test_every_shipped_sigma_rule_that_alerts_has_its_runbook(tmp_path):
    """Both as the alert a Sigma task makes (with its `sigma` metadata) and as the stored alert (its
    registry name and classname only)."""
    registry = Runtime(Settings(data_dir=tmp_path)).rules
    report = catalog.add(registry, [SIGMA_RULES])
    assert not report.invalid
    keys = {info.config["key"]: info.name for info in report.added}
    result = load(sorted(str(p) for p in SIGMA_RULES.glob("*.yml")))
    alerting = [rule for rule in result.rules if rule.meta.generates]
    assert len(alerting) == len(keys) >= 6
    for rule in alerting:
        meta = rule.meta
        expected = EXPECTED_SIGMA_FILE[Path(meta.path).name]
        live = {
            "rule": keys[meta.key],
            "classname": meta.key,
            "category": "sigma",
            "sigma": {"id": meta.id, "name": meta.name, "title": meta.title},
        }
        stored = {"rule": keys[meta.key], "classname": meta.key, "category": "sigma"}
        assert SHIPPED.suggest(live).name == expected, meta.title
        assert SHIPPED.suggest(stored).name == expected, meta.title


@pytest.mark.parametrize(
    "finding_type",
    [
        "CryptoCurrency:EC2/BitcoinTool.B!DNS",
        "CryptoCurrency:EC2/BitcoinTool.B",
        "CryptoCurrency:EC2/NewThing",
    ],
)
def test_crypto_mining_findings_get_the_crypto_runbook(finding_type):
    found = SHIPPED.suggest(alert(finding_type=finding_type))
    assert found.name == "guardduty_crypto_mining"
    assert found.urgency == "critical"
    assert found.playbook == "guardduty_crypto_mining.asl.json"
    assert found.escalation[0].name == "Incident response on-call"


def test_the_crypto_runbook_has_the_workshop_steps():
    body = SHIPPED.get("guardduty_crypto_mining").body.lower()
    for step in (
        "notify the ir on-call",
        "guardduty_crypto_mining.asl.json",
        "rotate the role credentials",
        "snapshot the instance and the flow logs to the forensics account",
        "check that the auto scaling replacement works",
    ):
        assert step in body, step


def test_other_guardduty_findings_get_their_topic_runbook_or_the_generic_one():
    assert (
        SHIPPED.suggest(alert(finding_type="UnauthorizedAccess:EC2/SSHBruteForce")).name == "ssh_bruteforce"
    )
    assert (
        SHIPPED.suggest(alert(finding_type="Policy:IAMUser/RootCredentialUsage")).name == "root_account_usage"
    )
    assert SHIPPED.suggest(alert(finding_type="Backdoor:EC2/Spambot")).name == "guardduty_finding"
    assert SHIPPED.suggest({"rule": "guardduty_finding", "category": "guardduty"}).name == "guardduty_finding"


def _commands(body: str, program: str) -> list[list[str]]:
    """Every `program ...` command of the body's shell blocks (continuation lines joined), as argv, with
    the shell variables replaced by sample values."""
    blocks = re.findall(r"```sh\n(.*?)```", body, re.DOTALL)
    inline = re.findall(r"`(" + program + r" [^`]+)`", body)
    lines = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()] + inline
    commands = []
    for line in lines:
        line = line.strip()
        if not line.startswith(program + " "):
            continue
        line = re.sub(r"\$\(.*?\)", "2026-12-01T00:00:00Z", line)
        line = re.sub(r"\$([A-Z_]+)", lambda m: "sample-" + m[1].lower().replace("_", "-"), line)
        commands.append(shlex.split(line, comments=True))
    return commands


def test_every_reynard_search_in_the_shipped_runbooks_is_a_valid_query():
    searched = 0
    for runbook in SHIPPED:
        for argv in _commands(runbook.body, "reynard"):
            assert argv[1] in ("search", "runbook", "alerts", "rules", "ioc", "playbook"), argv
            if argv[1] != "search":
                continue
            args, queries = argv[2:], []
            while args:
                arg = args.pop(0)
                if arg in ("--since", "--until", "--limit", "--format", "--agg", "--fields"):
                    args.pop(0)
                elif not arg.startswith("--"):
                    queries.append(arg)
            assert len(queries) == 1, (runbook.name, argv)
            parse_query(queries[0])
            searched += 1
        assert any(argv[1] == "search" for argv in _commands(runbook.body, "reynard")), runbook.name
    assert searched >= 40
