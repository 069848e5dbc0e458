"""Playbook executions (respond): executions with their snapshot, their history events, task tokens.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "executions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("playbook", sa.Text, nullable=False),
        sa.Column("definition_hash", sa.String(64), nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("input", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("output", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("cause", sa.Text, nullable=True),
        sa.Column("dry_run", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped", sa.DateTime(timezone=True), nullable=True),
        sa.Column("snapshot", sa.Text, nullable=True),
        sa.Column("wake_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("owner", sa.Text, nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_executions_status", "executions", ["status"])
    op.create_index("ix_executions_playbook_name", "executions", ["playbook", "name"], unique=True)
    op.create_table(
        "execution_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "execution_id", sa.String(64), sa.ForeignKey("executions.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.Text, nullable=True),
        sa.Column("frame", sa.Text, nullable=False, server_default=""),
        sa.Column("details", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_execution_events_execution_seq", "execution_events", ["execution_id", "seq"], unique=True
    )
    op.create_table(
        "task_tokens",
        sa.Column("token", sa.String(128), primary_key=True),
        sa.Column(
            "execution_id", sa.String(64), sa.ForeignKey("executions.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("output", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("cause", sa.Text, nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_task_tokens_execution", "task_tokens", ["execution_id"])
    op.create_index("ix_task_tokens_status", "task_tokens", ["status"])


def downgrade() -> None:
    op.drop_table("task_tokens")
    op.drop_table("execution_events")
    op.drop_table("executions")
