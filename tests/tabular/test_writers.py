"""The streaming writers, read back by independent readers: calamine, csv, zipfile + orjson."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import struct
import subprocess
import zipfile
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import orjson
import pytest
from python_calamine import CalamineWorkbook

from loadbay.tabular import xlsx_writer, zip_writer
from loadbay.tabular.csv_writer import CsvWriter, csv_fields
from loadbay.tabular.jsonzip_writer import JsonZipWriter
from loadbay.tabular.writers import Cell, open_writer
from loadbay.tabular.xlsx_writer import XlsxWriter

UTC7 = dt.timezone(dt.timedelta(hours=7))


def read_sheet(path: Path, name: str) -> list[list[Any]]:
    """The sheet as calamine reads it, without the "" it pads short rows with."""
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(name)
    rows: list[list[Any]] = []
    for row in sheet.to_python():
        while row and row[-1] == "":
            row.pop()
        rows.append(row)
    return rows


def write_xlsx(
    path: Path, rows: Sequence[Sequence[Cell]], headers: list[str] | None = None
) -> None:
    with XlsxWriter(path) as w:
        w.add_sheet("Data", headers)
        w.write_rows(rows)


class Unseekable(io.RawIOBase):
    """Like the S3 upload sink: write only, no tell, no seek."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.data += bytes(b)
        return len(b)


# -- XLSX -----------------------------------------------------------------------


def test_xlsx_text_and_numbers_read_back_exactly(tmp_path: Path) -> None:
    p = tmp_path / "a.xlsx"
    text = [
        "=1+1",
        "+x",
        "-5",
        "@SUM(A1)",
        '=HYPERLINK("x")',
        "007",
        "000123456789",
        "12345678901234567890",
    ]
    numbers: list[Cell] = [0, -7, 10**15 - 1, -(10**15) + 1, 10**15, -(10**15), 2**70]
    floats: list[Cell] = [0.1, 1 / 3, 1e-7, -2.5e300, 123456.789]
    odd: list[Cell] = [float("nan"), float("inf"), float("-inf"), 1.7976931348623157e308]
    write_xlsx(p, [text, numbers, floats, odd, [True, False, None, "", "x"]])
    rows = read_sheet(p, "Data")
    assert rows[0] == text  # formula-looking text stays text; zeros and digits kept
    # Up to 15 digits a number; from 10**15 text, which Excel would otherwise round.
    assert rows[1] == [0.0, -7.0, 999999999999999.0, -999999999999999.0, "1000000000000000", "-1000000000000000", str(2**70)]  # fmt: skip
    assert rows[2] == floats  # repr-exact
    assert rows[3] == ["nan", "inf", "-inf", "1.7976931348623157e+308"]
    assert rows[4] == [True, False, "", "", "x"]  # None and "" are both empty cells


def test_xlsx_many_rows_cross_the_flush_blocks(tmp_path: Path) -> None:
    p = tmp_path / "m.xlsx"
    day = dt.datetime(2024, 1, 1, 8, 30)
    with XlsxWriter(p) as w:
        w.add_sheet("Data", ["n", "code", "when"])
        w.write_rows([i, f"{i:012d}", day + dt.timedelta(minutes=i)] for i in range(12_000))
        for i in range(12_000, 12_005):
            w.write_row([i, f"{i:012d}", day + dt.timedelta(minutes=i)])
    rows = read_sheet(p, "Data")
    assert len(rows) == 12_006
    assert rows[1] == [0.0, "000000000000", day]
    assert rows[-1] == [12_004.0, "000000012004", day + dt.timedelta(minutes=12_004)]


def test_xlsx_repeated_texts_stay_exact_across_cache_clears(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx_writer, "_CACHE_SIZE", 3)
    p = tmp_path / "c.xlsx"
    texts = ["", " a ", "<&>", "done", "x" * 41, "_x0041_", "done", "", "\x01", " a "]
    rows: list[list[Cell]] = [
        [texts[(i * 7 + j) % len(texts)] for j in range(4)] for i in range(50)
    ]
    write_xlsx(p, rows)
    got = CalamineWorkbook.from_path(str(p)).get_sheet_by_name("Data").to_python()
    assert got == rows


def test_xlsx_decimals(tmp_path: Path) -> None:
    p = tmp_path / "d.xlsx"
    values: list[Cell] = [Decimal("1.25"), Decimal("1E+2"), Decimal("-0.000001"), Decimal("1.500000000000000000000")]  # fmt: skip
    kept_as_text: list[Cell] = [Decimal("12345678901234567.5"), Decimal("NaN"), Decimal("1E+400")]
    write_xlsx(p, [values, kept_as_text])
    assert read_sheet(p, "Data") == [
        [1.25, 100.0, -1e-06, 1.5],
        ["12345678901234567.5", "NaN", "1E+400"],
    ]


def test_xlsx_dates_times_and_datetimes(tmp_path: Path) -> None:
    p = tmp_path / "t.xlsx"
    row: list[Cell] = [
        dt.date(2024, 3, 18),
        dt.datetime(2024, 3, 18, 12, 34, 56),
        dt.datetime(2024, 3, 18, 23, 59, 59, 999000),
        dt.time(7, 5, 9),
        dt.time(23, 59, 59),
        dt.time(23, 59, 59, 500000),
        dt.date(1900, 3, 1),
        dt.datetime(1900, 3, 1, 0, 0, 1),
        dt.date(9999, 12, 31),
    ]
    as_text: list[Cell] = [
        dt.datetime(2024, 3, 18, 12, 0, tzinfo=UTC7),  # never shifted to another zone
        dt.date(1899, 12, 31),  # no serial number before 1900
        dt.date(1900, 2, 28),  # Excel and LibreOffice disagree before March 1900
        dt.datetime(1900, 1, 1, 12, 0),
        dt.time(8, 0, tzinfo=dt.UTC),
    ]
    write_xlsx(p, [row, as_text, [dt.datetime(2024, 3, 18)]])
    rows = read_sheet(p, "Data")
    assert rows[0] == row
    assert rows[1] == [
        "2024-03-18 12:00:00+07:00",
        "1899-12-31",
        "1900-02-28",
        "1900-01-01 12:00:00",
        "08:00:00+00:00",
    ]
    # A midnight datetime is the same serial number as the date; calamine says date.
    assert rows[2] == [dt.date(2024, 3, 18)]


def test_xlsx_serials_are_the_nearest_double(tmp_path: Path) -> None:
    # Anything a hair lower shows a second early in LibreOffice (it floors).
    p = tmp_path / "n.xlsx"
    write_xlsx(p, [[dt.time(23, 59, 59), dt.datetime(2024, 3, 18, 23, 59, 59)]])
    with zipfile.ZipFile(p) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    day = dt.timedelta(days=1)
    assert f"<v>{86_399 / 86_400!r}</v>" in sheet
    assert (
        f"<v>{(dt.datetime(2024, 3, 18, 23, 59, 59) - dt.datetime(1899, 12, 30)) / day!r}</v>"
        in sheet
    )


def test_xlsx_datetimes_read_back_to_the_millisecond(tmp_path: Path) -> None:
    p = tmp_path / "ms.xlsx"
    start = dt.datetime(1900, 3, 1)
    values = [
        start + dt.timedelta(days=i * 997, seconds=i * 7919, milliseconds=i * 37)
        for i in range(2_900)
    ]
    write_xlsx(p, [[v, v.time()] for v in values])
    rows = read_sheet(p, "Data")
    assert [r[0] for r in rows] == [v.date() if v.time() == dt.time() else v for v in values]
    assert [r[1] for r in rows] == [v.time() for v in values]


def test_xlsx_text_that_xml_cannot_carry_round_trips(tmp_path: Path) -> None:
    p = tmp_path / "x.xlsx"
    controls = "".join(chr(c) for c in range(32))  # tab, LF and CR included
    text = [
        "<a href=\"x\">&amp; 'q'</a>",
        controls,
        "a\r\nb\rc",
        "_x0041_ and _x005F_ stay literal",
        "_x00_ _xZZZZ_ _X0041_ __x0041__",
        "  two spaces around  ",
        " ",
        "\ttab",
        "日本語の文字 😀🚚 ñ ü",
    ]
    write_xlsx(p, [text, ["\ufffe\uffff", "a\ud800"]])
    assert read_sheet(p, "Data")[0] == text
    # Excel's escapes for the non-characters and a lone surrogate (which UTF-8
    # cannot carry); calamine leaves these undecoded, Excel decodes them.
    with zipfile.ZipFile(p) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<t>_xFFFE__xFFFF_</t>" in sheet and "<t>a_xD800_</t>" in sheet


def test_xlsx_cell_length_limit(tmp_path: Path) -> None:
    p = tmp_path / "l.xlsx"
    longest = "x" * 32_767
    with XlsxWriter(p) as w:
        w.add_sheet("Data", ["a", "b"])
        w.write_rows([["ok", longest], ["😀" * 16_383 + "x", None]])
        with pytest.raises(ValueError, match=r"row 5, column B \(2\): text is longer"):
            w.write_rows([["fine", "y"], ["fine", "y" * 32_768]])
        # Excel counts UTF-16 units: 16,384 emoji are 32,768 of them.
        with pytest.raises(ValueError, match=r"row 5, column A \(1\)"):
            w.write_row(["😀" * 16_384])
        w.write_row(["after"])
    rows = read_sheet(p, "Data")
    assert rows[1] == ["ok", longest]
    assert rows[2][0] == "😀" * 16_383 + "x"
    # The failing call's good rows are written, the failing row is not.
    assert rows[3:] == [["fine", "y"], ["after"]]


def test_xlsx_two_sheets_headers_widths_and_freeze(tmp_path: Path) -> None:
    p = tmp_path / "s.xlsx"
    with XlsxWriter(p) as w:
        w.add_sheet("Tasks", ["id", "title"], widths=[10, 40.5])
        w.write_rows([[1, "first"], [2, "second"]])
        w.add_sheet("Outlets & more", ["code"], freeze_header=False)
        w.write_row(["007"])
        w.add_sheet("X")  # one character is a name too
    book = CalamineWorkbook.from_path(str(p))
    assert book.sheet_names == ["Tasks", "Outlets & more", "X"]
    assert read_sheet(p, "Tasks") == [["id", "title"], [1.0, "first"], [2.0, "second"]]
    assert read_sheet(p, "Outlets & more") == [["code"], ["007"]]
    with zipfile.ZipFile(p) as z:
        sheet1 = z.read("xl/worksheets/sheet1.xml").decode()
        sheet2 = z.read("xl/worksheets/sheet2.xml").decode()
        styles = z.read("xl/styles.xml").decode()
    assert 'state="frozen"' in sheet1 and 'state="frozen"' not in sheet2
    assert 'width="40.5"' in sheet1
    assert '<c t="inlineStr" s="4">' in sheet1  # the bold header style
    assert "<b/>" in styles and "yyyy-mm-dd hh:mm:ss" in styles


def test_xlsx_every_part_is_well_formed_and_declared(tmp_path: Path) -> None:
    p = tmp_path / "w.xlsx"
    with XlsxWriter(p) as w:
        w.add_sheet("One", ["a"])
        w.write_row(["<&>\x01"])
        w.add_sheet("Two")
    with zipfile.ZipFile(p) as z:
        assert z.testzip() is None
        names = z.namelist()
        for name in names:
            ElementTree.fromstring(z.read(name))  # noqa: S314 - our own output; raises if malformed
        types = z.read("[Content_Types].xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
    for sheet in ("xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"):
        assert sheet in names and f'PartName="/{sheet}"' in types
        assert sheet.removeprefix("xl/") in rels
    assert {"xl/workbook.xml", "xl/styles.xml", "_rels/.rels", "docProps/core.xml"} <= set(names)
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-tq", str(p)], check=True, capture_output=True)


def test_xlsx_zip_headers_are_the_form_excel_accepts(tmp_path: Path) -> None:
    # Local headers: version 4.5, data-descriptor flag, zero sizes, no extra field
    # (a ZIP64 extra with 0xFFFFFFFF sizes there makes Excel call the file corrupt).
    p = tmp_path / "h.xlsx"
    write_xlsx(p, [["x"]])
    data = p.read_bytes()
    with zipfile.ZipFile(p) as z:
        infos = z.infolist()
    for info in infos:
        offset = info.header_offset
        sig, version, flags, method = struct.unpack_from("<IHHH", data, offset)
        sizes = struct.unpack_from("<III", data, offset + 14)
        extra_len = struct.unpack_from("<H", data, offset + 28)[0]
        assert (sig, version, flags & 0x08, method, sizes, extra_len) == (
            0x04034B50, 45, 0x08, 8, (0, 0, 0), 0,
        )  # fmt: skip
        assert info.extra == b""


def test_xlsx_zip64_records_when_an_entry_passes_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Writing 4 GiB is too slow for a test; a lowered limit takes the same branches.
    monkeypatch.setattr(zip_writer, "_ZIP64_LIMIT", 200)
    p = tmp_path / "z.xlsx"
    rows: list[list[Cell]] = [[i, f"row {i}"] for i in range(500)]
    write_xlsx(p, rows)
    with zipfile.ZipFile(p) as z:
        assert z.testzip() is None
        sheet = z.getinfo("xl/worksheets/sheet1.xml")
        assert sheet.file_size > 200 and sheet.extra[:2] == b"\x01\x00"
    assert read_sheet(p, "Data") == [[float(i), f"row {i}"] for i in range(500)]


def test_xlsx_to_an_unseekable_stream(tmp_path: Path) -> None:
    sink = Unseekable()
    buffered = io.BufferedWriter(sink)
    with XlsxWriter(buffered) as w:
        w.add_sheet("Data", ["a"])
        w.write_rows([[1], ["two"]])
    assert not buffered.closed  # the caller's stream stays open, flushed
    p = tmp_path / "u.xlsx"
    p.write_bytes(bytes(sink.data))
    assert read_sheet(p, "Data") == [["a"], [1.0], ["two"]]


def test_xlsx_row_limit_guard(tmp_path: Path) -> None:
    p = tmp_path / "r.xlsx"
    with XlsxWriter(p) as w:
        w._max_rows = 3  # the real limit is 1,048,576; the check is the same
        w.add_sheet("First", ["h"])
        w.write_rows([["a"], ["b"]])
        with pytest.raises(ValueError, match=r"'First' is full: .* at most 3 rows"):
            w.write_row(["c"])
        w.add_sheet("Second", ["h"])  # the caller may go on in a new sheet
        w.write_row(["c"])
    assert read_sheet(p, "First") == [["h"], ["a"], ["b"]]
    assert read_sheet(p, "Second") == [["h"], ["c"]]
    assert xlsx_writer.MAX_ROWS == 1_048_576


def test_xlsx_guards(tmp_path: Path) -> None:
    p = tmp_path / "g.xlsx"
    with XlsxWriter(p) as w:
        with pytest.raises(RuntimeError, match="add_sheet"):
            w.write_row([1])
        w.add_sheet("Data")
        with pytest.raises(ValueError, match="16,385 cells"):
            w.write_row([None] * 16_385)
        with pytest.raises(TypeError, match=r"row 1, column C \(3\): cannot write a bytes"):
            w.write_row([1, "x", b"raw"])  # type: ignore[list-item]
        for bad in ("", "x" * 32, "a/b", "a[1]", "'quoted'", "data", "History"):
            with pytest.raises(ValueError, match="sheet name"):
                w.add_sheet(bad)
        w.write_row([None] * 16_384)
    assert read_sheet(p, "Data") == []  # 16,384 cells are allowed; empty ones read as nothing
    with pytest.raises(RuntimeError, match="closed"):
        w.write_row([1])


def test_xlsx_empty_workbook_has_one_sheet(tmp_path: Path) -> None:
    p = tmp_path / "e.xlsx"
    XlsxWriter(p).close()
    assert CalamineWorkbook.from_path(str(p)).sheet_names == ["Sheet1"]


def test_xlsx_error_inside_with_closes_the_file(tmp_path: Path) -> None:
    writers: list[XlsxWriter] = []

    def fail() -> None:
        with XlsxWriter(tmp_path / "f.xlsx") as w:
            writers.append(w)
            w.add_sheet("Data")
            w.write_row([1 / 0])

    with pytest.raises(ZeroDivisionError):
        fail()
    assert writers[0]._file is not None and writers[0]._file.closed


# -- CSV ------------------------------------------------------------------------


def read_csv(data: bytes, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=delimiter))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+62812345", "+62812345"),
        ("+62 812-3456-7890", "+62 812-3456-7890"),
        ("+1 (555) 123.4567", "+1 (555) 123.4567"),
        ("-5", "-5"),
        ("-6.2", "-6.2"),
        ("+5", "+5"),
        ("-1e3", "-1e3"),
        ("-.5", "-.5"),
        ("-", "'-"),
        ("+", "'+"),
        ("+ ", "'+ "),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2-3", "'-2-3"),
        ("-6.2 ", "'-6.2 "),
        ("+62 shop", "'+62 shop"),
        ("-\u0666", "'-\u0666"),
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("'=already", "''=already"),
        ("'-6.2", "''-6.2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        ("'quoted", "'quoted"),
        ("", ""),
        (-5, "-5"),
        (-2.5, "-2.5"),
        (0.1, "0.1"),
        (1e-7, "1e-07"),
        (12345678901234567890, "12345678901234567890"),
        (True, "true"),
        (False, "false"),
        (None, ""),
        (dt.date(2024, 3, 18), "2024-03-18"),
        (dt.datetime(2024, 3, 18, 12, 34, 56), "2024-03-18 12:34:56"),
        (dt.datetime(2024, 3, 18, 12, 34, 56, 120000), "2024-03-18 12:34:56.120000"),
        (dt.datetime(2024, 3, 18, 12, 0, tzinfo=UTC7), "2024-03-18 12:00:00+07:00"),
        (dt.time(7, 5), "07:05:00"),
        (Decimal("1E+2"), "100"),
        (Decimal("-0.0000001"), "-0.0000001"),
        ("007", "007"),
        ("日本 😀", "日本 😀"),
    ],
)
def test_csv_cell_table(value: Cell, written: str) -> None:
    out = io.BytesIO()
    with CsvWriter(out) as w:
        w.write_row([value])
    assert read_csv(out.getvalue()) == [[written]]


def test_csv_bom_crlf_quoting_and_open_stream() -> None:
    out = io.BytesIO()
    with CsvWriter(out) as w:
        w.write_header(["id", "note"])
        w.write_rows([[1, 'say "hi", then\nleave'], [2, "plain"]])
    assert not out.closed
    data = out.getvalue()
    assert data.startswith(b"\xef\xbb\xbfid,note\r\n")
    assert data.endswith(b"2,plain\r\n")
    assert read_csv(data) == [["id", "note"], ["1", 'say "hi", then\nleave'], ["2", "plain"]]


def test_csv_options_and_path_target(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    with CsvWriter(p, bom=False, delimiter=";") as w:
        w.write_header(["a", "b"])
        w.write_rows([i, f"v;{i}"] for i in range(2_500))
    data = p.read_bytes()
    assert data.startswith(b"a;b\r\n")
    rows = read_csv(data, ";")
    assert len(rows) == 2_501 and rows[-1] == ["2499", "v;2499"]


def test_csv_output_is_what_the_csv_module_writes() -> None:
    # Most rows skip the csv module; every row must still come out as it would.
    tricky = ["a,b", 'say "hi"', "x\ny", "x\ry", "", " lead", "tab\there", ";", "'", '"']
    rows: list[list[Cell]] = [[t] for t in tricky]
    rows += [[a, b] for a in tricky for b in tricky]
    rows += [[], [None], [None, None], ["", ""]]
    rows += [[1, 2.5, None, True, dt.date(2024, 1, 2), "=x", "-1"]]
    for delimiter in (",", ";", "\t"):
        out = io.BytesIO()
        with CsvWriter(out, bom=False, delimiter=delimiter) as w:
            w.write_rows(rows)
        expected = io.StringIO()
        writer = csv.writer(expected, delimiter=delimiter, lineterminator="\r\n")
        writer.writerows(csv_fields(r) for r in rows)
        assert out.getvalue().decode() == expected.getvalue()


def test_csv_rejects_unknown_types() -> None:
    with CsvWriter(io.BytesIO()) as w, pytest.raises(TypeError, match="bytes"):
        w.write_row([b"x"])  # type: ignore[list-item]


# -- JSON zip -------------------------------------------------------------------


def read_parts(data: bytes | Path) -> dict[str, list[Any]]:
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with zipfile.ZipFile(source) as z:
        assert z.testzip() is None
        return {name: orjson.loads(z.read(name)) for name in z.namelist()}


def test_jsonzip_splits_into_parts(tmp_path: Path) -> None:
    p = tmp_path / "e.zip"
    when = dt.datetime(2024, 3, 18, 12, 34, 56)
    with JsonZipWriter(p, base_name="tasks") as w:
        w.write_records(
            {"n": i, "when": when, "price": Decimal("1.10"), 7: None} for i in range(25_000)
        )
        w.write_record({"n": 25_000, "code": "007", "aware": when.replace(tzinfo=UTC7)})
    parts = read_parts(p)
    assert list(parts) == ["tasks_1.json", "tasks_2.json", "tasks_3.json"]
    assert [len(v) for v in parts.values()] == [10_000, 10_000, 5_001]
    assert parts["tasks_1.json"][0] == {"n": 0, "when": "2024-03-18T12:34:56", "price": "1.10", "7": None}  # fmt: skip
    assert parts["tasks_3.json"][-1] == {"n": 25_000, "code": "007", "aware": "2024-03-18T12:34:56+07:00"}  # fmt: skip
    numbers = [r["n"] for part in parts.values() for r in part]
    assert numbers == list(range(25_001))


def test_jsonzip_empty_and_exact_multiples() -> None:
    out = io.BytesIO()
    JsonZipWriter(out, base_name="export").close()
    assert read_parts(out.getvalue()) == {"export_1.json": []}
    out = io.BytesIO()
    with JsonZipWriter(out, base_name="export", part_rows=3) as w:
        for i in range(6):
            w.write_record({"i": i})
    assert read_parts(out.getvalue()) == {
        "export_1.json": [{"i": 0}, {"i": 1}, {"i": 2}],
        "export_2.json": [{"i": 3}, {"i": 4}, {"i": 5}],
    }


def test_jsonzip_to_an_unseekable_stream_with_unicode_names() -> None:
    sink = Unseekable()
    with JsonZipWriter(sink, base_name="ekspor_日本") as w:  # type: ignore[arg-type]
        w.write_records([{"a": "😀"}])
    assert read_parts(bytes(sink.data)) == {"ekspor_日本_1.json": [{"a": "😀"}]}


def test_jsonzip_guards() -> None:
    for bad in ("", "a/b", "..", "a\\b"):
        with pytest.raises(ValueError, match="base name"):
            JsonZipWriter(io.BytesIO(), base_name=bad)
    with pytest.raises(ValueError, match="part_rows"):
        JsonZipWriter(io.BytesIO(), base_name="x", part_rows=0)
    w = JsonZipWriter(io.BytesIO(), base_name="x")
    with pytest.raises(TypeError, match="bytes"):
        w.write_records([{"a": b"x"}] * 1_000)
    w.abort()
    with pytest.raises(RuntimeError, match="closed"):
        w.write_record({})


# -- open_writer ----------------------------------------------------------------


def test_open_writer_xlsx_and_csv(tmp_path: Path) -> None:
    rows: list[list[Cell]] = [[1, "=x", dt.date(2024, 1, 2)]]
    x = open_writer("xlsx", tmp_path / "f.xlsx", ["id", "name", "day"], sheet_name="Failed")
    x.write_rows(rows)
    x.close()
    assert read_sheet(tmp_path / "f.xlsx", "Failed") == [["id", "name", "day"], [1.0, "=x", dt.date(2024, 1, 2)]]  # fmt: skip
    c = open_writer("csv", tmp_path / "f.csv", ["id", "name", "day"])
    c.write_rows(rows)
    c.close()
    assert read_csv((tmp_path / "f.csv").read_bytes()) == [["id", "name", "day"], ["1", "'=x", "2024-01-02"]]  # fmt: skip


def test_open_writer_json_and_ndjson() -> None:
    rows: list[list[Cell]] = [[1, "a", Decimal("2.50")], [2, None], [3, "c", dt.date(2024, 1, 2)]]
    out = io.BytesIO()
    j = open_writer("json", out, ["id", "name", "extra"])
    j.write_rows(rows[:1])
    j.write_rows(rows[1:])
    j.close()
    expected = [
        {"id": 1, "name": "a", "extra": "2.50"},
        {"id": 2, "name": None, "extra": None},
        {"id": 3, "name": "c", "extra": "2024-01-02"},
    ]
    assert orjson.loads(out.getvalue()) == expected
    out = io.BytesIO()
    n = open_writer("ndjson", out, ["id", "name", "extra"])
    n.write_rows(rows)
    n.close()
    assert [orjson.loads(line) for line in out.getvalue().splitlines()] == expected
    empty = io.BytesIO()
    open_writer("json", empty, ["id"]).close()
    assert orjson.loads(empty.getvalue()) == []


def test_open_writer_json_refuses_cells_without_a_header() -> None:
    out = io.BytesIO()
    w = open_writer("json", out, ["id"])
    with pytest.raises(ValueError, match="row 2: 2 cells but only 1 headers"):
        w.write_rows([[1], [2, "lost"]])
    w.close()
    assert orjson.loads(out.getvalue()) == [{"id": 1}]
    with pytest.raises(ValueError, match="unknown format"):
        open_writer("xml", io.BytesIO(), ["id"])  # type: ignore[arg-type]
