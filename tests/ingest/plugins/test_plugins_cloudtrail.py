"""cloudtrail: summary, category, verb, username, success/error, and one type per leaf in free-form parts."""

from __future__ import annotations

import copy

import pytest

from reynard.ingest.plugins.cloudtrail import CloudTrail, event_verb
from reynard.ingest.plugins.lower_keys import LowerKeys

# Shaped like the records in the invictus-ir and Stratus Red Team samples (written here, values invented).
CREATE_ACCESS_KEY = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEPRINCIPAL",
        "arn": "arn:aws:iam::123456789012:user/bert-jan",
        "accountId": "123456789012",
        "accessKeyId": "AKIAEXAMPLEKEY000001",
        "userName": "bert-jan",
    },
    "eventTime": "2023-07-10T11:42:03Z",
    "eventSource": "iam.amazonaws.com",
    "eventName": "CreateAccessKey",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.177",
    "userAgent": "aws-cli/2.12.6 Python/3.11.4 Linux/5.15.0 exe/x86_64.ubuntu.22 command/iam",
    "requestParameters": {"userName": "stratus-red-team-user"},
    "responseElements": {
        "accessKey": {
            "accessKeyId": "AKIAEXAMPLEKEY000002",
            "status": "Active",
            "userName": "stratus-red-team-user",
            "createDate": "Jul 10, 2023 11:42:03 AM",
        }
    },
    "requestID": "0d1c3f4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
    "eventID": "1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b",
    "readOnly": False,
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "123456789012",
    "eventCategory": "Management",
}


def draft_of(record: dict) -> dict:
    """A draft as the CloudTrail source hands it over, after lower_keys (which always runs first)."""
    record = copy.deepcopy(record)
    draft = {
        "source": "cloudtrail",
        "category": "AwsApiCall",
        "severity": "INFO",
        "summary": "parser summary",
        "tags": [],
        "details": record,
    }
    return LowerKeys().apply(draft)


def with_changes(**changes) -> dict:
    record = copy.deepcopy(CREATE_ACCESS_KEY)
    record.update(changes)
    return record


def test_house_fields_of_an_iam_user_call():
    out = CloudTrail().apply(draft_of(CREATE_ACCESS_KEY))
    d = out["details"]
    assert out["summary"] == "203.0.113.177 performed CreateAccessKey in iam.amazonaws.com"
    assert out["category"] == "AwsApiCall"
    assert out["severity"] == "INFO"
    assert d["eventverb"] == "Create"
    assert d["username"] == "bert-jan"
    assert d["useragent"].startswith("aws-cli/2.12.6")
    assert d["sourceipaddress"] == "203.0.113.177"
    assert d["success"] is True
    assert "error" not in d
    assert d["useridentity"]["arn"] == "arn:aws:iam::123456789012:user/bert-jan"


def test_wants_only_cloudtrail():
    plugin = CloudTrail()
    assert plugin.wants({"source": "cloudtrail"})
    assert not plugin.wants({"source": "syslog", "details": {"eventname": "x"}})


@pytest.mark.parametrize(
    ("name", "event_type", "verb"),
    [
        ("DescribeInstances", "AwsApiCall", "Describe"),
        ("GetCallerIdentity", "AwsApiCall", "Get"),
        ("ListBuckets", "AwsApiCall", "List"),
        ("AssumeRoleWithSAML", "AwsApiCall", "Assume"),
        ("AddPermission20150331v2", "AwsApiCall", "Add"),
        ("BatchGetSecretValue", "AwsApiCall", "Batch"),
        ("ConsoleLogin", "AwsConsoleSignIn", "ConsoleLogin"),
        ("CheckMfa", "AwsConsoleSignIn", "CheckMfa"),
        ("ConsoleLogin", None, "Console"),
        ("listTagsForResource", None, "List"),
    ],
)
def test_event_verb(name, event_type, verb):
    assert event_verb(name, event_type) == verb


def test_assumed_role_user_is_the_session_name():
    record = with_changes(
        userIdentity={
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLEROLEID:i-0a1b2c3d4e5f60718",
            "arn": "arn:aws:sts::123456789012:assumed-role/ec2-steal-credentials-role/i-0a1b2c3d4e5f60718",
            "accessKeyId": "ASIAEXAMPLEKEY000003",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "userName": "stratus-red-team-ec2-steal-credentials-role"}
            },
        }
    )
    assert CloudTrail().apply(draft_of(record))["details"]["username"] == "i-0a1b2c3d4e5f60718"


def test_root_and_service_callers():
    root = with_changes(userIdentity={"type": "Root", "arn": "arn:aws:iam::123456789012:root"})
    assert CloudTrail().apply(draft_of(root))["details"]["username"] == "root"
    service = with_changes(
        userIdentity={"type": "AWSService", "invokedBy": "ec2.amazonaws.com"},
        sourceIPAddress="ec2.amazonaws.com",
    )
    out = CloudTrail().apply(draft_of(service))
    assert out["details"]["username"] == "ec2.amazonaws.com"
    assert out["summary"] == "ec2.amazonaws.com performed CreateAccessKey in iam.amazonaws.com"


def test_an_error_code_means_failure():
    record = with_changes(
        errorCode="AccessDenied", errorMessage="User is not authorized", responseElements=None
    )
    d = CloudTrail().apply(draft_of(record))["details"]
    assert d["success"] is False
    assert d["error"] == "AccessDenied"
    assert d["responseelements"] is None


def test_a_failed_console_login_is_a_failure():
    record = with_changes(
        eventName="ConsoleLogin",
        eventSource="signin.amazonaws.com",
        eventType="AwsConsoleSignIn",
        responseElements={"ConsoleLogin": "Failure"},
        errorMessage="Failed authentication",
        additionalEventData={
            "MFAUsed": "No",
            "LoginTo": "https://console.aws.amazon.com/",
            "MobileVersion": "No",
        },
    )
    out = CloudTrail().apply(draft_of(record))
    assert out["category"] == "AwsConsoleSignIn"
    assert out["details"]["eventverb"] == "ConsoleLogin"
    assert out["details"]["success"] is False
    assert out["details"]["error"] == "Failed authentication"


def test_free_form_leaves_become_strings_and_objects_stay_objects():
    record = with_changes(
        requestParameters={
            "maxResults": 50,
            "includeAllInstances": True,
            "ratio": 0.5,
            "filter": None,
            "instanceIds": [1, "i-2", False],
            "filterSet": {"items": [{"name": "instance-state-name", "valueSet": {"items": [{"value": 16}]}}]},
        },
        additionalEventData={"bytesTransferredIn": 0, "SignatureVersion": "SigV4"},
        serviceEventDetails={"snapshotId": "snap-1", "count": 3},
    )
    d = CloudTrail().apply(draft_of(record))["details"]
    assert d["requestparameters"] == {
        "maxresults": "50",
        "includeallinstances": "true",
        "ratio": "0.5",
        "filter": None,
        "instanceids": ["1", "i-2", "false"],
        "filterset": {"items": [{"name": "instance-state-name", "valueset": {"items": [{"value": "16"}]}}]},
    }
    assert d["additionaleventdata"] == {"bytestransferredin": "0", "signatureversion": "SigV4"}
    assert d["serviceeventdetails"] == {"snapshotid": "snap-1", "count": "3"}
    # Outside the free-form parts, types are the record's own.
    assert d["readonly"] is False and d["managementevent"] is True


def test_the_same_free_form_key_gets_one_leaf_type_across_records():
    a = CloudTrail().apply(draft_of(with_changes(requestParameters={"durationSeconds": 3600})))
    b = CloudTrail().apply(draft_of(with_changes(requestParameters={"durationSeconds": "3600"})))
    assert (
        a["details"]["requestparameters"] == b["details"]["requestparameters"] == {"durationseconds": "3600"}
    )
    # object-vs-string stays as is (documented): the store's JSON field takes both
    c = CloudTrail().apply(draft_of(with_changes(requestParameters={"policy": {"Version": "2012-10-17"}})))
    assert c["details"]["requestparameters"]["policy"] == {"version": "2012-10-17"}


def test_a_record_without_event_name_keeps_the_parsers_summary():
    record = {"eventType": "AwsApiCall", "sourceIPAddress": "203.0.113.1"}
    draft = draft_of(record)
    draft["summary"] = "parser summary"
    out = CloudTrail().apply(draft)
    assert out["summary"] == "parser summary"
    assert "eventverb" not in out["details"]
    assert out["details"]["success"] is True
