"""The import review's tables: what the whole-file check found, and the edits made.

Only what is wrong is stored (one row per bad or warned cell), never one row per
cell of the file; the cells themselves stay in the review's chunk files.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loadbay.db import Base, updated_column

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class ImportReview(Base):
    """One preview's whole-file validation. `generation` grows each time the draft
    changes, so a validation started for an older draft stops and writes nothing."""

    __tablename__ = "import_reviews"
    job_id: Mapped[str] = mapped_column(
        sa.ForeignKey("import_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    generation: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(sa.String(10), default="Pending")
    mapping: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON(none_as_null=True))
    processed_rows: Mapped[int] = mapped_column(default=0)
    total_rows: Mapped[int] = mapped_column(default=0)
    forecast: Mapped[dict[str, int] | None] = mapped_column(sa.JSON(none_as_null=True))
    # [[first row, last row, rows, file key]] per chunk file, in file order
    chunks: Mapped[list[list[Any]] | None] = mapped_column(sa.JSON(none_as_null=True))
    error_message: Mapped[str | None] = mapped_column(sa.Text())
    updated_time: Mapped[datetime] = updated_column()


class ImportReviewIssue(Base):
    """A cell the validator refused (severity error) or changed (warning)."""

    __tablename__ = "import_review_issues"
    __table_args__ = (
        sa.Index("ix_import_review_issues_job_row", "job_id", "row_number"),
        sa.Index("ix_import_review_issues_job_column", "job_id", "column", "code"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("import_jobs.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column()
    column: Mapped[str] = mapped_column(sa.String(500))
    field: Mapped[str | None] = mapped_column(sa.String(200))
    code: Mapped[str] = mapped_column(sa.String(40))
    message: Mapped[str] = mapped_column(sa.Text())
    value: Mapped[str | None] = mapped_column(sa.Text())
    suggestion: Mapped[str | None] = mapped_column(sa.Text())
    severity: Mapped[str] = mapped_column(sa.String(10))  # error | warning


class ImportReviewEdit(Base):
    """A cell changed in the review (`header` → `value`), or the row discarded
    (`header` ""), applied when the chunk holding the row is committed."""

    __tablename__ = "import_review_edits"
    __table_args__ = (
        sa.UniqueConstraint("job_id", "row_number", "header", name="uq_import_review_edits"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("import_jobs.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column()
    header: Mapped[str] = mapped_column(sa.String(500))
    value: Mapped[str | None] = mapped_column(sa.Text())
    discard: Mapped[bool] = mapped_column(default=False)
