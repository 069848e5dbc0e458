"""Account-level actions and messages as AWS SDK calls: a bucket's public access, an access key, notify
and request-approval (to an SNS topic)."""

from __future__ import annotations

from typing import Any

from .steps import WAIT_FOR_TOKEN, Args, Rendered, Unexportable, chain, done, fail, sdk


def block_bucket_public_access(args: Args) -> Rendered:
    settings = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    steps = [
        (
            "Block",
            sdk(
                "s3:putPublicAccessBlock",
                {"Bucket.$": "$.Bucket", "PublicAccessBlockConfiguration": dict.fromkeys(settings, True)},
                None,
            ),
        ),
        (
            "Read",
            sdk(
                "s3:getPublicAccessBlock",
                {"Bucket.$": "$.Bucket"},
                "$.read",
                {"Block.$": "$.PublicAccessBlockConfiguration"},
            ),
        ),
        (
            "Check",
            {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [{"Variable": f"$.read.Block.{s}", "BooleanEquals": True} for s in settings],
                        "Next": "Verified",
                    }
                ],
                "Default": "NotBlocked",
            },
        ),
        ("NotBlocked", fail("the public access block did not read back all on")),
        done("block-bucket-public-access", "Bucket"),
    ]
    return Rendered(chain(steps), "Block", ["Action", "Bucket", "Verified"], [])


def disable_access_key(args: Args) -> Rendered:
    steps: list[tuple[str, dict]] = []
    user = "$.UserName"
    if not args.given("UserName"):
        steps.append(
            (
                "Owner",
                sdk(
                    "iam:getAccessKeyLastUsed",
                    {"AccessKeyId.$": "$.AccessKeyId"},
                    "$.owner",
                    {"UserName.$": "$.UserName"},
                ),
            )
        )
        user = "$.owner.UserName"
    steps.append(
        (
            "Disable",
            sdk(
                "iam:updateAccessKey",
                {"AccessKeyId.$": "$.AccessKeyId", "UserName.$": user, "Status": "Inactive"},
                None,
            ),
        )
    )
    steps.append(
        ("Keys", sdk("iam:listAccessKeys", {"UserName.$": user}, "$.keys", {"All.$": "$.AccessKeyMetadata"}))
    )
    steps.append(
        (
            "EachKey",
            {
                "Type": "Map",
                "ItemsPath": "$.keys.All",
                "ItemSelector": {"Key.$": "$$.Map.Item.Value", "Wanted.$": "$.AccessKeyId"},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Inactive",
                    "States": {
                        "Inactive": {
                            "Type": "Choice",
                            "Choices": [
                                {
                                    "And": [
                                        {"Variable": "$.Key.AccessKeyId", "StringEqualsPath": "$.Wanted"},
                                        {"Not": {"Variable": "$.Key.Status", "StringEquals": "Inactive"}},
                                    ],
                                    "Next": "StillActive",
                                }
                            ],
                            "Default": "Fine",
                        },
                        "StillActive": fail("the access key did not read back Inactive"),
                        "Fine": {"Type": "Succeed"},
                    },
                },
                "ResultPath": None,
            },
        )
    )
    steps.append(done("disable-access-key", "AccessKeyId"))
    return Rendered(chain(steps), steps[0][0], ["Action", "AccessKeyId", "Verified"], [])


def _message(args: Args) -> dict[str, Any]:
    message: dict[str, Any] = {}
    for key in ("Summary", "Severity", "Details"):
        for form in (key, f"{key}.$"):
            if form in args.parameters:
                message[form[:1].lower() + form[1:]] = args.parameters[form]
    return message


def _topic(args: Args) -> dict[str, Any]:
    for form in ("TopicArn", "TopicArn.$"):
        if form in args.parameters:
            return {form: args.parameters[form]}
    if args.topic_default:
        return {"TopicArn": args.topic_default}
    raise Unexportable(
        "it names no SNS topic (TopicArn); webhook, Slack and email destinations live in Reynard's settings"
    )


def notify(args: Args) -> Rendered:
    topic = _topic(args)
    publish = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {**topic, "Message": _message(args)},
        "ResultSelector": {"MessageId.$": "$.MessageId"},
        "ResultPath": "$.published",
    }
    final = {
        "Type": "Pass",
        "Parameters": {"Action": "notify", "Verified": True, "MessageId.$": "$.published.MessageId"},
        "End": True,
    }
    notes = (
        ["only the SNS topic is kept: Destinations and the configured notifiers are not exported"]
        if args.given("Destinations")
        else []
    )
    return Rendered(
        chain([("Publish", publish), ("Verified", final)]),
        "Publish",
        ["Action", "Verified", "MessageId"],
        notes,
    )


def approval(state: dict[str, Any], args: Args) -> dict[str, Any]:
    """request-approval as sns:publish.waitForTaskToken: the output stays the approver's answer."""
    message = {**_message(args), "taskToken.$": "$$.Task.Token"}
    options = args.static("Options", ["stop", "terminate"])
    message["options"] = options
    exported = {k: v for k, v in state.items() if k not in ("Resource", "Parameters")}
    exported["Resource"] = "arn:aws:states:::sns:publish" + WAIT_FOR_TOKEN
    exported["Parameters"] = {**_topic(args), "Message": message}
    return exported
