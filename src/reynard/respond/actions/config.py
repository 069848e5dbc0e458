"""The actions' settings: the `[respond.*]` tables, typed and checked when the settings were loaded.

    [respond.aws]                       # reynard.settings.AwsSection: region, endpoint_url, profile, ...
    region = "us-east-1"

    [respond.notifiers.soc]             # destinations of reynard:notify, by name (as [[notifiers]])
    type = "slack"
    url = "https://hooks.slack.com/services/..."

    [respond.forensics]                 # reynard.settings.ForensicsSection
    memory_capture_command = "sudo /usr/local/bin/avml /var/tmp/memory.lime"
    timeout_seconds = 900

    [respond.actions]                   # reynard.settings.ActionsSection
    verify_attempts = 5                 # fresh reads before a check is declared failed
    verify_delay_seconds = 2

Without `[respond.notifiers]`, notify uses the alert notifiers (`[[notifiers]]`), named `notifiers[0]`, ...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from reynard.detect.notifiers import Notifier, build_notifier
from reynard.settings import ActionsSection, ForensicsSection, NotifierSpec, Settings

from ..aws_sdk import AwsConfig

ForensicsConfig = ForensicsSection  # the name the actions knew it by


@dataclass(frozen=True)
class RespondConfig:
    notifiers: Mapping[str, Notifier] = field(default_factory=dict)
    forensics: ForensicsSection = field(default_factory=ForensicsSection)
    verify_attempts: int = ActionsSection.verify_attempts
    verify_delay_seconds: float = ActionsSection.verify_delay_seconds

    @classmethod
    def from_settings(cls, settings: Settings, aws: AwsConfig) -> RespondConfig:
        respond = settings.respond
        return cls(
            notifiers=_notifiers(settings, aws),
            forensics=respond.forensics,
            verify_attempts=respond.actions.verify_attempts,
            verify_delay_seconds=respond.actions.verify_delay_seconds,
        )


def _notifiers(settings: Settings, aws: AwsConfig) -> dict[str, Notifier]:
    specs: Mapping[str, NotifierSpec] = settings.respond.notifiers or {
        f"notifiers[{i}]": spec for i, spec in enumerate(settings.notifiers)
    }
    return {name: build_notifier(_same_endpoint(spec, aws)) for name, spec in specs.items()}


def _same_endpoint(spec: NotifierSpec, aws: AwsConfig) -> NotifierSpec:
    """An sns notifier without its own endpoint_url uses the same AWS-compatible endpoint as the rest."""
    if spec.type == "sns" and aws.endpoint_url and "endpoint_url" not in spec.options:
        return replace(spec, options={**spec.options, "endpoint_url": aws.endpoint_url})
    return spec
