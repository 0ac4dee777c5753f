"""Where an import's files are stored and what they are called when downloaded.

Storage keys are made of ids only; the uploaded file name is data, kept for display
and for the download name, so a name of any length, script or control character can
never break a path, an object key or a temp file.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from loadbay.imports.models import ImportJob

FAILED_FORMAT = {
    "csv": "csv",
    "tsv": "csv",
    "xlsx": "xlsx",
    "xls": "xlsx",
    "json": "json",
    "ndjson": "ndjson",
}
# Keeps a download link (the name travels in its query) well under common URL limits.
MAX_STEM_CHARS = 120


def issues_format(job: ImportJob, *, not_imported: bool) -> str:
    return "csv" if not_imported else FAILED_FORMAT.get(job.file_format, "csv")


def issues_key(job: ImportJob, *, not_imported: bool) -> str:
    kind = "not_imported" if not_imported else "failed"
    return f"{job.organization_id}/imports/{job.id}/{kind}.{issues_format(job, not_imported=not_imported)}"


def failed_xlsx_key(job: ImportJob) -> str:
    """The failed rows as XLSX with the bad cells marked (`failedRowsXlsxUrl`)."""
    return f"{job.organization_id}/imports/{job.id}/failed_rows.xlsx"


def safe_name(name: str) -> str:
    """A name for a user's disk: control characters and path separators become `_`."""
    return "".join("_" if ord(c) < 32 or 127 <= ord(c) < 160 or c in "/\\" else c for c in name)


def issues_filename(job: ImportJob, *, not_imported: bool) -> str:
    """The download name: `failed_<upload stem>_<job id>.<format>`."""
    kind = "not_imported" if not_imported else "failed"
    stem = safe_name(PurePosixPath(job.filename).stem)[:MAX_STEM_CHARS] or "import"
    return f"{kind}_{stem}_{job.id}.{issues_format(job, not_imported=not_imported)}"


def download_name(job: ImportJob, key: str) -> str:
    """The name a stored file of this job is downloaded under."""
    if key == job.failed_key:
        return issues_filename(job, not_imported=False)
    if key == job.not_imported_key:
        return issues_filename(job, not_imported=True)
    if key == (job.options or {}).get("failedXlsxKey"):
        stem = safe_name(PurePosixPath(job.filename).stem)[:MAX_STEM_CHARS] or "import"
        return f"failed_rows_{stem}_{job.id}.xlsx"
    return key.rsplit("/", 1)[-1]
