"""The AWS API calls a scenario may name, each with its CloudTrail event source and request parameters
built from the estate (the instances, buckets, groups and roles that exist), so a call names real things.

A scenario's call mix is a mapping of these names to weights; a name not here is an error naming it
and the calls that are.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reynard.simulate.context import SSM_AGENT, Caller, Context
from reynard.simulate.formats import cloudtrail_record
from reynard.simulate.reading import ScenarioError

Params = tuple[dict | None, dict | None]  # requestParameters, responseElements


@dataclass(frozen=True)
class Target:
    """What a call acts on when the step says so (else the call picks from the estate)."""

    bucket: str | None = None
    instance_id: str | None = None
    extra: dict = field(default_factory=dict)


def _none(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    return None, None


def _describe(key: str) -> Callable[[Context, random.Random, Caller, Target], Params]:
    def build(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
        return {key: {}, "filterSet": {}}, None

    return build


def _instances(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    if target.instance_id or rng.random() < 0.4:
        chosen = target.instance_id or rng.choice(ctx.estate.instances).instance_id
        return {"instancesSet": {"items": [{"instanceId": chosen}]}, "filterSet": {}}, None
    return {"instancesSet": {}, "filterSet": {}}, None


def _tags(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    chosen = target.instance_id or rng.choice(ctx.estate.instances).instance_id
    value = {"items": [{"name": "resource-id", "valueSet": {"items": [{"value": chosen}]}}]}
    return {"filterSet": value}, None


def _bucket(ctx: Context, rng: random.Random, target: Target) -> str:
    if target.bucket:
        return target.bucket
    if not ctx.estate.buckets:
        raise ScenarioError("an S3 call needs a bucket, and the estate has none")
    return rng.choice(ctx.estate.buckets)


def _host(ctx: Context, bucket: str) -> str:
    return f"{bucket}.s3.{ctx.region}.amazonaws.com"


def _object(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    bucket = _bucket(ctx, rng, target)
    key = target.extra.get("key") or rng.choice(
        (
            f"assets/img/{rng.randrange(4000):04d}.webp",
            f"assets/js/app.{rng.getrandbits(32):08x}.js",
            f"logs/{ctx.start:%Y/%m/%d}/{rng.getrandbits(48):012x}.json.gz",
            f"reports/{ctx.start:%Y-%m}/summary-{rng.randrange(1, 31):02d}.csv",
        )
    )
    return {"bucketName": bucket, "Host": _host(ctx, bucket), "key": key}, None


def _list_objects(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    bucket = _bucket(ctx, rng, target)
    return {"bucketName": bucket, "Host": _host(ctx, bucket), "list-type": "2", "prefix": ""}, None


def _bucket_only(sub: str | None = None) -> Callable[[Context, random.Random, Caller, Target], Params]:
    def build(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
        bucket = _bucket(ctx, rng, target)
        request = {"bucketName": bucket, "Host": _host(ctx, bucket)}
        if sub:
            request[sub] = ""
        return request, None

    return build


def _create_bucket(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    bucket = _bucket(ctx, rng, target)
    return {"bucketName": bucket, "Host": _host(ctx, bucket)}, None


def _bucket_acl(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    bucket = _bucket(ctx, rng, target)
    acl = target.extra.get("acl", "public-read")
    return {"bucketName": bucket, "Host": _host(ctx, bucket), "acl": [""], "x-amz-acl": [acl]}, None


def _bucket_policy(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    bucket = _bucket(ctx, rng, target)
    statement = {
        "Sid": "PublicReadGetObject",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    return {"bucketName": bucket, "Host": _host(ctx, bucket), "policy": [""], "bucketPolicy": policy}, None


def _bucket_tagging(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    bucket = _bucket(ctx, rng, target)
    tags = [{"Key": k, "Value": v} for k, v in (target.extra.get("tags") or {}).items()]
    request = {
        "bucketName": bucket,
        "Host": _host(ctx, bucket),
        "tagging": [""],
        "Tagging": {"TagSet": {"Tag": tags}},
    }
    return request, None


def _authorize_ingress(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    group, port, cidr = target.extra["group"], target.extra["port"], target.extra["cidr"]
    permission = {
        "ipProtocol": "tcp",
        "fromPort": port,
        "toPort": port,
        "groups": {},
        "ipRanges": {"items": [{"cidrIp": cidr}]},
        "ipv6Ranges": {},
        "prefixListIds": {},
    }
    rule = f"sgr-{ctx.token('sgr', group, port, cidr, length=17, upper=False)}"
    response = {
        "requestId": str(uuid.UUID(int=rng.getrandbits(128))),
        "_return": True,
        "securityGroupRuleSet": {
            "items": [
                {
                    "groupOwnerId": ctx.account,
                    "groupId": group,
                    "securityGroupRuleId": rule,
                    "isEgress": False,
                    "ipProtocol": "tcp",
                    "fromPort": port,
                    "toPort": port,
                    "cidrIpv4": cidr,
                }
            ]
        },
    }
    return {"groupId": group, "ipPermissions": {"items": [permission]}}, response


def _assume_role(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    role = target.extra.get("role") or rng.choice(sorted(ctx.estate.role_arns))
    session = target.extra.get("session") or f"session-{rng.randrange(10**6)}"
    request = {"roleArn": ctx.role_arn(role), "roleSessionName": session, "durationSeconds": 3600}
    response = {
        "credentials": {
            "accessKeyId": "ASIA" + ctx.token("session", role, session),
            "sessionToken": "IQoJb3JpZ2luX2VjE" + ctx.token("token", role, session, length=32),
            "expiration": "Dec 31, 2099, 12:00:00 AM",
        },
        "assumedRoleUser": {
            "assumedRoleId": f"AROA{ctx.token('role', role, length=17)}:{session}",
            "arn": f"arn:aws:sts::{ctx.account}:assumed-role/{role}/{session}",
        },
    }
    return request, response


def _user_name(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    return {"userName": rng.choice(sorted(ctx.estate.access_keys) or ["nobody"])}, None


def _role_name(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    return {"roleName": rng.choice(sorted(ctx.estate.role_arns))}, None


def _ssm_ping(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    instance_id = target.instance_id or caller.identity.get("principalId", ":").split(":")[-1]
    address = next(
        (i.private_ip for i in ctx.estate.instances if i.instance_id == instance_id), caller.address
    )
    request = {
        "instanceId": instance_id,
        "agentVersion": "3.3.40.0",
        "agentStatus": "Active",
        "platformType": "Linux",
        "platformName": "Amazon Linux",
        "platformVersion": "2023",
        "iPAddress": address,
        "computerName": f"ip-{address.replace('.', '-')}.ec2.internal",
        "agentName": "amazon-ssm-agent",
        "availabilityZone": f"{ctx.region}a",
    }
    return request, None


def _parameter(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    return {
        "name": rng.choice(("/app/db-host", "/app/feature-flags", "/app/cdn-origin")),
        "withDecryption": True,
    }, None


def _secret(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    suffix = ctx.token("secret", length=6, upper=False)
    secret = f"arn:aws:secretsmanager:{ctx.region}:{ctx.account}:secret:app/db-{suffix}"
    return {"secretId": secret}, None


def _decrypt(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    return {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}, None


def _data_key(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    return {"keyId": "alias/aws/s3", "keySpec": "AES_256"}, None


def _groups(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    return {"autoScalingGroupNames": list(ctx.estate.auto_scaling_groups)}, None


def _target_health(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    groups = sorted(ctx.estate.target_group_arns.values())
    return ({"targetGroupArn": rng.choice(groups)} if groups else None), None


def _load_balancers(ctx: Context, rng: random.Random, caller: Caller, target: Target) -> Params:
    return {"names": sorted(ctx.estate.load_balancer_arns)}, None


@dataclass(frozen=True)
class Call:
    name: str
    source: str  # the CloudTrail eventSource
    build: Callable[[Context, random.Random, Caller, Target], Params] = _none
    data: bool = False  # an S3 data event (a trail with data events on the buckets)

    @property
    def read_only(self) -> bool:
        return self.name.startswith(("Describe", "Get", "List", "Head"))


_EC2 = "ec2.amazonaws.com"
_S3 = "s3.amazonaws.com"
CALLS: dict[str, Call] = {
    c.name: c
    for c in (
        Call("DescribeInstances", _EC2, _instances),
        Call("DescribeInstanceStatus", _EC2, _describe("instancesSet")),
        Call("DescribeSecurityGroups", _EC2, _describe("securityGroupSet")),
        Call("DescribeSecurityGroupRules", _EC2, _describe("securityGroupRuleIdSet")),
        Call("DescribeVolumes", _EC2, _describe("volumeSet")),
        Call("DescribeSnapshots", _EC2, _describe("snapshotSet")),
        Call("DescribeSubnets", _EC2, _describe("subnetSet")),
        Call("DescribeVpcs", _EC2, _describe("vpcSet")),
        Call("DescribeImages", _EC2, _describe("imagesSet")),
        Call("DescribeKeyPairs", _EC2, _describe("keySet")),
        Call("DescribeAddresses", _EC2, _describe("publicIpsSet")),
        Call("DescribeNetworkInterfaces", _EC2, _describe("networkInterfaceIdSet")),
        Call("DescribeRouteTables", _EC2, _describe("routeTableIdSet")),
        Call("DescribeLaunchTemplates", _EC2, _describe("launchTemplateIdSet")),
        Call("DescribeRegions", _EC2, _describe("regionSet")),
        Call("DescribeAvailabilityZones", _EC2, _describe("availabilityZoneSet")),
        Call("DescribeTags", _EC2, _tags),
        Call("AuthorizeSecurityGroupIngress", _EC2, _authorize_ingress),
        Call("ListBuckets", _S3, lambda ctx, rng, caller, target: ({"Host": "s3.amazonaws.com"}, None)),
        Call("GetBucketLocation", _S3, _bucket_only("location")),
        Call("GetBucketAcl", _S3, _bucket_only("acl")),
        Call("GetBucketPolicy", _S3, _bucket_only("policy")),
        Call("GetBucketTagging", _S3, _bucket_only("tagging")),
        Call("CreateBucket", _S3, _create_bucket),
        Call("PutBucketAcl", _S3, _bucket_acl),
        Call("PutBucketPolicy", _S3, _bucket_policy),
        Call("PutBucketTagging", _S3, _bucket_tagging),
        Call("GetObject", _S3, _object, data=True),
        Call("PutObject", _S3, _object, data=True),
        Call("HeadObject", _S3, _object, data=True),
        Call("ListObjects", _S3, _list_objects, data=True),
        Call("GetCallerIdentity", "sts.amazonaws.com"),
        Call("AssumeRole", "sts.amazonaws.com", _assume_role),
        Call("ListUsers", "iam.amazonaws.com"),
        Call("ListRoles", "iam.amazonaws.com"),
        Call("GetUser", "iam.amazonaws.com", _user_name),
        Call("ListAccessKeys", "iam.amazonaws.com", _user_name),
        Call("GetRole", "iam.amazonaws.com", _role_name),
        Call("ListAttachedRolePolicies", "iam.amazonaws.com", _role_name),
        Call("UpdateInstanceInformation", "ssm.amazonaws.com", _ssm_ping),
        Call("GetParameter", "ssm.amazonaws.com", _parameter),
        Call("GetSecretValue", "secretsmanager.amazonaws.com", _secret),
        Call("Decrypt", "kms.amazonaws.com", _decrypt),
        Call("GenerateDataKey", "kms.amazonaws.com", _data_key),
        Call("DescribeAutoScalingGroups", "autoscaling.amazonaws.com", _groups),
        Call("DescribeLoadBalancers", "elasticloadbalancing.amazonaws.com", _load_balancers),
        Call("DescribeTargetHealth", "elasticloadbalancing.amazonaws.com", _target_health),
        Call("DescribeAlarms", "monitoring.amazonaws.com"),
        Call("ListFunctions20150331", "lambda.amazonaws.com"),
        Call("GetAuthorizationToken", "ecr.amazonaws.com"),
        Call("ConsoleLogin", "signin.amazonaws.com"),
    )
}
GLOBAL_SOURCES = ("iam.amazonaws.com", "signin.amazonaws.com")  # recorded in us-east-1


def call(name: str, where: str) -> Call:
    if name not in CALLS:
        raise ScenarioError(
            f"{where}: {name!r} is not a call the simulator knows (known: {', '.join(sorted(CALLS))})"
        )
    return CALLS[name]


def record(
    ctx: Context,
    rng: random.Random,
    moment: datetime,
    caller: Caller,
    name: str,
    target: Target | None = None,
    *,
    region: str | None = None,
    error: tuple[str, str] | None = None,
) -> dict:
    """The CloudTrail record of `caller` making call `name` at `moment`."""
    spec = CALLS[name]
    target = target or Target()
    if name == "UpdateInstanceInformation":  # the SSM agent's own SDK, whoever else runs on the host
        caller = Caller(caller.identity, caller.address, SSM_AGENT)
    request, response = spec.build(ctx, rng, caller, target)
    region = "us-east-1" if spec.source in GLOBAL_SOURCES else (region or ctx.region)
    options: dict[str, Any] = {}
    if name == "ConsoleLogin":
        options = {
            "event_type": "AwsConsoleSignIn",
            "additional": {
                "LoginTo": "https://console.aws.amazon.com/console/home",
                "MobileVersion": "No",
                "MFAUsed": "Yes",
            },
        }
        identity = {k: v for k, v in caller.identity.items() if k != "accessKeyId"}
        caller = Caller(
            identity, caller.address, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Firefox/126.0"
        )
        response = {"ConsoleLogin": "Success"}
        error = None  # a sign-in is refused before CloudTrail sees an API error
    elif spec.data and request:
        bucket = request["bucketName"]
        options["resources"] = [
            *(
                [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{request['key']}"}]
                if "key" in request
                else []
            ),
            {"accountId": ctx.account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
        ]
        size = rng.randrange(200, 4_000_000) if name in ("GetObject", "PutObject") else 0
        options["additional"] = {
            "SignatureVersion": "SigV4",
            "AuthenticationMethod": "AuthHeader",
            "bytesTransferredIn": size if name == "PutObject" else 0,
            "bytesTransferredOut": size if name == "GetObject" else 0,
        }
    return cloudtrail_record(
        moment=moment,
        identity=caller.identity,
        address=caller.address,
        user_agent=caller.user_agent,
        name=name,
        source=spec.source,
        region=region,
        account=ctx.account,
        request_id=str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if spec.source != _S3
        else ctx.token("request", rng.getrandbits(64)),
        event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        request=request,
        response=response,
        read_only=spec.read_only,
        data_event=spec.data,
        error=error,
        **options,
    )


DENIED = ("AccessDenied", "User is not authorized to perform this operation")

__all__ = ["CALLS", "DENIED", "Call", "Target", "call", "record"]
