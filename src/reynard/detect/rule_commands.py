"""What `reynard rules list|add|enable|disable|schedule|run` do, apart from parsing their arguments."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click
import orjson

from reynard.detect.alerts import AlertStore
from reynard.detect.mozdef_config import config_schedule
from reynard.detect.notifications import Notifications
from reynard.detect.registry import DEFAULT_SCHEDULE, RuleRegistry
from reynard.detect.runner import RunReport, run_rules
from reynard.detect.schedule import Schedule
from reynard.settings import Settings
from reynard.state import open_state


def rules_dir(settings: Settings) -> Path:
    return settings.data_dir / "rules"


def open_registry(settings: Settings) -> RuleRegistry:
    """The registry in the state database, with every built-in rule registered."""
    registry = RuleRegistry(open_state(settings.state_url), rules_dir(settings))
    registry.ensure_builtins()
    return registry


def list_rules(settings: Settings, fmt: str) -> None:
    infos = open_registry(settings).list()
    if fmt == "json":
        for info in infos:
            sys.stdout.write(orjson.dumps(info.as_dict()).decode() + "\n")
        sys.stdout.flush()
        return
    rows = [
        (
            info.name,
            info.kind,
            "enabled" if info.enabled else "disabled",
            info.schedule.text,
            info.last_run.isoformat()[:19] if info.last_run else "never",
            f"failed: {info.last_error}"
            if info.last_error
            else (f"{info.last_alerts} alerts" if info.last_alerts is not None else ""),
        )
        for info in infos
    ]
    table = [("NAME", "KIND", "STATE", "SCHEDULE", "LAST RUN", "OUTCOME"), *rows]
    widths = [max(map(len, column)) for column in zip(*table, strict=True)]
    for row in table:  # columns as wide as their longest cell: a crontab(...) schedule is long
        click.echo("  ".join(f"{cell:<{width}}" for cell, width in zip(row, widths, strict=True)).rstrip())
    click.echo(f"{len(infos)} rules")


def add_mozdef(
    settings: Settings,
    path: str,
    schedule: str | None = None,
    mozdef_config: str | None = None,
    received_time_windows: bool = False,
) -> str:
    """Register a MozDef alert file on `schedule`, or on the one MozDef's config.py gives its module, or
    on the default; the line printed says which."""
    chosen: str | Schedule = DEFAULT_SCHEDULE if schedule is None else schedule
    origin = " (the default)" if schedule is None else ""
    if mozdef_config:
        module = Path(path).stem
        found = config_schedule(mozdef_config, module)
        if found is None:
            origin = f" (the default: {mozdef_config} has no ALERTS entry for module {module!r})"
        else:
            chosen = found.schedule
            origin = f" (from {mozdef_config}:{found.line}, {found.key})"
    info = open_registry(settings).add_mozdef(
        path, schedule=chosen, received_time_windows=received_time_windows
    )
    windows = ", windows by received time too" if received_time_windows else ""
    return f"added {info.name} ({info.path}), schedule {info.schedule.text}{origin}{windows}"


def set_enabled(settings: Settings, name: str, enabled: bool) -> str:
    registry = open_registry(settings)
    if enabled:
        registry.enable(name)
    else:
        registry.disable(name)
    return f"{name} {'enabled' if enabled else 'disabled'}"


def set_schedule(settings: Settings, name: str, spec: str) -> str:
    registry = open_registry(settings)
    registry.get(name)  # RuleError for an unknown name
    return f"{name} runs {registry.set_schedule(name, spec).describe()}"


def run_scheduled(
    settings: Settings, since: datetime | None, names: Sequence[str], now: datetime | None = None
) -> RunReport:
    """Run the enabled rules (or `names`) once over the event store; print one line per rule."""
    from reynard.store.backends import open_event_store

    registry = open_registry(settings)
    store = open_event_store(settings, writable=False)
    alert_store = AlertStore(registry.engine, notify=Notifications.from_settings(settings, registry.engine))
    report = run_rules(
        registry, store, alert_store, now or datetime.now(UTC), since=since, names=names or None
    )
    for line in report.lines():
        click.echo(line)
    return report


__all__ = [
    "add_mozdef",
    "list_rules",
    "open_registry",
    "rules_dir",
    "run_scheduled",
    "set_enabled",
    "set_schedule",
]
