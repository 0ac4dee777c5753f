"""A big export written by several processes is the same file as one written by one."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from loadbay.catalog.fields import parse_fields
from loadbay.catalog.models import DataType, Flow, Hub, Record, Task
from loadbay.db import Database
from loadbay.exports import parallel, writing
from loadbay.exports.plan import ExportPlan, build_plan
from loadbay.exports.schemas import parse_request
from tests.exports.conftest import BASE_TIME, OUTLET_FIELDS, read_csv, read_xlsx, read_zip

ROWS = 2_345


@pytest.fixture
def big_type(db: Database, make_org: Callable[[str], str]) -> tuple[str, str]:
    org = make_org("parallel")
    with db.write() as session:
        hub = Hub(organization_id=org, name="Jakarta")
        kind = DataType(
            organization_id=org,
            name="Outlet",
            fields=[s.as_dict() for s in parse_fields(OUTLET_FIELDS)],
        )
        session.add_all([hub, kind])
        session.flush()
        for i in range(ROWS):
            data = {
                "dataId": f"{i:06d}", "name": ["=x", "plain", "a, b", 'q"uote', " pad "][i % 5],
                "phone": "0812", "category": "Retail", "openSince": "2020-01-31",
                "lastVisit": "2024-04-30T10:15:00", "creditLimit": i / 4, "visits": i,
                "active": i % 2 == 0,
            }  # fmt: skip
            stamp = BASE_TIME + timedelta(seconds=i // 3)  # ties: the id breaks them
            session.add(
                Record(organization_id=org, data_type_id=kind.id, hub_id=hub.id, scope="",
                       data_id=data["dataId"], data=data, created_time=stamp, updated_time=stamp)
            )  # fmt: skip
        return org, kind.id


def _plan(db: Database, org: str, raw: dict[str, Any]) -> ExportPlan:
    with db.read() as session:
        return build_plan(session, org, parse_request("data", raw))


def _export(db: Database, plan: ExportPlan) -> tuple[bytes, writing.Written, int]:
    out = io.BytesIO()
    seen: list[int] = []
    written = writing.write_export(db, plan, out, stem="stem", progress=seen.append)
    return out.getvalue(), written, sum(seen)


@pytest.mark.parametrize("download", ["csv", "xlsx", "json"])
@pytest.mark.parametrize(
    "window",
    [{}, {"page": "2", "limit": "1000"}, {"sortBy": "visits", "sortOrder": "asc"}],
    ids=["all", "page-2", "by-visits"],
)
def test_parallel_export_equals_the_single_process_one(
    db: Database,
    big_type: tuple[str, str],
    worker_for: Callable[..., Any],
    download: str,
    window: dict[str, str],
) -> None:
    org, type_id = big_type
    raw = {"download": download, "dataTypeId": type_id, **window}
    worker_for(export_processes=1, json_export_part_rows=400)
    plan = _plan(db, org, raw)
    assert parallel.split(db, plan) is None
    single, single_written, _ = _export(db, plan)

    worker_for(export_processes=3, export_parallel_min_rows=10, json_export_part_rows=400)
    split = parallel.split(db, plan)
    assert split is not None and len(split) == 3
    several, written, progressed = _export(db, plan)

    expected_rows = 1000 if window.get("page") else ROWS
    assert (written.total, written.last_id) == (single_written.total, single_written.last_id)
    assert len(written.workers) == 3 and all(0 < peak < 1000 for peak, _ in written.workers)
    assert written.total == expected_rows == progressed
    if download == "csv":
        assert several == single
        assert len(read_csv(several)) == expected_rows + 1
    elif download == "xlsx":
        with zipfile.ZipFile(io.BytesIO(several)) as z:
            assert z.testzip() is None
        assert read_xlsx(several) == read_xlsx(single)
        assert len(read_xlsx(several)) == expected_rows + 1
    else:
        names, records = read_zip(several)
        assert (names, records) == read_zip(single)
        assert len(records) == expected_rows
        assert len(names) == -(-expected_rows // 400)


def test_small_exports_stay_in_one_process(
    db: Database, big_type: tuple[str, str], worker_for: Callable[..., Any]
) -> None:
    org, type_id = big_type
    worker_for(export_processes=4, export_parallel_min_rows=ROWS + 1)
    assert parallel.split(db, _plan(db, org, {"download": "csv", "dataTypeId": type_id})) is None


def test_a_failing_worker_fails_the_export_with_its_reason(
    db: Database, big_type: tuple[str, str], worker_for: Callable[..., Any]
) -> None:
    org, type_id = big_type
    with db.write() as session:  # a value no XLSX cell can hold, in the second stretch
        record = session.query(Record).filter_by(data_type_id=type_id, data_id="000000").one()
        record.data = {**record.data, "name": "x" * 40_000}
    worker_for(export_processes=2, export_parallel_min_rows=10)
    plan = _plan(db, org, {"download": "xlsx", "dataTypeId": type_id})
    with pytest.raises(ValueError, match="32,767"):
        _export(db, plan)


def _add_newest_record(db: Database, org: str, type_id: str) -> None:
    """A record newer than all others: the default order (newest first) puts it first."""
    with db.write() as session:
        hub = session.query(Record.hub_id).filter_by(data_type_id=type_id).first()
        assert hub is not None
        late = BASE_TIME + timedelta(days=1)
        session.add(
            Record(organization_id=org, data_type_id=type_id, hub_id=hub[0], scope="",
                   data_id="late", data={"dataId": "late", "name": "late"},
                   created_time=late, updated_time=late)
        )  # fmt: skip


def _delete_newest_record(db: Database, org: str, type_id: str) -> None:
    with db.write() as session:
        newest = (
            session.query(Record)
            .filter_by(data_type_id=type_id)
            .order_by(Record.created_time.desc(), Record.id.desc())
            .first()
        )
        assert newest is not None
        session.delete(newest)


def _export_while_a_record_is_added(
    db: Database,
    big_type: tuple[str, str],
    worker_for: Callable[..., Any],
    download: str,
    change: Callable[[Database, str, str], None] = _add_newest_record,
    **settings: Any,
) -> tuple[bytes, writing.Written]:
    """A two-process export whose newest record arrives (or, with `change`, goes) after
    the cut points were read: inside the first stretch. `settings`: more of them."""
    org, type_id = big_type
    worker_for(export_processes=2, export_parallel_min_rows=10, **settings)
    plan = _plan(db, org, {"download": download, "dataTypeId": type_id})
    split = parallel.split(db, plan)
    assert split is not None
    change(db, org, type_id)
    out = io.BytesIO()
    written = parallel.write_parallel(db, plan, out, split, stem="stem")
    if written is None:  # a stretch was not whole: nothing written, write_export goes on alone
        assert out.getvalue() == b""
        written = writing.write_single(db, plan, out, stem="stem")
    return out.getvalue(), written


def test_a_row_added_while_a_csv_export_runs_pushes_no_row_out(
    db: Database, big_type: tuple[str, str], worker_for: Callable[..., Any]
) -> None:
    content, written = _export_while_a_record_is_added(db, big_type, worker_for, "csv")
    rows = read_csv(content)[1:]
    assert written.total == len(rows) == ROWS + 1
    assert len({tuple(r) for r in rows}) == ROWS + 1
    assert any("late" in r for r in rows)


@pytest.fixture
def many_tasks(db: Database, make_org: Callable[[str], str]) -> str:
    """2,345 tasks, most of them not done: their doneTime sorts as the empty value."""
    org = make_org("parallel-tasks")
    with db.write() as session:
        flow = Flow(organization_id=org, name="Delivery", fields=[], created_time=BASE_TIME)
        session.add(flow)
        session.flush()
        for i in range(ROWS):
            done = BASE_TIME + timedelta(minutes=i % 97) if i % 5 == 0 else None
            session.add(
                Task(organization_id=org, flow_id=flow.id, title=f"T{i}",
                     status="DONE" if done else "ONGOING", done_time=done, data={"n": i},
                     created_time=BASE_TIME + timedelta(seconds=i // 2),
                     updated_time=BASE_TIME)
            )  # fmt: skip
    return org


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("window", [{}, {"page": "2", "limit": "1000"}], ids=["all", "page-2"])
def test_parallel_task_export_sorted_by_a_time_most_rows_lack(
    db: Database,
    many_tasks: str,
    worker_for: Callable[..., Any],
    order: str,
    window: dict[str, str],
) -> None:
    raw = {"download": "csv", "sortBy": "doneTime", "sortOrder": order, **window}
    with db.read() as session:
        plan = build_plan(session, many_tasks, parse_request("task", raw))
    worker_for(export_processes=1)
    single, _, _ = _export(db, plan)
    worker_for(export_processes=3, export_parallel_min_rows=10)
    several, written, _ = _export(db, plan)
    expected = 1000 if window else ROWS
    assert written.total == expected == len(read_csv(several)) - 1
    assert several == single


def test_an_xlsx_stretch_that_fills_up_before_its_cut_is_written_again_whole(
    db: Database, big_type: tuple[str, str], worker_for: Callable[..., Any]
) -> None:
    content, written = _export_while_a_record_is_added(db, big_type, worker_for, "xlsx")
    sheet = read_xlsx(content)
    assert written.total == len(sheet) - 1 == ROWS + 1  # nothing pushed out
    assert written.workers == ()  # it was written again in one process


def test_a_json_stretch_that_fills_up_before_its_cut_keeps_every_part_full(
    db: Database, big_type: tuple[str, str], worker_for: Callable[..., Any]
) -> None:
    content, written = _export_while_a_record_is_added(
        db, big_type, worker_for, "json", json_export_part_rows=400
    )
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        sizes = [len(orjson.loads(archive.read(name))) for name in archive.namelist()]
    assert written.total == sum(sizes) == ROWS + 1  # nothing pushed out
    assert all(size == 400 for size in sizes[:-1])  # no short part in the middle of the zip
    assert sizes[-1] == (ROWS + 1) % 400 or sizes[-1] == 400
    assert written.workers == ()  # it was written again in one process


@pytest.mark.parametrize("download", ["json", "xlsx"])
def test_a_row_gone_from_a_capped_stretch_makes_the_export_start_over(
    db: Database, big_type: tuple[str, str], worker_for: Callable[..., Any], download: str
) -> None:
    """Fewer rows than its cap: a JSON stretch would end in a short part, an XLSX one
    leave a blank row before the next stretch's first."""
    content, written = _export_while_a_record_is_added(
        db, big_type, worker_for, download, change=_delete_newest_record, json_export_part_rows=400
    )
    assert written.total == ROWS - 1 and written.workers == ()  # written again in one process
    if download == "json":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            sizes = [len(orjson.loads(archive.read(name))) for name in archive.namelist()]
        assert all(size == 400 for size in sizes[:-1]) and sum(sizes) == ROWS - 1
    else:
        sheet = read_xlsx(content)
        assert len(sheet) - 1 == ROWS - 1 and all(any(cell != "" for cell in row) for row in sheet)


def test_a_worker_that_cannot_reach_the_database_fails_as_transient(
    db: Database, big_type: tuple[str, str], worker_for: Callable[..., Any], tmp_path: Any
) -> None:
    """The worker's exception comes back through its future as one the service retries."""
    from loadbay.exports.service import is_transient

    org, type_id = big_type
    worker_for(export_processes=2, export_parallel_min_rows=10)
    plan = _plan(db, org, {"download": "csv", "dataTypeId": type_id})
    split = parallel.split(db, plan)
    assert split is not None
    unreachable = Database(f"sqlite:///{tmp_path}")  # a directory: no database opens there
    with pytest.raises(sa.exc.OperationalError) as caught:
        parallel.write_parallel(unreachable, plan, io.BytesIO(), split, stem="stem")
    assert is_transient(caught.value), repr(caught.value)
