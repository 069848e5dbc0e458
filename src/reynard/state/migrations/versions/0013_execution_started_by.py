"""executions.started_by: who started an execution (a user's or token's name, the CLI's actor, or
`trigger:<name>`); NULL for the executions started before it was recorded.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("started_by", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("started_by")
