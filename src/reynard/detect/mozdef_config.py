"""The schedules in MozDef's alerts/lib/config.py, read without running it.

MozDef scheduled each alert class from one dict in that file:
`ALERTS = {'bruteforce_ssh.AlertBruteforceSsh': {'schedule': crontab(minute='*/1')}, ...}`. The file
imports Celery and reads the environment, so it is parsed with `ast` and never executed: the last
top-level `ALERTS = {...}` must be a dict literal, and each schedule goes through `parse_schedule`
(literal `crontab(...)` or `timedelta(...)` arguments only). Other keys of an entry (`kwargs`) are
ignored; only the entries of the module asked for are read, so one that Reynard cannot read elsewhere
in the file does not get in the way.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass
from pathlib import Path

from reynard.detect.errors import RuleError
from reynard.detect.schedule import Schedule, parse_schedule


@dataclass(frozen=True)
class AlertSchedule:
    """One ALERTS entry: `module.ClassName`, its schedule, and the line it is on."""

    key: str
    schedule: Schedule
    line: int


def _alerts_dict(path: Path, source: str) -> ast.Dict:
    try:
        with warnings.catch_warnings():  # MozDef's files have invalid escapes ("\d"): not our concern
            warnings.simplefilter("ignore")
            tree = ast.parse(source, filename=str(path))
    except SyntaxError as e:
        raise RuleError(f"not valid Python: {e.msg}", where=f"{path}:{e.lineno}") from None
    except ValueError as e:  # a NUL byte
        raise RuleError(f"not valid Python: {e}", where=str(path)) from None
    found: ast.expr | None = None
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "ALERTS" for t in targets):
            found = statement.value
    if found is None:
        raise RuleError("no ALERTS = {...} (MozDef's alerts/lib/config.py has one)", where=str(path))
    if not isinstance(found, ast.Dict):
        raise RuleError("ALERTS is not a {...} dict literal", where=f"{path}:{found.lineno}")
    return found


def _schedule_node(path: Path, key: str, entry: ast.expr) -> ast.expr:
    if isinstance(entry, ast.Dict):
        for name, value in zip(entry.keys, entry.values, strict=True):
            if isinstance(name, ast.Constant) and name.value == "schedule":
                return value
    raise RuleError(f"ALERTS[{key!r}] is not a {{'schedule': ...}} dict", where=f"{path}:{entry.lineno}")


def config_schedule(path: str | Path, module: str) -> AlertSchedule | None:
    """The schedule MozDef's config gives the alerts of `module` (a file's stem), or None when it has no
    entry for it. RuleError naming the file and line for a file that cannot be read this way, and for
    entries of the module with different schedules (Reynard runs a file on one schedule)."""
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise RuleError(f"cannot read it: {e}", where=str(path)) from None
    found: list[AlertSchedule] = []
    alerts = _alerts_dict(path, source)
    for key_node, entry in zip(alerts.keys, alerts.values, strict=True):
        if not (isinstance(key_node, ast.Constant) and isinstance(key_node.value, str)):
            line = (key_node or entry).lineno
            raise RuleError("an ALERTS key is not a 'module.ClassName' string", where=f"{path}:{line}")
        key = key_node.value
        if key.rpartition(".")[0] != module:
            continue
        node = _schedule_node(path, key, entry)
        try:
            schedule = parse_schedule(ast.get_source_segment(source, node) or "")
        except RuleError as e:
            raise RuleError(f"ALERTS[{key!r}]: {e}", where=f"{path}:{node.lineno}") from None
        found.append(AlertSchedule(key, schedule, node.lineno))
    if len({f.schedule for f in found}) > 1:
        listed = ", ".join(f"{f.key} {f.schedule.text} (line {f.line})" for f in found)
        raise RuleError(
            f"the alerts of {module} have different schedules: {listed}; choose one with --schedule",
            where=str(path),
        )
    return found[0] if found else None


__all__ = ["AlertSchedule", "config_schedule"]
