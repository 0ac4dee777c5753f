"""What one poll costs the API: server CPU milliseconds a request, one client at a time.

    .venv/bin/python bench/poll_cost.py          # SQLite
    .venv/bin/python bench/poll_cost.py --pg     # PostgreSQL (a throwaway schema)

Starts `loadbay serve --workers 0` on loopback, imports 100 rows, then GETs a monitoring
record, the job view and /healthz 2,000 times each on one keep-alive connection, reading
the server's user+system CPU time from /proc before and after. The capacity of one API
process is about 1 / (this cost): the polling load test's knee.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import FIELDS, Server, pg_schema
from load_test import Conn, write_job_file


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(server: Server, token: str, path: str, n: int) -> tuple[int, float, float]:
    conn = Conn(server.port, token)
    for _ in range(200):  # warm up
        await conn.get(path)
    cpu0, t0 = cpu_seconds(server.proc.pid), time.perf_counter()
    status = 0
    for _ in range(n):
        status, _headers = await conn.get(path)
    wall, cpu = time.perf_counter() - t0, cpu_seconds(server.proc.pid) - cpu0
    conn.close()
    return status, wall / n * 1000, cpu / n * 1000


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--pg", action="store_true")
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("-n", type=int, default=2000)
    args = ap.parse_args()
    with contextlib.ExitStack() as stack:
        env: dict[str, str] = {}
        if args.pg:
            env["LOADBAY_DATABASE_URL"] = stack.enter_context(pg_schema(args.database_url))
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="loadbay-cost-")))
        server = Server(folder / "data", env, workers=0)
        stack.callback(server.stop)
        token = f"Bearer {server.token()}"
        api = f"{server.base}/api/v3"
        with httpx.Client(headers={"Authorization": token}, timeout=30) as client:
            created = client.post(f"{api}/data-type", json={"name": "Outlet", "commonData": True, "fields": FIELDS}).json()  # fmt: skip
            type_id = (created.get("data_type") or created.get("data"))["_id"]
            sample = folder / "sample.csv"
            write_job_file(sample, 0, 100, 1000)
            with sample.open("rb") as f:
                answer = client.post(f"{api}/data/import", data={"dataTypeId": type_id},
                                     files={"file": ("sample.csv", f, "text/csv")})  # fmt: skip
            job_id = answer.json()["data"]["_id"]
        print(f"machine: cpus={os.cpu_count()} python={sys.version.split()[0]}; "
              f"{'PostgreSQL' if args.pg else 'SQLite'}; {args.n} requests each, one at a time")  # fmt: skip
        for label, path in [("monitoring record", f"/api/v3/import-monitoring/{job_id}"),
                            ("job view", f"/api/v3/import-jobs/{job_id}"),
                            ("/healthz", "/healthz")]:  # fmt: skip
            status, wall_ms, cpu_ms = asyncio.run(measure(server, token, path, args.n))
            print(f"{label:18} {status}  {wall_ms:.2f} ms a request, server CPU {cpu_ms:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
