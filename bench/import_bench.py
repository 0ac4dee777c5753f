"""End-to-end import benchmark: upload a generated file, wait for the final status.

    .venv/bin/python bench/import_bench.py --rows 1000000 --format csv
    .venv/bin/python bench/import_bench.py --rows 1000000 --format xlsx --database-url postgresql://postgres@127.0.0.1:5432/test

Prints wall time (upload start → final status), rows/s, and the peak RSS of
the API process and of every worker process (VmHWM).
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import FIELDS, Server, pg_schema, write_csv, write_xlsx, write_xlsx_shared


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument(
        "--format",
        choices=["csv", "xlsx", "xlsx-shared"],
        default="csv",
        help="xlsx: loadbay's own writer (inline strings); xlsx-shared: as Excel writes it",
    )
    ap.add_argument("--database-url", default="")
    ap.add_argument("--queue-url", default="")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--target",
        choices=["data", "task"],
        default="data",
        help="records of a data type (default) or tasks of a flow with the same fields",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="import the same file this many times: the runs after the first are all updates",
    )
    args = ap.parse_args()

    with contextlib.ExitStack() as stack:
        database_url = (
            stack.enter_context(pg_schema(args.database_url)) if args.database_url else ""
        )
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="loadbay-bench-"))
        data = Path(tmp) / f"outlets.{args.format.split('-')[0]}"
        t0 = time.perf_counter()
        writers = {"csv": write_csv, "xlsx": write_xlsx, "xlsx-shared": write_xlsx_shared}
        writers[args.format](data, args.rows)
        print(
            f"generated {data.name}: {data.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f}s"
        )
        env = {}
        if database_url:
            env["LOADBAY_DATABASE_URL"] = database_url
        if args.queue_url:
            env["LOADBAY_QUEUE_URL"] = args.queue_url
        server = Server(Path(tmp) / "data", env, workers=args.workers)
        try:
            auth = {"Authorization": f"Bearer {server.token()}"}
            api = f"{server.base}/api/v3"
            if args.target == "data":
                dt = httpx.post(f"{api}/data-type", headers=auth, timeout=30,
                                json={"name": "Outlet", "commonData": True, "fields": FIELDS}).json()  # fmt: skip
                path = "data/import"
                form = {"dataTypeId": (dt.get("data_type") or dt.get("data"))["_id"]}
            else:  # the same columns as a flow's fields (a flow has no primary key)
                fields = [{k: v for k, v in f.items() if k != "primaryKey"} for f in FIELDS]
                flow = httpx.post(f"{api}/flow", headers=auth, timeout=30,
                                  json={"name": "Visit", "fields": fields}).json()  # fmt: skip
                hub = httpx.post(f"{api}/hub", headers=auth, timeout=30, json={"name": "Jakarta"}).json()  # fmt: skip
                path = "tasks/import"
                form = {"flowId": flow["data"]["_id"], "hubId": hub["data"]["_id"]}
            if args.target == "task":  # a second run matches the first's tasks
                form["matchField"] = FIELDS[0]["id"]
            for run in range(args.repeat):
                cpu_before = server.cpu_seconds()
                started = time.perf_counter()
                with data.open("rb") as f:
                    response = httpx.post(f"{api}/{path}", headers=auth, timeout=600,
                                          data=form, files={"file": (data.name, f)})  # fmt: skip
                response.raise_for_status()
                uploaded = time.perf_counter() - started
                job_id = response.json()["data"]["_id"]
                while True:
                    job = httpx.get(
                        f"{api}/import-monitoring/{job_id}", headers=auth, timeout=30
                    ).json()["data"]
                    if job["status"] != "onprocess":
                        break
                    time.sleep(0.25)
                wall = time.perf_counter() - started
                if args.repeat > 1:
                    print(
                        f"run {run + 1}: {job['status']}, {wall:.1f}s, {args.rows / wall:,.0f} rows/s"
                    )
            memory = server.peak_memory()
            cpu = {k: round(v - cpu_before.get(k, 0.0), 1) for k, v in server.cpu_seconds().items()}
        finally:
            server.stop()
    engine = "postgresql" if args.database_url else "sqlite"
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} cpus={_cpus()} python={platform.python_version()}"
    )
    print(f"{args.format} ({args.target}) on {engine}, {args.workers} workers: status={job['status']} rows={job['totalRows']} "
          f"valid={job['totalValid']} invalid={job['totalInvalid']}")  # fmt: skip
    print(f"upload {uploaded:.1f}s, end to end {wall:.1f}s, {args.rows / wall:,.0f} rows/s")
    print(f"peak RSS MB: {memory}")
    print(f"CPU seconds during the import: {cpu} (wall x 2 cores = {wall * 2:.1f})")


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
