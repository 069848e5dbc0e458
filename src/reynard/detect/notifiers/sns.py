"""Publish an alert to an Amazon SNS topic, so anything subscribed (SQS, Lambda, email, SMS) gets it.

The subject is a one-line, ASCII, at most 100-character summary because SNS refuses anything else; the
message is the whole alert as JSON. botocore's own retries are turned off: `deliver` owns retrying.
"""

from __future__ import annotations

import json
from typing import Any

from .base import Alert, DeliveryError, subject_line

SUBJECT_MAX = 100
MESSAGE_MAX = 256 * 1024  # SNS's limit on a message, in bytes

# Error codes that mean "later may work"; anything else (no such topic, access denied) will not.
_RETRYABLE_CODES = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "InternalError",
    "ServiceUnavailable",
}


def sns_subject(alert: Alert, prefix: str) -> str:
    """ASCII only, no control characters, starting with a printable character, at most 100 characters."""
    text = subject_line(alert, prefix).encode("ascii", "replace").decode("ascii")
    text = "".join(ch for ch in text if ch.isprintable()).strip()
    return text[:SUBJECT_MAX] or prefix[:SUBJECT_MAX] or "alert"


class SnsNotifier:
    """One `sns.publish` per attempt."""

    def __init__(
        self,
        topic_arn: str,
        region: str,
        endpoint_url: str | None = None,
        subject_prefix: str = "Reynard",
        timeout: float = 10.0,
    ):
        try:  # imported here so Reynard runs without boto3 when no SNS notifier is configured
            import boto3
            from botocore.config import Config
        except ImportError:
            raise ValueError("the sns notifier needs boto3 (pip install boto3)") from None

        self.topic_arn = topic_arn
        self.region = region
        self.endpoint_url = endpoint_url
        self.subject_prefix = subject_prefix
        self.name = f"sns {topic_arn}"
        config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 1})
        self._client: Any = boto3.client("sns", region_name=region, endpoint_url=endpoint_url, config=config)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(topic_arn={self.topic_arn!r}, region={self.region!r}, "
            f"endpoint_url={self.endpoint_url!r}, subject_prefix={self.subject_prefix!r})"
        )

    def send(self, alert: Alert) -> None:
        from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

        where = f"SNS publish to {self.topic_arn}"
        message = json.dumps(alert, default=str)
        if len(message.encode()) > MESSAGE_MAX:
            raise DeliveryError(
                f"alert is {len(message.encode())} bytes as JSON, over SNS's {MESSAGE_MAX}", where=where,
                retryable=False,
            )  # fmt: skip
        try:
            self._client.publish(
                TopicArn=self.topic_arn, Subject=sns_subject(alert, self.subject_prefix), Message=message
            )
        except (ConnectTimeoutError, ReadTimeoutError) as exc:
            raise DeliveryError(f"timed out: {exc}", where=where) from exc
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise DeliveryError(
                f"refused: {code}: {exc.response.get('Error', {}).get('Message', '')}",
                where=where,
                retryable=code in _RETRYABLE_CODES,
            ) from exc
        except BotoCoreError as exc:
            # No credentials will not fix itself; an unreachable endpoint might.
            retryable = type(exc).__name__ not in {"NoCredentialsError", "NoRegionError"}
            raise DeliveryError(f"{type(exc).__name__}: {exc}", where=where, retryable=retryable) from exc
