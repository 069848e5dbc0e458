"""Regular expressions in queries, run by RE2: time linear in the text, whatever the pattern.

Every regex a query holds (`field:/.../` in a query string, a `Regex` node, a Sigma `|re`) is compiled
here, once, by RE2 (the `google-re2` bindings), which never backtracks: `(a|a)*c` against forty `a`s
answers in microseconds, where a backtracking engine runs for hours. The price is that RE2 has no
constructs that need backtracking; they are refused when the query or rule is compiled, with a
`RegexUnsupported` naming the construct, never while events are matched:

- backreferences: `\\1`, `(?P=name)`, `\\g<name>`;
- lookaround: `(?=...)`, `(?!...)`, `(?<=...)`, `(?<!...)`;
- atomic groups `(?>...)`, possessive repeats `a*+`, conditionals `(?(1)...)`, recursion `(?P>name)`;
- the inline flags `(?x)` (verbose), `(?a)`, `(?u)`, `(?L)` (RE2 knows `i`, `m`, `s` and `U`);
- escapes RE2 does not know: `\\u00e9` (write `\\x{e9}`), `\\N{...}`, `\\G`, `\\K`, `\\R`, `\\X`...;
- `\\C` (one byte, which could cut a character in two), comments `(?#...)`, branch resets `(?|...)`.

`\\Z` is read as RE2's `\\z` (the end of the text). The syntax is otherwise RE2's, close to Python's, with
these differences: `\\d`, `\\w`, `\\s` and `\\b` are ASCII (`[0-9]`, `[0-9A-Za-z_]`...; `\\pL`, `\\pN` are
the Unicode classes), `$` without the multiline flag matches only at the very end, and repeat counts
go to 1,000. Case-insensitive matching folds Unicode case.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import re2

from reynard.query.errors import QueryError

MAX_REGEX = 1_000  # characters of a pattern
MAX_MEMORY = 8 << 20  # RE2's budget for one compiled pattern (its default): beyond it, refused

# RE2's messages are "<what>: <the text it stopped at>"; the text says which construct it was.
_PERL_OPERATORS = (
    ("(?<=", "lookbehind (?<=...)"),
    ("(?<!", "negative lookbehind (?<!...)"),
    ("(?=", "lookahead (?=...)"),
    ("(?!", "negative lookahead (?!...)"),
    ("(?>", "atomic group (?>...)"),
    ("(?P=", "named backreference (?P=name)"),
    ("(?P>", "recursion (?P>name)"),
    ("(?(", "conditional (?(...)...)"),
    ("(?#", "comment (?#...)"),
    ("(?|", "branch reset (?|...)"),
    ("(?x", "verbose flag (?x)"),
    ("(?a", "ASCII flag (?a)"),
    ("(?u", "Unicode flag (?u)"),
    ("(?L", "locale flag (?L)"),
)
_ESCAPES = {
    "g": "backreference \\g<...>",
    "u": "escape \\u (write \\x{hhhh})",
    "U": "escape \\U (write \\x{hhhhhh})",
    "N": "named character \\N{...}",
    "G": "\\G",
    "K": "\\K",
    "R": "\\R",
    "X": "\\X",
    "h": "\\h",
}
_BACKSLASH_Z = re.compile(r"(?<!\\)((?:\\\\)*)\\Z")  # an unescaped \Z (our own pattern: no user input in it)
_BYTE_CLASS = re.compile(r"(?<!\\)(?:\\\\)*\\C")


class RegexUnsupported(QueryError):
    """A valid regular expression that RE2 cannot run (a backreference, lookaround...): `construct` names
    it, `offset` is where it starts in the pattern (None when not known)."""

    def __init__(self, message: str, construct: str, offset: int | None = None):
        super().__init__(message)
        self.construct = construct
        self.offset = offset


class RegexInvalid(QueryError):
    """A pattern that is not a regular expression; `offset` is where RE2 stopped in it, when known."""

    def __init__(self, message: str, offset: int | None = None):
        super().__init__(message)
        self.offset = offset


def _options(case_insensitive: bool) -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern on stderr
    options.case_sensitive = not case_insensitive
    options.never_capture = True  # only whether it matches is asked: no group bookkeeping
    options.max_mem = MAX_MEMORY
    return options


def _translate(pattern: str) -> str:
    """Python's `\\Z` (end of text) is RE2's `\\z`."""
    return _BACKSLASH_Z.sub(r"\1\\z", pattern) if "\\Z" in pattern else pattern


def _unclosed(pattern: str) -> int:
    """The offset of the last '(' never closed (escapes and character classes skipped), or -1."""
    opened: list[int] = []
    i, in_class = 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 1
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":  # "[]...]": the first ']' is a member
                i += 1
        elif char == "(":
            opened.append(i)
        elif char == ")" and opened:
            opened.pop()
        i += 1
    return opened[-1] if opened else -1


def _refusal(pattern: str, detail: str, prefix: str) -> QueryError:
    """The error for a pattern RE2 refused with `detail` ("<what>: <fragment>"), `prefix` being the
    flags put in front of it."""
    what, _, fragment = detail.partition(": ")
    fragment = fragment.removeprefix(prefix)
    offset = _unclosed(pattern) if what == "missing )" else pattern.find(fragment) if fragment else -1
    at = offset if offset >= 0 else None
    if what == "invalid perl operator":
        # RE2 shows the first characters only ("(?P" for both "(?P=" and "(?P>"): find what was written.
        written = [
            (found, start, construct)
            for start, construct in _PERL_OPERATORS
            if (start.startswith(fragment) or fragment.startswith(start))
            and (found := pattern.find(start)) >= 0
        ]
        if written:
            found, _, construct = min(written)
            return _unsupported(pattern, construct, found)
    if what == "invalid escape sequence" and len(fragment) == 2:
        letter = fragment[1]
        if letter.isdigit():
            return _unsupported(pattern, f"backreference {fragment}", at)
        if letter in _ESCAPES:
            return _unsupported(pattern, _ESCAPES[letter], at)
    if what == "bad repetition operator" and fragment.endswith("+") and len(fragment) > 1:
        return _unsupported(pattern, f"possessive repeat {fragment}", at)
    if what == "invalid repetition size":
        return RegexInvalid(
            f"invalid regex {pattern!r}: repeat count {fragment} (at most 1000, nested repeats multiplied)",
            at,
        )
    if what.startswith("pattern too large"):
        return RegexInvalid(f"regex {pattern!r} is too large for the regex engine (its repeats multiply)")
    return RegexInvalid(f"invalid regex {pattern!r}: {what}" + (f" at {fragment!r}" if fragment else ""), at)


def _unsupported(pattern: str, construct: str, offset: int | None) -> RegexUnsupported:
    return RegexUnsupported(
        f"regex {pattern!r}: {construct} is not supported (regexes run on RE2, in time linear in the text,"
        " which rules out backreferences, lookaround and other backtracking constructs)",
        construct,
        offset,
    )


def check_regex(pattern: str, case_insensitive: bool = False, multiline: bool = False, dotall: bool = False):
    """The compiled RE2 pattern (flags applied), or `RegexUnsupported` / `RegexInvalid` (QueryErrors)."""
    if not isinstance(pattern, str):
        raise QueryError(f"regex must be a string, not {pattern!r}")
    if len(pattern) > MAX_REGEX:
        raise QueryError(f"regex is {len(pattern)} characters, more than {MAX_REGEX}")
    if (found := _BYTE_CLASS.search(pattern)) is not None:
        raise _unsupported(pattern, "single byte \\C", found.end() - 2)
    flags = ("m" if multiline else "") + ("s" if dotall else "")
    prefix = f"(?{flags})" if flags else ""
    text = prefix + _translate(pattern)
    try:
        return re2.compile(text, _options(case_insensitive))
    except re2.error as e:
        detail = e.args[0] if e.args else str(e)
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise _refusal(pattern, str(detail), prefix) from None
    except (TypeError, ValueError, UnicodeError) as e:  # a pattern RE2's bindings cannot take (surrogates)
        raise RegexInvalid(f"invalid regex {pattern!r}: {e}") from None


def regex_test(
    pattern: str, case_insensitive: bool = False, multiline: bool = False, dotall: bool = False
) -> Callable[[str], bool]:
    """Whether a whole text matches the pattern (anchored at both ends); QueryError at once for a
    pattern that cannot run. Each call takes time linear in the text."""
    fullmatch = check_regex(pattern, case_insensitive, multiline, dotall).fullmatch

    def test(text: str) -> bool:
        try:
            return fullmatch(text) is not None
        except UnicodeEncodeError:  # a lone surrogate (JSON allows "\ud800"): matched as U+FFFD
            return fullmatch(text.encode("utf-8", "replace").decode("utf-8")) is not None

    return test
