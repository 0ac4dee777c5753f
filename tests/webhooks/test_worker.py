"""With a real worker process and queue: the job ends while the receiver is down, the
worker's own scheduled retry (no sweeper: `--no-periodic`) delivers once it is back."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import start_worker
from tests.imports.conftest import csv_bytes
from tests.webhooks.conftest import Receiver, verify


def test_worker_retries_on_its_own_schedule_until_the_receiver_is_back(
    real_queue: dict[str, str],
    tmp_path: Path,
    upload: Callable[..., Any],
    monitoring: Callable[[str], dict[str, Any]],
    register: Callable[..., dict[str, Any]],
    receiver: Receiver,
    deliveries: Callable[[str], list[Any]],
) -> None:
    created = register(receiver.url, ["import.completed"])
    receiver.stop()
    env = {**real_queue, "LOADBAY_WEBHOOK_BACKOFF_SECONDS": "[0.5]"}
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        rows = [["Outlet Code", "Name", "Hub"], ["W-1", "Satu", "Jakarta"]]
        job_id = upload(csv_bytes(rows)).json()["data"]["_id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            items = deliveries(created["_id"])
            if items and items[0]["attempts"] >= 2:
                break
            time.sleep(0.2)
        assert monitoring(job_id)["status"] == "success"  # ended while nobody listened
        (pending,) = deliveries(created["_id"])
        assert pending["status"] == "pending", (tmp_path / "worker.log").read_text()
        receiver.start()
        while time.monotonic() < deadline and deliveries(created["_id"])[0]["status"] == "pending":
            time.sleep(0.2)
        (done,) = deliveries(created["_id"])
        assert done["status"] == "delivered", (tmp_path / "worker.log").read_text()
        assert done["attemptLog"][-1]["statusCode"] == 200
        assert all(a["statusCode"] is None for a in done["attemptLog"][:-1])
        (got,) = receiver.requests
        assert verify(created["secret"], got.headers, got.body)
        assert got.json["data"]["_id"] == job_id
    finally:
        worker.terminate()
        worker.wait(10)
