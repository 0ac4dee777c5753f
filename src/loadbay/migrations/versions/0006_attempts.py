"""attempts: the last error of a step (its errorMessage once out of attempts), worker heartbeats

Revision ID: 0006_attempts
Revises: 0005_review
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_attempts"
down_revision = "0005_review"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("import_jobs", "import_chunks"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
    op.create_table(
        "worker_heartbeats",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("last_task_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_worker_heartbeats_last_seen", "worker_heartbeats", ["last_seen"])


def downgrade() -> None:
    op.drop_index("ix_worker_heartbeats_last_seen", table_name="worker_heartbeats")
    op.drop_table("worker_heartbeats")
    for table in ("import_chunks", "import_jobs"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("last_error")
