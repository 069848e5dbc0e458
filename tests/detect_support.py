"""Builders shared by the detection tests: events as `reynard ingest` makes them, CloudTrail calls, S3
requests, VPC flows, and running one rule over them."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reynard.detect import MemorySource
from reynard.detect.rules import BUILTIN_RULES
from reynard.events.event import finalize, stable_id
from reynard.ingest.pipeline import Pipeline
from reynard.ingest.plugins import default_plugins
from reynard.ingest.reader import open_bytes
from reynard.ingest.sources import SOURCES
from reynard.ingest.sources.base import ReadOptions
from reynard.settings import Settings

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ALICE = "arn:aws:sts::123456789012:assumed-role/dev/alice"


RECEIVED = "2026-03-02T12:00:00+00:00"


def ingest(
    data: bytes, source: str, options: ReadOptions | None = None, received: str = RECEIVED
) -> list[dict]:
    """Finalized events from raw input, as `reynard ingest` makes them (see ingest/runner.py).

    MozDef's windows hold an event when its `utctimestamp` or its `receivedtimestamp` is inside, so
    events meant to be old are ingested with an old `received`."""
    pipeline = Pipeline(default_plugins(Settings()))
    events = []
    for item in SOURCES[source].read(open_bytes(data, "test"), options or ReadOptions(reference_time=NOW)):
        assert not hasattr(item, "reason"), item
        draft = item.draft
        draft["id"] = stable_id(item.source, item.key)
        event = pipeline.run(draft)
        if event is not None:
            finalize(event, received=received)
            events.append(event)
    return events


def ingest_files(
    paths: list[Path], source: str, received: str, options: ReadOptions | None = None
) -> list[dict]:
    return [event for path in sorted(paths) for event in ingest(path.read_bytes(), source, options, received)]


def run(name: str, events: list[dict], now: datetime = NOW, config: dict | None = None) -> list[dict]:
    return BUILTIN_RULES[name](MemorySource(events), config=config).run(now=now)


def epoch(dt: datetime) -> int:
    return int(dt.timestamp())


def flow(src: str, dst: str, dport: int, action: str = "ACCEPT", minutes_ago: int = 3) -> bytes:
    start = epoch(NOW - timedelta(minutes=minutes_ago))
    return (
        f"2 123456789010 eni-0a1b2c3d4e5f67890 {src} {dst} 49152 {dport} 6 20 4249 "
        f"{start - 60} {start} {action} OK\n"
    ).encode()


INVICTUS_NOW = datetime(2023, 7, 10, 12, 40, tzinfo=UTC)  # the data spans 11:42-12:37 UTC


STOLEN_ROLE = (
    "arn:aws:sts::123837392027:assumed-role/stratus-red-team-ec2-steal-credentials-role/i-0dbc91f429e48eeed"
)


def cloudtrail(*records: dict) -> list[dict]:
    return ingest(json.dumps({"Records": list(records)}).encode(), "cloudtrail")


def api_call(arn: str, ip: str, minutes_ago: int = 5, name: str = "ListBuckets", **extra) -> dict:
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": arn,
            "accountId": "123456789012",
            "accessKeyId": "ASIAEXAMPLE",
        },
        "eventTime": (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "s3.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.13.0",
        "requestParameters": None,
        "responseElements": None,
        "eventID": f"{arn}-{ip}-{minutes_ago}-{name}",
        "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012",
        **extra,
    }


def s3_call(
    name: str, request: dict, minutes_ago: int = 5, source: str = "s3.amazonaws.com", **extra
) -> dict:
    record = api_call(ALICE, "198.51.100.7", minutes_ago, name=name, requestParameters=request, **extra)
    record["eventSource"] = source
    record["eventID"] = f"{name}-{minutes_ago}-{json.dumps(request, sort_keys=True)}"
    return record


def host(bucket: str) -> dict:
    return {"bucketName": bucket, "Host": f"{bucket}.s3.amazonaws.com"}


def put_acl_canned(bucket: str, acl: str, minutes_ago: int = 5) -> dict:
    return s3_call("PutBucketAcl", {**host(bucket), "acl": [""], "x-amz-acl": [acl]}, minutes_ago)


def put_acl_grant(bucket: str, group_uri: str) -> dict:
    request = {
        **host(bucket),
        "acl": [""],
        "AccessControlPolicy": {
            "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
            "Owner": {"ID": "8f5d1e2c0a9b"},
            "AccessControlList": {
                "Grant": [
                    {
                        "Grantee": {
                            "xsi:type": "CanonicalUser",
                            "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
                            "ID": "8f5d1e2c0a9b",
                        },
                        "Permission": "FULL_CONTROL",
                    },
                    {
                        "Grantee": {
                            "xsi:type": "Group",
                            "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
                            "URI": group_uri,
                        },
                        "Permission": "READ",
                    },
                ]
            },
        },
    }
    return s3_call("PutBucketAcl", request)


def policy(bucket: str, principal: object, condition: dict | None = None) -> dict:
    statement = {
        "Sid": "Read",
        "Effect": "Allow",
        "Principal": principal,
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def put_policy(bucket: str, bucket_policy: object) -> dict:
    return s3_call("PutBucketPolicy", {**host(bucket), "policy": [""], "bucketPolicy": bucket_policy})


def put_block(bucket: str, **blocks: bool) -> dict:
    config = {
        "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
        **blocks,
    }
    return s3_call(
        "PutPublicAccessBlock",
        {**host(bucket), "publicAccessBlock": [""], "PublicAccessBlockConfiguration": config},
    )


def create_bucket(bucket: str, minutes_ago: int = 8) -> dict:
    return s3_call("CreateBucket", {**host(bucket), "CreateBucketConfiguration": {}}, minutes_ago)
