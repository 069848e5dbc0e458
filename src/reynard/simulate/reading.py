"""Reading a scenario's YAML values: each check raises `ScenarioError` naming the key path (`attack[2].at`),
so one bad value is one clear message. Shared by the environment, background, step and scenario readers."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from reynard.errors import ReynardError


class ScenarioError(ReynardError):
    """A scenario (or its `environment:`) that cannot be used, naming the key."""


NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def mapping(data: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{where}: a mapping, not {type(data).__name__}")
    return data


def listed(table: Mapping[str, Any], key: str, where: str) -> list:
    value = table.get(key, [])
    if not isinstance(value, list):
        raise ScenarioError(f"{where}.{key}: a list, not {type(value).__name__}")
    return value


def known(table: Mapping[str, Any], where: str, keys: set[str] | frozenset[str]) -> None:
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(keys))}")


def required(table: Mapping[str, Any], key: str, where: str) -> Any:
    if table.get(key) is None:
        raise ScenarioError(f"{where}.{key}: required")
    return table[key]


def name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise ScenarioError(f"{where}: {value!r} is not a name (lowercase letters, digits and -)")
    return value


def bucket(value: Any, where: str) -> str:
    if not isinstance(value, str) or not BUCKET.match(value):
        raise ScenarioError(f"{where}: {value!r} is not an S3 bucket name")
    return value


def region(value: Any, where: str) -> str:
    if not isinstance(value, str) or not REGION.match(value):
        raise ScenarioError(f"{where}: {value!r} is not an AWS region (such as us-east-1)")
    return value


def network(value: Any, where: str) -> str:
    try:
        return str(ipaddress.ip_network(str(value), strict=False))
    except ValueError:
        raise ScenarioError(f"{where}: {value!r} is not a network (CIDR)") from None


def address(value: Any, where: str) -> str:
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        raise ScenarioError(f"{where}: {value!r} is not an IP address") from None


def duration(value: Any, where: str, *, zero: bool = True) -> timedelta:
    """`2h10m`, `45m`, `90s`, `1h30m15s` (or 0)."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    found = _DURATION.match(text) if text and text != "0" else None
    if text == "0" and zero:
        return timedelta(0)
    if not found or not any(found.groups()):
        raise ScenarioError(f"{where}: {value!r} is not a duration such as 2h10m, 45m or 90s")
    hours, minutes, seconds = (int(g or 0) for g in found.groups())
    result = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if not result and not zero:
        raise ScenarioError(f"{where}: a duration longer than 0")
    return result


def number(
    value: Any, where: str, *, low: float = 0, high: float | None = None, kind: str = "number"
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(f"{where}: a {kind}, not {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise ScenarioError(f"{where}: a {kind} {bound}, not {value!r}")
    return value


def whole(value: Any, where: str, *, low: int = 0, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(f"{where}: a whole number, not {value!r}")
    number(value, where, low=low, high=high, kind="whole number")
    return value


def text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ScenarioError(f"{where}: a text, not {value!r}")
    return value


def one_of(value: Any, choices: tuple[str, ...], where: str) -> str:
    if value not in choices:
        raise ScenarioError(f"{where}: one of {', '.join(choices)}, not {value!r}")
    return value


def names(value: Any, where: str) -> tuple[str, ...]:
    """A name or a list of names."""
    items = value if isinstance(value, list) else [value]
    return tuple(
        name(item, f"{where}[{n}]" if isinstance(value, list) else where) for n, item in enumerate(items)
    )


__all__ = [
    "ScenarioError",
    "address",
    "bucket",
    "duration",
    "known",
    "listed",
    "mapping",
    "name",
    "names",
    "network",
    "number",
    "one_of",
    "region",
    "required",
    "text",
    "whole",
]
