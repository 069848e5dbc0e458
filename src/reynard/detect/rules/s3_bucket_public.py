"""s3_bucket_public: an S3 bucket (or the whole account) opened to the public.

Why: a public bucket is the classic cloud data leak (MITRE ATT&CK T1530 / T1537); an attacker opens one to
collect data from outside, and a mistaken change does the same harm. Successful CloudTrail calls (those
without `details.errorcode`) that make data public:

- `PutBucketAcl` with a canned ACL `public-read`, `public-read-write` or `authenticated-read`
  (`details.requestparameters.x-amz-acl`), or a grant to the AllUsers or AuthenticatedUsers group (a
  grantee URI ending `/global/AllUsers` or `/global/AuthenticatedUsers` anywhere under
  `details.requestparameters.accesscontrolpolicy`);
- `PutBucketPolicy` whose policy (`details.requestparameters.bucketpolicy`, an object or a JSON string)
  has an Allow statement for Principal `"*"` (or `{"AWS": "*"}`) without a Condition;
- `DeleteBucketPublicAccessBlock` and `DeleteAccountPublicAccessBlock` (s3 / s3-control);
- `PutPublicAccessBlock` turning off any of the four blocks (`BlockPublicAcls`, `IgnorePublicAcls`,
  `BlockPublicPolicy`, `RestrictPublicBuckets` "false").

A bucket created within the same window and opened straight away (a `CreateBucket` of the same
`details.requestparameters.bucketname`) is the pattern of a staging bucket for exfiltration, and is
alerted as `new_bucket_severity`; every other change as `severity`.

Buckets public on purpose (a static website) are named in `public_buckets` (glob patterns): opening
one of them for everyone to read is quiet, since nothing in the call says it was meant (a tag is set
by another call, maybe long before, and by anyone who may tag). Letting everyone write to one
(`public-read-write`, a grant of WRITE or FULL_CONTROL, a policy allowing anything but s3:Get* and
s3:List*) still alerts.

Config keys:
    minutes              the window searched, for both the change and the CreateBucket (default 15)
    severity             the alert's severity (default WARNING)
    new_bucket_severity  the severity when the bucket was created within the window (default CRITICAL)
    public_buckets       glob patterns of buckets public on purpose, for reading (default: none)
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any, ClassVar

from reynard.detect.rules._base import BuiltinRule
from reynard.query.mozdef import ExistsMatch, SearchQuery, TermMatch, TermsMatch

PUBLIC_CANNED_ACLS = ("public-read", "public-read-write", "authenticated-read")
PUBLIC_GROUPS = ("/global/AllUsers", "/global/AuthenticatedUsers")
BLOCKS = ("blockpublicacls", "ignorepublicacls", "blockpublicpolicy", "restrictpublicbuckets")
EVENT_NAMES = (
    "PutBucketAcl",
    "PutBucketPolicy",
    "DeleteBucketPublicAccessBlock",
    "DeleteAccountPublicAccessBlock",
    "PutPublicAccessBlock",
)


def _strings(value: Any) -> list[str]:
    """Every string leaf of a nested dict/list value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _lower_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).lower(): _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def public_acl(params: dict) -> str | None:
    """Why the ACL of a `PutBucketAcl` is public, or None."""
    canned = [acl for acl in _as_list(params.get("x-amz-acl")) if acl in PUBLIC_CANNED_ACLS]
    if canned:
        return f"canned ACL {canned[0]}"
    for uri in _strings(params.get("accesscontrolpolicy")):
        if uri.endswith(PUBLIC_GROUPS):
            return f"grant to {uri.rsplit('/', 1)[-1]}"
    return None


def public_statements(policy: Any) -> list[dict]:
    """The statements of a bucket policy (an object or a JSON string) that Allow everyone without a
    Condition."""
    found = []
    for statement in _as_list(_policy(policy).get("statement")):
        if (
            not isinstance(statement, dict)
            or statement.get("effect") != "Allow"
            or statement.get("condition")
        ):
            continue
        principal = statement.get("principal")
        aws = principal.get("aws") if isinstance(principal, dict) else None
        if principal == "*" or "*" in _as_list(aws):
            found.append(statement)
    return found


def public_policy(policy: Any) -> str | None:
    """Why a bucket policy is public (an Allow to everyone without a Condition), or None."""
    return "policy allows Principal *" if public_statements(policy) else None


def _policy(policy: Any) -> dict:
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return {}
    policy = _lower_keys(policy)
    return policy if isinstance(policy, dict) else {}


def lets_everyone_write(name: str, params: dict) -> bool:
    """Whether a call that makes a bucket public lets everyone do more than read it."""
    if name == "PutBucketAcl":
        if "public-read-write" in _as_list(params.get("x-amz-acl")):
            return True
        acl = _lower_keys(params.get("accesscontrolpolicy") or {})
        grants = _as_list(
            (acl.get("accesscontrollist") or {}).get("grant") if isinstance(acl, dict) else None
        )
        return any(
            isinstance(grant, dict)
            and any(uri.endswith(PUBLIC_GROUPS) for uri in _strings(grant.get("grantee")))
            and grant.get("permission") in ("WRITE", "WRITE_ACP", "FULL_CONTROL")
            for grant in grants
        )
    if name == "PutBucketPolicy":
        actions = [
            a for s in public_statements(params.get("bucketpolicy")) for a in _as_list(s.get("action"))
        ]
        return any(not str(a).lower().startswith(("s3:get", "s3:list")) for a in actions)
    return False  # the public access blocks: they only allow what the ACLs and policies grant


def disabled_blocks(config: Any) -> list[str]:
    """The public access blocks a `PublicAccessBlockConfiguration` turns off."""
    config = config if isinstance(config, dict) else {}
    return [block for block in BLOCKS if str(config.get(block)).lower() == "false"]


class S3BucketPublic(BuiltinRule):
    config_keys: ClassVar[tuple[str, ...]] = ("minutes", "severity", "new_bucket_severity", "public_buckets")
    minutes = 15
    severity = "WARNING"
    new_bucket_severity = "CRITICAL"
    public_buckets: tuple[str, ...] = ()

    def public_on_purpose(self, bucket: str | None, name: str, params: dict) -> bool:
        """Whether the change opens a bucket meant to be public, for reading only."""
        return (
            bucket is not None
            and any(fnmatchcase(bucket, pattern) for pattern in self.public_buckets)
            and not lets_everyone_write(name, params)
        )

    def main(self) -> None:
        created = SearchQuery(minutes=self.minutes)
        created.add_must([TermMatch("source", "cloudtrail"), TermMatch("details.eventname", "CreateBucket")])
        created.add_must_not(ExistsMatch("details.errorcode"))
        self.filtersManual(created)
        self.created_buckets = {
            (hit["_source"]["details"].get("requestparameters") or {}).get("bucketname")
            for hit in self.executeSearchEventsSimple()
        } - {None}

        query = SearchQuery(minutes=self.minutes)
        query.add_must(
            [TermMatch("source", "cloudtrail"), TermsMatch("details.eventname", list(EVENT_NAMES))]
        )
        query.add_must_not(ExistsMatch("details.errorcode"))
        self.filtersManual(query)
        self.searchEventsSimple()
        self.walkEvents()

    def reason(self, name: str, params: dict) -> str | None:
        """Why the call makes data public, or None when it does not."""
        if name == "PutBucketAcl":
            return public_acl(params)
        if name == "PutBucketPolicy":
            return public_policy(params.get("bucketpolicy"))
        if name == "PutPublicAccessBlock":
            blocks = disabled_blocks(params.get("publicaccessblockconfiguration"))
            return f"turned off {', '.join(blocks)}" if blocks else None
        return "public access block removed"  # DeleteBucketPublicAccessBlock, DeleteAccountPublicAccessBlock

    def onEvent(self, event: dict, *args: object, **kwargs: object) -> dict | None:
        details = event["_source"].get("details") or {}
        params = details.get("requestparameters") or {}
        name = str(details.get("eventname"))
        why = self.reason(name, params)
        if why is None:
            return None
        bucket = params.get("bucketname")
        if self.public_on_purpose(bucket, name, params):
            return None
        target = f"bucket {bucket}" if bucket else f"account {params.get('accountid') or 'unknown'}"
        who = (details.get("useridentity") or {}).get("arn") or "unknown principal"
        summary = f"S3 public access: {name} on {target} by {who}: {why}"
        severity = self.severity
        if bucket and bucket in self.created_buckets:
            summary += " (bucket created within the window)"
            severity = self.new_bucket_severity
        tags = ["cloudtrail", "aws", "s3", "exfiltration"]
        return self.createAlertDict(summary, "AWSCloudtrail", tags, [event], severity)
