"""Loading Sigma files: YAML (single and multi-document, folders) parsed and checked by pySigma,
converted to Reynard's values (`model.py`), every problem one `SigmaRuleError` with the file, the line
and the YAML path, the other rules loading on.

Each YAML document of a file has one outcome: loaded (a `DetectionRule` or `CorrelationRule`),
unsupported (valid Sigma Reynard cannot run: the reason) or invalid (the rule is wrong: where and why).
Correlations may reference rules of any file loaded together, by id or by name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import re2
import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule, SigmaRuleReference
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.policy import SigmaPolicy
from sigma.policy.regex_engine import RE2RegexEngine, RegexPattern
from sigma.rule import SigmaRule

from reynard.detect.sigma.errors import SigmaRuleError, SigmaUnsupported
from reynard.detect.sigma.model import (
    CorrelationRule,
    DetectionRule,
    RuleMeta,
    Threshold,
)
from reynard.detect.sigma.model import (
    SigmaRule as ReynardRule,
)
from reynard.query.errors import QueryError
from reynard.query.regex import RegexUnsupported, check_regex

Status = Literal["loaded", "unsupported", "invalid"]
SUPPORTED_CORRELATIONS = (
    "event_count",
    "value_count",
    "temporal",
    "temporal_ordered",
    "value_sum",
    "value_avg",
)
SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class Outcome:
    """What became of one YAML document."""

    file: str
    document: int  # 0-based among the file's documents
    title: str | None
    status: Status
    rule: ReynardRule | None = None
    error: SigmaRuleError | None = None

    @property
    def reason(self) -> str:
        """The whole message: `file:line: yaml.path: what is wrong`."""
        return "" if self.error is None else str(self.error)

    @property
    def detail(self) -> str:
        """The message without the file (for a table that shows the file): `line 7: yaml.path: ...`."""
        if self.error is None:
            return ""
        line = f"line {self.error.line}: " if self.error.line is not None else ""
        return line + self.error.message


@dataclass
class LoadResult:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def rules(self) -> list[ReynardRule]:
        return [o.rule for o in self.outcomes if o.rule is not None]

    @property
    def invalid(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "invalid"]

    def by_key(self) -> dict[str, ReynardRule]:
        return {rule.meta.key: rule for rule in self.rules}


class QuietRE2(RE2RegexEngine):
    """pySigma's safe regex check (RE2: no backtracking) done as Reynard's predicate will run the regex
    (`query/regex.py`), so a rule loads only when its regexes run. Its errors are text (RE2 would write
    them to stderr, as bytes): an invalid regex is our error to report, once, with its place; a construct
    RE2 cannot run (a backreference, lookaround) is `_Refused` and makes the rule unsupported. Stateless,
    so a rule copied with its policy shares the engine."""

    def __deepcopy__(self, memo: dict) -> QuietRE2:
        return self

    def compile(self, pattern: str, flags: int = 0) -> RegexPattern:
        ci, multiline, dotall = (bool(int(flags) & int(flag)) for flag in _PYTHON_FLAGS)
        try:
            return check_regex(pattern, ci, multiline, dotall)  # type: ignore[no-any-return]
        except RegexUnsupported as e:
            raise _Refused(e.message.replace("regex", "regular expression", 1)) from None
        except QueryError as e:
            raise self._re2.error(e.message) from None


class _Refused(re2.error):
    """A regular expression RE2 cannot run: valid Sigma that Reynard does not support."""


_PYTHON_FLAGS = (re.IGNORECASE, re.MULTILINE, re.DOTALL)
POLICY = SigmaPolicy(regex_engine=QuietRE2())


# -- where in the YAML ----------------------------------------------------------------------------------
class _Document:
    """One YAML document: its data and its node tree, to turn a YAML path into a line."""

    def __init__(self, data: Any, node: yaml.Node | None):
        self.data, self.node = data, node

    def line(self, path: Sequence[str | int]) -> int | None:
        node, found = self.node, None
        for part in path:
            if isinstance(node, yaml.MappingNode):
                match = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
                if match is None:
                    key = next((k for k, _v in node.value if getattr(k, "value", None) == part), None)
                    return found if key is None else key.start_mark.line + 1
                found, node = next(k for k, _v in node.value if k.value == part).start_mark.line + 1, match
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                found = node.start_mark.line + 1
            else:
                return found
        return found if found is not None else (self.node.start_mark.line + 1 if self.node else None)


def _yaml_path(parts: Sequence[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_TOP_LEVEL = {
    "SigmaTitleError": "title",
    "SigmaIdentifierError": "id",
    "SigmaLevelError": "level",
    "SigmaStatusError": "status",
    "SigmaDateError": "date",
    "SigmaModifiedError": "modified",
    "SigmaLogsourceError": "logsource",
    "SigmaDescriptionError": "description",
    "SigmaAuthorError": "author",
    "SigmaReferencesError": "references",
    "SigmaFalsePositivesError": "falsepositives",
    "SigmaFieldsError": "fields",
    "SigmaTagError": "tags",
    "SigmaRelatedError": "related",
    "SigmaNameError": "name",
    "SigmaTaxonomyError": "taxonomy",
    "SigmaLicenseError": "license",
    "SigmaScopeError": "scope",
    "SigmaDetectionError": "detection",
    "SigmaConditionError": "detection.condition",
    "SigmaTimespanError": "correlation.timespan",
    "SigmaCorrelationTypeError": "correlation.type",
    "SigmaCorrelationConditionError": "correlation.condition",
    "SigmaRuleNotFoundError": "correlation.rules",
}
_QUOTED = re.compile(r"'([^']*)'")


_DETECTION_PATH = re.compile(r"^detection\.(?P<name>[^.\[]+)(?:\[(?P<index>\d+)\])?(?:\.(?P<key>.+))?$")


def _parse_yaml_path(text: str) -> list[str | int]:
    """`detection.selection[1].userIdentity.arn|re` as its parts: a detection's name never holds a dot,
    the key after it may (`userIdentity.arn`); elsewhere dots and `[i]` separate the parts."""
    found = _DETECTION_PATH.match(text)
    if found:
        parts: list[str | int] = ["detection", found["name"]]
        if found["index"] is not None:
            parts.append(int(found["index"]))
        if found["key"] is not None:
            parts.append(found["key"])
        return parts
    parts = []
    for piece in text.split("."):
        name, *indexes = piece.split("[")
        parts.append(name)
        parts.extend(int(i.rstrip("]")) for i in indexes if i.rstrip("]").isdigit())
    return parts


def _detection_items(data: Any) -> Iterable[tuple[list[str | int], str, Any]]:
    """(path, key, value) of every `field|modifiers: value` under `detection`."""
    detection = data.get("detection") if isinstance(data, dict) else None
    if not isinstance(detection, dict):
        return
    for name, body in detection.items():
        bodies = [(i, b) for i, b in enumerate(body)] if isinstance(body, list) else [(None, body)]
        for index, item in bodies:
            if isinstance(item, dict):
                for key, value in item.items():
                    base: list[str | int] = ["detection", name] + ([] if index is None else [index])
                    yield [*base, str(key)], str(key), value


def _locate(error: BaseException, data: Any) -> list[str | int]:
    """The YAML path an error of pySigma (or of the conversion) is about, found from its message."""
    located = getattr(error, "yaml_path", None)
    if located:
        return _parse_yaml_path(located)
    name, text = type(error).__name__, str(error)
    quoted = _QUOTED.findall(text)
    if name in ("SigmaModifierError", "SigmaTypeError") and quoted:
        modifier = quoted[0]
        for path, key, _value in _detection_items(data):
            if modifier in key.split("|")[1:]:
                return path
        return ["detection"]
    if name == "SigmaRegularExpressionError" and quoted:
        for path, key, value in _detection_items(data):
            values = value if isinstance(value, list) else [value]
            if "re" in key.split("|")[1:] and quoted[0] in map(str, values):
                return path
        return ["detection"]
    if name == "SigmaRuleNotFoundError" and quoted:
        rules = (data.get("correlation") or {}).get("rules") if isinstance(data, dict) else None
        if isinstance(rules, list) and quoted[0] in map(str, rules):
            return ["correlation", "rules", list(map(str, rules)).index(quoted[0])]
        return ["correlation", "rules"]
    top = _TOP_LEVEL.get(name)
    return top.split(".") if top else []


def _error(error: BaseException, file: str, doc: _Document, *, unsupported: bool = False) -> SigmaRuleError:
    path = _locate(error, doc.data)
    message = getattr(error, "message", None) if isinstance(error, SigmaRuleError) else None
    if isinstance(error.__cause__, _Refused):  # pySigma's check of a regex, done by QuietRE2
        message, unsupported = str(error.__cause__), True
    if message is None:
        message = _message(error)
    if isinstance(error, SigmaRuleError) and error.yaml_path:
        message = message.removeprefix(f"{error.yaml_path}: ")
    cls = SigmaUnsupported if unsupported or isinstance(error, SigmaUnsupported) else SigmaRuleError
    return cls(message, file=file, yaml_path=_yaml_path(path) or None, line=doc.line(path))


def _message(error: BaseException) -> str:
    """pySigma's message without the location it appends (we give a better one)."""
    text = str(error.args[0]) if error.args else str(error)
    return re.sub(r" in (/|\.|\w:)\S*$", "", text).strip() or type(error).__name__


# -- reading files --------------------------------------------------------------------------------------
def rule_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Outcome]]:
    """The Sigma files of `paths` (folders recursively, .yml and .yaml, sorted); missing ones as
    invalid outcomes."""
    files: list[Path] = []
    missing: list[Outcome] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            missing.append(
                Outcome(str(path), 0, None, "invalid", error=SigmaRuleError("no such file", file=str(path)))
            )
    return files, missing


def _read(path: Path) -> tuple[list[_Document], SigmaRuleError | None]:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return [], SigmaRuleError(f"cannot read: {e}", file=file)
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        datas = list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        return [], SigmaRuleError(f"invalid YAML: {problem}", file=file, line=mark.line + 1 if mark else None)
    return [_Document(d, n) for d, n in zip(datas, nodes, strict=False)], None


@dataclass
class _Parsed:
    """A document parsed by pySigma, with where it came from."""

    file: str
    index: int
    doc: _Document
    rule: SigmaRule | SigmaCorrelationRule | None
    error: SigmaRuleError | None = None


def _parse_file(path: Path) -> list[_Parsed]:
    file = str(path)
    documents, error = _read(path)
    if error is not None:
        return [_Parsed(file, 0, _Document(None, None), None, error)]
    parsed: list[_Parsed] = []
    global_rule: dict = {}
    for index, doc in enumerate(documents):
        data = doc.data
        if data is None:
            continue
        if not isinstance(data, dict):
            parsed.append(
                _Parsed(
                    file,
                    index,
                    doc,
                    None,
                    SigmaRuleError("a rule is a YAML mapping", file=file, line=doc.line([])),
                )
            )
            continue
        action = data.get("action")
        if action == "global":  # Sigma 1 collections: a template merged into the documents that follow
            global_rule = {k: v for k, v in data.items() if k != "action"}
            continue
        if action == "reset":
            global_rule = {}
            continue
        merged = data if "correlation" in data or not global_rule else _merge(global_rule, data)
        try:
            collection = SigmaCollection.from_dicts(
                [merged],
                collect_errors=True,
                source=SigmaRuleLocation(path),
                resolve_references=False,
                policy=POLICY,
            )
        except (SigmaError, ValueError, TypeError) as e:
            parsed.append(_Parsed(file, index, doc, None, _error(e, file, doc)))
            continue
        errors = list(collection.errors)
        rule = collection.rules[0] if collection.rules else None
        if rule is not None:
            errors.extend(e for e in rule.errors if e not in errors)
        if errors or rule is None:
            first = errors[0] if errors else SigmaError("not a Sigma rule")
            parsed.append(_Parsed(file, index, _Document(merged, doc.node), None, _error(first, file, doc)))
            continue
        parsed.append(_Parsed(file, index, _Document(merged, doc.node), rule))
    return parsed


def _merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        out[key] = (
            _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


# -- converting -----------------------------------------------------------------------------------------
def _meta(rule: SigmaRule | SigmaCorrelationRule, file: str, index: int, generates: bool) -> RuleMeta:
    def texts(values: Any) -> tuple[str, ...]:
        return tuple(str(v) for v in values or ())

    level = getattr(rule, "level", None)
    status = getattr(rule, "status", None)
    return RuleMeta(
        title=rule.title,
        id=None if rule.id is None else str(rule.id),
        name=rule.name,
        level=None if level is None else str(level.name).lower(),
        status=None if status is None else str(status.name).lower(),
        description=rule.description,
        tags=tuple(f"{t.namespace}.{t.name}" for t in rule.tags or ()),
        references=texts(rule.references),
        falsepositives=texts(getattr(rule, "falsepositives", None)),
        path=file,
        document=index,
        generates=generates,
    )


def _logsource(rule: SigmaRule) -> tuple[str | None, str | None, str | None]:
    source = rule.logsource
    return (source.product, source.service, source.category)


def load(paths: Iterable[str | Path], placeholders: Mapping[str, Sequence[str]] | None = None) -> LoadResult:
    """Every rule of `paths` (files or folders), converted, with an outcome per YAML document."""
    from reynard.detect.sigma.backend import convert  # registers Reynard's modifier aliases first

    files, missing = rule_files(paths)
    result = LoadResult(list(missing))
    parsed = [p for path in files for p in _parse_file(path)]
    good = [p for p in parsed if p.rule is not None]
    collection = SigmaCollection([p.rule for p in good], resolve_references=False)  # type: ignore[misc]

    correlations = [p for p in good if isinstance(p.rule, SigmaCorrelationRule)]
    referenced: dict[int, list[SigmaCorrelationRule]] = {}
    for p in correlations:
        try:
            p.rule.resolve_rule_references(collection)  # type: ignore[union-attr]
        except (SigmaError, ValueError) as e:
            p.error, p.rule = _error(e, p.file, p.doc), None
            continue
        for ref in p.rule.rules:  # type: ignore[union-attr]
            referenced.setdefault(id(ref.rule), []).append(p.rule)  # type: ignore[arg-type]

    converted: dict[int, DetectionRule | SigmaRuleError] = {}
    for p in parsed:
        if isinstance(p.rule, SigmaRule):
            users = referenced.get(id(p.rule), [])
            generates = not users or any(c.generate for c in users)
            try:
                query = convert(p.rule, placeholders)
            except SigmaRuleError as e:
                p.error = _error(e, p.file, p.doc)
            except (SigmaError, ValueError) as e:
                p.error = _error(e, p.file, p.doc)
            else:
                converted[id(p.rule)] = DetectionRule(
                    _meta(p.rule, p.file, p.index, generates), _logsource(p.rule), query
                )
            if p.error is not None:
                converted[id(p.rule)] = p.error

    for p in parsed:
        title = p.doc.data.get("title") if isinstance(p.doc.data, dict) else None
        if p.error is not None:
            status: Status = "unsupported" if isinstance(p.error, SigmaUnsupported) else "invalid"
            result.outcomes.append(Outcome(p.file, p.index, title, status, error=p.error))
            continue
        if isinstance(p.rule, SigmaRule):
            result.outcomes.append(Outcome(p.file, p.index, title, "loaded", rule=converted[id(p.rule)]))  # type: ignore[arg-type]
            continue
        try:
            rule = _correlation(p, converted)
        except SigmaRuleError as e:
            status = "unsupported" if isinstance(e, SigmaUnsupported) else "invalid"
            result.outcomes.append(Outcome(p.file, p.index, title, status, error=_error(e, p.file, p.doc)))
        else:
            result.outcomes.append(Outcome(p.file, p.index, title, "loaded", rule=rule))
    return result


def _correlation(p: _Parsed, converted: Mapping[int, DetectionRule | SigmaRuleError]) -> CorrelationRule:
    """A pySigma correlation rule (references resolved) as Reynard's value."""
    from reynard.detect.sigma.pipeline import map_field

    rule: SigmaCorrelationRule = p.rule  # type: ignore[assignment]
    kind = str(rule.type.name).lower() if rule.type is not None else None
    if kind not in SUPPORTED_CORRELATIONS:
        raise SigmaUnsupported(
            f"correlation type {kind!r} is not supported (one of {', '.join(SUPPORTED_CORRELATIONS)})",
            yaml_path="correlation.type",
        )
    details: list[DetectionRule] = []
    for i, ref in enumerate(rule.rules):
        target = converted.get(id(ref.rule))
        where = f"correlation.rules[{i}]"
        if isinstance(target, SigmaRuleError):
            raise SigmaUnsupported(
                f"references rule {ref.reference!r}, which cannot run: {target.message}", yaml_path=where
            )
        if target is None:
            raise SigmaUnsupported(
                f"references {ref.reference!r}, a correlation: correlations of correlations"
                " are not supported",
                yaml_path=where,
            )
        details.append(target)
    aliases = {alias.alias: alias for alias in rule.aliases}
    group_by: dict[str, tuple[str, ...]] = {}
    value_field: dict[str, str] = {}
    condition = rule.condition
    if not isinstance(condition, SigmaCorrelationCondition):
        raise SigmaUnsupported(
            "a condition over the referenced rules (an extended temporal condition) is not supported",
            yaml_path="correlation.condition",
        )
    counted = condition.fieldref
    if isinstance(counted, list):
        if len(counted) != 1:
            raise SigmaUnsupported(
                "a condition on several fields is not supported", yaml_path="correlation.condition.field"
            )
        counted = counted[0]
    for ref, target in zip(rule.rules, details, strict=True):

        def mapped(name: str, ref: SigmaRuleReference = ref, target: DetectionRule = target) -> str:
            alias = aliases.get(name)
            if alias is not None:
                for alias_ref, field_name in alias.mapping.items():
                    if alias_ref.rule is ref.rule:
                        name = field_name
                        break
            return map_field(name, target.logsource)

        group_by[target.meta.key] = tuple(mapped(g) for g in rule.group_by or ())
        if counted:
            value_field[target.meta.key] = mapped(counted)
    if kind in ("value_count", "value_sum", "value_avg") and not counted:
        raise SigmaRuleError(f"a {kind} correlation needs condition.field", yaml_path="correlation.condition")
    op = str(condition.op.name).lower()
    return CorrelationRule(
        meta=_meta(rule, p.file, p.index, True),
        type=kind,  # type: ignore[arg-type]
        rules=tuple(t.meta.key for t in details),
        timespan=timedelta(seconds=rule.timespan.seconds),
        threshold=Threshold(((op, float(condition.count)),)),
        group_by=group_by,
        value_field=value_field,
    )


def detection_rules(rules: Iterable[ReynardRule]) -> dict[str, DetectionRule]:
    return {r.meta.key: r for r in rules if isinstance(r, DetectionRule)}


__all__ = ["LoadResult", "Outcome", "detection_rules", "load", "rule_files"]
