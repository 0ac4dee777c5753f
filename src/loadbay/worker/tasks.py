"""Every queue task, registered by name with the enqueue seam (`loadbay.queue.enqueue`).

Tasks take ids and reload state, so each is safe to run twice. Each step counts its own
attempts (`imports.state`, `exports.state`); the queue's retries add the back-off for
transient outages, and the sweeper (`worker.sweeper`) takes over what a dead worker held.
"""

from __future__ import annotations

import logging
from typing import Any

from huey import crontab

from loadbay.exports import service as export_service
from loadbay.exports.tasks import fail_stale_exports, notify, purge_exports
from loadbay.idempotency import purge_expired
from loadbay.ids import utcnow
from loadbay.imports import finalize, pipeline, review
from loadbay.imports.retention import purge_imports
from loadbay.imports.revert import run_revert
from loadbay.queue import huey, register
from loadbay.webhooks import tasks as webhook_tasks

log = logging.getLogger("loadbay.worker")


@huey.task(retries=2, retry_delay=2, name="plan")
def plan_task(job_id: str) -> None:
    """A file that cannot be read fails the job inside plan_job; any other error is
    counted (unless transient) and retried, by the queue and then by the sweeper, until
    the step is out of attempts."""
    pipeline.plan_job(job_id)


@huey.task(retries=2, retry_delay=1, name="chunk")
def chunk_task(chunk_id: str | None = None) -> None:
    """Writes the chunk fair shares say is next, not necessarily `chunk_id` (the one
    whose recording sent this message): see `imports.fair`."""
    pipeline.run_chunk(chunk_id)


@huey.task(retries=2, retry_delay=2, name="review")
def review_task(job_id: str, generation: int) -> None:
    """The whole-file check of a preview; safe to run twice: a pass claims its
    generation, and an older one stops."""
    review.run(job_id, generation)


@huey.task(retries=2, retry_delay=2, name="revert")
def revert_task(job_id: str) -> None:
    """Takes a finished import back, a chunk per transaction; safe to run twice."""
    run_revert(job_id)


@huey.task(retries=2, retry_delay=2, name="finalize")
def finalize_task(job_id: str) -> None:
    finalize.finalize_job(job_id)


@huey.task(retries=2, retry_delay=5, context=True, name="export")
def export_task(log_id: str, task: Any = None) -> None:
    retries_left = int(getattr(task, "retries", 0) or 0)
    entry = export_service.run_export(log_id, retry_transient=retries_left > 0)
    if entry is not None:
        notify(entry)


@huey.periodic_task(crontab(minute="17"), name="purge-imports")
def purge_imports_task() -> None:
    now = utcnow()
    purge_imports(now)
    purge_expired(now)  # Idempotency-Key answers are kept 24 hours


@huey.periodic_task(crontab(minute="*/10"), name="purge-exports")
def purge_exports_task() -> None:
    now = utcnow()
    stale = fail_stale_exports(now)
    purged = purge_exports(now)
    if stale or purged:
        log.info("exports purged", extra={"purged": purged, "stale": stale})


register("plan", plan_task)
register("chunk", chunk_task)
register("finalize", finalize_task)
register("review", review_task)
register("revert", revert_task)
register("export", export_task)
register("webhook", webhook_tasks.deliver_task)
