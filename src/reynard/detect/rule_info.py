"""`RuleInfo`: one rule of the registry as its row says it (what `reynard rules list` shows), and the
`Registry` the kinds of rule (Sigma's catalog) are written against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from reynard.detect.schedule import Schedule
from reynard.events.timestamps import iso_or_none


@dataclass(frozen=True)
class RuleInfo:
    name: str
    kind: str
    path: str | None
    enabled: bool
    schedule: Schedule
    config: dict[str, Any]
    last_run: datetime | None
    last_error: str | None
    last_alerts: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "path": self.path,
            "enabled": self.enabled,
            "schedule": self.schedule.text,
            "config": self.config,
            "last_run": iso_or_none(self.last_run),
            "last_error": self.last_error,
            "last_alerts": self.last_alerts,
        }


class Registry(Protocol):
    """What a kind of rule needs of the registry (`reynard.detect.registry.RuleRegistry`)."""

    rules_dir: Path

    def list(self) -> list[RuleInfo]: ...

    def register(
        self, name: str, kind: str, *, path: str | None, schedule: str | Schedule, config: dict[str, Any]
    ) -> RuleInfo: ...
