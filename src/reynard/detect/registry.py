"""The rule registry: which detection rules run (built-in rules, MozDef alert files, Sigma rules).

Each rule is a row of the `rules` table: its name (a built-in rule's name, a MozDef file's stem, or
`sigma:<title>`), its kind, for files the copy kept in `<data_dir>/rules/` (a MozDef file with the `.conf`
beside it; Sigma files under `sigma/`, see `reynard.detect.sigma.catalog`), whether it is
enabled, its schedule (the canonical text of `reynard.detect.schedule`: `5m`, `*/5 * * * *`,
`crontab(minute='*/1')`), its config (JSON, for built-in rules), and what its last run did.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, insert, select, update

from reynard.detect.alerttask import AlertTask
from reynard.detect.errors import RuleError
from reynard.detect.schedule import Schedule, parse_schedule
from reynard.detect.sources import EventSource
from reynard.events.timestamps import iso_or_none
from reynard.state.tables import rules

DEFAULT_SCHEDULE = "5m"


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


def _builtins() -> dict[str, type]:
    from reynard.detect.rules import BUILTIN_RULES

    return dict(BUILTIN_RULES)


def _schedule(schedule: str | Schedule) -> Schedule:
    return parse_schedule(schedule) if isinstance(schedule, str) else schedule


def _info(row: Any) -> RuleInfo:
    try:
        schedule = parse_schedule(row.schedule)
    except RuleError as e:  # only the registry writes it: a row edited by hand
        raise RuleError(e.message, where=f"rule {row.name}") from None
    return RuleInfo(
        name=row.name,
        kind=row.kind,
        path=row.path,
        enabled=bool(row.enabled),
        schedule=schedule,
        config=orjson.loads(row.config or "{}"),
        last_run=row.last_run,
        last_error=row.last_error,
        last_alerts=row.last_alerts,
    )


class RuleRegistry:
    def __init__(self, engine: Engine, rules_dir: Path):
        self.engine = engine
        self.rules_dir = Path(rules_dir)

    # -- registering ------------------------------------------------------------------------------------
    def ensure_builtins(self) -> list[str]:
        """Register each built-in rule not registered yet (enabled); returns the names added."""
        known = {r.name for r in self.list()}
        added = [name for name in _builtins() if name not in known]
        if added:
            with self.engine.begin() as connection:
                for name in added:
                    connection.execute(
                        insert(rules).values(
                            name=name,
                            kind="builtin",
                            path=None,
                            enabled=True,
                            schedule=DEFAULT_SCHEDULE,
                            config="{}",
                        )
                    )
        return added

    def add_mozdef(
        self,
        path: str | Path,
        schedule: str | Schedule = DEFAULT_SCHEDULE,
        received_time_windows: bool = False,
    ) -> RuleInfo:
        """Validate a MozDef alert file, copy it (and the `.conf` beside it) into the rules directory and
        register it under its file name's stem (enabled, on `schedule`). A file or schedule that is not
        valid raises RuleError and nothing is copied or written; adding a file of the same name again
        replaces the copy (and its schedule).

        `received_time_windows`: the rule's windows also hold events *received* in them, as MozDef's did
        (`event_time_windows = False`): alerts about late or stale events (MozDef's `old_events`)
        need it."""
        source = Path(path)
        schedule = _schedule(schedule)
        from reynard.detect.mozdef_compat import load_alert_file

        load_alert_file(source)  # RuleError naming the file: nothing written
        name = source.stem
        if name in _builtins():
            raise RuleError(f"{name!r} is the name of a built-in rule; rename the file", where=str(source))
        self.rules_dir.mkdir(parents=True, exist_ok=True)
        target = self.rules_dir / source.name
        if source.resolve() != target.resolve():
            shutil.copyfile(source, target)
        conf = source.with_suffix(".conf")
        if conf.is_file() and conf.resolve() != target.with_suffix(".conf").resolve():
            shutil.copyfile(conf, target.with_suffix(".conf"))
        config = {"received_time_windows": True} if received_time_windows else {}
        return self.register(name, "mozdef", path=str(target), schedule=schedule, config=config)

    def register(
        self, name: str, kind: str, *, path: str | None, schedule: str | Schedule, config: dict[str, Any]
    ) -> RuleInfo:
        """Add (or replace) one rule row, enabled."""
        schedule = _schedule(schedule)
        values = {
            "kind": kind,
            "path": path,
            "enabled": True,
            "schedule": schedule.text,
            "config": orjson.dumps(config).decode(),
        }
        with self.engine.begin() as connection:
            exists = connection.execute(select(rules.c.id).where(rules.c.name == name)).first()
            if exists:
                connection.execute(update(rules).where(rules.c.name == name).values(**values))
            else:
                connection.execute(insert(rules).values(name=name, **values))
        return self.get(name)

    def add_sigma(self, paths: list[str] | list[Path], schedule: str | None = None) -> Any:
        """Register the Sigma rules of `paths` (see `reynard.detect.sigma.catalog.add`)."""
        if schedule is not None:
            _schedule(schedule)
        from reynard.detect.sigma import catalog

        return catalog.add(self, paths, schedule)

    # -- reading ----------------------------------------------------------------------------------------
    def list(self) -> list[RuleInfo]:
        with self.engine.connect() as connection:
            return [_info(row) for row in connection.execute(select(rules).order_by(rules.c.name))]

    def fingerprint(self) -> tuple:
        """What the streaming matcher is built from (each enabled rule, its config and its file's
        modification time): when this changes, the matcher is rebuilt."""
        marks = []
        for info in self.list():
            if not info.enabled:
                continue
            try:
                mtime = Path(info.path).stat().st_mtime_ns if info.path else None
            except OSError:
                mtime = None
            marks.append(
                (
                    info.name,
                    info.kind,
                    info.path,
                    mtime,
                    orjson.dumps(info.config, option=orjson.OPT_SORT_KEYS),
                )
            )
        return tuple(marks)

    def get(self, name: str) -> RuleInfo:
        with self.engine.connect() as connection:
            row = connection.execute(select(rules).where(rules.c.name == name)).first()
        if row is None:
            raise RuleError(f"no rule named {name!r} (see `reynard rules list`)")
        return _info(row)

    # -- changing ---------------------------------------------------------------------------------------
    def _set(self, name: str, **values: Any) -> None:
        with self.engine.begin() as connection:
            changed = connection.execute(update(rules).where(rules.c.name == name).values(**values)).rowcount
        if not changed:
            raise RuleError(f"no rule named {name!r} (see `reynard rules list`)")

    def enable(self, name: str) -> None:
        self._set(name, enabled=True)

    def disable(self, name: str) -> None:
        self._set(name, enabled=False)

    def set_schedule(self, name: str, schedule: str | Schedule) -> Schedule:
        """Run NAME on `schedule` (any form `parse_schedule` takes; RuleError for anything else)."""
        schedule = _schedule(schedule)
        self._set(name, schedule=schedule.text)
        return schedule

    def record_run(self, name: str, when: datetime, alerts: int | None, error: str | None) -> None:
        self._set(name, last_run=when, last_alerts=alerts, last_error=error)

    # -- running ----------------------------------------------------------------------------------------
    def tasks(self, name: str, source: EventSource | None = None) -> list[AlertTask]:
        """New AlertTask instances for the rule (a built-in with its config, or the classes of the copied
        MozDef file). RuleError when the rule cannot be built."""
        info = self.get(name)
        if info.kind == "builtin":
            builtins = _builtins()
            if name not in builtins:
                raise RuleError(f"built-in rule {name!r} no longer exists")
            return [builtins[name](source, config=info.config)]
        if not info.path:
            raise RuleError(f"rule {name!r} has no file")
        if info.kind == "sigma":
            from reynard.detect.sigma import catalog

            return catalog.tasks(self, info, source)
        from reynard.detect.mozdef_compat import load_alert_file

        tasks = [cls(source) for cls in load_alert_file(info.path)]
        if info.config.get("received_time_windows"):
            for task in tasks:
                task.event_time_windows = False  # type: ignore[misc]
        return tasks


__all__ = ["DEFAULT_SCHEDULE", "RuleInfo", "RuleRegistry"]
