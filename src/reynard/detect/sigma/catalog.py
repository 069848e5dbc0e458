"""Sigma rules in the rule registry: `reynard rules add --sigma PATH` and how registered rules run.

Adding copies each Sigma file into `<data_dir>/rules/sigma/` and registers one row per rule that alerts
on its own (a detection rule that no correlation consumes, or that one marks `generate: true`, and every
correlation), kind `sigma`, named after its title (`sigma:aws-cloudtrail-logging-stopped`); the row's
config holds the rule's key (its id, else name, else title). Detection rules that only feed a
correlation run inside it.

Every registered Sigma file is loaded together, so a correlation may reference rules of another file
added earlier. The loaded set is cached on the files' modification times: the streaming matcher's
rebuilds and each scheduler round do not parse YAML again unless a file changed.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reynard.detect.errors import RuleError
from reynard.detect.rule_info import Registry, RuleInfo
from reynard.detect.sigma.loader import LoadResult, Outcome, load, rule_files
from reynard.detect.sigma.model import CorrelationRule, DetectionRule

if TYPE_CHECKING:
    from reynard.detect.alerttask import AlertTask
    from reynard.detect.sources import EventSource

KIND = "sigma"
SHIPPED_RULES = Path(__file__).with_name("rules")  # the workshop's indicators as Sigma
DETECTION_SCHEDULE = "5m"  # detections stream; the schedule is their catch-up pass
CORRELATION_SCHEDULE = "1m"  # correlations run on a short interval over a sliding window
_SLUG = re.compile(r"[^a-z0-9]+")


def slug(title: str) -> str:
    return _SLUG.sub("-", title.lower()).strip("-")[:80] or "rule"


@dataclass
class AddReport:
    added: list[RuleInfo] = field(default_factory=list)
    problems: list[Outcome] = field(default_factory=list)

    @property
    def invalid(self) -> list[Outcome]:
        return [p for p in self.problems if p.status == "invalid"]


_cache_lock = threading.Lock()
_cache: dict[tuple, LoadResult] = {}


def registered(registry: Registry, placeholders: Mapping[str, Sequence[str]] | None = None) -> LoadResult:
    """Every registered Sigma file, loaded together (cached on the files and their mtimes)."""
    files = sorted({info.path for info in registry.list() if info.kind == KIND and info.path})
    return load_cached(files, placeholders)


def load_cached(files: Sequence[str], placeholders: Mapping[str, Sequence[str]] | None = None) -> LoadResult:
    marks = []
    for file in files:
        try:
            marks.append((file, Path(file).stat().st_mtime_ns))
        except OSError:
            marks.append((file, None))
    key = (tuple(marks), tuple(sorted((k, tuple(v)) for k, v in (placeholders or {}).items())))
    with _cache_lock:
        cached = _cache.get(key)
    if cached is None:
        cached = load(files, placeholders)
        with _cache_lock:
            _cache.clear()  # one set of registered files is current at a time
            _cache[key] = cached
    return cached


def _names(registry: Registry) -> dict[str, str]:
    """Registered Sigma rule name -> rule key."""
    return {i.name: str(i.config.get("key")) for i in registry.list() if i.kind == KIND}


def add(
    registry: Registry,
    paths: Iterable[str | Path],
    schedule: str | None = None,
    placeholders: Mapping[str, Sequence[str]] | None = None,
) -> AddReport:
    """Register the rules of `paths` (files or folders). Rules that do not load are reported, not added;
    when any rule is invalid nothing at all is added (fix the file, add it again)."""
    files, missing = rule_files(paths)
    report = AddReport(problems=list(missing))
    if not files and not missing:
        raise RuleError("no Sigma files (.yml, .yaml) found", where=", ".join(map(str, paths)))
    existing = sorted({i.path for i in registry.list() if i.kind == KIND and i.path})
    target_dir = registry.rules_dir / KIND
    targets = {str(target_dir / f.name): f for f in files}
    # Load the new files together with those already registered (a correlation may reference them),
    # from where they are now: nothing is copied before the check.
    others = [e for e in existing if e not in targets]
    result = load([*others, *map(str, files)], placeholders)
    new_files = {str(f) for f in files}
    ours = [o for o in result.outcomes if o.file in new_files]
    report.problems.extend(o for o in ours if o.status != "loaded")
    if report.invalid:
        return report
    target_dir.mkdir(parents=True, exist_ok=True)
    for target, source in targets.items():
        if Path(source).resolve() != Path(target).resolve():
            shutil.copyfile(source, target)
    names = _names(registry)
    taken = {name: key for name, key in names.items()}
    for outcome in ours:
        rule = outcome.rule
        if rule is None or not rule.meta.generates:
            continue
        key = rule.meta.key
        name = next((n for n, k in taken.items() if k == key), None)
        if name is None:
            name = f"sigma:{slug(rule.meta.name or rule.meta.title)}"
            if name in taken:
                name = f"{name}-{slug(key)[:8]}"
            taken[name] = key
        default = CORRELATION_SCHEDULE if isinstance(rule, CorrelationRule) else DETECTION_SCHEDULE
        target = str(target_dir / Path(outcome.file).name)
        report.added.append(
            registry.register(name, KIND, path=target, schedule=schedule or default, config={"key": key})
        )
    return report


def tasks(registry: Registry, info: RuleInfo, source: EventSource | None) -> list[AlertTask]:
    """The AlertTask that runs a registered Sigma rule (RuleError when it no longer loads)."""
    from reynard.detect.sigma.tasks import CorrelationTask, DetectionTask

    loaded = registered(registry)
    key = str(info.config.get("key"))
    rules = loaded.by_key()
    rule = rules.get(key)
    if rule is None:
        why = next(
            (o.reason for o in loaded.outcomes if o.error is not None and o.file == info.path),
            "it is no longer in the file",
        )
        raise RuleError(f"Sigma rule {key!r} does not load: {why}", where=info.path)
    if isinstance(rule, DetectionRule):
        return [DetectionTask(rule, source)]
    detections = {k: r for k, r in rules.items() if isinstance(r, DetectionRule)}
    return [CorrelationTask(rule, detections, source)]


def describe(outcome: Outcome) -> dict[str, Any]:
    """An outcome as `reynard sigma check --format json` prints it."""
    rule = outcome.rule
    return {
        "file": outcome.file,
        "document": outcome.document,
        "title": outcome.title,
        "id": None if rule is None else rule.meta.id,
        "kind": None
        if rule is None
        else ("correlation" if isinstance(rule, CorrelationRule) else "detection"),
        "status": outcome.status,
        "reason": outcome.reason or None,
    }


__all__ = [
    "KIND",
    "SHIPPED_RULES",
    "AddReport",
    "add",
    "describe",
    "load_cached",
    "registered",
    "slug",
    "tasks",
]
