"""POST an alert to a URL: the alert itself as JSON, or a Slack incoming-webhook message.

Slack only shows `text`, so that format is a one-line summary with a link; the generic format sends the
whole alert so the receiver decides what to show.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Literal

import httpx

from .base import Alert, DeliveryError, redact_url

Format = Literal["json", "slack"]
FORMATS: tuple[str, ...] = ("json", "slack")

# Answers worth another try: the receiver is overloaded or briefly broken, not refusing the request.
_RETRYABLE_STATUS = {408, 425, 429}


def slack_text(alert: Alert) -> str:
    """`[SEVERITY] summary <url|details>`, escaped as Slack's mrkdwn asks (&, <, >)."""
    summary = str(alert.get("summary", "")).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = f"[{alert.get('severity', 'UNKNOWN')}] {summary}"
    if alert.get("url"):
        text += f" <{alert['url']}|details>"
    return text


class WebhookNotifier:
    """One POST per attempt; 5xx, 408, 429 and network errors are retryable, other 4xx are not."""

    def __init__(
        self,
        url: str,
        format: Format = "json",
        timeout: float = 5.0,
        headers: Mapping[str, str] | None = None,
    ):
        if format not in FORMATS:
            raise ValueError(f"webhook format must be one of {', '.join(FORMATS)}, not {format!r}")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook url must start with http:// or https://, not {redact_url(url)!r}")
        self.url = url
        self.format = format
        self.timeout = timeout
        self._headers = dict(headers or {})
        self.name = f"{'slack' if format == 'slack' else 'webhook'} {redact_url(url)}"

    def __repr__(self) -> str:
        # Header values are often credentials (Authorization), so only their names are shown.
        return (
            f"{type(self).__name__}(url={redact_url(self.url)!r}, format={self.format!r}, "
            f"timeout={self.timeout!r}, headers={sorted(self._headers)!r})"
        )

    def body(self, alert: Alert) -> bytes:
        payload = {"text": slack_text(alert)} if self.format == "slack" else alert
        return json.dumps(payload, default=str).encode()

    def send(self, alert: Alert) -> None:
        where = f"POST {redact_url(self.url)}"
        headers = {"content-type": "application/json", **self._headers}
        try:
            response = httpx.post(self.url, content=self.body(alert), headers=headers, timeout=self.timeout)
        except httpx.TimeoutException as exc:
            raise DeliveryError(
                f"timed out after {self.timeout}s ({type(exc).__name__})", where=where
            ) from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(f"request failed: {type(exc).__name__}: {exc}", where=where) from exc
        if response.is_success:
            return
        status = response.status_code
        raise DeliveryError(
            f"answered HTTP {status}: {response.text[:200]!r}",
            where=where,
            retryable=status >= 500 or status in _RETRYABLE_STATUS,
        )
