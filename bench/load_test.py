"""Load test: many concurrent imports through the API on PostgreSQL + Redis, while a console
polls GET /import-monitoring. Every job must end exact; prints throughput and poll latency.

    .venv/bin/python bench/load_test.py                       # 20 jobs x 50,000 rows, 20 polls/s
    .venv/bin/python bench/load_test.py --jobs 4 --rows 5000  # a quick run

Runs `loadbay serve --workers 0` and `--workers` separate `loadbay worker` processes, all on
loopback, on a throwaway PostgreSQL schema (dropped at the end) and a Redis database that is
flushed before and after (default 14: not the test suite's 15). About 1% of the rows (every
`--invalid-every`-th) lack the required name, so each job must end `partially` with exactly
that many invalid rows. Exits 1 when any job is not exact or a poll failed.

    .venv/bin/python bench/load_test.py --polls 100,500,1000       # polling load, SQLite
    .venv/bin/python bench/load_test.py --polls 100,500,1000 --pg  # PostgreSQL + Redis

Polling load: one `loadbay serve` (API alone) on loopback; N clients, each on its own
keep-alive connection, GET a monitoring record or a job view every 3 s (as the vendor
advises integrators) for 30 s a level; then a burst of 200 simultaneous requests. Reports
p50/p99 of the 200s, sheds (503 with Retry-After) and errors (timeouts, dropped
connections, any other status), and ten polls right after each load. Exits 1 on any error,
a p99 over 500 ms up to 500 clients, a burst not answered within 2 s, or slow polls after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import FIELDS, HEADERS, Server, peak_rss_mb, pg_schema, rows


def write_job_file(path: Path, job: int, n: int, invalid_every: int) -> int:
    """A CSV with keys of its own (J03-0000042…); returns how many rows are invalid."""
    invalid = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(HEADERS)
        for i, row in enumerate(rows(n, seed=job)):
            row[0] = f"J{job:02d}-{i:07d}"
            if i % invalid_every == 0:
                row[1] = ""  # Name is required
                invalid += 1
            out.writerow(row)
    return invalid


class Poller(threading.Thread):
    """GET /import-monitoring at a steady rate; records every latency and every failure."""

    def __init__(self, url: str, auth: dict[str, str], rate: float) -> None:
        super().__init__(daemon=True, name="poller")
        self.url, self.auth, self.interval = url, auth, 1 / rate
        self.latencies_ms: list[float] = []
        self.failures: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(headers=self.auth, timeout=10) as client:
            due = time.perf_counter()
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    answer = client.get(self.url, params={"limit": 20})
                    if answer.status_code != 200:
                        self.failures.append(f"{answer.status_code} {answer.text[:200]}")
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                self.latencies_ms.append((time.perf_counter() - started) * 1000)
                due += self.interval
                pause = due - time.perf_counter()
                if pause > 0:
                    self.stop.wait(pause)
                else:  # behind schedule: do not burst to catch up
                    due = time.perf_counter()


def percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def fresh_schema(url: str) -> tuple[str, str]:
    schema = f"load_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return schema, f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def pending_jobs(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM import_jobs WHERE phase <> 'done'").fetchone()
    return int(row[0]) if row else 0


def start_workers(count: int, env: dict[str, str], logs: Path) -> list[subprocess.Popen[bytes]]:
    workers = []
    for i in range(count):
        with (logs / f"worker{i}.log").open("ab") as log:  # the child keeps its own descriptor
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "loadbay", "worker", "--concurrency", "1"],
                    env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                )
            )  # fmt: skip
    return workers


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)
    for w in workers:
        try:
            w.wait(timeout=30)
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait()


def verify(
    api: str, auth: dict[str, str], db_url: str, jobs: dict[str, int], rows: int
) -> list[str]:
    """Every job exact through the API (job id → invalid rows), every record there once."""
    problems = []
    with httpx.Client(headers=auth, timeout=30) as client:
        for job_id, bad in jobs.items():
            job: dict[str, Any] = client.get(f"{api}/import-monitoring/{job_id}").json()["data"]
            got = (job["status"], job["totalRows"], job["totalValid"], job["totalInvalid"])
            want = ("partially" if bad else "success", rows, rows - bad, bad)
            if got != want or job.get("processedChunks") != job.get("totalChunks"):
                problems.append(f"{job_id}: got {got}, want {want}")
    with psycopg.connect(db_url) as conn:
        found = conn.execute("SELECT count(*), count(DISTINCT data_id) FROM records").fetchone()
    expected = sum(rows - bad for bad in jobs.values())
    if found is None or tuple(found) != (expected, expected):
        problems.append(f"records (total, distinct) = {found}, want {expected}")
    if pending_jobs(db_url):
        problems.append("jobs still running at the timeout")
    return problems


def run(args: argparse.Namespace, folder: Path, db_url: str) -> bool:
    t0 = time.perf_counter()
    files = [folder / f"job{j:02d}.csv" for j in range(args.jobs)]
    invalid = [write_job_file(f, j, args.rows, args.invalid_every) for j, f in enumerate(files)]
    print(f"generated {args.jobs} × {args.rows:,} rows in {time.perf_counter() - t0:.1f}s")

    env = {"LOADBAY_DATABASE_URL": db_url, "LOADBAY_QUEUE_URL": args.redis_url}
    server = Server(folder / "data", env, workers=0)
    logs = args.log_dir or folder
    logs.mkdir(parents=True, exist_ok=True)
    level = "INFO" if args.log_dir else "WARNING"
    workers = start_workers(args.workers, {**server.env, "LOADBAY_LOG_LEVEL": level}, logs)
    try:
        auth = {"Authorization": f"Bearer {server.token()}"}
        api = f"{server.base}/api/v3"
        created = httpx.post(f"{api}/data-type", headers=auth, timeout=30,
                             json={"name": "Outlet", "commonData": True, "fields": FIELDS}).json()  # fmt: skip
        type_id = (created.get("data_type") or created.get("data"))["_id"]
        poller = Poller(f"{api}/import-monitoring", auth, args.rate)
        poller.start()

        def submit(path: Path) -> tuple[str, float]:
            started = time.perf_counter()
            with httpx.Client(headers=auth, timeout=600) as client, path.open("rb") as f:
                answer = client.post(f"{api}/data/import", data={"dataTypeId": type_id},
                                     files={"file": (path.name, f, "text/csv")})  # fmt: skip
            answer.raise_for_status()
            return answer.json()["data"]["_id"], time.perf_counter() - started

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            submitted = list(pool.map(submit, files))
        uploaded = time.perf_counter() - started
        while pending_jobs(db_url) and time.perf_counter() < started + args.timeout:
            if any(w.poll() is not None for w in workers):
                raise RuntimeError(f"a worker exited: see its log in {logs}")
            time.sleep(0.25)
        wall = time.perf_counter() - started
        poller.stop.set()
        poller.join(15)
        memory = {"api": peak_rss_mb(server.proc.pid)}
        memory |= {f"worker{i}": peak_rss_mb(w.pid) for i, w in enumerate(workers)}
        jobs = {job_id: bad for (job_id, _), bad in zip(submitted, invalid, strict=True)}
        problems = verify(api, auth, db_url, jobs, args.rows) + poller.failures[:5]
    finally:
        stop_workers(workers)
        server.stop()

    total = args.jobs * args.rows
    lat = poller.latencies_ms
    p99 = percentile(lat, 99)
    print(f"machine: cpus={os.cpu_count()} python={sys.version.split()[0]}; "
          f"PostgreSQL + Redis {args.redis_url}, API alone + {args.workers} workers")  # fmt: skip
    print(f"{args.jobs} jobs × {args.rows:,} rows = {total:,} rows; uploads took {uploaded:.1f}s "
          f"(slowest {max(s for _, s in submitted):.1f}s)")  # fmt: skip
    print(f"all jobs done in {wall:.1f}s: {total / wall:,.0f} rows/s overall")
    print(f"monitoring polls: {len(lat)} at {args.rate:g}/s, p50 {percentile(lat, 50):.1f} ms, "
          f"p99 {p99:.1f} ms, max {max(lat, default=0):.1f} ms, failures {len(poller.failures)} "
          f"(target p99 < 100 ms: {'met' if p99 < 100 else 'MISSED'})")  # fmt: skip
    print(f"peak RSS MB: { {k: round(v, 1) for k, v in memory.items()} }")
    for line in problems:
        print("PROBLEM:", line)
    if problems:
        for i in range(len(workers)):
            print(f"--- worker{i} log tail ---")
            print((logs / f"worker{i}.log").read_text(errors="replace")[-3000:])
    print("NOT EXACT" if problems else "every job exact")
    return not problems


# ---- polling load (`--polls`): many integrators polling one serve -------------------------


class Conn:
    """One keep-alive HTTP/1.1 connection on raw asyncio streams: a poll costs the client
    microseconds, so a thousand clients on this machine measure the server, not httpx."""

    def __init__(self, port: int, auth: str) -> None:
        self.port, self.auth = port, auth
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, dict[str, str]]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {self.auth}\r\n\r\n".encode()
        )
        await self.writer.drain()
        status_line = await self.reader.readuntil(b"\r\n")
        headers: dict[str, str] = {}
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return int(status_line.split()[1]), headers

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Tally:
    def __init__(self) -> None:
        self.ok_ms: list[float] = []  # 200s
        self.shed_ms: list[float] = []  # 503 server-036 with Retry-After
        self.errors: dict[str, int] = {}
        self.lag_ms: list[float] = []  # the bench's own event-loop lateness

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    async def one(self, conn: Conn, path: str, timeout: float) -> None:
        started = time.perf_counter()
        try:
            status, headers = await asyncio.wait_for(conn.get(path), timeout)
        except TimeoutError:
            conn.close()
            self.error("timeout")
            return
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            conn.close()
            self.error(f"dropped ({type(exc).__name__})")
            return
        ms = (time.perf_counter() - started) * 1000
        if status == 200:
            self.ok_ms.append(ms)
        elif status == 503 and "retry-after" in headers:
            self.shed_ms.append(ms)
        else:
            self.error(f"HTTP {status}")

    def line(self, label: str) -> str:
        answered = self.ok_ms + self.shed_ms
        sheds = (f"{len(self.shed_ms)} (p50 {percentile(self.shed_ms, 50):.0f} ms, p90 {percentile(self.shed_ms, 90):.0f} ms, p99 {percentile(self.shed_ms, 99):.0f} ms)"
                 if self.shed_ms else "0")  # fmt: skip
        return (f"{label}: {len(answered) + sum(self.errors.values())} requests, "
                f"200 p50 {percentile(self.ok_ms, 50):.0f} ms p99 {percentile(self.ok_ms, 99):.0f} ms "
                f"max {max(self.ok_ms, default=0):.0f} ms; sheds {sheds}; "
                f"errors {sum(self.errors.values())} {self.errors or ''}"
                + (f"; bench's own loop late p99 {percentile(self.lag_ms, 99):.0f} ms"
                   if self.lag_ms else ""))  # fmt: skip


async def poll_level(port: int, auth: str, paths: list[str], clients: int, seconds: float,
                     every: float) -> Tally:  # fmt: skip
    """`clients` connections, each GETting one of `paths` every `every` seconds (spread
    evenly over the first period), for `seconds`."""
    tally = Tally()
    stop = time.perf_counter() + seconds

    async def ticker() -> None:
        """This process's own lateness: every request's time includes it (the bench
        shares the cores with the server)."""
        while time.perf_counter() < stop:
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            tally.lag_ms.append((time.perf_counter() - started - 0.01) * 1000)

    async def client(i: int) -> None:
        conn = Conn(port, auth)
        await asyncio.sleep(every * i / clients)
        due = time.perf_counter()
        try:
            while due < stop:
                await tally.one(conn, paths[i % len(paths)], timeout=10)
                due += every
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
        finally:
            conn.close()

    await asyncio.gather(ticker(), *(client(i) for i in range(clients)))
    return tally


async def burst(port: int, auth: str, path: str, n: int) -> tuple[Tally, float]:
    """`n` connections opened first, then one request on each at the same instant."""
    conns = [Conn(port, auth) for _ in range(n)]
    for c in conns:
        c.reader, c.writer = await asyncio.open_connection("127.0.0.1", port)
    tally = Tally()
    started = time.perf_counter()
    await asyncio.gather(*(tally.one(c, path, timeout=10) for c in conns))
    for c in conns:
        c.close()
    return tally, time.perf_counter() - started


async def recovery(port: int, auth: str, path: str) -> Tally:
    """Right after the load: ten polls one after another, each must be a fast 200."""
    tally, conn = Tally(), Conn(port, auth)
    for _ in range(10):
        await tally.one(conn, path, timeout=10)
    conn.close()
    return tally


def run_polls(args: argparse.Namespace, folder: Path, env: dict[str, str]) -> bool:
    server = Server(folder / "data", env, workers=0)
    try:
        token = f"Bearer {server.token()}"
        api = f"{server.base}/api/v3"
        with httpx.Client(headers={"Authorization": token}, timeout=30) as client:
            created = client.post(f"{api}/data-type", json={"name": "Outlet", "commonData": True,
                                                            "fields": FIELDS}).json()  # fmt: skip
            type_id = (created.get("data_type") or created.get("data"))["_id"]
            sample = folder / "sample.csv"
            write_job_file(sample, 0, 100, 1000)
            with sample.open("rb") as f:
                answer = client.post(f"{api}/data/import", data={"dataTypeId": type_id},
                                     files={"file": ("sample.csv", f, "text/csv")})  # fmt: skip
            answer.raise_for_status()
            job_id = answer.json()["data"]["_id"]
        paths = [f"/api/v3/import-monitoring/{job_id}", f"/api/v3/import-jobs/{job_id}"]
        failed = False
        print(f"machine: cpus={os.cpu_count()} python={sys.version.split()[0]}; one serve "
              f"(API alone) on {'SQLite' if 'LOADBAY_DATABASE_URL' not in env else 'PostgreSQL'}"
              f"; each client polls every {args.every:g} s for {args.seconds:g} s")  # fmt: skip
        for clients in args.polls:
            tally = asyncio.run(poll_level(server.port, token, paths, clients, args.seconds,
                                           args.every))  # fmt: skip
            after = asyncio.run(recovery(server.port, token, paths[0]))
            print(tally.line(f"{clients:>5} clients"))
            print(after.line("        right after"))
            failed |= bool(after.errors) or percentile(after.ok_ms, 99) > 200
            if clients <= 500:
                failed |= bool(tally.errors) or percentile(tally.ok_ms, 99) > 500
            else:
                failed |= bool(tally.errors)
        tally, wall = asyncio.run(burst(server.port, token, paths[0], args.burst))
        print(tally.line(f"burst of {args.burst}") + f"; all answered in {wall:.2f} s")
        failed |= bool(tally.errors) or wall > 2
        after = asyncio.run(recovery(server.port, token, paths[0]))
        print(after.line("        right after"))
        print(f"API peak RSS: {peak_rss_mb(server.proc.pid):.0f} MB")
    finally:
        server.stop()
    print("FAILED: timeouts, dropped connections, 5xx or slow answers" if failed else "held")
    return not failed


def main_polls(args: argparse.Namespace) -> int:
    env: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        if args.pg:
            env["LOADBAY_DATABASE_URL"] = stack.enter_context(pg_schema(args.database_url))
            env["LOADBAY_QUEUE_URL"] = args.redis_url
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="loadbay-polls-")))
        return 0 if run_polls(args, folder, env) else 1


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--rows", type=int, default=50_000, help="rows per job")
    ap.add_argument("--rate", type=float, default=20, help="monitoring polls per second")
    ap.add_argument("--workers", type=int, default=2, help="`loadbay worker` processes")
    ap.add_argument("--invalid-every", type=int, default=100)
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds before giving up")
    ap.add_argument(
        "--log-dir", type=Path, help="keep the workers' logs here, at INFO (default: dropped)"
    )
    ap.add_argument("--polls", type=lambda v: [int(x) for x in v.split(",")],
                    help="instead: polling load, e.g. 100,500,1000 clients (SQLite unless --pg)")  # fmt: skip
    ap.add_argument("--pg", action="store_true", help="polls on PostgreSQL + Redis")
    ap.add_argument("--seconds", type=float, default=30, help="polls: seconds per level")
    ap.add_argument("--every", type=float, default=3, help="polls: seconds between a client's")
    ap.add_argument("--burst", type=int, default=200, help="polls: simultaneous requests")
    args = ap.parse_args()
    if args.polls:
        return main_polls(args)

    queue = redis.Redis.from_url(args.redis_url)
    queue.flushdb()
    schema, db_url = fresh_schema(args.database_url)
    try:
        with tempfile.TemporaryDirectory(prefix="loadbay-load-") as tmp:
            exact = run(args, Path(tmp), db_url)
    finally:
        queue.flushdb()
        queue.close()
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
