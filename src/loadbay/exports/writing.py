"""From database rows to a file: the export written by this process, or by several
(`loadbay.exports.parallel`) when it is big. The format's own module
(`loadbay.exports.formats`) does the writing either way; the file is the same."""

from __future__ import annotations

from datetime import datetime
from typing import BinaryIO

from loadbay.db import Database
from loadbay.exports import parallel
from loadbay.exports.formats import format_of
from loadbay.exports.plan import ExportPlan
from loadbay.exports.rows import Progress, RowSource, Written
from loadbay.exports.schemas import unix
from loadbay.settings import get_settings

__all__ = ["Written", "file_stem", "write_export", "write_single"]


def file_stem(plan: ExportPlan, requested: datetime) -> str:
    return f"{plan.kind}_{plan.org}_{unix(requested)}"


def write_export(
    db: Database,
    plan: ExportPlan,
    target: BinaryIO,
    *,
    stem: str = "export",
    progress: Progress | None = None,
) -> Written:
    """Stream the plan's rows into `target` in the plan's format.

    No collector pause here: this can run on a request thread (see loadbay.gcpause)."""
    split = parallel.split(db, plan)
    if split is not None:
        written = parallel.write_parallel(db, plan, target, split, stem=stem, progress=progress)
        if written is not None:
            return written
    return write_single(db, plan, target, stem=stem, progress=progress)


def write_single(
    db: Database,
    plan: ExportPlan,
    target: BinaryIO,
    *,
    stem: str,
    progress: Progress | None = None,
) -> Written:
    """The export written by this process alone."""
    rows = RowSource(db, plan, progress=progress)
    part_rows = get_settings().json_export_part_rows
    format_of(plan.download).write(target, plan, rows, stem=stem, part_rows=part_rows)
    return Written(rows.total, rows.last_id)
