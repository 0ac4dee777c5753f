"""`loadbay export tasks|data`: the service's checks and writer, into a local file."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from loadbay.exports.cli import app
from tests.exports.conftest import DATA_HEADERS, Seeded, read_csv, read_xlsx, read_zip

runner = CliRunner()


def test_data_by_name_to_csv(seeded: Seeded, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "outlets.csv"
    result = runner.invoke(
        app,
        ["data", "--data-type", "Outlet", "--hub", "Jakarta", "--format", "csv", "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "4 records written" in result.output
    rows = read_csv(out.read_bytes())
    assert rows[0] == DATA_HEADERS and len(rows) == 5
    assert not list(out.parent.glob(".*.part"))


def test_tasks_to_xlsx_and_json(seeded: Seeded, tmp_path: Path) -> None:
    xlsx = tmp_path / "tasks.xlsx"
    args = ["tasks", "--flow", "Delivery,Pickup", "--status", "DONE", "-o", str(xlsx)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert [r[1] for r in read_xlsx(xlsx.read_bytes())[1:]] == ["Task 3", "Task 0"]
    archive = tmp_path / "tasks.zip"
    args = ["tasks", "-f", "json", "--sort-by", "title", "--sort-order", "asc", "--limit", "2"]
    result = runner.invoke(app, [*args, "--page", "2", "-o", str(archive)])
    assert result.exit_code == 0, result.output
    names, records = read_zip(archive.read_bytes())
    assert names == ["tasks_1.json"] and [r["title"] for r in records] == ["Task 2", "Task 3"]


def test_bad_input_exits_2_with_the_reason(seeded: Seeded, tmp_path: Path) -> None:
    out = tmp_path / "x.xlsx"
    result = runner.invoke(app, ["data", "--data-type", "Nope", "-o", str(out)])
    assert result.exit_code == 2 and "data type 'Nope': not found" in result.output
    result = runner.invoke(app, ["tasks", "--fields", "colour", "-o", str(out)])
    assert result.exit_code == 2 and "Unknown field: colour" in result.output
    result = runner.invoke(app, ["tasks", "-f", "pdf", "-o", str(out)])
    assert result.exit_code == 2 and "download" in result.output
    result = runner.invoke(app, ["tasks", "--org", "nobody", "-o", str(out)])
    assert result.exit_code == 2 and "organisation 'nobody'" in result.output
    assert not out.exists()
