"""`loadbay import`'s review flags against a real `loadbay serve`: sheet and header row,
column and value maps, the invalid-row rule, and the whole-file `--preview`."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from xml.sax.saxutils import escape

from tests.client.conftest import Server
from tests.tabular.xlsx_build import build_xlsx, worksheet

OUTLET = ("--data-type", "Outlet", "--hub", "Jakarta")


def _codes(prefix: str, n: int) -> list[str]:
    tag = uuid.uuid4().hex[:6]
    return [f"{prefix}{tag}{i}" for i in range(n)]


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    lines = [",".join(header)] + [",".join(r) for r in rows]
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


def _sheet(rows: list[list[str]]) -> str:
    """Inline-string rows; an empty list is a blank row (not written, as Excel does)."""
    out = []
    for n, cells in enumerate(rows, 1):
        if cells:
            body = "".join(f'<c t="inlineStr"><is><t>{escape(c)}</t></is></c>' for c in cells)
            out.append(f'<row r="{n}">{body}</row>')
    return worksheet("".join(out))


def _import(server: Server, file: Path, *flags: str) -> tuple[int, str, str]:
    result = server.run("import", str(file), *OUTLET, *flags)
    return result.exit_code, result.stdout, result.stderr


def test_sheet_and_header_row_read_the_data_sheet_under_its_title(
    server: Server, tmp_path: Path
) -> None:
    codes = _codes("S", 2)
    book = build_xlsx(
        tmp_path / "outlets.xlsx",
        [
            ("Notes", _sheet([["Read me first"], ["The data is on the next sheet"]])),
            (
                "Outlets",
                _sheet(
                    [["OUTLET LIST - Q3"], [], ["Data ID", "Name", "Owner Phone"]]
                    + [[c, f"Outlet {c}", "0812"] for c in codes]
                ),
            ),
        ],
    )
    notes = server.run("import", str(book), *OUTLET, "--sheet", "0", "--preview")
    assert notes.exit_code == 0, notes.output
    assert "sheet 'Notes'" in notes.stdout
    assert "required fields with no column: dataId, name" in notes.stdout
    code, out, err = _import(server, book, "--sheet", "Outlets", "--header-row", "3", "--json")
    assert code == 0, out + err
    record = json.loads(out)
    assert (record["totalValid"], record["totalInvalid"]) == (2, 0)
    assert (record["sheet"], record["headerRow"]) == ("Outlets", 3)
    wrong, out, err = _import(server, book, "--sheet", "Outlets", "--header-row", "1")
    assert wrong == 3, out + err


def test_map_renames_a_column_and_an_unused_column_is_said(server: Server, tmp_path: Path) -> None:
    codes = _codes("M", 2)
    file = _csv(
        tmp_path / "m.csv",
        ["Code", "Outlet Name", "Remarks"],
        [[c, f"Outlet {c}", "call first"] for c in codes],
    )
    unmapped, out, err = _import(server, file, "--json")
    assert unmapped == 3, out + err  # no column for the required dataId and name
    code, out, err = _import(
        server, file, "--map", "Code=dataId", "--map", "Outlet Name=name", "--json"
    )
    assert code == 0, out + err
    record = json.loads(out)  # nothing but the final record on stdout
    assert (record["totalValid"], record["totalInvalid"]) == (2, 0)
    assert record["ignoredColumns"] == ["Remarks"]
    assert "not imported" in err and "Remarks" in err
    quiet, out, err = _import(
        server, file, "--map", "Code=dataId", "--map", "Outlet Name=name", "--ignore", "Remarks"
    )
    assert quiet == 0, out + err
    assert "Remarks" in err  # asked for or not, an ignored column is always said


def test_a_mapping_conflict_is_the_servers_400_and_exit_3(server: Server, tmp_path: Path) -> None:
    file = _csv(tmp_path / "c.csv", ["Data ID", "Name"], [[c, "x"] for c in _codes("X", 1)])
    code, out, err = _import(server, file, "--map", "Data ID=name", "--map", "Name=name")
    assert code == 3, out + err
    assert "import-003" in err and "HTTP 400" in err and "name" in err
    listed = json.loads(server.run("jobs", "--json", "--limit", "100").stdout)
    assert all(r["filename"] != "c.csv" for r in listed)  # the draft was cancelled


def test_value_map_fixes_a_misspelt_option(server: Server, tmp_path: Path) -> None:
    header = ["Data ID", "Name", "Category"]
    rows = [[c, "x", "mini market"] for c in _codes("V", 1)] + [
        [c, "x", "Retail"] for c in _codes("W", 2)
    ]
    file = _csv(tmp_path / "v.csv", header, rows)
    before, out, err = _import(server, file, "--json")
    assert before == 1 and json.loads(out)["totalInvalid"] == 1, out + err
    code, out, err = _import(server, file, "--value-map", "category:mini market=Retail", "--json")
    assert code == 0, out + err
    record = json.loads(out)
    assert (record["totalValid"], record["totalInvalid"]) == (3, 0)


def test_invalid_block_writes_nothing_and_says_why(server: Server, tmp_path: Path) -> None:
    codes = _codes("B", 3)
    file = _csv(
        tmp_path / "b.csv",
        ["Data ID", "Name"],
        [[codes[0], "x"], [codes[1], ""], [codes[2], "y"]],
    )
    code, out, err = _import(server, file, "--invalid", "block")
    assert code == 3, out + err
    assert "failed" in out and "row 3" in out.lower(), out
    preview = server.run("import", str(file), *OUTLET, "--preview", "--json")
    assert preview.exit_code == 0, preview.output
    forecast = json.loads(preview.stdout)["validation"]["forecast"]
    assert forecast["create"] == 2 and forecast["update"] == 0  # nothing was written
    share, out, err = _import(server, file, "--max-invalid", "50%", "--json")
    assert share == 1, out + err  # 1 of 3 is under half: the valid rows are written


def test_preview_prints_grouped_errors_and_forecast_and_writes_nothing(
    server: Server, tmp_path: Path
) -> None:
    codes = _codes("P", 4)
    rows = [[codes[0], "ok"], [codes[1], ""], [codes[2], ""], [codes[3], "ok"]]
    file = _csv(tmp_path / "p.csv", ["Data ID", "Name"], rows)
    before = json.loads(server.run("jobs", "--json", "--limit", "100").stdout)
    result = server.run("import", str(file), *OUTLET, "--preview")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "checked 4 of 4 rows: 2 valid, 2 invalid" in out
    assert "would create 2, update 0, skip 0" in out
    assert "errors by column and reason" in out
    assert "would write nothing" not in out
    line = next(line for line in out.splitlines() if "Name" in line and "3, 4" in line)
    assert "2" in line.split("3, 4")[0]  # the count before the first rows
    after = json.loads(server.run("jobs", "--json", "--limit", "100").stdout)
    assert len(after) == len(before)
    blocked = server.run("import", str(file), *OUTLET, "--preview", "--invalid", "block")
    assert "--invalid block: 2 invalid rows, so the import would write nothing" in blocked.stdout
    again = server.run("import", str(file), *OUTLET, "--preview", "--json")
    check = json.loads(again.stdout)["validation"]
    assert check["forecast"]["create"] == 2 and check["errors"][0]["firstRows"] == [3, 4]


def test_bad_flag_syntax_exits_2_with_clicks_usage(server: Server, tmp_path: Path) -> None:
    file = _csv(tmp_path / "u.csv", ["Data ID", "Name"], [["U1", "x"]])
    for flags in (
        ("--map", "Data ID"),
        ("--map", "=name"),
        ("--value-map", "category=Retail"),
        ("--max-invalid", "many"),
        ("--invalid", "maybe"),
        ("--header-row", "0"),
    ):
        result = server.run("import", str(file), *OUTLET, *flags)
        assert result.exit_code == 2, (flags, result.output)
        assert "Usage:" in result.stderr and flags[0] in result.stderr


def test_a_plain_import_says_its_ignored_columns_or_fails_on_them(
    server: Server, tmp_path: Path
) -> None:
    file = _csv(tmp_path / "i.csv", ["Data ID", "Name", "Lat/Long"], [[c, "x", "-6.2 106.8"]
                for c in _codes("I", 1)])  # fmt: skip
    code, out, err = _import(server, file, "--json")
    assert code == 0, out + err
    assert json.loads(out)["ignoredColumns"] == ["Lat/Long"] and "Lat/Long" in err
    strict, out, err = _import(server, file, "--unmapped-columns", "error")
    assert strict == 3, out + err
    assert "Lat/Long" in out + err


def test_preview_and_import_agree_on_a_remembered_mapping(server: Server, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    header = [f"Kode {tag}", f"Nama {tag}"]
    first = _csv(tmp_path / "r1.csv", header, [[c, "x"] for c in _codes("R", 1)])
    maps = ("--map", f"Kode {tag}=dataId", "--map", f"Nama {tag}=name")
    code, out, err = _import(server, first, *maps)
    assert code == 0, out + err
    later = _csv(tmp_path / "r2.csv", header, [[c, "y"] for c in _codes("T", 2)])
    shown = server.run("import", str(later), *OUTLET, "--preview", "--json")
    body = json.loads(shown.stdout)
    assert body["suggestionSources"] == {header[0]: "memory", header[1]: "memory"}
    assert body["validation"]["forecast"]["create"] == 2
    code, out, err = _import(server, later, "--json")  # no --map: the memory, as shown
    assert code == 0, out + err
    assert json.loads(out)["totalValid"] == 2
