"""The console wizard's structure pages on a big upload: one page load of the sheet, header
row and map-columns steps, in process (the app over a TestClient; no worker runs, so the
whole-file check stays queued and only the page is measured).

    .venv/bin/python bench/wizard_pages_bench.py --rows 1000000 --format csv
    .venv/bin/python bench/wizard_pages_bench.py --rows 300000 --format xlsx

Prints the seconds of the upload (which counts every row once, as the API's preview does)
and the median and best milliseconds of `--repeat` loads of each page.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="loadbay-wizard-bench-"))
    os.environ.update(
        LOADBAY_DATA_DIR=str(work),
        LOADBAY_QUEUE_URL="memory://",
        LOADBAY_JWT_SECRET="wizard-bench-" + "s" * 40,
        LOADBAY_LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import FIELDS, write_csv, write_xlsx
    from fastapi.testclient import TestClient

    from loadbay.api import create_app
    from loadbay.catalog.fields import parse_fields
    from loadbay.catalog.models import DataType, Hub
    from loadbay.catalog.service import ensure_organization
    from loadbay.console.session import issue_link
    from loadbay.db import get_database

    path = work / f"outlets.{args.format}"
    written = time.perf_counter()
    (write_csv if args.format == "csv" else write_xlsx)(path, args.rows)
    print(
        f"{args.format} {args.rows:,} rows, {path.stat().st_size / 1024**2:.0f} MB "
        f"(written in {time.perf_counter() - written:.0f} s)"
    )
    with TestClient(create_app()) as client:
        with get_database().write() as session:
            org = ensure_organization(session, "bench").id
            hub = Hub(organization_id=org, name="Jakarta")
            kind = DataType(
                organization_id=org,
                name="Outlet",
                fields=[s.as_dict() for s in parse_fields(FIELDS)],
            )
            session.add_all([hub, kind])
            session.flush()
            target, hub_id = f"datasource:{kind.id}", hub.id
        secret = client.app.state.settings.secret
        client.get(
            issue_link(org, "bench@example.test", ["import"], secret), follow_redirects=False
        )
        page = client.get("/imports/new/upload", params={"target": target})
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        form = {"csrf": csrf.group(1), "target": target, "hubId": hub_id}
        started = time.perf_counter()
        with path.open("rb") as f:
            sent = client.post(
                "/imports/new/upload",
                data=form,
                files={"file": (path.name, f)},
                follow_redirects=False,
            )
        code = sent.headers["location"].split("/")[2]
        print(f"upload: {time.perf_counter() - started:.1f} s")
        for step in ("sheet", "header", "map"):
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                shown = client.get(f"/imports/{code}/{step}")
                times.append((time.perf_counter() - t) * 1000)
                assert shown.status_code == 200, (step, shown.status_code)
            print(f"GET /imports/{{code}}/{step}: median {statistics.median(times):,.0f} ms, "
                  f"best {min(times):,.0f} ms ({args.repeat} loads)")  # fmt: skip


if __name__ == "__main__":
    main()
