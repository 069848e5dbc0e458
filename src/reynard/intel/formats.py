"""Indicator lists in and out: CSV (every field) and plain text (one value a line).

CSV: a header line naming the columns, in any order, case-insensitive:

    kind,value,expires,source,reference,comment,creator,created

Only `value` is required (`kind` is detected per row when absent or empty, or given by the caller);
`expires` and `created` are ISO 8601 times (or, for `expires`, a duration from now such as `30d`).
MozDef's record fields are accepted too: `address` (an ip value), `fqdn` (a domain), `watchcontent`
(a term), `dateAdded` (created), `dateExpiring` (expires), and its `comment`, `creator`, `reference`;
`_id`, `id`, `state`, `active` and `updated` are ignored. Any other column is refused (a misspelt
column would otherwise lose its data). A row whose first cell starts with `#` is a comment.

Text: one value a line; blank lines and lines starting with `#` are skipped, and ` # ...` after a
value is that indicator's comment. The kind is the caller's, or detected per line (IPs and CIDRs,
access key ids, hashes, ARNs and account ids, domains; user names and free terms need the kind given).

Bad rows do not stop an import: each is reported as `line N: why` (the value and the reason), and the
good rows are written together, in one transaction, after every row was checked: an import writes all
its good rows or nothing, never part of a row. An unusable header refuses the whole file.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from reynard.events.timestamps import TimestampError, iso_or_none, parse_timestamp
from reynard.intel.indicators import Checked, Indicator, IndicatorError, check
from reynard.intel.store import IndicatorStore, NewIndicator

COLUMNS = ("kind", "value", "expires", "source", "reference", "comment", "creator", "created")
FORMATS = ("csv", "text")
EXPORT_STATES = ("active", "expired", "all")
_MOZDEF_VALUES = {"address": "ip", "fqdn": "domain", "watchcontent": "term"}
_ALIASES = {"dateadded": "created", "dateexpiring": "expires"}
_IGNORED = {"_id", "id", "state", "active", "updated"}
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_TRAILING_COMMENT = re.compile(r"\s+#\s?")


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class Parsed:
    rows: list[tuple[int, Checked, NewIndicator]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "rejected": len(self.errors),
            "errors": [{"line": e.line, "reason": e.reason} for e in self.errors],
        }

    def line(self) -> str:
        return f"added {self.added} updated {self.updated} rejected {len(self.errors)}"


def parse_expiry(text: str | None, now: datetime | None = None, name: str = "expires") -> datetime | None:
    """An expiry: a duration from now (`30d`, `12h`), an ISO 8601 time, or empty for none."""
    if text is None or not text.strip():
        return None
    found = _DURATION.match(text)
    if found:
        return (now or datetime.now(UTC)) + timedelta(**{_UNITS[found[2]]: int(found[1])})
    return _time(text, name, "ISO 8601, or a duration from now such as 30d")


def _time(text: str, name: str, forms: str = "ISO 8601") -> datetime:
    try:
        return parse_timestamp(text.strip())[0]
    except TimestampError:
        raise IndicatorError(f"{name}: {text.strip()!r} is not a time ({forms})") from None


def detect_format(data: str, filename: str | None = None) -> str:
    """`csv` for a .csv file or a first line that is a header of known columns, else `text`."""
    if filename and filename.lower().endswith(".csv"):
        return "csv"
    for line in data.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        cells = [c.strip().lower() for c in next(csv.reader([stripped]))]
        known = set(COLUMNS) | set(_MOZDEF_VALUES) | set(_ALIASES) | _IGNORED
        return "csv" if "," in stripped and all(c in known for c in cells) else "text"
    return "text"


def parse(data: str, fmt: str, *, kind: str | None = None, defaults: NewIndicator | None = None) -> Parsed:
    """The rows of an import, checked; `defaults` fills what a row leaves empty (source, expiry...)."""
    if fmt not in FORMATS:
        raise IndicatorError(f"unknown import format {fmt!r} (formats: {', '.join(FORMATS)})")
    defaults = defaults or NewIndicator(value="")
    return _parse_csv(data, kind, defaults) if fmt == "csv" else _parse_text(data, kind, defaults)


def _row(line: int, kind: str | None, new: NewIndicator, parsed: Parsed) -> None:
    try:
        parsed.rows.append((line, check(kind, new.value), new))
    except IndicatorError as e:
        parsed.errors.append(RowError(line, e.message))


def _parse_text(data: str, kind: str | None, defaults: NewIndicator) -> Parsed:
    parsed = Parsed()
    for number, line in enumerate(data.splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        value, comment = text, defaults.comment
        split = _TRAILING_COMMENT.split(text, maxsplit=1)
        if len(split) == 2:
            value, comment = split[0].strip(), split[1].strip() or defaults.comment
        new = NewIndicator(
            value=value,
            kind=kind,
            expires=defaults.expires,
            source=defaults.source,
            reference=defaults.reference,
            comment=comment,
            creator=defaults.creator,
        )
        _row(number, kind, new, parsed)
    return parsed


def _header(cells: list[str], line: int) -> tuple[list[str | None], str | None]:
    """The field each column fills (None: ignored) and the kind a MozDef value column implies."""
    names: list[str | None] = []
    implied = None
    seen: set[str] = set()
    for cell in cells:
        name = cell.strip().lower()
        if name in _MOZDEF_VALUES:
            implied = _MOZDEF_VALUES[name]
            name = "value"
        name = _ALIASES.get(name, name)
        if name in _IGNORED:
            names.append(None)
            continue
        if name not in COLUMNS:
            known = ", ".join(COLUMNS)
            raise IndicatorError(
                f"line {line}: unknown column {cell.strip()!r} (columns: {known}; or MozDef's address, "
                "fqdn, watchcontent, dateAdded, dateExpiring)"
            )
        if name in seen:
            raise IndicatorError(f"line {line}: column {name!r} given twice")
        seen.add(name)
        names.append(name)
    if "value" not in seen:
        raise IndicatorError(f"line {line}: the header has no value column (kind,value,expires,...)")
    return names, implied


def _parse_csv(data: str, kind: str | None, defaults: NewIndicator) -> Parsed:
    parsed = Parsed()
    reader = csv.reader(io.StringIO(data))
    names: list[str | None] | None = None
    implied: str | None = None
    end = 0
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            end = reader.line_num
            parsed.errors.append(RowError(start, f"not CSV: {e}"))
            continue
        end = reader.line_num
        if not cells or not "".join(cells).strip() or cells[0].lstrip().startswith("#"):
            continue
        if names is None:
            names, implied = _header(cells, start)
            continue
        if len(cells) > len(names):
            parsed.errors.append(RowError(start, f"{len(cells)} fields, the header has {len(names)}"))
            continue
        row = {n: c.strip() for n, c in zip(names, cells, strict=False) if n is not None}
        try:
            new = NewIndicator(
                value=row.get("value", ""),
                kind=row.get("kind", "").lower() or kind or implied,
                expires=parse_expiry(row.get("expires")) or defaults.expires,
                source=row.get("source") or defaults.source,
                reference=row.get("reference") or defaults.reference,
                comment=row.get("comment") or defaults.comment,
                creator=row.get("creator") or defaults.creator,
                created=_time(row["created"], "created") if row.get("created") else None,
            )
        except IndicatorError as e:
            parsed.errors.append(RowError(start, f"{row.get('value', '')!r}: {e.message}"))
            continue
        if not new.value:
            parsed.errors.append(RowError(start, "no value"))
            continue
        _row(start, new.kind, new, parsed)
    if names is None and not parsed.errors:
        raise IndicatorError("no header line (kind,value,expires,source,reference,comment,creator,created)")
    return parsed


def import_indicators(
    store: IndicatorStore,
    data: str,
    fmt: str,
    *,
    kind: str | None = None,
    defaults: NewIndicator | None = None,
    by: str,
) -> ImportReport:
    """Check every row, then write the good ones in one transaction (see the module docstring)."""
    parsed = parse(data, fmt, kind=kind, defaults=defaults)
    report = ImportReport(errors=parsed.errors)
    if parsed.rows:
        written = store.add_checked([(checked, new) for _, checked, new in parsed.rows], by=by)
        report.added = sum(1 for w in written if w.created)
        report.updated = len(written) - report.added
    return report


def export_csv(items: Iterable[Indicator]) -> str:
    """The indicators as CSV with the header `COLUMNS` (what `parse(..., "csv")` reads back)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for item in items:
        writer.writerow(
            [
                item.kind,
                item.value,
                iso_or_none(item.expires) or "",
                item.source or "",
                item.reference or "",
                item.comment or "",
                item.creator,
                iso_or_none(item.created) or "",
            ]
        )
    return out.getvalue()


def export_text(items: Iterable[Indicator]) -> str:
    """One value a line, nothing else (what a firewall or a DNS blocklist reads, as MozDef's export)."""
    return "".join(f"{item.value}\n" for item in items)


def exportable(
    store: IndicatorStore, state: str = "active", kind: str | None = None, now: datetime | None = None
) -> list[Indicator]:
    """What an export holds: the active indicators, the expired ones, or both (`all`); removed
    indicators are history, never exported."""
    if state not in EXPORT_STATES:
        raise IndicatorError(f"cannot export {state!r} indicators (states: {', '.join(EXPORT_STATES)})")
    now = now or datetime.now(UTC)
    states = ("active", "expired") if state == "all" else (state,)
    return sorted((i for s in states for i in store.list(s, kind=kind, now=now)), key=lambda i: i.id)


def export(items: Iterable[Indicator], fmt: str) -> str:
    if fmt not in FORMATS:
        raise IndicatorError(f"unknown export format {fmt!r} (formats: {', '.join(FORMATS)})")
    return export_csv(items) if fmt == "csv" else export_text(items)
