"""Paging the review grid of a 1M-row import job over HTTP: p50/p95 ms per page.

    .venv/bin/python bench/review_grid_bench.py --rows 1000000 --limit 50 --repeats 20

Builds the job the way an upload does (a generated CSV with one row in 50 carrying a bad
number, the plan's chunk files and the whole-file review pass, run in this process as in
bench/preview_bench.py), then starts `loadbay serve` on the same data and times
`GET /api/v3/import-jobs/{code}/rows` — the grid the console's review screen pages —
for the first, 10 %, 50 %, 90 % and last page of the All tab and the first, middle and
last page of the Invalid tab, each `--repeats` times in turn (so no page is measured
only while the cache is warm from its neighbour). Target: under 300 ms a page.

The console's own review screen, `GET /imports/{code}/review?filter=…&page=…` (its fixed
20 rows a page, rendered as HTML), is timed the same way for the same places in the job:
the bench signs in as a user does, with a one-time link from `loadbay console-link`
exchanged for the session cookie, and checks that each answer is 200 and holds the
rows the API gives for that page (`id="row-N"` of its first and last row, and as many
rows). Rounds alternate between the API's pages and the console's, so both are timed
over the same stretch of the host's load.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def write_file(path: Path, n: int) -> int:
    """The bench rows with every 50th row's Credit Limit not a number; the bad rows."""
    from common import HEADERS, rows

    bad = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(HEADERS)
        for i, row in enumerate(rows(n)):
            if i % 50 == 49:
                row[8] = "lots"
                bad += 1
            out.writerow(row)
    return bad


def build_job(work: Path, n: int) -> tuple[str, float]:
    """A previewed 1M-row job whose review is Done; its code and the seconds it took."""
    from common import FIELDS

    from loadbay.catalog.fields import parse_fields
    from loadbay.catalog.models import DataType, Hub
    from loadbay.catalog.service import ensure_organization
    from loadbay.db import get_database
    from loadbay.imports import review
    from loadbay.imports.models import ImportJob
    from loadbay.migrations import migrate
    from loadbay.storage import get_storage

    path = work / "outlets.csv"
    write_file(path, n)
    db = get_database()
    migrate(db)
    with db.write() as session:
        org = ensure_organization(session, "bench").id
        hub = Hub(organization_id=org, name="Jakarta")
        fields = [s.as_dict() for s in parse_fields(FIELDS)]
        dt = DataType(organization_id=org, name="Outlet", fields=fields)
        session.add_all([hub, dt])
        session.flush()
        job = ImportJob(
            organization_id=org, type="datasource", data_type_id=dt.id, hub_id=hub.id,
            filename=path.name, file_key=f"{org}/imports/bench/{path.name}",
            file_format="csv", phase="preview", confirmed=False,
            headers=[f["title"] for f in FIELDS],
        )  # fmt: skip
        session.add(job)
        session.flush()
        get_storage().save_file(job.file_key, path)
        generation = review.start(session, job, None, n)
        code = job.id
    started = time.perf_counter()
    review.run(code, generation)
    seconds = time.perf_counter() - started
    with db.read() as session:
        found = review.summary(session, code)
    assert found is not None and found["status"] == "Done", found
    print(f"review of {n:,} rows: {seconds:.1f} s, valid {found['valid']:,}, "
          f"invalid {found['invalid']:,}", flush=True)  # fmt: skip
    path.unlink(missing_ok=True)  # save_file may have moved it
    db.dispose()
    return code, seconds


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def places(total: int, invalid: int, per_page: int) -> dict[str, tuple[str, int]]:
    """The pages timed: tab and page number of each place in the job, `per_page` a page."""
    all_pages = -(-total // per_page)
    bad_pages = -(-invalid // per_page)
    return {
        "all, first page": ("all", 1),
        "all, 10 %": ("all", all_pages // 10),
        "all, 50 %": ("all", all_pages // 2),
        "all, 90 %": ("all", all_pages * 9 // 10),
        "all, last page": ("all", all_pages),
        "invalid, first page": ("invalid", 1),
        "invalid, 50 %": ("invalid", bad_pages // 2),
        "invalid, last page": ("invalid", bad_pages),
    }


def sign_in(env: dict[str, str], base: str) -> httpx.Client:
    """A client holding a console session cookie, signed in as a user is: a one-time link
    from `loadbay console-link` (on the server's data folder), opened once."""
    out = subprocess.run(
        [sys.executable, "-m", "loadbay", "console-link", "--org", "bench", "--email",
         "bench@loadbay.test", "--perms", "import,export,admin"],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    link = out.stdout.strip().splitlines()[-1]
    client = httpx.Client(base_url=base, timeout=30)
    answer = client.get(link.removeprefix(base), follow_redirects=False)
    assert answer.status_code == 303 and "loadbay_console" in client.cookies, (
        answer.status_code, answer.text[:300])  # fmt: skip
    return client


def table(title: str, pages: dict[str, tuple[str, int]], times: dict[str, list[float]]) -> None:
    print(title)
    print("| page | page number | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    for name, (_kind, page) in pages.items():
        got = times[name]
        print(f"| {name} | {page:,} | {statistics.median(got):.0f} | "
              f"{percentile(got, 0.95):.0f} | {max(got):.0f} |")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--limit", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="loadbay-grid-bench-"))
    os.environ.update(LOADBAY_DATA_DIR=str(work), LOADBAY_QUEUE_URL="memory://")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import Server

    from loadbay.console.routes_review import PER_PAGE

    code, _seconds = build_job(work, args.rows)
    del os.environ["LOADBAY_QUEUE_URL"]  # the server keeps its queue in the data folder
    server = Server(work, {}, workers=1)
    try:
        auth = {"Authorization": f"Bearer {server.token()}"}
        url = f"{server.base}/api/v3/import-jobs/{code}/rows"
        invalid = args.rows // 50
        pages = places(args.rows, invalid, args.limit)
        shown = places(args.rows, invalid, PER_PAGE)  # the console's own page size
        times: dict[str, list[float]] = {name: [] for name in pages}
        seen: dict[str, list[float]] = {name: [] for name in shown}
        expected: dict[str, tuple[int, int, int]] = {}  # first row, last row, row count
        with (
            httpx.Client(headers=auth, timeout=30) as client,
            contextlib.closing(sign_in(server.env, server.base)) as web,
        ):
            for name, (kind, page) in pages.items():  # once each, unmeasured: the first
                answer = client.get(url, params={"filter": kind, "page": page, "limit": args.limit})
                answer.raise_for_status()
                data = answer.json()["data"]
                assert data["data"], (name, data["total"])
            for name, (kind, page) in shown.items():  # what the console's page must show
                answer = client.get(url, params={"filter": kind, "page": page, "limit": PER_PAGE})
                answer.raise_for_status()
                got = [r["row"] for r in answer.json()["data"]["data"]]
                assert got, (name, page)
                expected[name] = (got[0], got[-1], len(got))
                web.get(f"/imports/{code}/review", params={"filter": kind, "page": page})
            for _ in range(args.repeats):
                for name, (kind, page) in pages.items():
                    params = {"filter": kind, "page": page, "limit": args.limit}
                    started = time.perf_counter()
                    answer = client.get(url, params=params)
                    times[name].append((time.perf_counter() - started) * 1000)
                    answer.raise_for_status()
                for name, (kind, page) in shown.items():
                    started = time.perf_counter()
                    answer = web.get(
                        f"/imports/{code}/review", params={"filter": kind, "page": page}
                    )
                    seen[name].append((time.perf_counter() - started) * 1000)
                    first, last, count = expected[name]
                    html = answer.text
                    assert answer.status_code == 200, (name, answer.status_code, html[:300])
                    assert f'id="row-{first}"' in html and f'id="row-{last}"' in html, name
                    assert html.count("data-row") == count, (name, html.count("data-row"), count)
        table(f"GET /import-jobs/{{code}}/rows, {args.rows:,} rows, limit {args.limit}, "
              f"{args.repeats} requests per page:", pages, times)  # fmt: skip
        table(f"GET /imports/{{code}}/review (console), {args.rows:,} rows, {PER_PAGE} a page, "
              f"{args.repeats} requests per page:", shown, seen)  # fmt: skip
    finally:
        server.stop()


if __name__ == "__main__":
    main()
