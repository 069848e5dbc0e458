"""Results for people and programs: a table that fits the terminal, JSON, NDJSON."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from typing import Any

from reynard.events.fields import get_path

DEFAULT_FIELDS = ("utctimestamp", "source", "hostname", "summary")


def cell(event: dict, field: str) -> str:
    value = get_path(event, field)
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(cell({"v": v}, "v") for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace("\n", " ")


def table(events: Sequence[dict], fields: Sequence[str] = DEFAULT_FIELDS, width: int | None = None) -> str:
    """Aligned columns; the last column is cut to the terminal width."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    rows = [[cell(e, f) for f in fields] for e in events]
    sizes = [max([len(f), *(len(r[i]) for r in rows)]) for i, f in enumerate(fields)]
    lines = []
    for values in [list(fields), *rows]:
        parts = [v.ljust(sizes[i]) for i, v in enumerate(values[:-1])]
        line = "  ".join([*parts, values[-1]])
        lines.append(line if len(line) <= width else line[: max(width - 1, 0)] + "…")
    return "\n".join(lines)


def buckets_table(buckets: Iterable[dict[str, Any]], field: str) -> str:
    rows = [(str(b["value"]), str(b["count"])) for b in buckets]
    size = max([len(field), *(len(v) for v, _ in rows)])
    return "\n".join([f"{field.ljust(size)}  count", *(f"{v.ljust(size)}  {c}" for v, c in rows)])


def project(event: dict, fields: Sequence[str] | None) -> dict:
    """Only `fields` of the event (dotted paths kept as keys), or the whole event."""
    if not fields:
        return event
    return {f: get_path(event, f) for f in fields}
