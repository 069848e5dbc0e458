"""Credentials actions: revoke an instance role's sessions, disable an access key.

reynard:revoke-role-sessions puts the inline policy `AWSRevokeOlderSessions` on each role of the instance's
profile (or the roles named): deny everything to sessions whose `aws:TokenIssueTime` is before now, which
is what the IAM console's "Revoke active sessions" does. Credentials stolen from the instance stop working;
the instance itself gets new ones from its metadata service, which is why isolation comes first. The
statement's `Sid` carries a hash of the execution and state, so a retry keeps the time it first set
instead of moving it; a later execution sets a new time. Verified by reading the policy back, and the
instance's profile (an instance without one has no role to revoke: the result says so, read back). A role,
instance profile or instance that does not exist is `Reynard.ResourceNotFound`.

reynard:disable-access-key sets an access key `Inactive`; verified by listing the user's keys. A key or
user that does not exist is `Reynard.ResourceNotFound`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from reynard.events.timestamps import zulu

from ..aws_sdk import AwsCallError, call
from ..resources import TaskContext
from .base import Action, Arguments, Check, Report, not_found
from .ec2 import describe_instance

POLICY_NAME = "AWSRevokeOlderSessions"


def revocation_sid(context: TaskContext) -> str:
    digest = hashlib.sha256(f"{context.execution_id}\0{context.state}".encode()).hexdigest()[:16]
    return f"ReynardRevoke{digest}"


def revocation_policy(sid: str, before: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": sid,
                "Effect": "Deny",
                "Action": ["*"],
                "Resource": ["*"],
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": before}},
            }
        ],
    }


def current_revocation(iam: Any, role: str) -> dict[str, Any] | None:
    """The role's AWSRevokeOlderSessions statement, or None."""
    try:
        document = call(iam, "get_role_policy", RoleName=role, PolicyName=POLICY_NAME)["PolicyDocument"]
    except AwsCallError as exc:
        if exc.code == "NoSuchEntity":
            return None
        raise
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    return statements[0] if statements else None


def revokes_before(statement: dict[str, Any] | None) -> str | None:
    if not statement or statement.get("Effect") != "Deny":
        return None
    actions = statement.get("Action")
    if actions not in ("*", ["*"]) or statement.get("Resource") not in ("*", ["*"]):
        return None
    return statement.get("Condition", {}).get("DateLessThan", {}).get("aws:TokenIssueTime")


def _parse_time(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


class RevokeRoleSessions(Action):
    name = "revoke-role-sessions"
    parameters = frozenset({"InstanceId", "RoleNames", "Region", "IssuedBefore"})
    aws_actions = frozenset(
        {
            "ec2:DescribeInstances",
            "iam:GetInstanceProfile",
            "iam:GetRole",
            "iam:GetRolePolicy",
            "iam:PutRolePolicy",
        }
    )
    target = "InstanceId"
    result_keys = ("InstanceId", "InstanceProfile", "Roles", "RevokedBefore")

    def intent(self, args: Arguments) -> list[tuple[str, str]]:
        before = args.text("IssuedBefore") or "now"
        deny = f"deny every session issued before {before} (inline policy {POLICY_NAME})"
        planned = [(role, deny) for role in args.texts("RoleNames")]
        if args.text("InstanceId"):
            planned.insert(0, (args.text("InstanceId"), f"on each role of its instance profile, {deny}"))
        return planned

    def run(self, args: Arguments, report: Report, context: TaskContext) -> None:
        instance_id, roles = args.text("InstanceId"), args.texts("RoleNames")
        if not instance_id and not roles:
            args.fail("give InstanceId (its instance profile's roles) or RoleNames")
        wanted_text, region = args.text("IssuedBefore"), args.text("Region")
        wanted = _parse_time(wanted_text) if wanted_text else self.env.now()
        if wanted is None:
            args.fail(f"argument 'IssuedBefore' is not an ISO 8601 timestamp: {wanted_text!r}")
        iam = self.env.clients.client("iam")
        ec2 = self.env.clients.client("ec2", region) if instance_id else None
        profile = None
        if instance_id:
            profile = profile_of(describe_instance(ec2, instance_id))
            if profile:
                roles = sorted({*roles, *profile_roles(iam, profile, instance_id)})
        sid, before = revocation_sid(context), zulu(wanted, "seconds")
        times: dict[str, str] = {}
        for role in roles:
            require_role(iam, role)
            statement = current_revocation(iam, role)
            existing = revokes_before(statement)
            same_run = statement is not None and statement.get("Sid") == sid and existing
            covered = wanted_text and existing and (_parse_time(existing) or wanted) >= wanted
            if same_run or covered:
                times[role] = existing
                continue
            document = revocation_policy(sid, before)
            report.apply(
                role,
                f"inline policy {POLICY_NAME}",
                lambda r=role, d=document: call(
                    iam, "put_role_policy", RoleName=r, PolicyName=POLICY_NAME, PolicyDocument=_json(d)
                ),
                before=existing,
                after=f"deny sessions issued before {before}",
            )
            times[role] = before
        report.extra.update(InstanceId=instance_id, InstanceProfile=profile, Roles=roles, RevokedBefore=times)
        report.verify(lambda: self._checks(iam, ec2, instance_id, profile, times))

    def _checks(
        self, iam: Any, ec2: Any, instance_id: str | None, profile: str | None, times: dict[str, str]
    ) -> list[Check]:
        checks = []
        if instance_id:
            found = profile_of(describe_instance(ec2, instance_id))
            checks.append(Check.equal(instance_id, "instance profile", profile, found))
        return checks + [
            Check.equal(
                role,
                f"{POLICY_NAME} denies sessions issued before",
                before,
                revokes_before(current_revocation(iam, role)),
            )
            for role, before in times.items()
        ]


def profile_of(instance: dict[str, Any]) -> str | None:
    """The name of the instance's profile, or None."""
    arn = (instance.get("IamInstanceProfile") or {}).get("Arn")
    return arn.rsplit("/", 1)[-1] if arn else None


def profile_roles(iam: Any, profile: str, instance_id: str) -> list[str]:
    try:
        found = call(iam, "get_instance_profile", InstanceProfileName=profile)["InstanceProfile"]
    except AwsCallError as exc:
        if exc.code == "NoSuchEntity":
            raise not_found(f"instance profile {profile} of {instance_id}") from None
        raise
    return [role["RoleName"] for role in found.get("Roles", [])]


def require_role(iam: Any, role: str) -> None:
    try:
        call(iam, "get_role", RoleName=role)
    except AwsCallError as exc:
        if exc.code == "NoSuchEntity":
            raise not_found(f"role {role}") from None
        raise


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


class DisableAccessKey(Action):
    name = "disable-access-key"
    parameters = frozenset({"AccessKeyId", "UserName"})
    aws_actions = frozenset(
        {
            "iam:GetAccessKeyLastUsed",
            "iam:ListAccessKeys",
            "iam:UpdateAccessKey",
        }
    )
    target = "AccessKeyId"
    would = "set the access key Inactive"
    result_keys = ("AccessKeyId", "UserName")

    def run(self, args: Arguments, report: Report, context: TaskContext) -> None:
        key_id, named = args.text("AccessKeyId", required=True), args.text("UserName")
        iam = self.env.clients.client("iam")
        user = named or self._owner(iam, key_id)
        if not user:
            raise not_found(f"access key {key_id} (no IAM user owns it)")
        status = self._status(iam, user, key_id)
        if status is None:
            raise not_found(f"access key {key_id} of user {user}")
        if status != "Inactive":
            report.apply(
                key_id,
                "Status",
                lambda: call(iam, "update_access_key", UserName=user, AccessKeyId=key_id, Status="Inactive"),
                before=status,
                after="Inactive",
            )
        report.extra.update(AccessKeyId=key_id, UserName=user)
        report.verify(lambda: [Check.equal(key_id, "Status", "Inactive", self._status(iam, user, key_id))])

    def _owner(self, iam: Any, key_id: str) -> str | None:
        try:
            return call(iam, "get_access_key_last_used", AccessKeyId=key_id).get("UserName")
        except AwsCallError as exc:
            if exc.code == "NoSuchEntity":
                return None
            raise

    def _status(self, iam: Any, user: str, key_id: str) -> str | None:
        try:
            keys = call(iam, "list_access_keys", UserName=user).get("AccessKeyMetadata", [])
        except AwsCallError as exc:
            if exc.code == "NoSuchEntity":
                raise not_found(f"user {user}") from None
            raise
        return next((k["Status"] for k in keys if k["AccessKeyId"] == key_id), None)
