"""The `Settings` object: every setting with its default and its meaning.

`docs/configuration.md` is the user's copy of this table. The scalar settings come from the file or a
`REYNARD_*` variable; the sections (`notifiers`, `triggers`, `respond`) from the file only, typed and
checked in `sections.py`; `extra` keeps the file's other keys as they were read.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from reynard.errors import ConfigError

from .check import Frozen
from .sections import SECTIONS, NotifierSpec, RespondSection, TriggerSpec

# The event stores Reynard has (`reynard.store.backends` opens them by these names).
EVENT_STORES = ("tantivy", "memory")

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


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("reynard-data")
    # Where events are kept: "tantivy" (embedded, daily indices under `<data_dir>/events`) or "memory"
    # (in this process only: tests, trials). See docs/store.md.
    event_store: str = "tantivy"
    # The state database (alerts, incidents, rules, executions...): an SQLAlchemy URL; empty means SQLite
    # in the data directory (`<data_dir>/state.db`).
    state_database: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    # HTTP (docs/security.md#http): the Host names the server answers besides the loopback names and
    # `host` ("*.example.com" for a domain, "*" for any); the origins allowed to call it cross-site
    # (none: no CORS at all); TLS (a PEM certificate chain and its key, both or neither); the largest
    # ingest body (`/events`, the hand-off), and how many ingest requests are served at once.
    allowed_hosts: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_body_bytes: int = 64 * 1024 * 1024
    max_ingest_requests: int = 8
    # Seconds a client may take to send a request's whole body (a slow upload would hold its place).
    body_timeout_seconds: float = 60.0
    # Console sessions: signed out after this many hours however busy, or this many idle minutes.
    session_hours: float = 12.0
    session_idle_minutes: float = 60.0
    # Networks that count as "inside" (VPC flow direction, SSH-from-outside detection).
    internal_cidrs: tuple[str, ...] = DEFAULT_INTERNAL_CIDRS
    # A MaxMind .mmdb (City or Country, optionally ASN) that replaces the shipped GeoIP data.
    geoip_mmdb: Path | None = None
    geoip_asn_mmdb: Path | None = None
    # The event store's writer: commit at least this often (seconds) and every `commit_every` events.
    commit_interval: float = 1.0
    commit_every: int = 100_000
    writer_heap_bytes: int = 256_000_000
    max_record_bytes: int = 16 * 1024 * 1024
    # How often (seconds) the server's scheduler wakes to run the rules that are due.
    scheduler_tick: float = 30.0
    # How often (seconds, at most) the streaming matcher checks whether rules were added or changed.
    rules_reload_seconds: float = 1.0
    # Worker processes that parse large inputs while this process writes the store (0: one per spare core).
    ingest_workers: int = 0
    # Seconds a query may take in the event store before it stops with QueryTimeout (0: no limit); a
    # stream may take this long between two events. See docs/security.md.
    query_timeout_seconds: float = 10.0
    # The user's runbooks (Markdown with front matter); None: `<data_dir>/runbooks`. See docs/cases.md.
    runbooks_dir: Path | None = None
    # Where new alerts are sent ([[notifiers]]), in order.
    notifiers: tuple[NotifierSpec, ...] = field(default=(), hash=False)
    # What starts a playbook ([[triggers]]); respond adds the JSON files of `<data_dir>/triggers`.
    triggers: tuple[TriggerSpec, ...] = field(default=(), hash=False)
    # The response engine: [respond.aws], [respond.notifiers.NAME], [respond.forensics], [respond.actions].
    respond: RespondSection = field(default_factory=RespondSection, hash=False)
    # The values of each `%name%` placeholder Sigma's `|expand` names ([sigma_placeholders]).
    sigma_placeholders: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: Frozen({}), hash=False)
    # The file's other keys, as read.
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def events_dir(self) -> Path:
        return self.data_dir / "events"

    @property
    def state_url(self) -> str:
        return self.state_database or f"sqlite:///{self.data_dir / 'state.db'}"

    def networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(c, strict=False) for c in self.internal_cidrs)

    def workers(self) -> int:
        return self.ingest_workers or max(1, min(4, (os.cpu_count() or 2) - 1))

    def with_overrides(self, **values: Any) -> Settings:
        return checked(replace(self, **{k: v for k, v in values.items() if v is not None}))


# The settings a TOML scalar or a REYNARD_* variable sets.
SCALARS = tuple(f.name for f in fields(Settings) if f.name not in {*SECTIONS, "extra"})


def checked(settings: Settings, where: Callable[[str], str | None] = lambda name: None) -> Settings:
    """`settings` if its scalars can be used; `where(name)` says where a setting was written."""
    try:
        settings.networks()
    except ValueError as e:
        raise ConfigError(f"setting internal_cidrs: {e}", where=where("internal_cidrs")) from None
    if settings.event_store not in EVENT_STORES:
        known = ", ".join(EVENT_STORES)
        raise ConfigError(
            f"setting event_store: unknown event store {settings.event_store!r} (known: {known})",
            where=where("event_store"),
        )
    if not 0 < settings.port < 65536:
        raise ConfigError(f"setting port: {settings.port} is not a TCP port", where=where("port"))
    timeout = settings.query_timeout_seconds
    if not (timeout >= 0 and timeout != float("inf")):  # NaN too
        raise ConfigError(
            f"setting query_timeout_seconds: {timeout} is not a number of seconds (0 for no limit)",
            where=where("query_timeout_seconds"),
        )
    _check_http(settings, where)
    return settings


def _check_http(settings: Settings, where: Callable[[str], str | None]) -> None:
    for name in ("max_body_bytes", "max_ingest_requests"):
        if getattr(settings, name) < 1:
            raise ConfigError(f"setting {name}: must be at least 1", where=where(name))
    for name in ("body_timeout_seconds", "session_hours", "session_idle_minutes"):
        value = getattr(settings, name)
        if not (0 < value < float("inf")):  # NaN too
            raise ConfigError(f"setting {name}: {value:g} is not a positive number", where=where(name))
    if (settings.tls_cert is None) != (settings.tls_key is None):
        given, missing = ("tls_cert", "tls_key") if settings.tls_key is None else ("tls_key", "tls_cert")
        raise ConfigError(f"setting {given} needs {missing} too (both or neither)", where=where(given))
    for pattern in settings.allowed_hosts:
        wildcard = pattern == "*" or (pattern.startswith("*.") and "*" not in pattern[2:])
        if not pattern or ("*" in pattern and not wildcard):
            raise ConfigError(
                f"setting allowed_hosts: {pattern!r} is not a host name, '*.domain' or '*'",
                where=where("allowed_hosts"),
            )
    for origin in settings.cors_origins:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise ConfigError(
                f"setting cors_origins: {origin!r} is not an origin (scheme://host[:port], no path) or '*'",
                where=where("cors_origins"),
            )


_ORIGIN = re.compile(r"https?://(\[[0-9a-fA-F:.]+\]|[^/:\s\[\]]+)(:\d{1,5})?")
