"""import review grid: the whole-file validation, its issues and the review's edits

Revision ID: 0007_reviewgrid
Revises: 0006_attempts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_reviewgrid"
down_revision = "0006_attempts"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "import_reviews",
        sa.Column("job_id", sa.String(length=24), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("mapping", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("processed_rows", sa.Integer(), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("forecast", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("chunks", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("updated_time", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["import_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_table(
        "import_review_issues",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=24), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("column", sa.String(length=500), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=True),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("suggestion", sa.Text(), nullable=True),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["import_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("import_review_issues", schema=None) as batch_op:
        batch_op.create_index(
            "ix_import_review_issues_job_row", ["job_id", "row_number"], unique=False
        )
        batch_op.create_index(
            "ix_import_review_issues_job_column", ["job_id", "column", "code"], unique=False
        )
    op.create_table(
        "import_review_edits",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=24), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("header", sa.String(length=500), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("discard", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["import_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "row_number", "header", name="uq_import_review_edits"),
    )


def downgrade() -> None:
    op.drop_table("import_review_edits")
    with op.batch_alter_table("import_review_issues", schema=None) as batch_op:
        batch_op.drop_index("ix_import_review_issues_job_column")
        batch_op.drop_index("ix_import_review_issues_job_row")
    op.drop_table("import_review_issues")
    op.drop_table("import_reviews")
