"""Runbooks: the shipped set and the user's folder, and which runbook applies to an alert.

The shipped runbooks live in `reynard/cases/runbooks/*.md`; the user's in `<data_dir>/runbooks/` (or the
`runbooks_dir` setting). A user runbook with the name (file stem) of a shipped one replaces it, so a team
can put its own contacts and steps in without forking. A file that does not check is reported and left
out; the others still load (and a broken override leaves the shipped runbook in place).

Which runbook applies (`RunbookSet.match`): the first step that finds one wins.

1. **rule**: the alert's rule is in the runbook's `rules`. An alert names its rule several ways (its
   `rule`, its MozDef `classname`, a Sigma rule's id, name and title); each is compared by its slug
   (lowercase, every run of other characters one `-`, a `sigma:` prefix dropped), so `SSH from
   outside`, `sigma:ssh-from-outside` and `ssh_from_outside` are one name.
2. **finding type, exact**: a GuardDuty finding type of the alert (case-insensitive).
3. **finding type, wildcard** (`CryptoCurrency:EC2/*`, `*` is any text): the pattern with the most
   literal characters wins, so `CryptoCurrency:EC2/*` beats `*:EC2/*`, which beats `*`.
4. **category**: the alert's category (case-insensitive).

Ties within a step go to the alert's values in the order above (then finding types in event order),
then to a user runbook over a shipped one, then to the runbook whose name sorts first. A rule that
stands for many kinds of thing (the built-in `guardduty_finding`) should not be listed in `rules`, or
it would shadow every finding-type runbook: list its category instead.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reynard.cases.runbook_file import Runbook, RunbookError, read_runbook
from reynard.query.wildcard import wildcard_regex

if TYPE_CHECKING:
    from reynard.settings import Settings

SHIPPED_DIR = Path(__file__).with_name("runbooks")
_SLUG = re.compile(r"[^a-z0-9]+")


def rule_key(name: str) -> str:
    """The form rule names are compared in (see the module docstring)."""
    text = name.strip().lower()
    text = text.removeprefix("sigma:")
    return _SLUG.sub("-", text).strip("-")


def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(wildcard_regex(text, one=False), re.IGNORECASE)


@dataclass(frozen=True)
class Suggestion:
    """A runbook and why it applies: `by` is `rule`, `finding_type`, `finding_type_pattern` or
    `category`; `value` is the alert's value, `entry` the runbook's front-matter entry it matched."""

    runbook: Runbook
    by: str
    value: str
    entry: str

    def as_dict(self) -> dict[str, str]:
        return {"runbook": self.runbook.name, "by": self.by, "value": self.value, "entry": self.entry}


# -- what an alert says about itself --------------------------------------------------------------------
def alert_rules(alert: Mapping[str, Any]) -> list[str]:
    """The names an alert gives its rule: `rule`, `classname`, and a Sigma rule's id, name and title.
    A MozDef file's `file:Class` rule (as `reynard rules test` names it) counts as both parts too."""
    sigma = alert.get("sigma") if isinstance(alert.get("sigma"), Mapping) else {}
    rule = alert.get("rule")
    names = [rule, alert.get("classname"), sigma.get("id"), sigma.get("name"), sigma.get("title")]
    if isinstance(rule, str) and ":" in rule and not rule.startswith("sigma:"):
        names[1:1] = rule.split(":", 1)
    return list(dict.fromkeys(n for n in names if isinstance(n, str) and n.strip()))


def alert_finding_types(alert: Mapping[str, Any]) -> list[str]:
    """The GuardDuty finding types of an alert: its own `finding_type`, else its events'
    `details.findingtype` (stored alerts keep each event as `documentsource`)."""
    found: list[Any] = [alert.get("finding_type")]
    for ref in alert.get("events") or ():
        source = ref.get("documentsource") if isinstance(ref, Mapping) else None
        details = source.get("details") if isinstance(source, Mapping) else None
        if isinstance(details, Mapping):
            found.append(details.get("findingtype"))
    return list(dict.fromkeys(t for t in found if isinstance(t, str) and t.strip()))


def alert_categories(alert: Mapping[str, Any]) -> list[str]:
    category = alert.get("category")
    return [category] if isinstance(category, str) and category.strip() else []


# -- a loaded set ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunbookSet:
    """The runbooks in force (by name), the files that did not check, and the shipped names the user
    replaced."""

    runbooks: Mapping[str, Runbook]
    problems: tuple[RunbookError, ...] = ()
    overridden: tuple[str, ...] = ()

    def get(self, name: str) -> Runbook | None:
        return self.runbooks.get(name)

    def __iter__(self):
        return iter(self.runbooks[name] for name in sorted(self.runbooks))

    def __len__(self) -> int:
        return len(self.runbooks)

    def suggest(self, alert: Mapping[str, Any]) -> Runbook | None:
        """The runbook that applies to an alert (a stored alert, or the dict a rule made), or None."""
        found = self.suggest_alert(alert)
        return found.runbook if found else None

    def suggest_alert(self, alert: Mapping[str, Any]) -> Suggestion | None:
        return self.match(
            rules=alert_rules(alert),
            finding_types=alert_finding_types(alert),
            categories=alert_categories(alert),
        )

    def match(
        self,
        rules: Sequence[str] = (),
        finding_types: Sequence[str] = (),
        categories: Sequence[str] = (),
    ) -> Suggestion | None:
        """The first runbook by the precedence of the module docstring, with why, or None."""
        index = self._index
        for value in rules:
            if hits := index.rules.get(rule_key(value)):
                return Suggestion(hits[0][0], "rule", value, hits[0][1])
        for value in finding_types:
            if hits := index.finding_types.get(value.casefold()):
                return Suggestion(hits[0][0], "finding_type", value, hits[0][1])
        best: tuple[int, int, tuple[bool, str], Runbook, str, str] | None = None
        for position, value in enumerate(finding_types):
            for literal, pattern, runbook, entry in index.patterns:
                if pattern.fullmatch(value):
                    candidate = (-literal, position, runbook.name, runbook, value, entry)
                    if best is None or candidate[:3] < best[:3]:
                        best = candidate
        if best is not None:
            return Suggestion(best[3], "finding_type_pattern", best[4], best[5])
        for value in categories:
            if hits := index.categories.get(value.casefold()):
                return Suggestion(hits[0][0], "category", value, hits[0][1])
        return None

    def overlaps(self) -> list[str]:
        """Entries that several runbooks claim at the same step (worth a look), and which one applies."""
        index = self._index
        notes = []
        for what, table in (
            ("rule", index.rules),
            ("finding type", index.finding_types),
            ("category", index.categories),
        ):
            for hits in table.values():
                names = list(dict.fromkeys(rb.name for rb, _ in hits))
                if len(names) > 1:
                    notes.append(
                        f"{what} {hits[0][1]!r} is claimed by {', '.join(names)}: {names[0]} applies"
                    )
        return notes

    @cached_property
    def _index(self) -> _Index:
        return _Index.build(sorted(self.runbooks.values(), key=lambda r: (r.origin != "user", r.name)))


@dataclass
class _Index:
    """Look-up tables for `match`: each value lists (runbook, entry) in tie-break order."""

    rules: dict[str, list[tuple[Runbook, str]]] = field(default_factory=dict)
    finding_types: dict[str, list[tuple[Runbook, str]]] = field(default_factory=dict)
    patterns: list[tuple[int, re.Pattern[str], Runbook, str]] = field(default_factory=list)
    categories: dict[str, list[tuple[Runbook, str]]] = field(default_factory=dict)

    @classmethod
    def build(cls, runbooks: Iterable[Runbook]) -> _Index:
        index = cls()
        for runbook in runbooks:
            for entry in runbook.rules:
                index.rules.setdefault(rule_key(entry), []).append((runbook, entry))
            for entry in runbook.finding_types:
                if "*" in entry:
                    literal = len(entry.replace("*", ""))
                    index.patterns.append((literal, _pattern(entry), runbook, entry))
                else:
                    index.finding_types.setdefault(entry.casefold(), []).append((runbook, entry))
            for entry in runbook.categories:
                index.categories.setdefault(entry.casefold(), []).append((runbook, entry))
        return index


# -- loading --------------------------------------------------------------------------------------------
def user_dir(settings: Settings) -> Path:
    """Where the user's runbooks are: the `runbooks_dir` setting, else `<data_dir>/runbooks`."""
    return settings.runbooks_dir or settings.data_dir / "runbooks"


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.md") if p.is_file()) if folder.is_dir() else []


def read_folder(folder: Path, origin: str = "user") -> tuple[list[Runbook], list[RunbookError]]:
    """Every `*.md` of a folder, checked: the good runbooks and the problems (a missing folder is
    empty; a path that is not a folder is a problem)."""
    if folder.exists() and not folder.is_dir():
        return [], [RunbookError("not a folder", path=str(folder))]
    good, bad = [], []
    for path in _files(folder):
        try:
            good.append(read_runbook(path, origin))
        except RunbookError as e:
            bad.append(e)
    return good, bad


def load_runbooks(user: Path | None = None, shipped: Path = SHIPPED_DIR) -> RunbookSet:
    """The shipped runbooks, overridden by name by the user's (`user`: a folder, may not exist)."""
    runbooks: dict[str, Runbook] = {}
    shipped_good, problems = read_folder(shipped, "shipped")
    for runbook in shipped_good:
        runbooks[runbook.name] = runbook
    overridden = []
    if user is not None:
        user_good, user_bad = read_folder(user, "user")
        problems.extend(user_bad)
        for runbook in user_good:
            if runbook.name in runbooks:
                overridden.append(runbook.name)
            runbooks[runbook.name] = runbook
    return RunbookSet(dict(sorted(runbooks.items())), tuple(problems), tuple(overridden))


def check_paths(paths: Iterable[str | Path]) -> list[Runbook | RunbookError]:
    """Each runbook file of `paths` (files, or folders of `*.md`), checked, in order."""
    results: list[Runbook | RunbookError] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = _files(path)
            if not files:
                results.append(RunbookError("no runbook files (*.md) in this folder", path=str(path)))
        elif path.exists():
            files = [path]
        else:
            results.append(RunbookError("no such file or folder", path=str(path)))
            continue
        for file in files:
            try:
                results.append(read_runbook(file))
            except RunbookError as e:
                results.append(e)
    return results


class RunbookLibrary:
    """The current `RunbookSet` of two folders, read again when a file in them changes, so a running
    server sees an edited runbook without a restart (and parses nothing when none changed)."""

    def __init__(self, user: Path | None, shipped: Path = SHIPPED_DIR):
        self.user = user
        self.shipped = shipped
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._set = RunbookSet({})

    @classmethod
    def for_settings(cls, settings: Settings) -> RunbookLibrary:
        return cls(user_dir(settings))

    def _marks(self) -> tuple:
        marks = []
        for folder in (self.shipped, self.user):
            for path in _files(folder) if folder is not None else ():
                try:
                    stat = path.stat()
                except OSError:
                    continue
                marks.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(marks)

    def current(self) -> RunbookSet:
        stamp = self._marks()
        with self._lock:
            if stamp != self._stamp:
                self._set = load_runbooks(self.user, self.shipped)
                self._stamp = stamp
            return self._set


def suggester(settings: Settings) -> Callable[[Mapping[str, Any]], str | None]:
    """`suggest_runbook(alert) -> name | None` over the settings' runbooks (what escalation calls)."""
    library = RunbookLibrary.for_settings(settings)

    def suggest_runbook(alert: Mapping[str, Any]) -> str | None:
        found = library.current().suggest(alert)
        return found.name if found else None

    return suggest_runbook
