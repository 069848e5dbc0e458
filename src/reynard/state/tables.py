"""Tables of the state database. A change here needs a migration in `migrations/versions/`."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("source", String(64), nullable=False),
    Column("origin", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
)

ALERT_STATUSES = ("new", "acknowledged", "escalated", "closed")

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("rule", Text, nullable=False),
    Column("classname", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("category", Text, nullable=True),
    Column("severity", String(32), nullable=True),
    Column("tags", Text, nullable=False),  # JSON list
    Column("channel", Text, nullable=True),
    Column("notify_mozdefbot", Boolean, nullable=False, default=False),
    Column("url", Text, nullable=True),
    Column("events", Text, nullable=False),  # JSON: [{documentindex, documentsource, documentid}]
    Column("group_key", Text, nullable=True),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("utctimestamp", Text, nullable=True),
    Column("status", String(16), nullable=False, default="new"),
    Column("status_by", Text, nullable=True),
    Column("status_at", DateTime(timezone=True), nullable=True),
)

# Every event of an alert (an aggregation's whole group, where `alerts.events` keeps samples): dedup.
alert_events = Table(
    "alert_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("rule", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Index("ix_alert_events_rule_event", "rule", "event_id"),
    Index("ix_alert_events_alert", "alert_id"),
)

alert_status_changes = Table(
    "alert_status_changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("by", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("comment", Text, nullable=True),
)

RULE_KINDS = ("builtin", "mozdef", "sigma")

rules = Table(
    "rules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # one of RULE_KINDS
    Column("path", Text, nullable=True),  # mozdef: the copy in <data_dir>/rules/
    Column("enabled", Boolean, nullable=False, default=True),
    Column("schedule", String(200), nullable=False, default="5m"),
    Column("config", Text, nullable=False, default="{}"),  # JSON object
    Column("last_run", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_alerts", Integer, nullable=True),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("notifier", Text, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", Text),
    Column("started", DateTime(timezone=True), nullable=False),
    Column("finished", DateTime(timezone=True), nullable=False),
)

# Indicator lists (cases): one row per kind and key (the checked value as compared), so adding the
# same indicator again updates it. `revision` grows with every change, so "did the lists change?" is
# one indexed look-up (the ingest plugin asks it every few seconds). Removal keeps the row.
indicators = Table(
    "indicators",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("value", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("source", Text, nullable=True),
    Column("reference", Text, nullable=True),
    Column("comment", Text, nullable=True),
    Column("creator", Text, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
    Column("expires", DateTime(timezone=True), nullable=True),
    Column("removed", DateTime(timezone=True), nullable=True),
    Column("removed_by", Text, nullable=True),
    Column("revision", Integer, nullable=False),
    Index("ux_indicators_kind_key", "kind", "key", unique=True),
    Index("ix_indicators_revision", "revision"),
)

# Every change to an indicator, oldest first: added, updated (added again), expired, removed.
indicator_changes = Table(
    "indicator_changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("indicator_id", Integer, ForeignKey("indicators.id", ondelete="CASCADE"), nullable=False),
    Column("action", String(16), nullable=False),
    Column("by", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("detail", Text, nullable=True),
    Index("ix_indicator_changes_indicator", "indicator_id"),
)
