"""Playbooks known by name: files registered under `<data_dir>/playbooks/` (by `reynard playbook add`)
and those shipped in `reynard/respond/playbooks/`; a registered one hides a shipped one of its name.
A playbook's name is its file name without `.asl.json` (or `.json`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from reynard.errors import NotFound, ReynardError
from reynard.respond.asl.definition import load_definition
from reynard.respond.errors import DefinitionError

SHIPPED = Path(__file__).with_name("playbooks")


class PlaybookError(ReynardError):
    """A playbook file that cannot be read."""


class UnknownPlaybook(PlaybookError, NotFound):
    """A playbook name that is neither a file nor a known playbook."""


def playbook_name(path: Path) -> str:
    name = path.name
    for suffix in (".asl.json", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


@dataclass(frozen=True)
class Playbook:
    name: str
    path: Path
    source: str  # "registered" or "shipped"
    error: str | None  # why the definition is not valid, if it is not

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "path": str(self.path),
            "source": self.source,
            "valid": self.error is None,
            "error": self.error,
        }


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise PlaybookError(f"cannot read: {e.strerror}", where=str(path)) from None
    except UnicodeDecodeError:
        raise PlaybookError("not UTF-8 text", where=str(path)) from None


class PlaybookCatalog:
    def __init__(self, data_dir: Path, shipped: Path = SHIPPED):
        self.folder = data_dir / "playbooks"
        self.shipped = shipped

    def _files(self, folder: Path) -> list[Path]:
        """The playbooks of a folder: `*.json`; in the shipped folder only `*.asl.json` (beside them lie
        their example inputs)."""
        if not folder.is_dir():
            return []
        suffix = ".asl.json" if folder == self.shipped else ".json"
        return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(suffix))

    def list(self) -> list[Playbook]:
        found: dict[str, Playbook] = {}
        for source, folder in (("shipped", self.shipped), ("registered", self.folder)):
            for path in self._files(folder):
                error = None
                try:
                    load_definition(read_text(path), where=str(path))
                except (DefinitionError, PlaybookError) as e:
                    error = str(e)
                found[playbook_name(path)] = Playbook(playbook_name(path), path, source, error)
        return [found[name] for name in sorted(found)]

    def resolve(self, target: str) -> tuple[str, str]:
        """(name, definition text) of a playbook file path or a known playbook's name."""
        path = Path(target)
        if path.is_file():
            return playbook_name(path), read_text(path)
        for playbook in self.list():
            if playbook.name == target:
                return playbook.name, read_text(playbook.path)
        known = ", ".join(p.name for p in self.list()) or "none"
        raise UnknownPlaybook(f"no such file nor known playbook (known: {known})", where=target)

    def named(self, name: str) -> tuple[str, str]:
        """(name, definition text) of a known playbook: by name only, never a path (what the API may
        start; registering a playbook is the admin's `reynard playbook add`)."""
        for playbook in self.list():
            if playbook.name == name:
                return playbook.name, read_text(playbook.path)
        known = ", ".join(p.name for p in self.list()) or "none"
        raise UnknownPlaybook(f"no playbook named {name!r} (known: {known})")

    def add(self, source: Path) -> Playbook:
        """Register a playbook file (validated first: an invalid one is not copied)."""
        load_definition(read_text(source), where=str(source))
        self.folder.mkdir(parents=True, exist_ok=True)
        name = playbook_name(source)
        target = self.folder / f"{name}.asl.json"
        shutil.copyfile(source, target)
        return Playbook(name, target, "registered", None)
