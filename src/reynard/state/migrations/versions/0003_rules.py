"""Rules: the registry of detection rules (built-in and MozDef files), their schedule and last run.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("path", sa.Text, nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("schedule", sa.String(32), nullable=False, server_default="5m"),
        sa.Column("config", sa.Text, nullable=False, server_default="{}"),
        sa.Column("last_run", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("last_alerts", sa.Integer, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("rules")
