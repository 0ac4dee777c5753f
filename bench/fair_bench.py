"""Fair sharing between organisations: organisation B's small imports while organisation
A's big one runs.

    .venv/bin/python bench/fair_bench.py                       # SQLite, 1M rows for A
    .venv/bin/python bench/fair_bench.py --rows 200000         # a quicker run
    .venv/bin/python bench/fair_bench.py --database-url postgresql://postgres@127.0.0.1:5432/test \\
        --queue-url redis://127.0.0.1:6379/12                  # PostgreSQL + Redis

Starts `loadbay serve --workers 2` on a fresh data folder, uploads A's file (`--rows`;
`--big-files` of them at once), then, while A's import runs, uploads B's files
(`--small-count` of `--small-rows` rows) one after another, each as soon as the one
before reached its final status. Reports p50,
p95 and max of B's upload → final status (the target: p95 within 5 s), how many of B's
imports ended while A was still running, A's own time, the load average and
`bench/cpu_probe.py`'s reading (the host is shared: compare runs of the same hour).
A Redis queue database is emptied before and after the run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import FIELDS, Server, pg_schema, write_csv

HERE = Path(__file__).resolve().parent


def cpu_probe() -> str:
    out = subprocess.run(
        [sys.executable, str(HERE / "cpu_probe.py")], capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class Org:
    """One organisation's token and data type on the server."""

    def __init__(self, server: Server, name: str) -> None:
        self.api = f"{server.base}/api/v3"
        self.auth = {"Authorization": f"Bearer {server.token(name)}"}
        dt = httpx.post(f"{self.api}/data-type", headers=self.auth, timeout=30,
                        json={"name": "Outlet", "commonData": True, "fields": FIELDS}).json()  # fmt: skip
        self.form = {"dataTypeId": (dt.get("data_type") or dt.get("data"))["_id"]}

    def another_type(self, name: str) -> dict[str, str]:
        """A data type of its own (imports of the same file into it create, not update)."""
        dt = httpx.post(f"{self.api}/data-type", headers=self.auth, timeout=30,
                        json={"name": name, "commonData": True, "fields": FIELDS}).json()  # fmt: skip
        return {"dataTypeId": (dt.get("data_type") or dt.get("data"))["_id"]}

    def upload(self, path: Path, form: dict[str, str] | None = None) -> str:
        with path.open("rb") as f:
            response = httpx.post(f"{self.api}/data/import", headers=self.auth, timeout=600,
                                  data=form or self.form, files={"file": (path.name, f)})  # fmt: skip
        response.raise_for_status()
        return str(response.json()["data"]["_id"])

    def job(self, job_id: str) -> dict[str, Any]:
        response = httpx.get(
            f"{self.api}/import-monitoring/{job_id}", headers=self.auth, timeout=30
        )
        response.raise_for_status()
        return dict(response.json()["data"])

    def wait(self, job_id: str, every: float, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["status"] != "onprocess":
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still onprocess after {timeout:g}s")
            time.sleep(every)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows of A's import")
    ap.add_argument("--big-files", type=int, default=1,
                    help="A uploads this many files of --rows at once (each to its own type)")  # fmt: skip
    ap.add_argument("--small-rows", type=int, default=1_000, help="rows of each of B's imports")
    ap.add_argument("--small-count", type=int, default=20, help="B's imports")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--database-url", default="")
    ap.add_argument("--queue-url", default="", help="e.g. redis://127.0.0.1:6379/12 (emptied)")
    ap.add_argument("--start-after", type=float, default=1.0,
                    help="seconds after A's upload before B's first (A's plan under way)")  # fmt: skip
    ap.add_argument("--max-concurrent-chunks", type=int, default=None,
                    help="LOADBAY_MAX_CONCURRENT_CHUNKS_PER_ORG (default: the server's)")  # fmt: skip
    args = ap.parse_args()
    probe_before, load_before = cpu_probe(), load()

    with contextlib.ExitStack() as stack:
        database_url = (
            stack.enter_context(pg_schema(args.database_url)) if args.database_url else ""
        )
        if args.queue_url.startswith("redis"):
            import redis

            queue = redis.Redis.from_url(args.queue_url)
            queue.flushdb()
            stack.callback(queue.flushdb)
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="loadbay-fair-")))
        big, small = tmp / "a-outlets.csv", tmp / "b-outlets.csv"
        write_csv(big, args.rows)
        write_csv(small, args.small_rows)
        env = {}
        if database_url:
            env["LOADBAY_DATABASE_URL"] = database_url
        if args.queue_url:
            env["LOADBAY_QUEUE_URL"] = args.queue_url
        if args.max_concurrent_chunks is not None:
            env["LOADBAY_MAX_CONCURRENT_CHUNKS_PER_ORG"] = str(args.max_concurrent_chunks)
        server = Server(tmp / "data", env, workers=args.workers)
        stack.callback(server.stop)
        a, b = Org(server, "alpha"), Org(server, "beta")

        forms = [a.form] + [a.another_type(f"Outlet {n}") for n in range(2, args.big_files + 1)]
        a_started = time.perf_counter()
        a_jobs = [a.upload(big, form) for form in forms]
        a_uploaded = time.perf_counter() - a_started
        a_end: dict[str, Any] = {}

        def watch_a() -> None:
            a_end["jobs"] = [a.wait(job, 0.5, 3600) for job in a_jobs]
            a_end["at"] = time.perf_counter()

        watcher = threading.Thread(target=watch_a, daemon=True)
        watcher.start()
        time.sleep(args.start_after)
        latencies: list[float] = []
        during: list[bool] = []
        statuses: list[str] = []
        for _ in range(args.small_count):
            started = time.perf_counter()
            job = b.wait(b.upload(small), 0.05, 600)
            ended = time.perf_counter()
            latencies.append(ended - started)
            during.append("at" not in a_end)
            statuses.append(job["status"])
        watcher.join()
        a_wall = a_end["at"] - a_started
        a_status = ",".join(sorted({j["status"] for j in a_end["jobs"]}))

    load_after = load()
    engine = "PostgreSQL" if args.database_url else "SQLite"
    queue_name = "Redis" if args.queue_url.startswith("redis") else "SQLite queue"
    ordered = sorted(latencies)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print(f"machine: {platform.machine()} cpus={os.cpu_count()} python={platform.python_version()}")
    print(
        f"cpu_probe: before {probe_before}; load average before {load_before}, after {load_after}"
    )
    print(f"{engine} + {queue_name}, serve --workers {args.workers}")
    a_rows = args.rows * args.big_files
    print(f"A: {args.big_files} x {args.rows:,} rows, upload {a_uploaded:.1f}s, {a_status} "
          f"after {a_wall:.1f}s ({a_rows / a_wall:,.0f} rows/s)")  # fmt: skip
    print(f"B: {len(latencies)} x {args.small_rows:,} rows, {sum(during)} ended while A ran; "
          f"statuses {sorted(set(statuses))}")  # fmt: skip
    print(f"B upload -> final status: p50 {statistics.median(latencies):.2f}s, "
          f"p95 {p95:.2f}s, max {ordered[-1]:.2f}s")  # fmt: skip
    print("B each (s): " + " ".join(f"{x:.1f}{'' if d else '*'}" for x, d in zip(latencies, during, strict=True)))  # fmt: skip
    if not all(during):
        print("(* ended after A had finished: not under A's load)")


if __name__ == "__main__":
    main()
