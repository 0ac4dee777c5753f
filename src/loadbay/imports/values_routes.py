"""`GET /import-jobs/{code}/values`: the values of option and yes/no columns that do
not fit, for a value map."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from loadbay.auth import CanImport, Principal
from loadbay.db import Database
from loadbay.deps import AppDatabase
from loadbay.imports import service
from loadbay.imports.target import load_target
from loadbay.imports.values import distinct_bad_values
from loadbay.pagination import ok
from loadbay.routing import Router

router = Router()


def _values(
    db: Database, principal: Principal, code: str, field: str | None
) -> list[dict[str, Any]]:
    with db.read() as session:
        job = service.get_job(session, principal.org, code)
        target_id = str(job.data_type_id if job.type == "datasource" else job.flow_id)
        target = load_target(session, principal.org, job.type, target_id)
    return distinct_bad_values(job, target, field or None)


@router.get("/import-jobs/{code}/values", response_model=None, tags=["import-jobs"])
async def bad_values(
    code: str, principal: CanImport, db: AppDatabase, field: str | None = None
) -> dict[str, Any]:
    """`[{field, value, count, suggestion}]`: each distinct value of an option or yes/no
    column (all of them, or `field`'s) that the field does not take once the job's
    `valueMap` is applied, with how many rows have it and the likely intended value.
    Set `valueMap` (`{fieldId: {from: to}}`, `""` for a blank) on the draft or at
    confirm to fix them for the whole file."""
    return ok(await run_in_threadpool(_values, db, principal, code, field))
