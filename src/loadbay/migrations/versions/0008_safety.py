"""safety: who cancelled an import, Idempotency-Key answers, and undo (before-images,
revert progress, conflicts, the import that last wrote each record and task)

Revision ID: 0008_safety
Revises: 0007_reviewgrid
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_safety"
down_revision = "0007_reviewgrid"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancelled_by", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("cancelled_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("revert_status", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("reverted_by", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("reverted_at", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("reverted_count", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("revert_skipped", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("revert_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("revert_expires", sa.DateTime(), nullable=True))
    for table in ("records", "tasks"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("last_import_id", sa.String(length=24), nullable=True))
    op.create_table(
        "import_before_images",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("written_time", sa.DateTime(), nullable=False),
        sa.Column("created", sa.JSON(), nullable=False),
        sa.Column("updated", sa.JSON(), nullable=False),
        sa.Column("reverted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["import_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_import_before_images_job", "import_before_images", ["job_id", "id"], unique=False
    )
    op.create_table(
        "import_revert_conflicts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("target_id", sa.String(length=24), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["import_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_import_revert_conflicts_job", "import_revert_conflicts", ["job_id", "id"], unique=False
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("organization_id", sa.String(length=24), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("endpoint", sa.String(length=100), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=24), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_time", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "key"),
    )
    op.create_index("ix_idempotency_keys_expires", "idempotency_keys", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_expires", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_import_revert_conflicts_job", table_name="import_revert_conflicts")
    op.drop_table("import_revert_conflicts")
    op.drop_index("ix_import_before_images_job", table_name="import_before_images")
    op.drop_table("import_before_images")
    for table in ("tasks", "records"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("last_import_id")
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        for column in (
            "revert_expires", "revert_owner", "revert_skipped", "reverted_count",
            "reverted_at", "reverted_by", "revert_status", "cancelled_at", "cancelled_by",
        ):  # fmt: skip
            batch_op.drop_column(column)
