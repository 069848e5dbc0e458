"""Trigger firings: which document started which playbook, so a trigger fires once per document (a
GuardDuty finding once per id and update).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trigger_firings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("trigger", sa.Text, nullable=False),
        sa.Column("document", sa.Text, nullable=False),  # event id, alert id, or finding id|update
        sa.Column("execution", sa.Text, nullable=True),  # the execution it started (none: failed to start)
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("trigger", "document", name="uq_trigger_firings_document"),
    )


def downgrade() -> None:
    op.drop_table("trigger_firings")
