"""Pattern leaves answered from a field's dictionary: the distinct values one day holds at a `details` path.

The index cannot decide a regex, wildcard, substring, suffix or case-insensitive prefix on a `details`
path (tantivy has no regex on JSON sub-fields), so such a leaf used to make the store read back every
event having the field and test it in Python: a rule like `userIdentity.arn|re: ...` read every
CloudTrail event. But a path holds few distinct values (event names, ARNs, user agents) next to the
events that carry them. So, for one day's searcher: a terms aggregation on the `details` fast field
lists the distinct values at the path among the query's candidates, each is tested with the predicate's
own leaf test (`predicate.text_test`), and the leaf is replaced by an exact `Terms` of the values that
pass, which the compiler answers from the index.

Why the answer stays exact: the aggregation runs on the candidates the store searches anyway (the
compiled query, a superset of the matches, and the window), so for each candidate the new leaf holds
exactly when the old one did (an event matches a pattern leaf when one of its values at the path
passes, and a `Terms` of the passing values matches the events holding one of them). The rewritten
query is then searched *within* those candidates. Nothing is rewritten (the store checks candidates
with the predicate, as before) when a value could be read back wrongly:

- more than `MAX_VALUES` distinct values, or an aggregation that does not list them all;
- a number of magnitude 2**53 or more (a fast column that mixes number types may have coerced it);
- a text of `MAX_TEXT_BYTES` or more (fast columns keep only the first 65,535 bytes of a text, and
  term look-ups miss texts of about 65,530 bytes and more), or an aggregation that fails on one
  (tantivy 0.27 panics on a long text cut inside a UTF-8 sequence).

A passing value the index cannot look up as a term (text that looks like a timestamp: tantivy indexes
those as dates) makes the new leaf inexact but still a narrower candidate set than before; the
predicate then decides, as for any inexact query.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import tantivy

from reynard.query import ast
from reynard.query.predicate import text_test
from reynard.query.values import term_text
from reynard.store.tantivy.compiler import MAX_TERM_BYTES, TantivyCompiler

MAX_VALUES = 10_000  # distinct values of a path (per day, among the candidates) worth testing one by one
MAX_TEXT_BYTES = MAX_TERM_BYTES  # texts at least this long may be cut (see the module docstring)
EXACT_NUMBERS = 2**53  # every integer below this in magnitude survives a round trip through a float
# `details.a.b`: segments without a backslash (an escape in tantivy's path syntax) or an empty segment.
_PATH = re.compile(r"^details(\.[^.\\]+)+$")
_PATTERNS = (ast.Wildcard, ast.Regex, ast.Prefix, ast.Suffix, ast.Contains)


def bucket_text(bucket: dict[str, Any]) -> str | None:
    """The term text of a terms-aggregation bucket on a tantivy fast field, or None when the key may not
    be the stored value (see the module docstring).

    Booleans come back as the numbers 0 and 1 with `key_as_string` "false"/"true": their text is that
    (`term_text(True)` is "true"), not "1"."""
    key = bucket["key"]
    if type(key) is int and key in (0, 1) and bucket.get("key_as_string") in ("false", "true"):
        return bucket["key_as_string"]
    if type(key) in (int, float) and abs(key) >= EXACT_NUMBERS:
        return None
    text = term_text(key)
    if text is None or (type(key) is str and len(key.encode()) >= MAX_TEXT_BYTES):
        return None
    return text


def is_panic(error: BaseException) -> bool:
    """Whether an error is a panic inside tantivy (pyo3 raises it as a BaseException)."""
    return type(error).__name__ == "PanicException"


def distinct_values(searcher: tantivy.Searcher, field: str, candidates: tantivy.Query) -> list[str] | None:
    """The term texts of every value at a `details` path among `candidates`, or None when the index
    cannot list them all exactly."""
    body = {"v": {"terms": {"field": field, "size": MAX_VALUES + 1, "min_doc_count": 1}}}
    try:
        result = searcher.aggregate(candidates, body)["v"]
    except ValueError:
        return None
    except BaseException as e:
        if not is_panic(e):
            raise
        return None
    buckets = result.get("buckets", [])
    if result.get("sum_other_doc_count") or len(buckets) > MAX_VALUES:
        return None
    texts = []
    for bucket in buckets:
        text = bucket_text(bucket)
        if text is None:
            return None
        texts.append(text)
    return texts


def answer_from_dictionary(
    node: ast.Node, searcher: tantivy.Searcher, candidates: tantivy.Query, compiler: TantivyCompiler
) -> ast.Node:
    """`node` with each pattern leaf on a `details` path that the index cannot decide replaced by the
    `Terms` of the values that pass it, as the module docstring says; `node` itself when nothing
    changed. Exact only for the events of `candidates` in this `searcher`: search it within them."""
    values: dict[str, list[str] | None] = {}

    def dictionary(field: str) -> list[str] | None:
        if field not in values:
            values[field] = distinct_values(searcher, field, candidates)
        return values[field]

    return _rewrite(node, lambda leaf: _answer(leaf, dictionary, compiler))


def _answer(
    leaf: ast.Node, dictionary: Callable[[str], list[str] | None], compiler: TantivyCompiler
) -> ast.Node:
    if not isinstance(leaf, _PATTERNS) or not _PATH.match(leaf.field) or compiler.compile(leaf).exact:
        return leaf
    found = dictionary(leaf.field)
    if found is None:
        return leaf
    test = text_test(leaf)
    return ast.Terms(leaf.field, tuple(text for text in found if test(text)))


def _rewrite(node: ast.Node, leaf: Callable[[ast.Node], ast.Node]) -> ast.Node:
    if not isinstance(node, ast.Bool):
        return leaf(node)
    parts = [tuple(_rewrite(n, leaf) for n in group) for group in (node.must, node.should, node.must_not)]
    old = (node.must, node.should, node.must_not)
    if all(a is b for new, before in zip(parts, old, strict=True) for a, b in zip(new, before, strict=True)):
        return node
    must, should, must_not = parts
    return replace(node, must=must, should=should, must_not=must_not)


__all__ = ["MAX_VALUES", "answer_from_dictionary", "bucket_text", "distinct_values", "is_panic"]
