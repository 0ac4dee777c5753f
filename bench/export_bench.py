"""Export benchmark: N records of a 12-field data type to XLSX, JSON-zip and CSV.

    python bench/export_bench.py                       # 1,000,000 rows, SQLite in a temp dir
    python bench/export_bench.py --rows 200000
    python bench/export_bench.py --database-url postgresql://postgres@127.0.0.1/bench
    python bench/export_bench.py --target task          # the same values as tasks of a flow

Records are seeded straight into the database (executemany on SQLite, COPY on
PostgreSQL), then each format is exported in a fresh child process through the
service code (`build_plan` → `write_export`, the path the API and the CLI use),
so each peak RSS (`ru_maxrss`) is that export's own; "(start)" is the child's RSS
before the export began, "cpu s" its CPU time (a truer figure than wall time on a
machine shared with other work). An export of 200,000+ rows is written by worker
processes side by side (`loadbay.exports.parallel`): "procs" counts the child and its
workers, "peak MB" is the largest of them and "cpu s" their sum. The export names the data
type's 12 fields; `--all-columns` adds the six reserved ones (_id, hub, times).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

FIELDS = [
    {"id": "dataId", "title": "Outlet Code", "type": "string", "primaryKey": True},
    {"id": "name", "title": "Name", "type": "string"},
    {"id": "address", "title": "Address", "type": "string"},
    {"id": "phone", "title": "Phone", "type": "phone"},
    {"id": "email", "title": "Email", "type": "email"},
    {"id": "category", "title": "Category", "type": "option", "optionData": ["Retail", "Bulk"]},
    {"id": "location", "title": "Location", "type": "coordinate"},
    {"id": "openSince", "title": "Open Since", "type": "date"},
    {"id": "lastVisit", "title": "Last Visit", "type": "datetime"},
    {"id": "creditLimit", "title": "Credit Limit", "type": "number"},
    {"id": "visits", "title": "Visits", "type": "integer"},
    {"id": "active", "title": "Active", "type": "boolean"},
]
TARGETS = {"xlsx": 80_000, "json": 150_000, "csv": 150_000}
SEED_BATCH = 20_000
START = datetime(2024, 1, 1)


def _database(url: str) -> Any:
    from loadbay.db import Database
    from loadbay.migrations import migrate

    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    db = Database(url)
    migrate(db)
    return db


def _record(i: int) -> dict[str, Any]:
    return {
        "dataId": f"{i:08d}",
        "name": f"Toko Sumber Rejeki {i}",
        "address": f"Jl. Merdeka No. {i % 500}, Jakarta Selatan",
        "phone": f"+62812{i:07d}",
        "email": f"outlet{i}@example.com",
        "category": "Retail" if i % 3 else "Bulk",
        "location": f"-6.{i % 100000:05d},106.{(i * 7) % 100000:05d}",
        "openSince": (START.date() - timedelta(days=i % 3650)).isoformat(),
        "lastVisit": (START + timedelta(seconds=i * 37)).isoformat(),
        "creditLimit": (i % 1000) * 1000.5,
        "visits": i % 97,
        "active": i % 2 == 0,
    }


def _rows(org: str, type_id: str, hub: str, n: int) -> Iterator[tuple[Any, ...]]:
    from loadbay.ids import new_id

    for i in range(n):
        data = _record(i)
        created = START + timedelta(seconds=i)
        yield (new_id(), org, type_id, hub, hub, data["dataId"], orjson.dumps(data).decode(),
               "bench@example.com", created, created)  # fmt: skip


def _task_rows(org: str, flow: str, hub: str, n: int) -> Iterator[tuple[Any, ...]]:
    """The same values as tasks of a flow: the title and status columns, the rest in data."""
    from loadbay.ids import new_id

    for i in range(n):
        data = _record(i)
        title = data.pop("name")
        created = START + timedelta(seconds=i)
        yield (new_id(), org, flow, hub, title, ("DONE", "ONGOING", "UNASSIGNED")[i % 3],
               orjson.dumps(data).decode(), "bench@example.com", created, created)  # fmt: skip


COLUMNS = (
    "id, organization_id, data_type_id, hub_id, scope, data_id, data, created_by, "
    "created_time, updated_time"
)
TASK_COLUMNS = (
    "id, organization_id, flow_id, hub_id, title, status, data, created_by, created_time, "
    "updated_time"
)


def seed(url: str, n: int, target: str = "data") -> dict[str, str]:
    from loadbay.catalog.fields import parse_fields
    from loadbay.catalog.models import DataType, Flow, Hub
    from loadbay.catalog.service import ensure_organization

    db = _database(url)
    with db.write() as session:
        org = ensure_organization(session, f"bench-{os.getpid()}-{int(time.time())}")
        hub = Hub(organization_id=org.id, name="Jakarta")
        kind = DataType(
            organization_id=org.id,
            name="Outlet",
            fields=[s.as_dict() for s in parse_fields(FIELDS)],
        )
        flow_fields = [f for f in FIELDS if f["id"] not in ("dataId", "name")]
        flow = Flow(
            organization_id=org.id,
            name="Visit",
            fields=[s.as_dict() for s in parse_fields(flow_fields, primary_key=None)],
        )
        session.add_all([hub, kind, flow])
        session.flush()
        ids = {"org": org.id, "dataType": kind.id, "hub": hub.id, "flow": flow.id}
    started = time.perf_counter()
    table, columns = ("tasks", TASK_COLUMNS) if target == "task" else ("records", COLUMNS)
    make = _task_rows if target == "task" else _rows
    rows = make(ids["org"], ids["flow" if target == "task" else "dataType"], ids["hub"], n)
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if db.is_sqlite:
            cursor.execute("BEGIN IMMEDIATE")
            sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * 10)})"
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                stamp = row[8].strftime("%Y-%m-%d %H:%M:%S.000000")
                batch.append((*row[:8], stamp, stamp))
                if len(batch) == SEED_BATCH:
                    cursor.executemany(sql, batch)
                    batch.clear()
            cursor.executemany(sql, batch)
            cursor.execute("COMMIT")
        else:
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            raw.commit()
            # As loadbay does after a big import (imports/finalize.py): without statistics
            # the planner sorts the whole table for every keyset page.
            cursor.execute(f"ANALYZE {table}")
            raw.commit()
    finally:
        raw.close()
    print(f"seeded {n:,} {table} in {time.perf_counter() - started:.1f} s", flush=True)
    db.dispose()
    return ids


def export_one(
    url: str, ids: dict[str, str], fmt: str, out_dir: Path, all_columns: bool, target: str
) -> None:
    """Runs in its own process: one export, its figures as JSON on the last line."""
    from loadbay.db import set_database
    from loadbay.exports import parallel, writing
    from loadbay.exports.plan import build_plan
    from loadbay.exports.schemas import parse_request
    from loadbay.gcpause import tune_worker_gc

    db = _database(url)
    set_database(db)
    if target == "task":
        raw: dict[str, Any] = {"download": fmt, "flowId": ids["flow"]}
        own = [f["id"] for f in FIELDS if f["id"] not in ("dataId", "name")]
        fields = ["title", "status", *own]  # 12 columns, as for records
    else:
        raw = {"download": fmt, "dataTypeId": ids["dataType"]}
        fields = [f["id"] for f in FIELDS]
    if not all_columns:
        raw["fields"] = ",".join(fields)
    with db.read() as session:
        plan = build_plan(session, ids["org"], parse_request(target, raw))
    target = out_dir / f"bench.{'zip' if fmt == 'json' else fmt}"
    base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tune_worker_gc()  # as a worker does when it starts (loadbay.queue)
    parallel.start_fork_server()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    with target.open("wb") as f:
        written = writing.write_export(db, plan, f, stem="bench")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_peaks = [peak for peak, _cpu in written.workers]
    cpu += sum(worker_cpu for _peak, worker_cpu in written.workers)
    print(
        json.dumps(
            {
                "format": fmt,
                "rows": written.total,
                "columns": len(plan.columns),
                "wall": wall,
                "cpu": cpu,
                "base_mb": base_mb,
                "rows_per_s": written.total / wall if wall else 0,
                "peak_mb": max([peak_mb, *worker_peaks]),
                "processes": 1 + len(worker_peaks),
                "file_mb": target.stat().st_size / 1e6,
            }
        )
    )
    target.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--formats", default="xlsx,json,csv")
    parser.add_argument("--all-columns", action="store_true")
    parser.add_argument("--target", choices=["data", "task"], default="data")
    parser.add_argument("--export", help=argparse.SUPPRESS)  # child mode: FORMAT
    parser.add_argument("--ids", help=argparse.SUPPRESS)
    parser.add_argument("--out-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export:
        export_one(
            args.database_url, json.loads(args.ids), args.export, Path(args.out_dir),
            args.all_columns, args.target,
        )  # fmt: skip
        return
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="loadbay-bench-"))
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        if args.database_url:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from common import pg_schema

            url = stack.enter_context(pg_schema(args.database_url))
        engine = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        ids = seed(url, args.rows, args.target)
        print(f"{'format':<6} {'rows':>10} {'cols':>4} {'wall s':>7} {'cpu s':>6} {'procs':>5} {'rows/s':>8} "
              f"{'peak MB':>8} {'(start)':>7} {'file MB':>7}  target ({engine})")  # fmt: skip
        for fmt in args.formats.split(","):
            child = [sys.executable, __file__, "--export", fmt, "--database-url", url]
            child += ["--ids", json.dumps(ids), "--out-dir", tmp, "--target", args.target]
            if args.all_columns:
                child.append("--all-columns")
            done = subprocess.run(child, capture_output=True, text=True, check=False)
            if done.returncode:
                print(done.stdout, done.stderr, file=sys.stderr)
                raise SystemExit(f"{fmt} export failed")
            r = json.loads(done.stdout.strip().splitlines()[-1])
            ok = "ok" if r["rows_per_s"] >= TARGETS[fmt] and r["peak_mb"] < 300 else "MISSED"
            print(
                f"{fmt:<6} {r['rows']:>10,} {r['columns']:>4} {r['wall']:>7.2f} {r['cpu']:>6.2f} "
                f"{r['processes']:>5} "
                f"{r['rows_per_s']:>8,.0f} {r['peak_mb']:>8.0f} {r['base_mb']:>7.0f} "
                f"{r['file_mb']:>7.1f}  ≥{TARGETS[fmt]:,}/s, <300 MB: {ok}",
                flush=True,
            )


if __name__ == "__main__":
    main()
