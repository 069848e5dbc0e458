"""Realistic generated logs in each source's native format, deterministic for a seed.

The mix follows a small AWS estate: CloudTrail (40 %, S3 delivery files, gzip), VPC flow logs (35 %,
the default v2 format), sshd syslog (20 %, RFC 3164) and GuardDuty findings (5 %, EventBridge events).
It includes what the workshop looks for: a Describe burst from one role, SSH from outside, a bucket
made public, one role session used from two addresses, and a GuardDuty crypto-mining finding.
"""

from __future__ import annotations

import gzip
import hashlib
import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from reynard.events.timestamps import zulu
from reynard.simulate import formats

ACCOUNT = "123456789012"
REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
PUBLIC_IPS = ("203.0.113.17", "198.51.100.23", "192.0.2.44", "185.220.101.4", "45.33.32.156", "8.8.8.8")
USERS = ("alice", "bob", "carol", "deploy-bot", "terraform")
ROLES = ("prod-web-app", "prod-batch", "ci-runner", "lambda-exec")
# (eventName, eventSource, weight)
API_CALLS = (
    ("DescribeInstances", "ec2.amazonaws.com", 20),
    ("DescribeSecurityGroups", "ec2.amazonaws.com", 8),
    ("DescribeVolumes", "ec2.amazonaws.com", 6),
    ("GetObject", "s3.amazonaws.com", 12),
    ("PutObject", "s3.amazonaws.com", 6),
    ("ListBuckets", "s3.amazonaws.com", 4),
    ("AssumeRole", "sts.amazonaws.com", 8),
    ("GetCallerIdentity", "sts.amazonaws.com", 5),
    ("ConsoleLogin", "signin.amazonaws.com", 2),
    ("CreateUser", "iam.amazonaws.com", 1),
    ("CreateAccessKey", "iam.amazonaws.com", 1),
    ("PutBucketAcl", "s3.amazonaws.com", 1),
    ("DeleteBucketPolicy", "s3.amazonaws.com", 1),
    ("RunInstances", "ec2.amazonaws.com", 2),
    ("TerminateInstances", "ec2.amazonaws.com", 1),
    ("StopLogging", "cloudtrail.amazonaws.com", 1),
)
_NAMES = [c for c in API_CALLS for _ in range(c[2])]
SSH_USERS = ("root", "admin", "ubuntu", "ec2-user", "test", "oracle", "postgres", "git")


def _stable(text: str) -> int:
    """A number that depends only on `text` (Python's hash() changes between runs)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _time(rng: random.Random, start: datetime, end: datetime) -> datetime:
    return start + (end - start) * rng.random()


def cloudtrail_record(rng: random.Random, moment: datetime) -> dict:
    name, service, _ = rng.choice(_NAMES)
    region = rng.choice(REGIONS)
    if rng.random() < 0.5:
        role = rng.choice(ROLES)
        number = rng.randrange(40)  # sessions are reused: each has one temporary key and one address
        session = f"i-{number:017x}" if role.startswith("prod") else f"session-{number}"
        identity = {
            "type": "AssumedRole",
            "principalId": f"AROA{rng.getrandbits(64):016X}:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
            "accountId": ACCOUNT,
            "accessKeyId": f"ASIA{_stable(role + session):016X}",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": f"AROA{rng.getrandbits(40):010X}",
                    "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                    "accountId": ACCOUNT,
                    "userName": role,
                },
                "attributes": {
                    "creationDate": zulu(moment - timedelta(minutes=20), "seconds"),
                    "mfaAuthenticated": "false",
                },
            },
        }
        home = _stable(role + session)
        source_ip = f"10.0.{home % 8}.{2 + home % 240}"
        if number == 7 and rng.random() < 0.3:  # one session's credentials also used from outside
            source_ip = "185.220.101.4"
    else:
        user = rng.choice(USERS)
        identity = {
            "type": "IAMUser",
            "principalId": f"AIDA{rng.getrandbits(64):016X}",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}",
            "accountId": ACCOUNT,
            "accessKeyId": f"AKIA{_stable(user):016X}",
            "userName": user,
        }
        # Each user works from home; now and then from elsewhere (two addresses for one key).
        home = PUBLIC_IPS[_stable(user) % len(PUBLIC_IPS)]
        source_ip = home if rng.random() < 0.9 else rng.choice((*PUBLIC_IPS, "AWS Internal"))
    request: dict | None = None
    response: dict | None = None
    if name == "DescribeInstances":
        request = {
            "instancesSet": {"items": [{"instanceId": f"i-{rng.getrandbits(60):015x}"}]},
            "filterSet": {},
        }
    elif name in ("GetObject", "PutObject"):
        request = {
            "bucketName": f"corp-data-{rng.randrange(20)}",
            "key": f"reports/{rng.randrange(10**6)}.csv",
        }
    elif name == "PutBucketAcl":
        request = {"bucketName": f"corp-data-{rng.randrange(20)}", "x-amz-acl": ["public-read"], "acl": [""]}
    elif name == "CreateUser":
        request = {"userName": f"svc-{rng.randrange(1000)}"}
        response = {"user": {"userName": request["userName"], "createDate": "Nov 28, 2026 9:00:00 AM"}}
    elif name == "RunInstances":
        request = {
            "instanceType": rng.choice(("t3.micro", "m5.large", "p3.16xlarge")),
            "minCount": 1,
            "maxCount": 1,
        }
    elif name == "AssumeRole":
        request = {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/{rng.choice(ROLES)}", "roleSessionName": "s"}
        response = {"credentials": {"accessKeyId": f"ASIA{rng.getrandbits(64):016X}", "expiration": "x"}}
    record = {
        "eventVersion": "1.08",
        "userIdentity": identity,
        "eventTime": zulu(moment, "seconds"),
        "eventSource": service,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": rng.choice(
            ("aws-cli/2.13.0 Python/3.11.4 Linux/5.15", "Boto3/1.28.0", "console.amazonaws.com")
        ),
        "requestParameters": request,
        "responseElements": response,
        "requestID": str(uuid.UUID(int=rng.getrandbits(128))),
        "eventID": str(uuid.UUID(int=rng.getrandbits(128))),
        "readOnly": name.startswith(("Describe", "Get", "List")),
        "eventType": "AwsConsoleSignIn" if name == "ConsoleLogin" else "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }
    if rng.random() < 0.05:
        record["errorCode"] = "AccessDenied"
        record["errorMessage"] = "User is not authorized to perform this operation"
    return record


def syslog_line(rng: random.Random, moment: datetime, host: str = "bastion") -> str:
    pid = rng.randrange(1000, 65000)
    attacker = rng.choice(PUBLIC_IPS)
    user = rng.choice(SSH_USERS)
    port = rng.randrange(1024, 65535)
    roll = rng.random()
    if roll < 0.45:
        message = f"Failed password for {user} from {attacker} port {port} ssh2"
    elif roll < 0.6:
        message = f"Failed password for invalid user {user} from {attacker} port {port} ssh2"
    elif roll < 0.7:
        message = f"Invalid user {user} from {attacker} port {port}"
    elif roll < 0.78:
        inside = f"10.0.1.{rng.randrange(2, 250)}"
        message = f"Accepted publickey for ec2-user from {inside} port {port} ssh2: RSA SHA256:x"
    elif roll < 0.9:
        message = f"Disconnected from invalid user {user} {attacker} port {port} [preauth]"
    else:
        return formats.syslog_line(
            moment, host, "CRON", pid, "pam_unix(cron:session): session opened for user root by (uid=0)"
        )
    return formats.syslog_line(moment, host, "sshd", pid, message)


def vpcflow_line(rng: random.Random, moment: datetime) -> str:
    start = int(moment.timestamp())
    inbound = rng.random() < 0.5
    inside = f"10.0.{rng.randrange(8)}.{rng.randrange(2, 250)}"
    outside = rng.choice(PUBLIC_IPS)
    src, dst = (outside, inside) if inbound else (inside, outside)
    dport = rng.choice((22, 443, 443, 443, 80, 53, 3389)) if inbound else rng.choice((443, 53, 123))
    protocol = 17 if dport in (53, 123) else 6
    action = "ACCEPT" if rng.random() < 0.8 else "REJECT"
    packets = rng.randrange(1, 200)
    return formats.flow_line(  # keyword order is the draw order: the same seed, the same lines
        account=ACCOUNT,
        eni=f"eni-{rng.getrandbits(60):017x}",
        src=src,
        dst=dst,
        src_port=rng.randrange(1024, 65535),
        dst_port=dport,
        protocol=protocol,
        packets=packets,
        size=packets * rng.randrange(40, 1500),
        start=start,
        end=start + 60,
        action=action,
    )


def guardduty_event(rng: random.Random, moment: datetime) -> dict:
    instance = f"i-{rng.getrandbits(60):015x}"
    kind, severity, title = rng.choice(
        (
            (
                "CryptoCurrency:EC2/BitcoinTool.B!DNS",
                8,
                f"EC2 instance {instance} is querying a domain name associated with Bitcoin.",
            ),
            (
                "Recon:EC2/PortProbeUnprotectedPort",
                2,
                f"Unprotected port on EC2 instance {instance} is being probed.",
            ),
            ("UnauthorizedAccess:EC2/SSHBruteForce", 5, f"{instance} is being SSH brute forced."),
        )
    )
    when = zulu(moment.replace(microsecond=0), "milliseconds")
    finding = {
        "schemaVersion": "2.0",
        "accountId": ACCOUNT,
        "region": "us-east-1",
        "partition": "aws",
        "id": uuid.UUID(int=rng.getrandbits(128)).hex,
        "arn": f"arn:aws:guardduty:us-east-1:{ACCOUNT}:detector/d/finding/x",
        "type": kind,
        "resource": {
            "resourceType": "Instance",
            "instanceDetails": {"instanceId": instance, "instanceType": "t3.micro"},
        },
        "service": {
            "serviceName": "guardduty",
            "detectorId": "d",
            "action": {"actionType": "DNS_REQUEST", "dnsRequestAction": {"domain": "pool.minexmr.com"}}
            if kind.startswith("Crypto")
            else {
                "actionType": "PORT_PROBE",
                "portProbeAction": {
                    "portProbeDetails": [
                        {
                            "localPortDetails": {"port": 22},
                            "remoteIpDetails": {"ipAddressV4": rng.choice(PUBLIC_IPS)},
                        }
                    ]
                },
            },
            "count": 1,
            "archived": False,
            "eventFirstSeen": when,
            "eventLastSeen": when,
        },
        "severity": severity,
        "createdAt": when,
        "updatedAt": when,
        "title": title,
        "description": title,
    }
    return {
        "version": "0",
        "id": str(uuid.UUID(int=rng.getrandbits(128))),
        "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty",
        "account": ACCOUNT,
        "time": when,
        "region": "us-east-1",
        "resources": [],
        "detail": finding,
    }


def cloudtrail_records(n: int, start: datetime, end: datetime, seed: int = 1) -> Iterator[dict]:
    rng = random.Random(seed)
    step = (end - start) / max(n, 1)
    for i in range(n):
        yield cloudtrail_record(rng, start + step * i)


def syslog_lines(n: int, start: datetime, end: datetime, seed: int = 2) -> Iterator[str]:
    rng = random.Random(seed)
    step = (end - start) / max(n, 1)
    for i in range(n):
        yield syslog_line(rng, start + step * i, host=f"bastion-{i % 4}")


def write_sample(folder: Path, *, count: int, end: datetime, hours: int = 24, seed: int = 7) -> list[Path]:
    """Write `count` events over the `hours` before `end` as native log files; returns the files."""
    rng = random.Random(seed)
    start = end - timedelta(hours=hours)
    folder.mkdir(parents=True, exist_ok=True)
    n_ct, n_vpc, n_sys = int(count * 0.40), int(count * 0.35), int(count * 0.20)
    n_gd = max(count - n_ct - n_vpc - n_sys, 0)
    files = []
    # CloudTrail: S3 delivery files of up to 1,000 records, gzip, as AWS writes them.
    records = sorted(_time(rng, start, end) for _ in range(n_ct))
    for chunk in range(0, n_ct, 1000):
        path = folder / f"{ACCOUNT}_CloudTrail_us-east-1_{chunk // 1000:04d}.json.gz"
        body = {"Records": [cloudtrail_record(rng, t) for t in records[chunk : chunk + 1000]]}
        path.write_bytes(gzip.compress(orjson.dumps(body), compresslevel=1))
        files.append(path)
    path = folder / "vpcflow.log"
    with path.open("w") as out:
        for moment in sorted(_time(rng, start, end) for _ in range(n_vpc)):
            out.write(vpcflow_line(rng, moment) + "\n")
    files.append(path)
    path = folder / "secure.log"
    with path.open("w") as out:
        for moment in sorted(_time(rng, start, end) for _ in range(n_sys)):
            out.write(syslog_line(rng, moment) + "\n")
    files.append(path)
    path = folder / "guardduty.ndjson"
    with path.open("wb") as out:
        for moment in sorted(_time(rng, start, end) for _ in range(n_gd)):
            out.write(orjson.dumps(guardduty_event(rng, moment)) + b"\n")
    files.append(path)
    return files
