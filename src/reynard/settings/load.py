"""Reading the settings once, at the edge: a TOML file, then REYNARD_* environment variables.

Precedence: explicit arguments (`Settings.with_overrides`) > environment > TOML file > defaults. All of
it is checked here, before anything is built from it, and the first problem is one `ConfigError` whose
`where` is the file and line (`reynard.toml:14`) or the environment variable (`REYNARD_PORT`).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reynard.errors import ConfigError

from .model import SCALARS, Settings, checked
from .origin import IN_CODE, Origin, Place
from .sections import SECTIONS, parse_sections

_ENV_PREFIX = "REYNARD_"


def load_settings(config: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Settings from `config` (else `$REYNARD_CONFIG`, else `./reynard.toml` if it exists), then the
    environment."""
    env = dict(os.environ if env is None else env)
    path = config or (Path(env[f"{_ENV_PREFIX}CONFIG"]) if f"{_ENV_PREFIX}CONFIG" in env else None)
    if path is None and Path("reynard.toml").is_file():
        path = Path("reynard.toml")
    values: dict[str, Any] = {}
    origin = IN_CODE.origin
    if path is not None:
        origin = _read(Path(path))
        values = _parse_toml(origin)
    variables = {name: f"{_ENV_PREFIX}{name.upper()}" for name in SCALARS}
    from_env = {name: variable for name, variable in variables.items() if variable in env}
    values.update({name: env[variable] for name, variable in from_env.items()})
    return parse_settings(values, origin, from_env)


def parse_settings(
    values: Mapping[str, Any], origin: Origin = IN_CODE.origin, from_env: Mapping[str, str] | None = None
) -> Settings:
    """Settings from values as a settings file gives them (a TOML document as `tomllib` reads it), with
    the same checks as `load_settings`; `from_env` names the variable each overridden setting came from."""
    from_env = from_env or {}
    root = Place(origin)

    def where(name: str) -> str:
        return from_env.get(name) or root.where(name)

    scalars = {name: _cast(name, value, where(name)) for name, value in values.items() if name in SCALARS}
    sections = parse_sections(values, root)
    extra = {k: v for k, v in values.items() if k not in SCALARS and k not in SECTIONS}
    return checked(Settings(**scalars, **sections, extra=extra), where)


def _read(path: Path) -> Origin:
    try:
        return Origin(str(path), path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read settings file: {e.strerror}", where=str(path)) from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"not UTF-8 text: {e.reason} at byte {e.start}", where=str(path)) from None


def _parse_toml(origin: Origin) -> dict[str, Any]:
    try:
        return tomllib.loads(origin.text or "")
    except tomllib.TOMLDecodeError as e:
        # tomllib ends its messages with "(at line N, column M)": the line goes where the others are.
        message, place = str(e), re.search(r" \(at line (\d+), column (\d+)\)$", str(e))
        if place is None:
            raise ConfigError(f"invalid TOML: {message}", where=origin.name) from None
        message = f"invalid TOML: {message[: place.start()]} (column {place[2]})"
        raise ConfigError(message, where=f"{origin.name}:{place[1]}") from None


FLOATS = (
    "commit_interval",
    "scheduler_tick",
    "rules_reload_seconds",
    "query_timeout_seconds",
    "body_timeout_seconds",
    "session_hours",
    "session_idle_minutes",
)


def _cast(name: str, value: Any, where: str) -> Any:
    try:
        if name in ("data_dir",):
            return Path(value)
        if name in ("geoip_mmdb", "geoip_asn_mmdb", "runbooks_dir", "tls_cert", "tls_key"):
            return Path(value) if value else None
        if name in ("port", "commit_every", "writer_heap_bytes", "max_record_bytes", "ingest_workers"):
            return int(value)
        if name in ("max_body_bytes", "max_ingest_requests"):
            return int(value)
        if name in FLOATS:
            return float(value)
        if name in ("internal_cidrs", "allowed_hosts", "cors_origins"):
            items = value.split(",") if isinstance(value, str) else value
            return tuple(str(c).strip() for c in items if str(c).strip())
        return str(value)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"setting {name}: {e}", where=where) from None
