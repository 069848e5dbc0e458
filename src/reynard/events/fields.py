"""Dotted field paths over nested event dicts."""

from __future__ import annotations

from typing import Any

_MISSING = object()


def get_path(doc: dict, path: str, default: Any = None) -> Any:
    """`get_path(e, "details.useridentity.arn")`; a list on the way yields the values of its items."""
    value: Any = doc
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part, _MISSING)
        elif isinstance(value, list):
            found = [item.get(part, _MISSING) for item in value if isinstance(item, dict)]
            value = [v for v in found if v is not _MISSING] or _MISSING
        else:
            value = _MISSING
        if value is _MISSING:
            return default
    return value
