"""Indicator lists (cases): the indicators, one row per kind and key, and their change history.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "indicators",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=True),
        sa.Column("reference", sa.Text, nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("creator", sa.Text, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sa.Text, nullable=True),
        sa.Column("revision", sa.Integer, nullable=False),
    )
    op.create_index("ux_indicators_kind_key", "indicators", ["kind", "key"], unique=True)
    op.create_index("ix_indicators_revision", "indicators", ["revision"])
    op.create_table(
        "indicator_changes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "indicator_id", sa.Integer, sa.ForeignKey("indicators.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("by", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_index("ix_indicator_changes_indicator", "indicator_changes", ["indicator_id"])


def downgrade() -> None:
    op.drop_table("indicator_changes")
    op.drop_table("indicators")
