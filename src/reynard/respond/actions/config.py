"""The actions' settings, read once from the `[respond.*]` tables of the settings file and checked by name.

    [respond.aws]                       # see aws_sdk.AwsConfig: region, endpoint_url, profile, ...
    region = "us-east-1"

    [respond.notifiers.soc]             # destinations of reynard:notify, by name (as [[notifiers]])
    type = "slack"
    url = "https://hooks.slack.com/services/..."

    [respond.forensics]
    memory_capture_command = "sudo /usr/local/bin/avml /var/tmp/memory.lime"
    timeout_seconds = 900

    [respond.actions]
    verify_attempts = 5                 # fresh reads before a check is declared failed
    verify_delay_seconds = 2

Without `[respond.notifiers]`, notify uses the alert notifiers (`[[notifiers]]`), named `notifiers[0]`, ...
Only these sub-tables are checked here: other keys of `[respond]` belong to the rest of the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reynard.detect.notifiers import Notifier, build_notifier
from reynard.errors import ConfigError
from reynard.settings import Settings

from ..aws_sdk import AwsConfig


@dataclass(frozen=True)
class ForensicsConfig:
    memory_capture_command: str | None = None  # Linux; run as is by AWS-RunShellScript
    windows_memory_capture_command: str | None = None  # run by AWS-RunPowerShellScript
    timeout_seconds: float = 600.0
    output_s3_bucket: str | None = None  # full outputs (SSM returns at most 24,000 characters inline)
    output_s3_prefix: str = "reynard-forensics/"


@dataclass(frozen=True)
class RespondConfig:
    notifiers: Mapping[str, Notifier] = field(default_factory=dict)
    forensics: ForensicsConfig = field(default_factory=ForensicsConfig)
    verify_attempts: int = 5
    verify_delay_seconds: float = 2.0

    @classmethod
    def from_settings(cls, settings: Settings, aws: AwsConfig) -> RespondConfig:
        respond = settings.extra.get("respond") or {}
        if not isinstance(respond, Mapping):
            raise ConfigError("expected a table", where="settings: respond")
        actions = _table(respond, "actions", {"verify_attempts": int, "verify_delay_seconds": (int, float)})
        forensics = _table(
            respond,
            "forensics",
            {
                "memory_capture_command": str,
                "windows_memory_capture_command": str,
                "timeout_seconds": (int, float),
                "output_s3_bucket": str,
                "output_s3_prefix": str,
            },
        )
        config = cls(
            notifiers=_notifiers(settings, respond, aws),
            forensics=ForensicsConfig(**forensics),
            **actions,
        )
        if config.verify_attempts < 1:
            raise ConfigError("key 'verify_attempts' must be 1 or more", where="settings: respond.actions")
        return config


def _table(
    respond: Mapping[str, Any], name: str, types: dict[str, type | tuple[type, ...]]
) -> dict[str, Any]:
    where = f"settings: respond.{name}"
    table = respond.get(name) or {}
    if not isinstance(table, Mapping):
        raise ConfigError("expected a table", where=where)
    for key, value in table.items():
        if key not in types:
            raise ConfigError(f"unknown key {key!r}; known: {', '.join(types)}", where=where)
        if not isinstance(value, types[key]) or isinstance(value, bool):
            raise ConfigError(f"key {key!r} has the wrong type {type(value).__name__}", where=where)
    return dict(table)


def _notifiers(settings: Settings, respond: Mapping[str, Any], aws: AwsConfig) -> dict[str, Notifier]:
    named = respond.get("notifiers")
    if named:
        if not isinstance(named, Mapping):
            raise ConfigError("expected tables [respond.notifiers.NAME]", where="settings: respond.notifiers")
        specs = {str(name): spec for name, spec in named.items()}
        places = {name: f"respond.notifiers.{name}" for name in specs}
    else:
        listed = settings.extra.get("notifiers") or []
        specs = {f"notifiers[{i}]": spec for i, spec in enumerate(listed)}
        places = {name: name for name in specs}
    notifiers = {}
    for name, spec in specs.items():
        if (
            isinstance(spec, Mapping)
            and spec.get("type") == "sns"
            and aws.endpoint_url
            and "endpoint_url" not in spec
        ):
            spec = {**spec, "endpoint_url": aws.endpoint_url}  # the same AWS-compatible endpoint as the rest
        notifiers[name] = build_notifier(spec, where=places[name])
    return notifiers
