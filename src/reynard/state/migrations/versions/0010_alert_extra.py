"""alerts.extra: the keys of an alert beyond MozDef's columns (a Sigma rule's `sigma` block with a
correlation's group, value and window; a MozDef alert's own fields), kept as JSON.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("extra", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("extra")
