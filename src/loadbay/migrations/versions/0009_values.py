"""organisation settings (locale rules, limits) as one JSON column

Revision ID: 0009_values
Revises: 0008_safety
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_values"
down_revision = "0008_safety"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settings", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("settings")
