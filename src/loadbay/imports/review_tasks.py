"""The review pass as a Huey task, sent through the same queue as the pipeline."""

from __future__ import annotations

from loadbay.imports import review
from loadbay.queue import huey


@huey.task(retries=2, retry_delay=2)
def review_task(job_id: str, generation: int) -> None:
    """Safe to run twice: a pass claims its generation, and an older one stops."""
    review.run(job_id, generation)


def _enqueue_review(job_id: str, generation: int) -> None:
    review_task(job_id, generation)


review.enqueue_review = _enqueue_review
