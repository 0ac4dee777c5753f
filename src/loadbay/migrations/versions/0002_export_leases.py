"""export leases: the worker writing an export holds a lease the sweeper can take over

Revision ID: 0002_export_leases
Revises: 0001_initial
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_export_leases"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("export_logs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_expires", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.create_index("ix_export_logs_status", ["status", "lease_expires"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("export_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_export_logs_status")
        batch_op.drop_column("attempts")
        batch_op.drop_column("lease_expires")
        batch_op.drop_column("lease_owner")
