"""Alerts: what detection rules found, with their triage status and its history.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("classname", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=True),
        sa.Column("severity", sa.String(32), nullable=True),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=True),
        sa.Column("notify_mozdefbot", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("events", sa.Text, nullable=False),
        sa.Column("group_key", sa.Text, nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("utctimestamp", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="new"),
        sa.Column("status_by", sa.Text, nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_alerts_created", "alerts", ["created"])
    op.create_index("ix_alerts_rule", "alerts", ["rule"])
    op.create_index("ix_alerts_status", "alerts", ["status"])
    op.create_table(
        "alert_status_changes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("by", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
    )
    op.create_index("ix_alert_status_changes_alert_id", "alert_status_changes", ["alert_id"])


def downgrade() -> None:
    op.drop_table("alert_status_changes")
    op.drop_table("alerts")
