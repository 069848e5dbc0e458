"""Settings: one object, read once at the edge (a TOML file, then REYNARD_* environment variables).

Precedence: explicit arguments > environment > TOML file > defaults. Every setting is listed here
with its default and its meaning; `docs/configuration.md` is the user's copy of this table.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from reynard.errors import ConfigError

# RFC 1918, RFC 4193 (IPv6 unique local), CGNAT, and the link-local ranges.
DEFAULT_INTERNAL_CIDRS = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
)

# The event-store backends `event_store` may name (store/backends.py opens them; docs/store.md).
EVENT_STORES = ("tantivy", "memory")


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("reynard-data")
    host: str = "127.0.0.1"
    port: int = 8000
    # Networks that count as "inside" (VPC flow direction, SSH-from-outside detection).
    internal_cidrs: tuple[str, ...] = DEFAULT_INTERNAL_CIDRS
    # A MaxMind .mmdb (City or Country, optionally ASN) that replaces the shipped GeoIP data.
    geoip_mmdb: Path | None = None
    geoip_asn_mmdb: Path | None = None
    # The event store's writer: commit at least this often (seconds) and every `commit_every` events.
    commit_interval: float = 1.0
    commit_every: int = 100_000
    writer_heap_bytes: int = 256_000_000
    # Where events are kept: "tantivy" (embedded, on disk) or "memory" (one process, nothing kept).
    event_store: str = "tantivy"
    max_record_bytes: int = 16 * 1024 * 1024
    # How often (seconds) the server's scheduler wakes to run the rules that are due.
    scheduler_tick: float = 30.0
    # How often (seconds, at most) the streaming matcher checks whether rules were added or changed.
    rules_reload_seconds: float = 1.0
    # Worker processes that parse large inputs while this process writes the store (0: one per spare core).
    ingest_workers: int = 0
    # The user's runbooks (Markdown with front matter); None: `<data_dir>/runbooks`. See docs/cases.md.
    runbooks_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def events_dir(self) -> Path:
        return self.data_dir / "events"

    @property
    def state_url(self) -> str:
        return f"sqlite:///{self.data_dir / 'state.db'}"

    def networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(c, strict=False) for c in self.internal_cidrs)

    def workers(self) -> int:
        return self.ingest_workers or max(1, min(4, (os.cpu_count() or 2) - 1))

    def with_overrides(self, **values: Any) -> Settings:
        return _checked(replace(self, **{k: v for k, v in values.items() if v is not None}))


_ENV_PREFIX = "REYNARD_"


def load_settings(config: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Settings from `config` (or `./reynard.toml` when it exists) and the environment."""
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = {}
    path = config or (Path(env[f"{_ENV_PREFIX}CONFIG"]) if f"{_ENV_PREFIX}CONFIG" in env else None)
    if path is None and Path("reynard.toml").is_file():
        path = Path("reynard.toml")
    if path is not None:
        try:
            values.update(tomllib.loads(Path(path).read_text()))
        except OSError as e:
            raise ConfigError(f"cannot read settings file: {e.strerror}", where=str(path)) from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"invalid TOML: {e}", where=str(path)) from None
    known = {f.name: f for f in fields(Settings) if f.name != "extra"}
    for name in known:
        key = f"{_ENV_PREFIX}{name.upper()}"
        if key in env:
            values[name] = env[key]
    extra = {k: v for k, v in values.items() if k not in known}
    typed = {
        k: _cast(k, v, where=str(path) if path else "environment") for k, v in values.items() if k in known
    }
    return _checked(Settings(**typed, extra=extra))


def _cast(name: str, value: Any, where: str) -> Any:
    try:
        if name in ("data_dir",):
            return Path(value)
        if name in ("geoip_mmdb", "geoip_asn_mmdb", "runbooks_dir"):
            return Path(value) if value else None
        if name in ("port", "commit_every", "writer_heap_bytes", "max_record_bytes", "ingest_workers"):
            return int(value)
        if name in ("commit_interval", "scheduler_tick", "rules_reload_seconds"):
            return float(value)
        if name == "internal_cidrs":
            items = value.split(",") if isinstance(value, str) else value
            return tuple(str(c).strip() for c in items if str(c).strip())
        return str(value)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"setting {name}: {e}", where=where) from None


def _checked(settings: Settings) -> Settings:
    try:
        settings.networks()
    except ValueError as e:
        raise ConfigError(f"setting internal_cidrs: {e}") from None
    if not 0 < settings.port < 65536:
        raise ConfigError(f"setting port: {settings.port} is not a TCP port")
    if settings.event_store not in EVENT_STORES:
        raise ConfigError(
            f"setting event_store: unknown event store {settings.event_store!r} "
            f"(known: {', '.join(EVENT_STORES)})"
        )
    return settings
