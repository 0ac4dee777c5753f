"""Rows per second and time left for a running import (DECISIONS: beside the vendor's fields)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from loadbay.ids import utcnow
from loadbay.imports.models import ImportJob

RUNNING_PHASES = frozenset({"planning", "running", "finalizing"})


def progress_fields(job: ImportJob, now: datetime | None = None) -> dict[str, Any]:
    """`rowsPerSecond` and `etaSeconds` while the job runs, nothing otherwise.

    The rate is the average since processing started, not the last chunk's: chunks
    finish in bursts, and an average keeps the estimate from jumping about. With no
    row processed yet there is a rate (0) but no estimate, so `etaSeconds` is left out.
    """
    if job.phase not in RUNNING_PHASES or job.status != "onprocess" or job.started_at is None:
        return {}
    elapsed = ((now or utcnow()) - job.started_at).total_seconds()
    done = max(job.processed_rows, 0)
    rate = done / elapsed if elapsed > 0 else 0.0
    fields: dict[str, Any] = {"rowsPerSecond": round(rate, 1)}
    left = max(job.total_rows - done, 0)
    if rate > 0 and job.total_rows > 0:
        fields["etaSeconds"] = math.ceil(left / rate)
    return fields
