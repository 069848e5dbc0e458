"""Sigma rules on Reynard's engine: each case is a small rule (written for these tests) and the labels of
the events it must match among the real-parser events of `sigma_events`, by the predicate and by a real
tantivy store (which must agree)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from sigma.rule import SigmaRule

from reynard.detect.replay import load_events
from reynard.detect.sigma.backend import convert
from reynard.query import ast
from reynard.query.predicate import compile_predicate
from reynard.settings import Settings
from reynard.store.tantivy.store import TantivyEventStore
from sigma_events import NOW, USER_DATA, build, label

CLOUDTRAIL = "{product: aws, service: cloudtrail}"
GUARDDUTY = "{product: aws, service: guardduty}"
VPCFLOW = "{product: aws, service: vpcflow}"
LINUX = "{product: linux}"
SYSLOG = "{product: linux, service: syslog}"
SSHD = "{product: linux, service: sshd}"
AUTH = "{product: linux, service: auth}"

ALICE = {"ct-login-nomfa", "ct-policy-public", "ct-policy-private", "ct-describe"}  # user/alice
MOZILLA = {"ct-login-nomfa", "ct-login-mfa", "ct-policy-public", "ct-policy-private", "ct-runinstances"}
ALL_CLOUDTRAIL = MOZILLA | {"ct-createkey", "ct-describe", "ct-loginprofile"}
FAILED = {"sshd[1001]", "sshd[1002]"}
PLACEHOLDERS = {"admins": ["bob", "ali*"]}


def sigma_text(logsource: str, detection: str) -> str:
    """The YAML of a rule from its logsource and the lines of its `detection` block (`condition: sel`
    when the block has no condition)."""
    if "condition:" not in detection:
        detection += "\ncondition: sel"
    body = "\n".join(f"    {line}" for line in detection.strip("\n").splitlines())
    return f"title: test\nlogsource: {logsource}\ndetection:\n{body}\n"


def sigma(logsource: str, detection: str) -> SigmaRule:
    """The rule of `sigma_text`."""
    return SigmaRule.from_yaml(sigma_text(logsource, detection))


# (id, logsource, detection, labels of the events it matches)
CASES = [
    # -- strings, wildcards and case ------------------------------------------------------------------
    (
        "plain value, any case",
        CLOUDTRAIL,
        "sel: {eventName: consolelogin}",
        {"ct-login-nomfa", "ct-login-mfa"},
    ),
    (
        "MFAUsed NO matches CloudTrail's No",
        CLOUDTRAIL,
        """
sel:
  eventName: ConsoleLogin
  additionalEventData.MFAUsed: 'NO'
  responseElements.ConsoleLogin: Success
condition: sel""",
        {"ct-login-nomfa"},
    ),
    ("cased, other case", CLOUDTRAIL, "sel: {eventName|cased: consolelogin}", set()),
    (
        "cased, same case",
        CLOUDTRAIL,
        "sel: {eventName|cased: ConsoleLogin}",
        {"ct-login-nomfa", "ct-login-mfa"},
    ),
    ("startswith", CLOUDTRAIL, "sel: {eventName|startswith: put}", {"ct-policy-public", "ct-policy-private"}),
    ("endswith", CLOUDTRAIL, "sel: {userIdentity.arn|endswith: ':user/ALICE'}", ALICE | {"ct-loginprofile"}),
    ("contains", CLOUDTRAIL, "sel: {userAgent|contains: PYTHON/3}", {"ct-describe"}),
    ("wildcards inside", CLOUDTRAIL, "sel: {userAgent: 'aws-cli/*command/EC2.*'}", {"ct-describe"}),
    (
        "single-character wildcard",
        CLOUDTRAIL,
        "sel: {eventSource: 's?.amazonaws.com'}",
        {"ct-policy-public", "ct-policy-private"},
    ),
    (
        "escaped star is a literal",
        CLOUDTRAIL,
        "sel: {requestParameters.bucketPolicy.Statement.Principal: '\\*'}",
        {"ct-policy-public"},
    ),
    (
        "literal star with wildcards",
        CLOUDTRAIL,
        "sel: {requestParameters.bucketPolicy.Statement.Resource: 'arn:aws:s3:::*/\\*'}",
        {"ct-policy-public"},
    ),
    # -- numbers, booleans, null, exists --------------------------------------------------------------
    (
        "number against CloudTrail's string leaf",
        CLOUDTRAIL,
        "sel: {requestParameters.maxResults: 5}",
        {"ct-describe"},
    ),
    ("boolean", CLOUDTRAIL, "sel: {readOnly: true}", {"ct-describe"}),
    (
        "boolean against CloudTrail's string leaf",
        CLOUDTRAIL,
        "sel: {requestParameters.passwordResetRequired: false}",
        {"ct-loginprofile"},
    ),
    ("null", CLOUDTRAIL, "sel: {eventName|startswith: Put, errorCode: null}", {"ct-policy-public"}),
    ("exists", CLOUDTRAIL, "sel: {errorCode|exists: true}", {"ct-policy-private"}),
    (
        "exists false",
        CLOUDTRAIL,
        "sel: {eventSource: s3.amazonaws.com, errorMessage|exists: false}",
        {"ct-policy-public"},
    ),
    (
        "neq",
        CLOUDTRAIL,
        "sel: {eventSource: s3.amazonaws.com, requestParameters.bucketName|neq: PRIVATE-bucket}",
        {"ct-policy-public"},
    ),
    (
        "a list is any value",
        CLOUDTRAIL,
        "sel: {userAgent|contains: [aws-cli, X11]}",
        MOZILLA | {"ct-describe", "ct-loginprofile"},
    ),
    ("all", CLOUDTRAIL, "sel: {userAgent|contains|all: [aws-cli, LINUX]}", {"ct-describe"}),
    # -- addresses ------------------------------------------------------------------------------------
    (
        "cidr",
        CLOUDTRAIL,
        "sel: {sourceIPAddress|cidr: 203.0.113.0/24}",
        {"ct-login-nomfa", "ct-policy-public", "ct-runinstances", "ct-loginprofile"},
    ),
    ("cidr, IPv6", CLOUDTRAIL, "sel: {sourceIPAddress|cidr: '2001:db8::/32'}", {"ct-policy-private"}),
    (
        "sourceIPAddress that is a service",
        CLOUDTRAIL,
        "sel: {sourceIPAddress: aws internal}",
        {"ct-createkey"},
    ),
    # -- regular expressions --------------------------------------------------------------------------
    ("re searches", CLOUDTRAIL, "sel: {userIdentity.arn|re: ':user/al'}", ALICE),
    ("re keeps ^", CLOUDTRAIL, "sel: {userIdentity.arn|re: '^user/'}", set()),
    ("re ^ at the start", CLOUDTRAIL, "sel: {userIdentity.arn|re: '^arn:aws:sts:'}", {"ct-runinstances"}),
    ("re keeps $", CLOUDTRAIL, "sel: {userIdentity.arn|re: 'root$'}", {"ct-createkey"}),
    ("re is case-sensitive", CLOUDTRAIL, "sel: {userIdentity.arn|re: ':USER/al'}", set()),
    ("re i", CLOUDTRAIL, "sel: {userIdentity.arn|re|i: ':USER/al'}", ALICE | {"ct-loginprofile"}),
    ("re without m", CLOUDTRAIL, "sel: {requestParameters.note|re: '^line two$'}", set()),
    ("re m", CLOUDTRAIL, "sel: {requestParameters.note|re|m: '^line two$'}", {"ct-runinstances"}),
    ("re without s", CLOUDTRAIL, "sel: {requestParameters.note|re: 'one.line'}", set()),
    ("re s", CLOUDTRAIL, "sel: {requestParameters.note|re|s: 'one.line'}", {"ct-runinstances"}),
    (
        "re alternation searched as a whole",
        CLOUDTRAIL,
        "sel: {eventName|re: 'Describe|^Create'}",
        {"ct-describe", "ct-createkey"},
    ),
    # -- encodings ------------------------------------------------------------------------------------
    (
        "base64",
        CLOUDTRAIL,
        "sel: {requestParameters.userData|base64: " + json.dumps(USER_DATA) + "}",
        {"ct-runinstances"},
    ),
    (
        "base64offset",
        CLOUDTRAIL,
        "sel: {requestParameters.userData|base64offset|contains: 'http://198.51.100.66'}",
        {"ct-runinstances"},
    ),
    ("wide", CLOUDTRAIL, "sel: {requestParameters.blob|wide|contains: cmd}", {"ct-runinstances"}),
    ("utf16le", CLOUDTRAIL, "sel: {requestParameters.blob|utf16le|contains: cmd}", {"ct-runinstances"}),
    ("utf16be", CLOUDTRAIL, "sel: {requestParameters.blob|utf16be|contains: cmd}", set()),
    ("windash", CLOUDTRAIL, "sel: {requestParameters.command|windash|contains: ' -c '}", {"ct-runinstances"}),
    # -- field references, time parts, placeholders ---------------------------------------------------
    (
        "fieldref, any case",
        CLOUDTRAIL,
        "sel: {userIdentity.userName|fieldref: requestParameters.userName}",
        {"ct-loginprofile"},
    ),
    (
        "fieldref, cased",
        CLOUDTRAIL,
        "sel: {userIdentity.userName|cased|fieldref: requestParameters.userName}",
        set(),
    ),
    ("hour", CLOUDTRAIL, "sel: {eventTime|hour: 3}", {"ct-login-nomfa"}),
    ("minute", CLOUDTRAIL, "sel: {eventTime|minute: 31}", {"ct-policy-private"}),
    ("day", CLOUDTRAIL, "sel: {eventTime|day: 20}", ALL_CLOUDTRAIL),
    ("week", CLOUDTRAIL, "sel: {eventTime|week: 47}", ALL_CLOUDTRAIL),
    ("month", CLOUDTRAIL, "sel: {eventTime|month: 10}", set()),
    ("year", CLOUDTRAIL, "sel: {utctimestamp|year: 2026}", ALL_CLOUDTRAIL),
    ("hour of the event time", CLOUDTRAIL, "sel: {utctimestamp|hour: 9}", {"ct-login-mfa"}),
    (
        "placeholders",
        CLOUDTRAIL,
        "sel: {userIdentity.userName|expand: '%admins%'}",
        ALICE | {"ct-login-mfa", "ct-loginprofile"},
    ),
    # -- Reynard paths and keywords -------------------------------------------------------------------
    ("a details path passes", CLOUDTRAIL, "sel: {details.eventName: describeinstances}", {"ct-describe"}),
    (
        "a top-level field passes",
        CLOUDTRAIL,
        "sel: {hostname: IAM.amazonaws.com}",
        {"ct-createkey", "ct-loginprofile"},
    ),
    (
        "keywords search CloudTrail's summary",
        CLOUDTRAIL,
        "keywords:\n  - 'performed createaccesskey'\ncondition: keywords",
        {"ct-createkey"},
    ),
    # -- conditions -----------------------------------------------------------------------------------
    (
        "and not",
        CLOUDTRAIL,
        """
selection:
  eventSource: s3.amazonaws.com
filter:
  errorCode: AccessDenied
condition: selection and not filter""",
        {"ct-policy-public"},
    ),
    (
        "1 of selection_*",
        CLOUDTRAIL,
        """
selection_login:
  eventName: ConsoleLogin
selection_key:
  eventName: CreateAccessKey
other:
  eventName: DescribeInstances
condition: 1 of selection_*""",
        {"ct-login-nomfa", "ct-login-mfa", "ct-createkey"},
    ),
    (
        "all of filter*",
        CLOUDTRAIL,
        """
filter_s3:
  eventSource: s3.amazonaws.com
filter_denied:
  errorCode: AccessDenied
condition: all of filter*""",
        {"ct-policy-private"},
    ),
    (
        "1 of them leaves out _ names",
        CLOUDTRAIL,
        """
describe:
  eventName: DescribeInstances
key:
  eventName: CreateAccessKey
_helper:
  eventName: RunInstances
condition: 1 of them""",
        {"ct-describe", "ct-createkey"},
    ),
    (
        "all of them leaves out _ names",
        CLOUDTRAIL,
        """
ec2:
  eventSource: ec2.amazonaws.com
cli:
  userAgent|contains: aws-cli
_helper:
  eventName: RunInstances
condition: all of them""",
        {"ct-describe"},
    ),
    (
        "parentheses",
        CLOUDTRAIL,
        """
login:
  eventName: ConsoleLogin
s3:
  eventSource: s3.amazonaws.com
alice:
  userIdentity.userName: alice
condition: (login or s3) and not alice""",
        {"ct-login-mfa"},
    ),
    (
        "not 1 of filter_*",
        CLOUDTRAIL,
        """
selection:
  eventSource: [s3.amazonaws.com, iam.amazonaws.com]
filter_denied:
  errorCode: AccessDenied
filter_root:
  userIdentity.type: Root
condition: selection and not 1 of filter_*""",
        {"ct-policy-public", "ct-loginprofile"},
    ),
    (
        "a list of maps is any of them",
        CLOUDTRAIL,
        """
selection:
  - eventName: CreateAccessKey
  - eventSource: signin.amazonaws.com
    additionalEventData.MFAUsed: 'yes'
condition: selection""",
        {"ct-createkey", "ct-login-mfa"},
    ),
    (
        "several conditions are OR-ed",
        CLOUDTRAIL,
        """
describe:
  eventName: DescribeInstances
run:
  eventName: RunInstances
condition:
  - describe
  - run""",
        {"ct-describe", "ct-runinstances"},
    ),
    # -- GuardDuty ------------------------------------------------------------------------------------
    ("guardduty type", GUARDDUTY, "sel: {type|startswith: 'recon:'}", {"gd-probe"}),
    ("guardduty severity", GUARDDUTY, "sel: {severity|gte: 7}", {"gd-creds"}),
    ("guardduty severity below", GUARDDUTY, "sel: {severity|lt: 4}", {"gd-probe"}),
    ("guardduty resource", GUARDDUTY, "sel: {resource.instanceDetails.instanceId: I-0ABC123}", {"gd-probe"}),
    (
        "guardduty port in a list",
        GUARDDUTY,
        "sel: {service.action.portProbeAction.portProbeDetails.localPortDetails.port: 22}",
        {"gd-probe"},
    ),
    (
        "guardduty detail. prefix",
        GUARDDUTY,
        "sel: {detail.type|contains: credentialexfiltration}",
        {"gd-creds"},
    ),
    ("guardduty boolean", GUARDDUTY, "sel: {service.archived: false}", {"gd-probe", "gd-creds"}),
    ("guardduty tags", GUARDDUTY, "sel: {tags: recon}", {"gd-probe"}),
    # -- VPC flow -------------------------------------------------------------------------------------
    ("vpcflow port", VPCFLOW, "sel: {dstport: 22}", {"eni-ssh"}),
    ("vpcflow port as text", VPCFLOW, "sel: {dstport: '22'}", {"eni-ssh"}),
    ("vpcflow action", VPCFLOW, "sel: {action: reject}", {"eni-rdp"}),
    ("vpcflow source network", VPCFLOW, "sel: {srcaddr|cidr: 10.0.0.0/8}", {"eni-web"}),
    ("vpcflow bytes", VPCFLOW, "sel: {bytes|gt: 1000}", {"eni-ssh", "eni-web"}),
    ("vpcflow packets", VPCFLOW, "sel: {packets|lte: 3}", {"eni-rdp"}),
    ("vpcflow log-status", VPCFLOW, "sel: {log-status: nodata}", {"eni-idle"}),
    ("vpcflow log_status", VPCFLOW, "sel: {log_status: NODATA}", {"eni-idle"}),
    (
        "vpcflow interface",
        VPCFLOW,
        "sel: {interface-id|startswith: ENI-}",
        {"eni-ssh", "eni-rdp", "eni-web", "eni-idle"},
    ),
    (
        "vpcflow protocol and destination",
        VPCFLOW,
        "sel: {protocol: 6, dstaddr: 10.0.0.5}",
        {"eni-ssh", "eni-rdp"},
    ),
    # -- Linux ----------------------------------------------------------------------------------------
    ("keywords, any case", LINUX, "keywords:\n  - 'FAILED password'\ncondition: keywords", FAILED),
    (
        "keywords with wildcards",
        LINUX,
        "keywords:\n  - 'Accepted * for deploy'\ncondition: keywords",
        {"sshd[1003]"},
    ),
    ("keyword number", LINUX, "keywords:\n  - 52311\ncondition: keywords", {"sshd[1001]"}),
    (
        "keywords all",
        LINUX,
        "keywords:\n  '|all':\n    - 'rm '\n    - /var/log/syslog\ncondition: keywords",
        {"bash[4001]"},
    ),
    ("keywords cased", LINUX, "keywords:\n  '|cased':\n    - failed password\ncondition: keywords", set()),
    (
        "keywords of several selections",
        SYSLOG,
        """
selection_new_user:
  - 'new user'
selection_uid:
  - 'UID=0,'
  - 'GID=0,'
condition: all of selection_*""",
        {"useradd[4100]"},
    ),
    ("sshd keywords", SSHD, "keywords:\n  - 'corrupted MAC on input'\ncondition: keywords", {"sshd[1005]"}),
    (
        "sshd sees only sshd (and sshd-session)",
        SSHD,
        "keywords:\n  - root\ncondition: keywords",
        {"sshd[1001]", "sshd-session[1006]"},
    ),
    ("pam_user", SSHD, "sel: {pam_user: ROOT}", {"sshd[1001]"}),
    ("pam_rhost", LINUX, "sel: {pam_rhost|cidr: 183.62.140.0/24}", FAILED),
    (
        "auth sees authentication programs and facilities",
        AUTH,
        "sel: {source: syslog}",
        FAILED
        | {"sshd[1003]", "sshd[1005]", "sshd-session[1006]", "sudo[2001]", "CRON[3001]", "useradd[4100]"}
        | {"sssd[4200]"},
    ),
    ("auth user", AUTH, "sel: {user: alice}", {"sudo[2001]"}),
    ("message is the summary", LINUX, "sel: {message|contains: PROMISCUOUS}", {"kernel[0]"}),
    (
        "summary equality is the whole line",
        LINUX,
        "sel: {summary: 'device eth0 entered promiscuous mode'}",
        {"kernel[0]"},
    ),
    ("summary equality is not a token match", LINUX, "sel: {summary: promiscuous}", set()),
    ("program", SYSLOG, "sel: {program: useradd}", {"useradd[4100]"}),
]


@pytest.fixture(scope="module")
def events():
    folder = Path(tempfile.mkdtemp(prefix="reynard-sigma-"))
    try:
        yield build(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def store(events):
    folder = Path(tempfile.mkdtemp(prefix="reynard-sigma-store-"))
    store = TantivyEventStore(folder / "events", writable=True)
    store.write(events, commit=True)
    try:
        yield store
    finally:
        store.close()
        shutil.rmtree(folder, ignore_errors=True)


def test_every_label_is_one_event(events):
    labels = [label(e) for e in events]
    assert len(labels) == len(set(labels)) == 25


@pytest.mark.parametrize(
    ("logsource", "detection", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule_matches_these_events(events, store, logsource, detection, expected):
    query = convert(sigma(logsource, detection), PLACEHOLDERS)
    test = compile_predicate(query)
    assert {label(e) for e in events if test(e)} == expected
    by_id = {e["id"]: label(e) for e in events}
    found = store.search(ast.Search(query, limit=None)).events
    assert {by_id[e["id"]] for e in found} == expected


# Rules written for these tests, with the number of events each matches among invictus-ir's 2,900
# CloudTrail records (../shared/data/cloudtrail/invictus, MIT): one account attacked with every Stratus
# Red Team technique of mid-2023, source addresses anonymised to private ranges.
INVICTUS = [
    (
        "sel: {eventName: ConsoleLogin, additionalEventData.MFAUsed: 'NO',"
        " responseElements.ConsoleLogin: success}",
        1,
    ),
    ("sel: {userIdentity.type: assumedrole, userIdentity.sessionContext.sessionIssuer.type: role}", 76),
    ("sel: {eventName|startswith: describe, userIdentity.userName: BERT-JAN}", 1050),
    ("sel: {userAgent|contains: terraform}", 1938),
    (
        "sel: {userIdentity.arn|re: 'assumed-role/stratus-red-team-ec2-steal-credentials-role/i-[0-9a-f]+$'}",
        15,
    ),
    ("sel: {sourceIPAddress|cidr: 192.168.0.0/16}", 2154),
    ("sel: {eventTime|minute: 42}", 62),
    ("sel: {errorCode|exists: true}", 300),
    ("sel: {recipientAccountId|fieldref: userIdentity.accountId}", 2866),
    ("keywords: ['performed PutBucketPolicy']\ncondition: keywords", 3),
    ("sel: {eventSource: s3.amazonaws.com}\nfilter: {errorCode: null}\ncondition: sel and not filter", 83),
]


def test_real_cloudtrail_the_store_agrees_with_the_predicate(shared_data, tmp_path):
    files = sorted((shared_data / "cloudtrail" / "invictus" / "CloudTrail").glob("*.json"))
    records, rejected = load_events(Settings(), [str(f) for f in files], NOW)
    assert len(records) == 2900 and not rejected
    store = TantivyEventStore(tmp_path / "events", writable=True)
    store.write(records, commit=True)
    try:
        for detection, count in INVICTUS:
            query = convert(sigma(CLOUDTRAIL, detection))
            test = compile_predicate(query)
            expected = {e["id"] for e in records if test(e)}
            found = {e["id"] for e in store.search(ast.Search(query, limit=None)).events}
            assert (len(expected), found) == (count, expected), detection
    finally:
        store.close()
