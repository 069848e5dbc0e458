"""The notifier contract, the delivery loop and its record.

A notifier only knows how to make one attempt; `deliver` owns retries and backoff so every notifier
behaves the same, and it never raises: one broken destination must not stop the alerts going to the
others. Every attempt's outcome ends up in a `Delivery` record that can be stored and shown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from reynard.errors import ReynardError

log = logging.getLogger(__name__)

Alert = Mapping[str, Any]


class DeliveryError(ReynardError):
    """One attempt to hand an alert to a destination failed.

    `retryable` is False when trying again cannot help (a bad password, a refused recipient, HTTP 404),
    so `deliver` stops at once instead of hammering the destination.
    """

    def __init__(self, message: str, *, where: str | None = None, retryable: bool = True):
        super().__init__(message, where=where)
        self.retryable = retryable


def redact_url(url: str) -> str:
    """The URL without what usually carries a token: user info, the query, and long path segments.

    Slack and most webhook services put the secret in the path (`/services/T0/B0/<token>`), so any
    segment of 20 characters or more is masked; the host and the short segments still say where it went.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    path = "/".join("***" if len(seg) >= 20 else seg for seg in parts.path.split("/"))
    return urlunsplit((parts.scheme, host, path, "", ""))


@runtime_checkable
class Notifier(Protocol):
    """Something that can hand one alert to one destination.

    To add a destination: give it a `name` (shown in `Delivery` records and logs, so no secrets in it)
    and a `send(alert)` that makes exactly one attempt and raises `DeliveryError` with a message naming
    the destination and the cause. Do not retry inside `send`; `deliver` does that.
    """

    name: str

    def send(self, alert: Alert) -> None: ...


@dataclass(frozen=True)
class Delivery:
    """What happened when one alert went to one notifier."""

    notifier: str
    alert_id: str | None
    classname: str | None
    attempts: int
    ok: bool
    error: str | None
    started: datetime
    finished: datetime


def deliver(
    notifier: Notifier,
    alert: Alert,
    retries: int = 3,
    backoff: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Send `alert` with up to `retries` further attempts after the first, waiting backoff * 2**n between.

    Retries on `DeliveryError` marked retryable and on timeouts and connection errors (`OSError`);
    anything else is recorded as a failure at once. Never raises.
    """
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, not {retries}")
    started = datetime.now(UTC)
    attempts = 0
    error: str | None = None
    while True:
        attempts += 1
        try:
            notifier.send(alert)
        except DeliveryError as exc:
            error, retryable = str(exc), exc.retryable
        except TimeoutError as exc:
            error, retryable = f"{notifier.name}: timed out ({exc or 'no detail'})", True
        except OSError as exc:
            error, retryable = f"{notifier.name}: {type(exc).__name__}: {exc}", True
        except Exception as exc:  # a bug in a notifier must not stop the others; it is logged below
            log.exception("notifier %s raised unexpectedly", notifier.name)
            error, retryable = f"{notifier.name}: unexpected {type(exc).__name__}: {exc}", False
        else:
            error = None
            break
        if not retryable or attempts > retries:
            break
        sleep(backoff * 2 ** (attempts - 1))
    rule = alert.get("rule") or alert.get("classname")
    record = Delivery(
        notifier=notifier.name,
        alert_id=_str_or_none(alert.get("id")),
        classname=_str_or_none(alert.get("classname")),
        attempts=attempts,
        ok=error is None,
        error=error,
        started=started,
        finished=datetime.now(UTC),
    )
    if error is not None:
        log.warning(
            "alert %s of rule %s not delivered by %s after %d attempt(s): %s",
            record.alert_id, rule, record.notifier, attempts, error,
        )  # fmt: skip
    return record


def notify_all(notifiers: Iterable[Notifier], alert: Alert, **options: Any) -> list[Delivery]:
    """Deliver `alert` to each notifier in turn (options go to `deliver`); one record per notifier."""
    return [deliver(notifier, alert, **options) for notifier in notifiers]


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def subject_line(alert: Alert, prefix: str) -> str:
    """`<prefix> [<severity>] <summary>` on one line: a header or an SNS subject cannot hold newlines."""
    text = f"{prefix} [{alert.get('severity', 'UNKNOWN')}] {alert.get('summary', '')}"
    return " ".join(text.split())
