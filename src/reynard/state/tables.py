"""Tables of the state database. A change here needs a migration in `migrations/versions/`."""

from __future__ import annotations

from datetime import UTC, datetime

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
    TypeDecorator,
    UniqueConstraint,
)

metadata = MetaData()


class UTCDateTime(TypeDecorator):
    """A time stored in UTC and read back timezone-aware: SQLite keeps no zone, so without this every
    reader would have to say again that a naive time read back is UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:  # type: ignore[override]
        return value.astimezone(UTC) if value is not None and value.tzinfo is not None else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:  # type: ignore[override]
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created", UTCDateTime(), nullable=False),
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
    Column("created", UTCDateTime(), nullable=False),
    Column("utctimestamp", Text, nullable=True),
    Column("status", String(16), nullable=False, default="new"),
    Column("status_by", Text, nullable=True),
    Column("status_at", UTCDateTime(), nullable=True),
    Column("extra", Text, nullable=True),  # JSON object: the alert's other keys (alerts.EXTRA)
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
    Column("at", UTCDateTime(), nullable=False),
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
    Column("last_run", UTCDateTime(), nullable=True),
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
    Column("started", UTCDateTime(), nullable=False),
    Column("finished", UTCDateTime(), nullable=False),
)

# Which document started which playbook (respond/triggers.py): a trigger fires once per document.
trigger_firings = Table(
    "trigger_firings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("trigger", Text, nullable=False),
    Column("document", Text, nullable=False),
    Column("execution", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("at", UTCDateTime(), nullable=False),
    UniqueConstraint("trigger", "document", name="uq_trigger_firings_document"),
)

EXECUTION_STATUSES = ("RUNNING", "WAITING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")

# Playbook executions: the definition they run (kept, so a resumed execution runs what it started with),
# their outcome, and `snapshot`: the interpreter's whole position (JSON), saved at each transition.
# `wake_at` is the soonest timer of a WAITING execution; `owner`/`lease_until` say which process runs it.
# `started_by` (migration 0013): a user's or token's name, the CLI's actor, or `trigger:<name>`; NULL for
# executions started before it was recorded.
executions = Table(
    "executions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("playbook", Text, nullable=False),
    Column("definition_hash", String(64), nullable=False),
    Column("definition", Text, nullable=False),
    Column("input", Text, nullable=False),  # JSON
    Column("status", String(16), nullable=False),  # one of EXECUTION_STATUSES
    Column("output", Text, nullable=True),  # JSON
    Column("error", Text, nullable=True),
    Column("cause", Text, nullable=True),
    Column("dry_run", Boolean, nullable=False, default=False),
    Column("started", UTCDateTime(), nullable=False),
    Column("stopped", UTCDateTime(), nullable=True),
    Column("snapshot", Text, nullable=True),  # JSON
    Column("wake_at", UTCDateTime(), nullable=True),
    Column("owner", Text, nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("started_by", Text, nullable=True),
    Index("ix_executions_status", "status"),
    Index("ix_executions_playbook_name", "playbook", "name", unique=True),
)

# The history of an execution, event by event, as Step Functions' GetExecutionHistory gives it.
execution_events = Table(
    "execution_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("execution_id", String(64), ForeignKey("executions.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("type", String(64), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("state", Text, nullable=True),
    Column("frame", Text, nullable=False, default=""),  # "" the top level, "Par[0]/Map[3]" inside
    Column("details", Text, nullable=False),  # JSON
    Index("ix_execution_events_execution_seq", "execution_id", "seq", unique=True),
)

TOKEN_STATUSES = ("WAITING", "SUCCEEDED", "FAILED", "CONSUMED", "TIMED_OUT", "ABORTED")

# Task tokens of `.waitForTaskToken` tasks: answered (SUCCEEDED/FAILED) by approve/reject, then
# CONSUMED by the execution; TIMED_OUT or ABORTED ones refuse answers.
task_tokens = Table(
    "task_tokens",
    metadata,
    Column("token", String(128), primary_key=True),
    Column("execution_id", String(64), ForeignKey("executions.id", ondelete="CASCADE"), nullable=False),
    Column("state", Text, nullable=False),
    Column("status", String(16), nullable=False),  # one of TOKEN_STATUSES
    Column("output", Text, nullable=True),  # JSON
    Column("error", Text, nullable=True),
    Column("cause", Text, nullable=True),
    Column("created", UTCDateTime(), nullable=False),
    Column("answered", UTCDateTime(), nullable=True),
    Column("heartbeat", UTCDateTime(), nullable=True),
    Index("ix_task_tokens_execution", "execution_id"),
    Index("ix_task_tokens_status", "status"),
)

# -- cases: incidents and their timeline (migration 0007) -------------------------------------------------
# `version` grows by one with each change (optimistic concurrency: a write names the version it read).
incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("severity", String(16), nullable=False),
    Column("category", Text, nullable=True),
    Column("phase", String(32), nullable=False),
    Column("owner", Text, nullable=True),
    Column("root_cause", Text, nullable=False, default=""),
    Column("lessons", Text, nullable=False, default=""),
    Column("mitigations", Text, nullable=False, default="[]"),  # JSON list of text
    Column("references", Text, nullable=False, default="[]"),  # JSON list of text
    Column("runbook", Text, nullable=True),
    Column("created", UTCDateTime(), nullable=False),
    Column("created_by", Text, nullable=False),
    Column("updated", UTCDateTime(), nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Index("ix_incidents_phase", "phase"),
)

incident_tags = Table(
    "incident_tags",
    metadata,
    Column("incident_id", Integer, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", Text, primary_key=True),
    Column("position", Integer, nullable=False),
    Index("ix_incident_tags_tag", "tag"),
)

incident_members = Table(
    "incident_members",
    metadata,
    Column("incident_id", Integer, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
    Column("name", Text, primary_key=True),
    Column("role", Text, nullable=False),
    Column("added_at", UTCDateTime(), nullable=False),
    Column("added_by", Text, nullable=False),
)

# An alert belongs to one incident at most.
incident_alerts = Table(
    "incident_alerts",
    metadata,
    Column("alert_id", Integer, ForeignKey("alerts.id"), primary_key=True),
    Column("incident_id", Integer, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("linked_at", UTCDateTime(), nullable=False),
    Column("linked_by", Text, nullable=False),
    Index("ix_incident_alerts_incident", "incident_id"),
)

incident_events = Table(
    "incident_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("incident_id", Integer, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", Text, nullable=False),
    Column("source", Text, nullable=True),  # `alert:12` when an escalation brought it
    Column("linked_at", UTCDateTime(), nullable=False),
    UniqueConstraint("incident_id", "event_id", name="uq_incident_events"),
)

incident_indicators = Table(
    "incident_indicators",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("incident_id", Integer, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("value", Text, nullable=False),
    Column("source", Text, nullable=True),
    Column("added_at", UTCDateTime(), nullable=False),
    UniqueConstraint("incident_id", "kind", "value", name="uq_incident_indicators"),
)

# The timeline: append-only (the code has no update or delete of it). Phase changes are entries of
# kind `phase` (and `opened`) whose `data` holds from, to, forced, backward and the reason.
incident_entries = Table(
    "incident_entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("incident_id", Integer, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("by", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("link", Text, nullable=True),
    Column("version", Integer, nullable=False),
    Column("data", Text, nullable=True),  # JSON object
    Index("ix_incident_entries_incident", "incident_id", "id"),
)

# The postmortem's edited sections (the generated text is used where there is none).
postmortem_sections = Table(
    "postmortem_sections",
    metadata,
    Column("incident_id", Integer, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
    Column("section", String(32), primary_key=True),
    Column("text", Text, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", Text, nullable=False),
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
    Column("created", UTCDateTime(), nullable=False),
    Column("updated", UTCDateTime(), nullable=False),
    Column("expires", UTCDateTime(), nullable=True),
    Column("removed", UTCDateTime(), nullable=True),
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
    Column("at", UTCDateTime(), nullable=False),
    Column("detail", Text, nullable=True),
    Index("ix_indicator_changes_indicator", "indicator_id"),
)

# -- identity: who may do what, and what they did ---------------------------------------------------------
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),  # argon2id, with its parameters and salt
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created", UTCDateTime(), nullable=False),
    Column("created_by", String(128), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False),  # who acts with it: what the audit trail records
    Column("role", String(16), nullable=False),
    Column("prefix", String(16), nullable=False),  # the token's first characters, to tell tokens apart
    Column("secret_hash", String(64), nullable=False, unique=True),  # SHA-256 of the whole token
    Column("created", UTCDateTime(), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("expires", UTCDateTime(), nullable=True),
    Column("revoked", UTCDateTime(), nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),  # SHA-256 of the cookie's secret
    Column("csrf", String(64), nullable=False),  # sent back in X-CSRF-Token with every state change
    Column("source", String(128), nullable=False),  # the address it was signed in from
    Column("created", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("expires", UTCDateTime(), nullable=False),
    Column("ended", UTCDateTime(), nullable=True),  # signed out, or ended by the user's disabling
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime(), nullable=False, index=True),
    Column("actor", String(128), nullable=False, index=True),
    Column("actor_kind", String(16), nullable=False),  # user, token, local (the CLI on the machine)
    Column("source", String(128), nullable=False),  # the client address, or "cli"
    Column("action", String(128), nullable=False),
    Column("target", Text, nullable=True),
    Column("result", String(16), nullable=False),  # the HTTP status, or ok / error
    Column("detail", Text, nullable=True),
)
