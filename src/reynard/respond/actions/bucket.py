"""reynard:block-bucket-public-access: the bucket's Block Public Access, all four settings on.

Verified by reading `GetPublicAccessBlock` back. A bucket that does not exist is `Reynard.ResourceNotFound`.
"""

from __future__ import annotations

from typing import Any

from ..aws_sdk import AwsCallError, call
from ..resources import TaskContext
from .base import Action, Arguments, Check, Report, not_found

SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
ALL_ON = dict.fromkeys(SETTINGS, True)


def public_access_block(s3: Any, bucket: str) -> dict[str, bool] | None:
    try:
        return call(s3, "get_public_access_block", Bucket=bucket)["PublicAccessBlockConfiguration"]
    except AwsCallError as exc:
        if exc.code == "NoSuchPublicAccessBlockConfiguration":
            return None
        if exc.code == "NoSuchBucket":
            raise not_found(f"bucket {bucket}") from None
        raise


class BlockBucketPublicAccess(Action):
    name = "block-bucket-public-access"
    parameters = frozenset({"Bucket"})
    aws_actions = frozenset(
        {
            "s3:GetPublicAccessBlock",
            "s3:PutPublicAccessBlock",
        }
    )
    target = "Bucket"
    would = "turn on all four Block Public Access settings"
    result_keys = ("Bucket",)

    def run(self, args: Arguments, report: Report, context: TaskContext) -> None:
        bucket = args.text("Bucket", required=True)
        s3 = self.env.clients.client("s3")
        current = public_access_block(s3, bucket)
        if current != ALL_ON:
            report.apply(
                bucket,
                "PublicAccessBlockConfiguration",
                lambda: call(
                    s3, "put_public_access_block", Bucket=bucket, PublicAccessBlockConfiguration=ALL_ON
                ),
                before=current,
                after=ALL_ON,
            )
        report.extra.update(Bucket=bucket)
        report.verify(
            lambda: [
                Check.equal(bucket, "PublicAccessBlockConfiguration", ALL_ON, public_access_block(s3, bucket))
            ]
        )
