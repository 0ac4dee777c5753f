"""The revert's Huey task: takes a job id, reloads state, safe to run twice."""

from __future__ import annotations

from loadbay.imports.revert import run_revert
from loadbay.queue import huey


@huey.task(retries=2, retry_delay=2)  # type: ignore[untyped-decorator]
def revert_task(job_id: str) -> None:
    run_revert(job_id)


def enqueue_revert(job_id: str) -> None:
    revert_task(job_id)
