"""Notifiers: hand an alert to the people and systems that act on it, and record how that went.

`base` holds the contract (`Notifier`, `DeliveryError`), the retry loop (`deliver`, `notify_all`) and
the `Delivery` record; each destination has its own module. `build_notifier` turns one notifier of the
settings (a `NotifierSpec`: its type and options, already checked by `load_settings` against
`reynard.settings.sections.NOTIFIER_TYPES`, so a typo fails at start-up rather than at 3 a.m.) into a
notifier. A new destination adds its keys there and its constructor here.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from reynard.settings import NotifierSpec, Secret

from .base import Delivery, DeliveryError, Notifier, deliver, notify_all, redact_url
from .smtp import EmailNotifier
from .sns import SnsNotifier
from .webhook import WebhookNotifier

__all__ = [
    "CONSTRUCTORS",
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

# type -> constructor, taking the options of its settings as keyword arguments.
CONSTRUCTORS: dict[str, Callable[..., Notifier]] = {
    "webhook": WebhookNotifier,
    "slack": partial(WebhookNotifier, format="slack"),
    "sns": SnsNotifier,
    "email": EmailNotifier,
}


def build_notifier(spec: NotifierSpec) -> Notifier:
    """The notifier of one checked settings entry; ConfigError at the entry's line when it cannot be made
    here (the sns notifier without boto3)."""
    try:
        return CONSTRUCTORS[spec.type](**spec.options)
    except ValueError as exc:
        raise spec.place.error(str(exc), label=spec.label) from None
