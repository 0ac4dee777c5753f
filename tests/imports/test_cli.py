"""`loadbay import FILE`: the whole pipeline inline, a progress bar, counts and the failed file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from loadbay.catalog.models import Record, Task
from loadbay.db import Database
from loadbay.imports.cli import import_command
from loadbay.imports.models import ImportJob
from tests.imports.conftest import csv_bytes


def _wired() -> bool:
    from loadbay.cli import app

    return any(c.name == "import" for c in app.registered_commands)


def run_import(
    capsys: pytest.CaptureFixture[str],
    file: Path,
    *,
    data_type: str | None = None,
    flow: str | None = None,
    hub: str | None = None,
    mode: str = "CreateAndUpdate",
    config: str | None = None,
    preview: bool = False,
    org: str = "acme",
    email: str = "ops@acme.test",
) -> tuple[int, str]:
    """Through `loadbay import` once the command is wired, else through the function."""
    if _wired():
        from loadbay.cli import app

        args = ["import", str(file), "--mode", mode, "--org", org, "--email", email]
        for flag, value in (
            ("--data-type", data_type),
            ("--flow", flow),
            ("--hub", hub),
            ("--config", config),
        ):
            if value is not None:
                args += [flag, value]
        if preview:
            args.append("--preview")
        result = CliRunner().invoke(app, args)
        return result.exit_code, result.output
    try:
        import_command(file, data_type, flow, hub, mode, config, preview, org, email)
        code = 0
    except typer.Exit as exc:
        code = exc.exit_code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture
def outlets(tmp_path: Path) -> Path:
    path = tmp_path / "outlets.csv"
    path.write_bytes(
        csv_bytes(
            [
                ["Outlet Code", "Name", "Phone"],
                ["C1", "one", "0812"],
                ["C2", "", "abc"],
                ["C3", "three", ""],
            ]
        )
    )
    return path


def _records(db: Database) -> dict[str, dict[str, Any]]:
    with db.read() as session:
        return {r.data_id: r.data for r in session.scalars(sa.select(Record))}


def test_import_by_names_prints_counts_and_the_failed_rows_file(
    capsys, outlets, catalog, db
) -> None:
    code, output = run_import(capsys, outlets, data_type="Outlet", hub="Jakarta")
    assert code == 0, output
    assert re.search(r"status\s+partially", output)
    assert re.search(r"rows\s+3", output) and re.search(r"created\s+2", output)
    assert re.search(r"failed\s+1", output)
    failed = Path(re.search(r"failed rows: (\S+)", output).group(1))  # type: ignore[union-attr]
    assert failed.is_file() and failed.suffix == ".csv"
    text = failed.read_text("utf-8-sig")
    assert "C2" in text and "Name is required" in text
    assert set(_records(db)) == {"C1", "C3"}
    assert outlets.is_file()  # the user's own file is left where it was
    with db.read() as session:
        job = session.scalars(sa.select(ImportJob)).one()
    assert job.confirmed and job.phase == "done" and job.created_by == "ops@acme.test"


def test_import_by_ids_in_a_mode(capsys, outlets, catalog, db, org_id) -> None:
    code, _ = run_import(
        capsys, outlets, data_type=catalog["outlet"], hub=catalog["hub"], org=org_id
    )
    assert code == 0
    code, output = run_import(
        capsys, outlets, data_type=catalog["outlet"], hub=catalog["hub"], mode="UpdateOnly"
    )
    assert code == 0 and re.search(r"updated\s+2", output) and re.search(r"created\s+0", output)


def test_preview_shows_headers_mapping_and_errors_and_imports_nothing(
    capsys, outlets, catalog, db
) -> None:
    code, output = run_import(capsys, outlets, data_type="Outlet", hub="Jakarta", preview=True)
    assert code == 0, output
    assert "3 rows; columns: Outlet Code, Name, Phone" in output
    assert re.search(r"dataId\s+│\s+Outlet Code", output)
    assert "Name is required" in output and "'abc' is not a phone number" in output
    assert _records(db) == {}
    with db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ImportJob)) == 0


def test_tasks_of_a_flow(capsys, tmp_path, catalog, db) -> None:
    path = tmp_path / "tasks.csv"
    path.write_bytes(csv_bytes([["Title", "Order Number"], ["Drop", "SO-1"], ["Drop 2", "SO-2"]]))
    code, output = run_import(capsys, path, flow="Delivery", hub="Jakarta")
    assert code == 0 and re.search(r"created\s+2", output), output
    with db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Task)) == 2


def test_a_failed_job_exits_1_with_its_reason(capsys, tmp_path, catalog) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes([["Outlet Code", "Phone"], ["1", "0812"]]))
    code, output = run_import(capsys, path, data_type="Outlet", hub="Jakarta")
    assert code == 1
    assert "Required column(s) not found in the file: Name (name)" in output


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data_type": "Nope", "hub": "Jakarta"}, "data type 'Nope' not found"),
        ({"data_type": "Outlet"}, "The hubId field is required for this data type"),
        ({"data_type": "Outlet", "hub": "Bandung"}, "hub 'Bandung' not found"),
        ({"flow": "Delivery", "data_type": "Outlet"}, "exactly one of --data-type or --flow"),
        ({"data_type": "Outlet", "hub": "Jakarta", "org": "ghost"}, "organisation 'ghost'"),
        ({"data_type": "Outlet", "hub": "Jakarta", "mode": "Maybe"}, "importMode must be"),
    ],
)
def test_errors_exit_2_with_a_message(capsys, outlets, catalog, kwargs, message) -> None:
    code, output = run_import(capsys, outlets, **kwargs)
    assert code == 2 and message in output, output


def test_a_missing_file(capsys, tmp_path, catalog) -> None:
    code, output = run_import(capsys, tmp_path / "none.csv", data_type="Outlet", hub="Jakarta")
    assert code == 2 and "no such file" in output
