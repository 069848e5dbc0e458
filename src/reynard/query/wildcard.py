r"""Wildcard patterns (`*` any run of characters, `?` one character), read and turned into regexes once.

Every place that takes a wildcard reads it with `split_wildcard` and writes its regex with `regex_of`
(`wildcard_regex` does both); what differs between the places is a parameter, never a copy:

| caller                                | `?`      | escapes                   | regex for                  |
|---------------------------------------|----------|---------------------------|----------------------------|
| the query AST's `Wildcard` (predicate) | one char | none                      | Python `re`                |
| the same on tantivy (store/tantivy)   | one char | none                      | Rust `regex` (its escape)  |
| Lucene query strings (query/lucene)   | one char | `\` before any character  | Python `re`                |
| Sigma values (pySigma splits them)    | one char | pySigma's                 | Python `re`, as `[\s\S]`   |
| EventBridge `wildcard` (respond)      | literal  | `\*` and `\\` only        | Python `re`                |
| ASL `StringMatches` (respond/asl)     | literal  | `\` before any character  | Python `re`                |
| runbook finding types (cases)         | literal  | none                      | Python `re`                |

A regex from `regex_of` is meant to match the *whole* text (`re.fullmatch`, or a tantivy regex query,
which is anchored): it carries no `^`/`$`. With Python `re`, compile it with DOTALL so that `*` spans
newlines as fnmatch's `*` does (or pass `any_run=r"[\s\S]*"` when the flags are not yours to set). A run
of `*` is one `*`.

`wildcard_test(pattern)` is the test the predicate runs for a `Wildcard` leaf: the same meaning as the
regex, in time linear in the text for any pattern (no `.*a.*a.*`-style backtracking).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from enum import StrEnum


class Wild(StrEnum):
    """A wildcard in a split pattern (its text is the wildcard character, so `"".join(parts)` writes
    the pattern back; tell it from an escaped literal `*` with `isinstance(part, Wild)`)."""

    RUN = "*"
    ONE = "?"


Part = str | Wild


def split_wildcard(pattern: str, *, one: bool = True, escapes: bool | str = False) -> list[Part]:
    """The literal runs (unescaped, never empty) and wildcards of `pattern`, in order.

    `one`: `?` is a wildcard (else a literal). `escapes`: False, a backslash is a literal; True, a
    backslash makes the next character literal, whatever it is; a string, a backslash makes the next
    character literal when it is one of those (else the backslash is itself a literal). A backslash at
    the end is a literal."""
    wild = {"*": Wild.RUN, "?": Wild.ONE} if one else {"*": Wild.RUN}
    parts: list[Part] = []
    literal: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\" and escapes and i + 1 < n and (escapes is True or pattern[i + 1] in escapes):
            literal.append(pattern[i + 1])
            i += 2
            continue
        found = wild.get(ch)
        if found is None:
            literal.append(ch)
        else:
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(found)
        i += 1
    if literal:
        parts.append("".join(literal))
    return parts


def regex_of(
    parts: Iterable[Part],
    *,
    escape: Callable[[str], str] = re.escape,
    any_run: str = ".*",
    any_one: str = ".",
) -> str:
    """The regex of a split pattern: literals through `escape` (Python's `re.escape`, or the escaping
    of the dialect the regex is for), `Wild.RUN` as `any_run`, `Wild.ONE` as `any_one`; a run of
    `Wild.RUN` counts once. To be matched whole (see the module docstring)."""
    out: list[str] = []
    previous: Part | None = None
    for part in parts:
        if part is Wild.RUN:
            if previous is not Wild.RUN:
                out.append(any_run)
        elif part is Wild.ONE:
            out.append(any_one)
        else:
            out.append(escape(part))
        previous = part
    return "".join(out)


def wildcard_regex(
    pattern: str,
    *,
    one: bool = True,
    escapes: bool | str = False,
    escape: Callable[[str], str] = re.escape,
    any_run: str = ".*",
    any_one: str = ".",
) -> str:
    """`regex_of(split_wildcard(pattern, ...))`: `wildcard_regex("a*b?")` is `a.*b.`."""
    return regex_of(
        split_wildcard(pattern, one=one, escapes=escapes), escape=escape, any_run=any_run, any_one=any_one
    )


def wildcard_test(pattern: str) -> Callable[[str], bool]:
    """Whether a whole text matches `pattern` (`*` and `?` wildcards, no escapes), without backtracking:
    the pattern is cut at `*` into fixed-length segments (literals and `?`), the first anchored at the
    start, the last at the end, the middle ones found leftmost in order, which is exact because every
    segment has a fixed length. A regex `.*a.*a.*…` would take polynomial time on a long text."""
    pieces = pattern.split("*")
    segments = [re.compile(wildcard_regex(piece), re.DOTALL) for piece in pieces]
    lengths = [len(piece) for piece in pieces]
    if len(segments) == 1:
        only = segments[0].fullmatch
        return lambda text: only(text) is not None
    head, tail = segments[0], segments[-1]
    head_len, tail_len = lengths[0], lengths[-1]
    middles = [seg for seg, size in zip(segments[1:-1], lengths[1:-1], strict=True) if size]

    def test(text: str) -> bool:
        end = len(text) - tail_len
        if end < head_len or not head.match(text) or not tail.match(text, end):
            return False
        pos = head_len
        for seg in middles:
            found = seg.search(text, pos, end)
            if found is None:
                return False
            pos = found.end()
        return True

    return test


__all__ = ["Part", "Wild", "regex_of", "split_wildcard", "wildcard_regex", "wildcard_test"]
