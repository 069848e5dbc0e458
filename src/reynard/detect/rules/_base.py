"""The base of the built-in rules: an `AlertTask` whose thresholds are class attributes that a
`config` dict given to the constructor overrides (unknown keys are refused, so a typo is not ignored)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from reynard.detect.alerttask import AlertTask
from reynard.detect.errors import RuleError
from reynard.detect.sources import EventSource


class BuiltinRule(AlertTask):
    """An `AlertTask` configured by `config`: each key replaces the class attribute of that name."""

    # The names of the class attributes that `config` may set (each rule lists its own).
    config_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        source: EventSource | None = None,
        *,
        now: datetime | None = None,
        config: dict[str, Any] | None = None,
    ):
        super().__init__(source, now=now)
        for key, value in (config or {}).items():
            if key not in self.config_keys:
                known = ", ".join(self.config_keys) or "none"
                raise RuleError(f"unknown config key {key!r} (known: {known})", where=self.classname())
            setattr(self, key, value)
