"""import chunks remember when they were claimed (fair claims between organisations)

Revision ID: 0010_fair
Revises: 0009_values
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_fair"
down_revision = "0009_values"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("import_chunks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_chunks", schema=None) as batch_op:
        batch_op.drop_column("claimed_at")
