"""Alert events: every event of an alert (an aggregation's whole group, not only its samples), indexed
by rule, so dedup is one indexed look-up; and room for long schedules (cron, MozDef's crontab forms).

Revision ID: 0005
Revises: 0004
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
    )
    op.create_index("ix_alert_events_rule_event", "alert_events", ["rule", "event_id"])
    op.create_index("ix_alert_events_alert", "alert_events", ["alert_id"])
    connection = op.get_bind()
    rows = []
    for alert_id, rule, events in connection.execute(sa.text("SELECT id, rule, events FROM alerts")):
        for ref in json.loads(events or "[]"):
            if isinstance(ref, dict) and ref.get("documentid") is not None:
                rows.append({"alert_id": alert_id, "rule": rule, "event_id": str(ref["documentid"])})
    if rows:
        table = sa.table("alert_events", sa.column("alert_id"), sa.column("rule"), sa.column("event_id"))
        op.bulk_insert(table, rows)
    with op.batch_alter_table("rules") as batch:
        batch.alter_column("schedule", type_=sa.String(200), existing_type=sa.String(32))


def downgrade() -> None:
    with op.batch_alter_table("rules") as batch:
        batch.alter_column("schedule", type_=sa.String(32), existing_type=sa.String(200))
    op.drop_table("alert_events")
