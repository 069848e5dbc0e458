"""One runbook file: Markdown with a YAML front matter, parsed and checked into a frozen `Runbook`.

A runbook is what an analyst follows when an alert of some kind arrives, so a mistake in one must be
found by `reynard runbook check` (or at load), not on the worst day. Every problem is one
`RunbookError` naming the file and the line: an unknown key (a typo would silently stop the runbook
applying), a value of the wrong type, a missing title or urgency, an empty body.

    ---
    title: SSH brute force
    rules: [ssh_bruteforce]                     # built-in names, Sigma ids/names/titles, MozDef classnames
    categories: [bruteforce]                    # alert categories
    finding_types: [UnauthorizedAccess:EC2/SSHBruteForce, "Recon:EC2/*"]   # GuardDuty types, * wildcard
    urgency: medium                             # critical, high, medium or low
    escalation:                                 # in order: who to call first, then next
      - {name: SOC on-call, role: triage, reach: "PagerDuty: soc-primary", when: "at once"}
    playbook: ssh_block_source.asl.json         # the playbook that automates it (a file name)
    mitre_attack: [T1110]
    ---
    ## Problem
    ...

The PyYAML node tree is kept next to the data so that every check can say on which line it failed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reynard.errors import ReynardError

URGENCIES = ("critical", "high", "medium", "low")
# The body's sections, in order (the aws-incident-response-playbooks template, loosely; NIST SP 800-61's
# phases). `missing_sections` reports the ones a runbook lacks; they are advice, not a format rule.
SECTIONS = (
    "Problem",
    "Data to gather",
    "Analyze",
    "Contain",
    "Eradicate",
    "Recover",
    "Escalate",
    "Lessons learned",
)
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_TECHNIQUE = re.compile(r"T\d{4}(\.\d{3})?")
_HEADING = re.compile(r"^#{1,3}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_DELIMITER = "---"


class RunbookError(ReynardError):
    """A runbook file that cannot be used, with the file and the line (1-based) of the problem."""

    def __init__(self, message: str, *, path: str, line: int | None = None):
        self.path = path
        self.line = line
        super().__init__(message, where=f"{path}:{line}" if line else path)

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "message": self.message}


@dataclass(frozen=True)
class Contact:
    """One step of an escalation path: who, in which role, how to reach them, and when to call."""

    name: str
    role: str
    reach: str
    when: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "reach": self.reach, "when": self.when}


@dataclass(frozen=True)
class Runbook:
    """A checked runbook. `name` is the file's stem; `origin` is `shipped` or `user`."""

    name: str
    title: str
    urgency: str
    body: str
    summary: str | None = None
    rules: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    finding_types: tuple[str, ...] = ()
    escalation: tuple[Contact, ...] = ()
    playbook: str | None = None
    mitre_attack: tuple[str, ...] = ()
    path: str = field(default="", compare=False)
    origin: str = field(default="user", compare=False)

    def front_matter(self) -> dict[str, Any]:
        """The front matter as JSON-ready data (what the API returns next to the body)."""
        return {
            "name": self.name,
            "title": self.title,
            "summary": self.summary,
            "urgency": self.urgency,
            "rules": list(self.rules),
            "categories": list(self.categories),
            "finding_types": list(self.finding_types),
            "escalation": [c.as_dict() for c in self.escalation],
            "playbook": self.playbook,
            "mitre_attack": list(self.mitre_attack),
            "origin": self.origin,
            "path": self.path,
        }


def missing_sections(runbook: Runbook) -> list[str]:
    """The recommended sections (SECTIONS) that the body has no heading for (case-insensitive)."""
    text = _FENCE.sub("", runbook.body)  # a `# comment` in a shell block is not a heading
    headings = [h.lower() for h in _HEADING.findall(text)]
    return [s for s in SECTIONS if not any(h.startswith(s.lower()) for h in headings)]


def read_runbook(path: Path, origin: str = "user") -> Runbook:
    """Read and check one runbook file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise RunbookError(f"not UTF-8 text ({e.reason})", path=str(path)) from None
    except OSError as e:
        raise RunbookError(f"cannot read: {e.strerror}", path=str(path)) from None
    return parse_runbook(text, str(path), name=path.stem, origin=origin)


def parse_runbook(text: str, path: str, *, name: str | None = None, origin: str = "user") -> Runbook:
    """Check one runbook's text; `path` names it in errors, `name` defaults to the path's stem."""
    name = Path(path).stem if name is None else name
    if not _NAME.fullmatch(name):
        raise RunbookError(
            f"runbook name {name!r} (the file name): use lowercase letters, digits, '_', '-', '.'",
            path=path,
        )
    yaml_text, body = _split(text, path)
    node, data = _load_yaml(yaml_text, path)
    check = _Checker(path, node)
    values = check.front_matter(data)
    if not body.strip():
        raise RunbookError("the body is empty: a runbook needs its steps below the front matter", path=path)
    return Runbook(name=name, body=body, path=path, origin=origin, **values)


def _split(text: str, path: str) -> tuple[str, str]:
    """The YAML between the first two `---` lines and the Markdown after them."""
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].rstrip() != _DELIMITER:
        raise RunbookError("no front matter: the file must start with a '---' line", path=path, line=1)
    for index, line in enumerate(lines[1:], start=1):
        if line.rstrip() in (_DELIMITER, "..."):
            return "".join(lines[1:index]), "".join(lines[index + 1 :]).lstrip("\r\n")
    raise RunbookError("the front matter is not closed by a '---' line", path=path, line=1)


def _load_yaml(text: str, path: str) -> tuple[yaml.Node | None, Any]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 2 if mark else 1  # +1 for 1-based, +1 for the opening '---'
        context = ""
        if e.context and e.context_mark and e.context_mark.line != getattr(mark, "line", None):
            context = f" ({e.context} on line {e.context_mark.line + 2})"
        raise RunbookError(f"invalid YAML: {e.problem or e.context}{context}", path=path, line=line) from None
    except yaml.YAMLError as e:
        raise RunbookError(f"invalid YAML: {e}", path=path, line=1) from None
    finally:
        loader.dispose()
    return node, data


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 2


class _Checker:
    """Checks the front matter's data against its node tree, to point at the line of each problem."""

    def __init__(self, path: str, root: yaml.Node | None):
        self.path = path
        self.root = root

    def fail(self, message: str, node: yaml.Node | None) -> RunbookError:
        return RunbookError(message, path=self.path, line=_line(node) if node is not None else 2)

    def front_matter(self, data: Any) -> dict[str, Any]:
        if self.root is None:
            raise self.fail("the front matter is empty: it needs at least 'title' and 'urgency'", None)
        if not isinstance(data, dict) or not isinstance(self.root, yaml.MappingNode):
            raise self.fail("the front matter must be a mapping of keys to values", self.root)
        keys = self.keys(self.root, FRONT_MATTER)
        for required in ("title", "urgency"):
            if required not in keys:
                raise self.fail(f"missing {required!r}", self.root)
        return {key: FRONT_MATTER[key](self, data[key], node, key) for key, (_, node) in keys.items()}

    def keys(self, node: yaml.MappingNode, known: dict[str, Any]) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Each key of a mapping node with its node pair; unknown and repeated keys are errors."""
        found: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key not in known:
                close = difflib.get_close_matches(str(key), list(known), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise self.fail(f"unknown key {key!r} ({hint}known: {', '.join(known)})", key_node)
            if key in found:
                raise self.fail(f"{key!r} is given twice", key_node)
            found[key] = (key_node, value_node)
        return found

    # -- value checks: each takes the constructed value, its node and the key, returns the clean value --
    def text(self, value: Any, node: yaml.Node, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{key!r} must be a non-empty string", node)
        return value.strip()

    def items(self, value: Any, node: yaml.Node, key: str) -> list[tuple[str, yaml.Node]]:
        """A list of non-empty strings, each with its node."""
        if not isinstance(value, list) or not isinstance(node, yaml.SequenceNode):
            raise self.fail(f"{key!r} must be a list of strings", node)
        items = []
        for item, item_node in zip(value, node.value, strict=True):
            if not isinstance(item, str) or not item.strip():
                raise self.fail(f"{key!r}: each item must be a non-empty string", item_node)
            items.append((item.strip(), item_node))
        return items

    def strings(self, value: Any, node: yaml.Node, key: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(item for item, _ in self.items(value, node, key)))

    def urgency(self, value: Any, node: yaml.Node, key: str) -> str:
        text = self.text(value, node, key).lower()
        if text not in URGENCIES:
            raise self.fail(f"'urgency' must be one of {', '.join(URGENCIES)}, not {value!r}", node)
        return text

    def finding_types(self, value: Any, node: yaml.Node, key: str) -> tuple[str, ...]:
        for item, item_node in self.items(value, node, key):
            if "**" in item or any(c.isspace() for c in item):
                raise self.fail(f"finding type {item!r}: no spaces, and no '**'", item_node)
        return self.strings(value, node, key)

    def techniques(self, value: Any, node: yaml.Node, key: str) -> tuple[str, ...]:
        for item, item_node in self.items(value, node, key):
            if not _TECHNIQUE.fullmatch(item):
                raise self.fail(f"{item!r} is not a MITRE ATT&CK technique id (T1496, T1078.004)", item_node)
        return self.strings(value, node, key)

    def playbook(self, value: Any, node: yaml.Node, key: str) -> str:
        text = self.text(value, node, key)
        if Path(text).name != text or text in (".", ".."):
            raise self.fail(f"'playbook' is a playbook's file name, without folders: {text!r}", node)
        return text

    def escalation(self, value: Any, node: yaml.Node, key: str) -> tuple[Contact, ...]:
        if not isinstance(value, list) or not isinstance(node, yaml.SequenceNode):
            raise self.fail("'escalation' must be a list of contacts (name, role, reach, when)", node)
        contacts = []
        for item, item_node in zip(value, node.value, strict=True):
            if not isinstance(item, dict) or not isinstance(item_node, yaml.MappingNode):
                raise self.fail("each escalation contact is a mapping: name, role, reach, when", item_node)
            keys = self.keys(item_node, CONTACT)
            for required in ("name", "role", "reach"):
                if required not in keys:
                    raise self.fail(f"escalation contact: missing {required!r}", item_node)
            fields_ = {k: self.text(item[k], keys[k][1], f"escalation {k}") for k in keys}
            contacts.append(Contact(**fields_))
        return tuple(contacts)


Check = Callable[[_Checker, Any, yaml.Node, str], Any]
# Every front matter key and how it is checked (an unknown key is an error that lists these).
FRONT_MATTER: dict[str, Check] = {
    "title": _Checker.text,
    "summary": _Checker.text,
    "urgency": _Checker.urgency,
    "rules": _Checker.strings,
    "categories": _Checker.strings,
    "finding_types": _Checker.finding_types,
    "escalation": _Checker.escalation,
    "playbook": _Checker.playbook,
    "mitre_attack": _Checker.techniques,
}
CONTACT = {"name": None, "role": None, "reach": None, "when": None}
