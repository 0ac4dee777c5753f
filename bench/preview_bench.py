"""Whole-file preview benchmark: the review pass over a generated file, in process.

    .venv/bin/python bench/preview_bench.py --rows 1000000 --format csv

Prints the seconds of the review pass (read, chunk files, validate every row, look
the keys up, record the issues) and of one page of `GET /import-jobs/{code}/rows`
deep in the file.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="loadbay-preview-bench-"))
    os.environ.update(LOADBAY_DATA_DIR=str(work), LOADBAY_QUEUE_URL="memory://")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import FIELDS, write_csv, write_xlsx

    from loadbay.catalog.fields import parse_fields
    from loadbay.catalog.models import DataType, Hub
    from loadbay.catalog.service import ensure_organization
    from loadbay.db import Database, set_database
    from loadbay.imports import review, review_rows
    from loadbay.imports.models import ImportJob
    from loadbay.migrations import migrate
    from loadbay.storage import get_storage

    path = work / f"outlets.{args.format}"
    (write_csv if args.format == "csv" else write_xlsx)(path, args.rows)
    db = Database(f"sqlite:///{work / 'bench.db'}")
    migrate(db)
    set_database(db)
    with db.write() as session:
        org = ensure_organization(session, "bench").id
        hub = Hub(organization_id=org, name="Jakarta")
        dt = DataType(
            organization_id=org, name="Outlet", fields=[s.as_dict() for s in parse_fields(FIELDS)]
        )
        session.add_all([hub, dt])
        session.flush()
        job = ImportJob(
            organization_id=org, type="datasource", data_type_id=dt.id, hub_id=hub.id,
            filename=path.name, file_key=f"{org}/imports/bench/{path.name}",
            file_format=args.format, phase="preview", confirmed=False,
            headers=[f["title"] for f in FIELDS],
        )  # fmt: skip
        session.add(job)
        session.flush()
        get_storage().save_file(job.file_key, path)
        generation = review.start(session, job, None, args.rows)
        code = job.id
    started = time.perf_counter()
    review.run(code, generation)
    seconds = time.perf_counter() - started
    with db.read() as session:
        found = review.summary(session, code)
        job = session.get(ImportJob, code)
        assert job is not None and found is not None
        paged = time.perf_counter()
        deep = max(args.rows * 9 // 1000, 1)  # a page 90% into the file
        items, total = review_rows.page_rows(session, job, "all", None, None, deep, 100)
        page_ms = (time.perf_counter() - paged) * 1000
    print(
        f"preview {args.format} {args.rows} rows: {seconds:.1f} s "
        f"({args.rows / seconds:,.0f} rows/s), status {found['status']}, "
        f"valid {found['valid']}, invalid {found['invalid']}; rows page {deep} "
        f"(100 rows of {total}): {page_ms:.0f} ms, first row {items[0]['row'] if items else None}"
    )


if __name__ == "__main__":
    main()
