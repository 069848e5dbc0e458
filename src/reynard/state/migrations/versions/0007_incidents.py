"""Incidents (cases): the incident, its tags, team, alerts, events, indicators, the append-only
timeline and the postmortem's edited sections.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CASCADE = {"ondelete": "CASCADE"}


def _incident() -> sa.Column:
    return sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id", **CASCADE), nullable=False)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("category", sa.Text, nullable=True),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("owner", sa.Text, nullable=True),
        sa.Column("root_cause", sa.Text, nullable=False),
        sa.Column("lessons", sa.Text, nullable=False),
        sa.Column("mitigations", sa.Text, nullable=False),
        sa.Column("references", sa.Text, nullable=False),
        sa.Column("runbook", sa.Text, nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_incidents_phase", "incidents", ["phase"])
    op.create_table(
        "incident_tags",
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id", **CASCADE), primary_key=True),
        sa.Column("tag", sa.Text, primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_index("ix_incident_tags_tag", "incident_tags", ["tag"])
    op.create_table(
        "incident_members",
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id", **CASCADE), primary_key=True),
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.Text, nullable=False),
    )
    op.create_table(
        "incident_alerts",
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), primary_key=True),
        _incident(),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("linked_by", sa.Text, nullable=False),
    )
    op.create_index("ix_incident_alerts_incident", "incident_alerts", ["incident_id"])
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer, primary_key=True),
        _incident(),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=True),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("incident_id", "event_id", name="uq_incident_events"),
    )
    op.create_table(
        "incident_indicators",
        sa.Column("id", sa.Integer, primary_key=True),
        _incident(),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("incident_id", "kind", "value", name="uq_incident_indicators"),
    )
    op.create_table(
        "incident_entries",
        sa.Column("id", sa.Integer, primary_key=True),
        _incident(),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("link", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("data", sa.Text, nullable=True),
    )
    op.create_index("ix_incident_entries_incident", "incident_entries", ["incident_id", "id"])
    op.create_table(
        "postmortem_sections",
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id", **CASCADE), primary_key=True),
        sa.Column("section", sa.String(32), primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "postmortem_sections",
        "incident_entries",
        "incident_indicators",
        "incident_events",
        "incident_alerts",
        "incident_members",
        "incident_tags",
        "incidents",
    ):
        op.drop_table(table)
