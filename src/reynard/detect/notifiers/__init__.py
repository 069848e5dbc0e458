"""Notifiers: hand an alert to the people and systems that act on it, and record how that went.

`base` holds the contract (`Notifier`, `DeliveryError`), the retry loop (`deliver`, `notify_all`) and
the `Delivery` record; each destination has its own module. `build_notifier` turns one settings entry
such as `{"type": "slack", "url": "https://hooks.slack.com/..."}` into a notifier, refusing unknown types
and unknown or missing keys by name, so a typo in the settings fails at start-up rather than at 3 a.m.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reynard.errors import ConfigError

from .base import Delivery, DeliveryError, Notifier, Secret, deliver, notify_all, redact_url
from .smtp import EmailNotifier
from .sns import SnsNotifier
from .webhook import WebhookNotifier

__all__ = [
    "Delivery",
    "DeliveryError",
    "EmailNotifier",
    "Notifier",
    "Secret",
    "SnsNotifier",
    "WebhookNotifier",
    "build_notifier",
    "deliver",
    "notify_all",
    "redact_url",
]

# type -> (required keys, optional keys with their expected types); the constructors give the defaults.
_SPECS: dict[str, tuple[dict[str, type | tuple[type, ...]], dict[str, type | tuple[type, ...]]]] = {
    "webhook": (
        {"url": str},
        {"format": str, "timeout": (int, float), "headers": dict},
    ),
    "slack": ({"url": str}, {"timeout": (int, float)}),
    "sns": (
        {"topic_arn": str, "region": str},
        {"endpoint_url": str, "subject_prefix": str, "timeout": (int, float)},
    ),
    "email": (
        {"host": str, "port": int, "sender": str, "recipients": (list, tuple, str)},
        {"username": str, "password": str, "starttls": bool, "timeout": (int, float), "subject_prefix": str},
    ),
}


def build_notifier(spec: Mapping[str, Any], where: str = "notifier") -> Notifier:
    """One notifier from one settings entry; `where` names the entry in errors (e.g. `notifiers[2]`)."""
    if not isinstance(spec, Mapping):
        raise ConfigError(f"expected a table with a 'type' key, got {type(spec).__name__}", where=where)
    kind = spec.get("type")
    if kind is None:
        raise ConfigError(f"missing key 'type' (one of {', '.join(_SPECS)})", where=where)
    if kind not in _SPECS:
        raise ConfigError(f"unknown notifier type {kind!r}; known: {', '.join(_SPECS)}", where=where)
    required, optional = _SPECS[kind]
    where = f"{where} (type {kind})"
    options = {key: value for key, value in spec.items() if key != "type"}
    for key in required:
        if key not in options:
            raise ConfigError(f"missing key {key!r}", where=where)
    for key, value in options.items():
        expected = required.get(key) or optional.get(key)
        if expected is None:
            known = ", ".join([*required, *optional])
            raise ConfigError(f"unknown key {key!r}; known: {known}", where=where)
        if not isinstance(value, expected) or (isinstance(value, bool) and expected in (int, (int, float))):
            raise ConfigError(f"key {key!r} has the wrong type {type(value).__name__}", where=where)
    try:
        return _construct(kind, options)
    except ValueError as exc:
        raise ConfigError(str(exc), where=where) from None


def _construct(kind: str, options: dict[str, Any]) -> Notifier:
    if kind == "webhook":
        return WebhookNotifier(**options)
    if kind == "slack":
        return WebhookNotifier(format="slack", **options)
    if kind == "sns":
        return SnsNotifier(**options)
    recipients = options.pop("recipients")
    recipients = [recipients] if isinstance(recipients, str) else list(recipients)
    if not all(isinstance(r, str) for r in recipients):
        raise ValueError("key 'recipients' must be a list of addresses")
    return EmailNotifier(recipients=recipients, **options)
