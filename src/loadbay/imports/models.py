"""Import jobs, their chunks, the rows that were not imported, and import configs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loadbay.db import Base, created_column, id_column, updated_column


class ImportJob(Base):
    """One upload. Its id is both the monitoring `_id` and the job view's `code`.

    `phase` drives the pipeline (preview → queued → planning → running →
    finalizing → done); `status` is the vendor's monitoring status.
    """

    __tablename__ = "import_jobs"
    __table_args__ = (
        sa.Index("ix_import_jobs_org_created", "organization_id", "created_time"),
        sa.Index("ix_import_jobs_phase", "phase", "lease_expires"),
    )
    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(sa.String(24))
    type: Mapped[str] = mapped_column(sa.String(20))  # datasource | task
    data_type_id: Mapped[str | None] = mapped_column(sa.String(24))
    flow_id: Mapped[str | None] = mapped_column(sa.String(24))
    hub_id: Mapped[str | None] = mapped_column(sa.String(24))
    filename: Mapped[str] = mapped_column(sa.String(500))
    file_key: Mapped[str] = mapped_column(sa.String(500))
    file_format: Mapped[str] = mapped_column(sa.String(10))
    file_size: Mapped[int] = mapped_column(sa.BigInteger(), default=0)
    sheet_name: Mapped[str | None] = mapped_column(sa.String(200))
    has_header_row: Mapped[bool] = mapped_column(default=True)
    headers: Mapped[list[str] | None] = mapped_column(sa.JSON(none_as_null=True))
    status: Mapped[str] = mapped_column(sa.String(20), default="onprocess")
    phase: Mapped[str] = mapped_column(sa.String(20), default="queued")
    confirmed: Mapped[bool] = mapped_column(default=True)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    cancelled_by: Mapped[str | None] = mapped_column(sa.String(320))
    cancelled_at: Mapped[datetime | None] = mapped_column()
    # Undo (imports/revert.py): the revert's own progress; the import's status stays.
    revert_status: Mapped[str | None] = mapped_column(
        sa.String(12)
    )  # Queued|InProgress|Done|Failed
    reverted_by: Mapped[str | None] = mapped_column(sa.String(320))
    reverted_at: Mapped[datetime | None] = mapped_column()
    reverted_count: Mapped[int] = mapped_column(default=0)
    revert_skipped: Mapped[int] = mapped_column(default=0)
    revert_owner: Mapped[str | None] = mapped_column(sa.String(64))
    revert_expires: Mapped[datetime | None] = mapped_column()
    import_mode: Mapped[str] = mapped_column(sa.String(20), default="CreateAndUpdate")
    match_field: Mapped[str | None] = mapped_column(sa.String(200))
    mapping: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON(none_as_null=True))
    import_config_id: Mapped[str | None] = mapped_column(sa.String(24))
    # headerRow, unmappedColumns, ignoredColumns, rowsAboveHeader, invalidRows, maxInvalid
    options: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON(none_as_null=True))
    total_rows: Mapped[int] = mapped_column(default=0)
    total_chunks: Mapped[int] = mapped_column(default=0)
    processed_chunks: Mapped[int] = mapped_column(default=0)
    processed_rows: Mapped[int] = mapped_column(default=0)
    created_count: Mapped[int] = mapped_column(default=0)
    updated_count: Mapped[int] = mapped_column(default=0)
    skipped_count: Mapped[int] = mapped_column(default=0)
    failed_count: Mapped[int] = mapped_column(default=0)
    error_message: Mapped[str | None] = mapped_column(sa.Text())
    failed_key: Mapped[str | None] = mapped_column(sa.String(500))
    not_imported_key: Mapped[str | None] = mapped_column(sa.String(500))
    lease_owner: Mapped[str | None] = mapped_column(sa.String(64))
    lease_expires: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=0)
    # Why the current step's last attempt ended (an error, or its worker that stopped): the
    # errorMessage when the step runs out of attempts.
    last_error: Mapped[str | None] = mapped_column(sa.Text())
    created_by: Mapped[str | None] = mapped_column(sa.String(320))
    updated_by: Mapped[str | None] = mapped_column(sa.String(320))
    created_time: Mapped[datetime] = created_column()
    updated_time: Mapped[datetime] = updated_column()
    started_at: Mapped[datetime | None] = mapped_column()
    processed_at: Mapped[datetime | None] = mapped_column()


class ImportChunk(Base):
    """N rows of a job, stored as a small normalised file under `key`."""

    __tablename__ = "import_chunks"
    __table_args__ = (
        sa.UniqueConstraint("job_id", "seq", name="uq_import_chunks_job_seq"),
        sa.Index("ix_import_chunks_state", "state", "lease_expires"),
    )
    id: Mapped[str] = id_column()
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("import_jobs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column()
    key: Mapped[str] = mapped_column(sa.String(500))
    row_count: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(sa.String(12), default="pending")  # pending|done|cancelled
    lease_owner: Mapped[str | None] = mapped_column(sa.String(64))
    lease_expires: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text())
    created_count: Mapped[int] = mapped_column(default=0)
    updated_count: Mapped[int] = mapped_column(default=0)
    skipped_count: Mapped[int] = mapped_column(default=0)
    failed_count: Mapped[int] = mapped_column(default=0)
    # When it was last claimed: an organisation's last turn, for fair claims (state.py).
    claimed_at: Mapped[datetime | None] = mapped_column()
    done_time: Mapped[datetime | None] = mapped_column()
    duration_ms: Mapped[int | None] = mapped_column()
    requeued: Mapped[int] = mapped_column(default=0)  # times the sweeper re-enqueued it


class ImportRowIssue(Base):
    """A row that was not imported (failed or skipped), with its cells and reasons."""

    __tablename__ = "import_row_issues"
    __table_args__ = (sa.Index("ix_import_row_issues_job_row", "job_id", "row_number"),)
    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("import_jobs.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column()
    outcome: Mapped[str] = mapped_column(sa.String(10))  # failed | skipped
    cells: Mapped[list[Any]] = mapped_column(sa.JSON())
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON())  # [{column, message}]


class ImportBeforeImage(Base):
    """What one chunk of an import changed, written in the chunk's own transaction so an
    import can be taken back: the ids it created, and the values before of the rows it
    updated (`[id, data, updated_time ISO, updated_by, last_import_id, columns]`). One
    row per chunk keeps the import's hot path to a single extra INSERT."""

    __tablename__ = "import_before_images"
    __table_args__ = (sa.Index("ix_import_before_images_job", "job_id", "id"),)
    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("import_jobs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(10))  # record | task
    written_time: Mapped[datetime] = mapped_column()  # the updatedTime the import wrote
    created: Mapped[list[str]] = mapped_column(sa.JSON())
    updated: Mapped[list[Any]] = mapped_column(sa.JSON())
    reverted: Mapped[bool] = mapped_column(default=False)


class ImportRevertConflict(Base):
    """A record or task a revert left as it was, because it changed after the import."""

    __tablename__ = "import_revert_conflicts"
    __table_args__ = (sa.Index("ix_import_revert_conflicts_job", "job_id", "id"),)
    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("import_jobs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(10))  # record | task
    target_id: Mapped[str] = mapped_column(sa.String(24))
    action: Mapped[str] = mapped_column(sa.String(10))  # delete | restore: what was not done
    reason: Mapped[str] = mapped_column(sa.Text())


class ImportConfig(Base):
    __tablename__ = "import_configs"
    __table_args__ = (sa.Index("ix_import_configs_org", "organization_id"),)
    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(sa.String(24))
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text())
    collection: Mapped[str | None] = mapped_column(sa.String(100))
    reference_type: Mapped[str] = mapped_column(sa.String(20))  # dataType | flow
    reference_id: Mapped[str] = mapped_column(sa.String(24))
    fields: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON())  # [{id, headerColumn}]
    created_time: Mapped[datetime] = created_column()
    updated_time: Mapped[datetime] = updated_column()
