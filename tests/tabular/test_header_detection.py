"""Finding the header row past title rows, merged group headers and blank rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadbay.tabular.readers import TableError, detect_header, open_table
from tests.tabular.xlsx_build import XlsxFactory, worksheet


def csv_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.csv"
    path.write_text(text)
    return path


def test_title_and_blank_rows_above_the_header_are_skipped(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "Outlet list\n\nCode,Name,Phone\nK1,One,0812\nK2,Two,\n")
    with open_table(path, "csv") as table:
        assert table.headers == ["Code", "Name", "Phone"]
        assert (table.header_row, table.rows_above_header) == (3, 1)
        assert list(table.rows()) == [(4, ["K1", "One", "0812"]), (5, ["K2", "Two", None])]
        assert next(iter(table.rows()))[0] == 4  # a second read skips the same rows
        assert table.raw_rows(20) == [["Outlet list"], [], ["Code", "Name", "Phone"],
                                      ["K1", "One", "0812"], ["K2", "Two"]]  # fmt: skip


def test_the_first_row_stays_the_header_of_a_plain_file(tmp_path: Path) -> None:
    # All text, as a CSV is: the header is the first of the rows as wide as the data.
    path = csv_file(tmp_path, "Code,Name\nA1,one\nA2,two\n")
    with open_table(path, "csv") as table:
        assert (table.headers, table.header_row) == (["Code", "Name"], 1)
    # A blank title in the header still wins over the fuller data rows under it.
    path = csv_file(tmp_path, "a,,c,d,e\n1x,2x,3x,4x,5x\n")
    with open_table(path, "csv") as table:
        assert table.header_row == 1


def test_merged_group_headers_above_the_header(make_xlsx: XlsxFactory) -> None:
    def row(n: int, cells: list[str]) -> str:
        inner = "".join(
            f'<c r="{chr(65 + i)}{n}" t="inlineStr"><is><t>{v}</t></is></c>'
            for i, v in enumerate(cells)
            if v
        )
        return f'<row r="{n}">{inner}</row>'

    rows = (
        row(1, ["DAFTAR OUTLET"])
        + row(3, ["Outlet", "", "Contact", ""])
        + row(4, ["Code", "Name", "Phone", "Email"])
        + '<row r="5"><c r="A5" t="inlineStr"><is><t>K1</t></is></c><c r="C5"><v>812</v></c></row>'
    )
    notes = worksheet(row(1, ["READ ME"]) + row(2, ["Prose about the file."]))
    path = make_xlsx([("Notes", notes), ("Data", worksheet(rows))])
    with open_table(path, "xlsx") as table:
        assert (table.sheet, table.sheets) == ("Data", ["Notes", "Data"])
        assert (table.headers, table.header_row, table.rows_above_header) == (
            ["Code", "Name", "Phone", "Email"],
            4,
            2,
        )
        assert list(table.rows()) == [(5, ["K1", None, 812, None])]
    with open_table(path, "xlsx", sheet="0") as table:
        assert table.sheet == "Notes" and table.headers == ["READ ME"]
    with open_table(path, "xlsx", sheet="Data", header_row=3) as table:
        assert table.headers == ["Outlet", "", "Contact"]
    with pytest.raises(TableError, match='Sheet "2" not found; the workbook has: "Notes", "Data"'):
        open_table(path, "xlsx", sheet="2")


def test_detect_header_prefers_titles_over_numbers() -> None:
    head = [(1, ["Report"]), (2, ["Code", "Qty", "Price"]), (3, ["A", 1, 2.5]), (4, ["B", 2, 3])]
    assert detect_header(head) == 1
    assert detect_header([(1, ["Only a header"])]) == 0
    # Blank titles: the header is still the first row as wide as the data.
    blanks = [(1, ["a", None, None, "d", "e"]), (2, ["v", "w", "x", "y", "z"])] * 2
    assert detect_header(blanks) == 0
    # A stray value right of the header (an error later) does not move the header.
    stray = [(1, ["a", "b", "c"]), (2, ["1x", "2x", "3x"]), (3, ["q", "r", "s", "t"]), (4, [])]
    assert detect_header(stray) == 0
