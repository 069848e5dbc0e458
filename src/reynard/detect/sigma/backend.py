"""Sigma detection rules as Reynard's query AST: a pySigma backend whose `convert_condition_*` methods
return AST nodes (no query text for another product, nothing re-parsed).

`convert(rule, placeholders)` is the one entry point. The rule's logsource picks the events it may see
(`pipeline.LOGSOURCES`), Reynard's pipeline fills placeholders and maps field names, each `condition`
becomes a tree; several conditions are OR-ed and the whole is AND-ed with the logsource's events. The
rule passed in is not changed (the pipeline runs on a copy).

The meaning of each Sigma construct (docs/sigma.md is the user's copy):

- Strings match case-insensitively unless `cased`: a plain value is `Term(case_insensitive=True)`; a
  `*` at the end, the start or both (`startswith`, `endswith`, `contains`) is `Prefix`, `Suffix`,
  `Contains`; other wildcards are `Wildcard`; a value holding both a literal (escaped) `*`/`?` and
  wildcards is the equivalent anchored `Regex`, since `Wildcard` has no escapes. Equality on
  `summary` is the whole line (a `Wildcard` without wildcards), not a token match.
- Numbers and booleans are `Term`s (term text: 22 matches 22 and "22"); `lt`, `lte`, `gt`, `gte` are
  `Range`s (numeric values only, as `Range` compares); `cidr` is `Cidr`.
- `null` is "no value": `NOT Exists`; `exists: true/false` is `Exists` / `NOT Exists`; `neq` negates
  the item (pySigma's `not`), so it also matches events without the field.
- `re` searches, as Sigma means: the pattern may match anywhere. Our `Regex` is anchored at both ends,
  so the pattern becomes `[\\s\\S]*?(?:pattern)[\\s\\S]*` (its leading inline flags kept in front), which
  matches exactly when a search would: `^` and `$` keep their meaning. Case-sensitive unless `i`;
  `m` and `s` are the multiline and dotall flags.
- `fieldref` is `FieldRef` (case-insensitive unless the item is `cased`); `minute` ... `year` are
  `TimePart`s. The encodings (`base64`, `base64offset`, `wide`/`utf16le`, `utf16be`, `utf16`,
  `windash`) arrive expanded by pySigma and are converted as the alternatives they are; base64 text
  matches case-sensitively, since its case is the data (`YWJj` is "abc", `ywjj` is not).
- Keywords (values without a field) are case-insensitive substrings of `summary`, with wildcards.

Every error carries the YAML path of the item it is about, `detection.<name>[<i>].<key>`: the
selection's name, the index for a selection that is a list of maps, and the item's key as written
(`eventName|re`; modifier aliases in their short form); `logsource` for the logsource. A regex the
engine cannot run is a `SigmaRuleError`; what Reynard cannot express is `SigmaUnsupported`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import Backend
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaError
from sigma.modifiers import (
    SigmaBase64Modifier,
    SigmaBase64OffsetModifier,
    SigmaCaseSensitiveModifier,
    modifier_mapping,
)
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
)

from reynard.detect.sigma.errors import SigmaRuleError, SigmaUnsupported
from reynard.detect.sigma.pipeline import (
    PLACEHOLDERS_SETTING,
    is_reynard_path,
    reynard_pipeline,
    source_for,
)
from reynard.query import ast
from reynard.query.errors import QueryError
from reynard.query.regex import RegexUnsupported, check_regex
from reynard.query.values import term_text
from reynard.query.wildcard import Part, Wild, regex_of

SUMMARY = "summary"
MULTI, SINGLE = SpecialChars.WILDCARD_MULTI, SpecialChars.WILDCARD_SINGLE
_WILD = {MULTI: Wild.RUN, SINGLE: Wild.ONE}
_ANY_RUN, _ANY_ONE = r"[\s\S]*", r"[\s\S]"
_LEADING_FLAGS = re.compile(r"\(\?[aiLmsux]+\)")
_RANGE_BOUNDS = {
    CompareOperators.LT: "lt",
    CompareOperators.LTE: "lte",
    CompareOperators.GT: "gt",
    CompareOperators.GTE: "gte",
}
# Modifiers whose values match case-sensitively: `cased`, and base64 text (its case is the data).
_CASED = frozenset((SigmaCaseSensitiveModifier, SigmaBase64Modifier, SigmaBase64OffsetModifier))
# A modifier's name as written: the shortest of its aliases (`i`, not `ignorecase`).
_MODIFIER_NAMES: dict[type, str] = {
    cls: min((name for name, other in modifier_mapping.items() if other is cls), key=len)
    for cls in set(modifier_mapping.values())
}


# -- combining nodes --------------------------------------------------------------------------------
def _only(node: ast.Node, kind: str) -> tuple[ast.Node, ...] | None:
    """The clauses of a Bool that is nothing but a conjunction (`kind` "must") or a disjunction."""
    if not isinstance(node, ast.Bool) or node.minimum_should_match is not None or node.must_not:
        return None
    if kind == "must":
        return node.must if not node.should else None
    return node.should if node.should and not node.must else None


def all_of(nodes: Iterable[ast.Node]) -> ast.Node:
    """Every node, nested conjunctions flattened."""
    flat: list[ast.Node] = []
    for node in nodes:
        flat.extend(_only(node, "must") or (node,))
    return flat[0] if len(flat) == 1 else ast.Bool(must=tuple(flat))


def any_of(nodes: Iterable[ast.Node]) -> ast.Node:
    """Any node, nested disjunctions flattened, equality terms on one field merged into one `Terms`
    (at the place of the first)."""
    flat: list[ast.Node] = []
    for node in nodes:
        flat.extend(_only(node, "should") or (node,))
    values: dict[tuple[str, bool], list[ast.Scalar]] = {}
    order: list[ast.Node | tuple[str, bool]] = []
    for node in flat:
        if isinstance(node, (ast.Term, ast.Terms)):
            key = (node.field, node.case_insensitive)
            if key not in values:
                values[key] = []
                order.append(key)
            values[key].extend((node.value,) if isinstance(node, ast.Term) else node.values)
        else:
            order.append(node)
    out = [_terms(*entry, values[entry]) if isinstance(entry, tuple) else entry for entry in order]
    return out[0] if len(out) == 1 else ast.Bool(should=tuple(out))


def _terms(field: str, ci: bool, values: list[ast.Scalar]) -> ast.Node:
    unique = tuple(dict.fromkeys(values))
    return ast.Term(field, unique[0], ci) if len(unique) == 1 else ast.Terms(field, unique, ci)


def negate(node: ast.Node) -> ast.Node:
    return ast.Bool(must_not=(node,))


# -- values -----------------------------------------------------------------------------------------
def search_regex(pattern: str) -> str:
    """The anchored regex that matches a value exactly when `pattern` is found somewhere in it."""
    flags = ""
    while m := _LEADING_FLAGS.match(pattern):
        flags, pattern = flags + m.group(), pattern[m.end() :]
    end = "\n)" if "x" in flags else ")"  # a verbose pattern's trailing comment must not eat the ")"
    return f"{flags}{_ANY_RUN}?(?:{pattern}{end}{_ANY_RUN}"


def equals(field: str, value: ast.Scalar, ci: bool) -> ast.Node:
    """The whole value at `field` is `value`: a term, except on `summary` (tokenized for `Term`)."""
    if field != SUMMARY:
        return ast.Term(field, value, ci)
    text = term_text(value) or ""
    if "*" in text or "?" in text:
        return ast.Regex(field, re.escape(text), ci)
    return ast.Wildcard(field, text, ci)


def string_node(field: str, value: SigmaString, ci: bool) -> ast.Node:
    """A Sigma string (plain text and wildcards) at `field`."""
    parts = list(value.iter_parts())
    if any(isinstance(part, Placeholder) for part in parts):
        names = ", ".join(f"%{p.name}%" for p in parts if isinstance(p, Placeholder))
        raise _Refused(f"placeholder {names} is not filled", unsupported=True)
    if not value.contains_special():
        return equals(field, "".join(parts), ci)  # type: ignore[arg-type]
    lead = parts[0] is MULTI
    trail = parts[-1] is MULTI
    inner = parts[int(lead) : len(parts) - int(trail)] if len(parts) > 1 else []
    if not any(isinstance(part, SpecialChars) for part in inner):
        text = "".join(inner)  # type: ignore[arg-type]
        if lead and trail:
            return ast.Contains(field, text, ci)
        return ast.Suffix(field, text, ci) if lead else ast.Prefix(field, text, ci)
    if any("*" in part or "?" in part for part in parts if isinstance(part, str)):
        return ast.Regex(field, regex_of(_wild(parts), any_run=_ANY_RUN, any_one=_ANY_ONE), ci)
    return ast.Wildcard(field, "".join(_wild(parts)), ci)


def _wild(parts: list[Any]) -> list[Part]:
    """pySigma's parts of a string (text and wildcards) as `query.wildcard` parts."""
    return [_WILD.get(part, part) for part in parts]


def keyword_node(value: SigmaString, ci: bool) -> ast.Node:
    """A keyword: a substring of `summary` (wildcards inside it honoured)."""
    if not value.startswith(MULTI):
        value = MULTI + value
    if not value.endswith(MULTI):
        value = value + MULTI
    return string_node(SUMMARY, value, ci)


class _Refused(Exception):
    """What a value cannot become, before the backend knows where in the YAML it is."""

    def __init__(self, message: str, *, unsupported: bool):
        super().__init__(message)
        self.message, self.unsupported = message, unsupported


# -- where in the YAML --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Place:
    """A detection item as the rule wrote it."""

    path: str  # detection.selection.eventName|re
    field: str | None
    cased: bool  # `cased`, or an encoding whose text is case-sensitive (base64)


def _cased(item: SigmaDetectionItem) -> bool:
    return any(m in _CASED for m in item.modifiers)


def _key(item: SigmaDetectionItem) -> str:
    return (item.field or "") + "".join(f"|{_MODIFIER_NAMES.get(m, m.__name__)}" for m in item.modifiers)


def _walk(detection: SigmaDetection, path: str) -> Iterator[tuple[SigmaDetectionItem, str]]:
    for index, child in enumerate(detection.detection_items):
        if isinstance(child, SigmaDetection):
            yield from _walk(child, f"{path}[{index}]")
        else:
            key = _key(child)
            yield child, f"{path}.{key}" if key else path


def _items(rule: SigmaRule) -> list[tuple[SigmaDetectionItem, str, str]]:
    """(item, its YAML path, its selection's path) of every detection item."""
    return [
        (item, path, f"detection.{name}")
        for name, detection in rule.detection.detections.items()
        for item, path in _walk(detection, f"detection.{name}")
    ]


class _Places:
    """The YAML place of every detection item and value, recorded before the pipeline renames fields and
    replaces values (the objects are held, so their ids stay unique), then found again after it."""

    def __init__(self, rule: SigmaRule):
        self.before = [
            (item, list(item.value), _Place(path, item.field, _cased(item)))
            for item, path, _selection in _items(rule)
        ]
        self.by_item = {id(item): place for item, _values, place in self.before}
        self.by_value = {id(v): place for _item, values, place in self.before for v in values}
        self.after: dict[int, _Place] = {}

    def placeholders(self) -> Iterator[tuple[str, _Place]]:
        for _item, values, place in self.before:
            for value in values:
                for part in _parts(value):
                    if isinstance(part, Placeholder):
                        yield part.name, place

    def found_again(self, rule: SigmaRule) -> list[tuple[SigmaDetectionItem, _Place]]:
        """Each detection item after the pipeline, with its place; values are filed under it too."""
        out = []
        for item, _path, selection in _items(rule):
            place = self.by_item.get(id(item)) or next(
                (self.by_value[id(v)] for v in item.value if id(v) in self.by_value),
                _Place(selection, item.field, _cased(item)),
            )
            for value in item.value:
                self.after[id(value)] = place
            out.append((item, place))
        return out

    def of(self, value: Any) -> _Place | None:
        return self.after.get(id(value))


def _parts(value: Any) -> list[Any]:
    if isinstance(value, SigmaString):
        return list(value.iter_parts())
    if isinstance(value, SigmaRegularExpression):
        return list(value.regexp.iter_parts())
    if isinstance(value, SigmaExpansion):
        return [part for v in value.values for part in _parts(v)]
    return []


# -- the backend --------------------------------------------------------------------------------------
class ReynardBackend(Backend):
    """pySigma backend: each rule condition to a `reynard.query.ast` node.

    Construct it with Reynard's pipeline (`pipeline.reynard_pipeline`); `convert_rule` returns one node
    per condition and raises `SigmaRuleError`/`SigmaUnsupported` with the YAML path (module docstring).
    Correlation rules are not its business: the loader turns them into `model.CorrelationRule`.
    """

    name: ClassVar[str] = "Reynard query AST"
    formats: ClassVar[dict[str, str]] = {"default": "reynard.query.ast nodes"}
    explicit_not_exists_expression: ClassVar[bool] = True

    def __init__(self, processing_pipeline: ProcessingPipeline | None = None, **options: Any):
        super().__init__(processing_pipeline, collect_errors=False, **options)
        self._places: _Places | None = None

    def convert_rule(
        self, rule: SigmaRule, output_format: str | None = None, callback: Any = None
    ) -> list[Any]:
        """The rule's conditions as AST nodes, after the pipeline (applied to `rule` itself)."""
        logsource = rule.logsource
        source = source_for((logsource.product, logsource.service, logsource.category))
        self.init_processing_pipeline(output_format)
        places = self._places = _Places(rule)
        defined = self.processing_pipeline.vars if self.processing_pipeline is not None else {}
        for name, place in places.placeholders():
            if name not in defined:
                raise SigmaUnsupported(
                    f"placeholder %{name}% is not defined (set it in the {PLACEHOLDERS_SETTING} setting)",
                    yaml_path=place.path,
                )
            if not defined[name]:
                raise SigmaUnsupported(f"placeholder %{name}% has no values", yaml_path=place.path)
        try:
            self.last_processing_pipeline.apply(rule)
        except SigmaError as e:
            raise SigmaUnsupported(str(e.args[0] if e.args else e), yaml_path="detection") from None
        for item, place in places.found_again(rule):
            fields = [item.field] + [v.field for v in item.value if isinstance(v, SigmaFieldReference)]
            for name in fields:
                if name is not None and not is_reynard_path(name):
                    raise SigmaUnsupported(
                        f"field {name!r} has no equivalent in Reynard's {source.described}",
                        yaml_path=place.path,
                    )
        queries = []
        for condition in rule.detection.parsed_condition:
            node = self.convert_condition(condition.parsed, ConversionState())
            if node is not None:
                queries.append(node)
        return queries

    # -- errors ---------------------------------------------------------------------------------------
    def _fail(self, cond: Any, message: str, *, unsupported: bool = False) -> NoReturn:
        place = self._places.of(cond.value) if self._places is not None else None
        cls = SigmaUnsupported if unsupported else SigmaRuleError
        raise cls(message, yaml_path=place.path if place else "detection")

    def _is_cased(self, cond: Any) -> bool:
        place = self._places.of(cond.value) if self._places is not None else None
        return isinstance(cond.value, SigmaCasedString) or (place is not None and place.cased)

    def _value(self, cond: Any, make: Any, *args: Any) -> ast.Node:
        try:
            return make(*args)
        except _Refused as e:
            self._fail(cond, e.message, unsupported=e.unsupported)

    # -- boolean structure ----------------------------------------------------------------------------
    def _args(self, cond: Any, state: ConversionState) -> list[ast.Node]:
        return [node for arg in cond.args if (node := self.convert_condition(arg, state)) is not None]

    def convert_condition_or(self, cond: ConditionOR, state: ConversionState) -> ast.Node:
        return any_of(self._args(cond, state))

    def convert_condition_and(self, cond: ConditionAND, state: ConversionState) -> ast.Node:
        return all_of(self._args(cond, state))

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> ast.Node:
        return negate(all_of(self._args(cond, state)))

    def convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> Any:
        if isinstance(cond, ConditionOR):
            return self.convert_condition_or(cond, state)
        return self.convert_condition_and(cond, state)

    # -- field = value ----------------------------------------------------------------------------------
    def convert_condition_field_eq_val_str(self, cond: Any, state: ConversionState) -> ast.Node:
        return self._value(cond, string_node, cond.field, cond.value, not self._is_cased(cond))

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: Any, state: ConversionState
    ) -> ast.Node:
        return self._value(cond, string_node, cond.field, cond.value, False)

    def convert_condition_field_eq_val_num(self, cond: Any, state: ConversionState) -> ast.Node:
        return equals(cond.field, cond.value.number, False)

    def convert_condition_field_eq_val_bool(self, cond: Any, state: ConversionState) -> ast.Node:
        return equals(cond.field, cond.value.boolean, False)

    def convert_condition_field_eq_val_timestamp_part(self, cond: Any, state: ConversionState) -> ast.Node:
        value: SigmaTimestampPart = cond.value
        return ast.TimePart(cond.field, value.timestamp_part.name.lower(), int(value.number))  # type: ignore[arg-type]

    def convert_condition_field_eq_val_re(self, cond: Any, state: ConversionState) -> ast.Node:
        return self._regex(cond, cond.field, cond.value)

    def convert_condition_field_eq_val_cidr(self, cond: Any, state: ConversionState) -> ast.Node:
        value: SigmaCIDRExpression = cond.value
        return ast.Cidr(cond.field, str(value.network))

    def convert_condition_field_compare_op_val(self, cond: Any, state: ConversionState) -> ast.Node:
        value: SigmaCompareExpression = cond.value
        number = value.number.number
        if value.op is CompareOperators.NEQ:
            return negate(ast.Term(cond.field, number))
        return ast.Range(cond.field, **{_RANGE_BOUNDS[value.op]: number})

    def convert_condition_field_eq_field(self, cond: Any, state: ConversionState) -> ast.Node:
        value: SigmaFieldReference = cond.value
        if value.starts_with or value.ends_with:
            self._fail(
                cond, "fieldref with startswith, endswith or contains is not supported", unsupported=True
            )
        return ast.FieldRef(cond.field, value.field, case_insensitive=not self._is_cased(cond))

    def convert_condition_field_eq_val_null(self, cond: Any, state: ConversionState) -> ast.Node:
        return negate(ast.Exists(cond.field))

    def convert_condition_field_exists(self, cond: Any, state: ConversionState) -> ast.Node:
        return ast.Exists(cond.field)

    def convert_condition_field_not_exists(self, cond: Any, state: ConversionState) -> ast.Node:
        return negate(ast.Exists(cond.field))

    def convert_condition_field_eq_query_expr(self, cond: Any, state: ConversionState) -> ast.Node:
        self._fail(
            cond, "query expressions (placeholders as list lookups) are not supported", unsupported=True
        )

    def convert_condition_field_eq_expansion(self, cond: Any, state: ConversionState) -> ast.Node:
        return any_of(
            self.convert_condition_field_eq_val(self._child(cond, value, cond.field), state)
            for value in cond.value.values
        )

    def _child(self, cond: Any, value: Any, field: str | None) -> Any:
        """A condition for one value of an expansion, filed at the expansion's place."""
        if self._places is not None and (place := self._places.of(cond.value)) is not None:
            self._places.after[id(value)] = place
        if field is None:
            return ConditionValueExpression(value)
        return ConditionFieldEqualsValueExpression(field, value)

    def _regex(self, cond: Any, field: str, value: SigmaRegularExpression) -> ast.Node:
        pattern = str(value.regexp)
        flags = value.flags
        ci = SigmaRegularExpressionFlag.IGNORECASE in flags
        multiline = SigmaRegularExpressionFlag.MULTILINE in flags
        dotall = SigmaRegularExpressionFlag.DOTALL in flags
        wrapped = search_regex(pattern)
        try:
            check_regex(pattern, ci, multiline, dotall)
            check_regex(wrapped, ci, multiline, dotall)
        except QueryError as e:  # RegexUnsupported: valid, but not on RE2 (a backreference, lookaround)
            message = e.message.replace("regex", "regular expression", 1)
            self._fail(cond, message, unsupported=isinstance(e, RegexUnsupported))
        return ast.Regex(field, wrapped, ci, multiline, dotall)

    # -- keywords ---------------------------------------------------------------------------------------
    def convert_condition_val(self, cond: ConditionValueExpression, state: ConversionState) -> ast.Node:
        value = cond.value
        match value:
            case SigmaExpansion():
                return any_of(
                    self.convert_condition_val(self._child(cond, v, None), state) for v in value.values
                )
            case SigmaString():
                return self._value(cond, keyword_node, value, not self._is_cased(cond))
            case SigmaRegularExpression():
                return self._regex(cond, SUMMARY, value)
            case SigmaNumber() if not isinstance(value, SigmaTimestampPart):
                return ast.Contains(SUMMARY, term_text(value.number) or "", True)
        kind = type(value).__name__.removeprefix("Sigma")
        self._fail(cond, f"a {kind} value needs a field (a keyword is text to find in the summary)")

    def convert_condition_val_str(self, cond: Any, state: ConversionState) -> ast.Node:
        return self.convert_condition_val(cond, state)

    convert_condition_val_num = convert_condition_val_str
    convert_condition_val_re = convert_condition_val_str
    convert_condition_query_expr = convert_condition_val_str

    # -- correlations ---------------------------------------------------------------------------------
    def _correlation(self, rule: Any, output_format: str | None = None, method: str = "default") -> list[Any]:
        raise NotImplementedError("Reynard runs Sigma correlations itself (reynard.detect.sigma.model)")

    convert_correlation_event_count_rule = _correlation
    convert_correlation_value_count_rule = _correlation
    convert_correlation_temporal_rule = _correlation
    convert_correlation_temporal_ordered_rule = _correlation
    convert_correlation_extended_temporal_rule = _correlation
    convert_correlation_extended_temporal_ordered_rule = _correlation
    convert_correlation_value_sum_rule = _correlation
    convert_correlation_value_avg_rule = _correlation
    convert_correlation_value_percentile_rule = _correlation
    convert_correlation_value_median_rule = _correlation


def convert(rule: SigmaRule, placeholders: Mapping[str, Sequence[str]] | None = None) -> ast.Node:
    """The whole query of a Sigma detection rule: its logsource's events AND any of its conditions.

    `placeholders` fills `expand` placeholders (`%name%`: the `sigma_placeholders` setting). Raises
    `SigmaUnsupported` (no such events, a field with no equivalent, an unknown placeholder, a regex
    construct RE2 cannot run: a backreference, lookaround) or `SigmaRuleError` (an invalid regex), each
    with the YAML path it is about."""
    logsource = rule.logsource
    source = source_for((logsource.product, logsource.service, logsource.category))
    queries = ReynardBackend(reynard_pipeline(placeholders)).convert_rule(copy.deepcopy(rule))
    if not queries:
        raise SigmaRuleError("the rule has no condition", yaml_path="detection.condition")
    return all_of([source.events, any_of(queries)])


__all__ = ["ReynardBackend", "convert", "search_regex", "string_node"]
