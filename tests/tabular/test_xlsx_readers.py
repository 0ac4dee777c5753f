"""XLSX: the calamine path and the streaming path must read every workbook the same way."""

from __future__ import annotations

import datetime as dt
import io
import random
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from loadbay.tabular import xlsx_scan
from loadbay.tabular.readers import Limits, Row, TableError, date_text, open_table
from loadbay.tabular.xlsx_values import DATETIME, DURATION, format_kind
from tests.tabular.xlsx_build import XlsxFactory, build_xls, styles, worksheet

CALAMINE = Limits(xlsx_calamine_max_bytes=1 << 40)
STREAMING = Limits(xlsx_calamine_max_bytes=0)
BOTH = pytest.mark.parametrize("limits", [CALAMINE, STREAMING], ids=["calamine", "streaming"])


def read(path: Path, limits: Limits, **kwargs: object) -> tuple[list[str], list[Row]]:
    with open_table(path, "xlsx", limits=limits, **kwargs) as table:  # type: ignore[arg-type]
        return table.headers, list(table.rows())


def error_of(path: Path, limits: Limits = STREAMING, **kwargs: object) -> TableError:
    with pytest.raises(TableError) as caught:
        read(path, limits, **kwargs)
    return caught.value


# Style index → numFmtId; 164+ are the custom formats below.
CORPUS_STYLES = styles(
    {
        164: "dd/mm/yyyy",
        165: "yyyy-mm-dd hh:mm",
        166: '"Qty" 0',
        167: "[Red]0.00",
        168: "[h]:mm",
        169: 'h "h" mm "min"',
    },
    [0, 14, 22, 164, 165, 21, 46, 166, 167, 4, 168, 169],
)
CORPUS_SHARED = [
    "<t>Name</t>",
    "<t>Code</t>",
    "<t>Amount</t>",
    "<t> When </t>",
    '<t xml:space="preserve">  Padded  </t>',
    '<r><rPr><b/></rPr><t>Ri</t></r><r><t xml:space="preserve">ch </t></r>'
    '<rPh sb="0" eb="1"><t>ruby</t></rPh>',
    "<t>007</t>",
    "<t>198000000000000000</t>",
    "<t/>",
    "<t>Fish &amp; Chips</t>",
    "<t>line1\r\nline2</t>",
    "<t>a_x000D_b</t>",
    "<t>   </t>",
    "<t>Time</t>",
    "<t>Stamp</t>",
    "<t>Took</t>",
    "<t>Flag</t>",
    "<t>Note</t>",
    "<t>Qty</t>",
    "<t>é€😀 Ünïcode</t>",
]
CORPUS_ROWS = (
    '<row r="1" spans="1:10">'
    + "".join(f'<c r="{c}1" t="s"><v>{i}</v></c>' for c, i in zip("ABCD", range(4), strict=True))
    + "".join(
        f'<c r="{c}1" t="s"><v>{i}</v></c>' for c, i in zip("EFGHIJ", range(13, 19), strict=True)
    )
    + "</row>"
    '<row r="2"><c r="A2" t="s"><v>4</v></c><c r="B2" t="s"><v>6</v></c><c r="C2"><v>123</v></c>'
    '<c r="D2" s="1"><v>45000</v></c><c r="E2" s="5"><v>0.75</v></c>'
    '<c r="F2" s="2"><v>45000.5</v></c><c r="G2" s="6"><v>1.5</v></c>'
    '<c r="H2" t="b"><v>1</v></c><c r="I2" t="inlineStr"><is><t>inline note</t></is></c>'
    '<c r="J2" s="7"><v>7</v></c></row>'
    '<row r="3"><c r="A3" t="s"><v>5</v></c><c r="B3" t="s"><v>7</v></c>'
    '<c r="C3"><v>1.98E+17</v></c><c r="D3" s="3"><v>45001</v></c>'
    '<c r="E3" s="11"><v>0.5</v></c><c r="F3" s="4"><v>45001.25</v></c>'
    '<c r="G3" s="10"><v>2.25</v></c><c r="H3" t="b"><v>0</v></c>'
    '<c r="I3" t="str"><f>A3&amp;"x"</f><v>fx result</v></c><c r="J3" s="8"><v>2.5</v></c></row>'
    '<row r="4"><c r="A4" s="1"/><c r="B4" t="s"><v>12</v></c><c r="C4" t="s"><v>8</v></c>'
    '<c r="D4" t="inlineStr"><is><t>  </t></is></c></row>'
    '<row r="6"><c r="A6" t="s"><v>9</v></c><c r="C6"><v>1.0</v></c><c r="D6" s="1"><v>1</v></c>'
    '<c r="E6" s="1"><v>60</v></c><c r="F6" s="1"><v>61</v></c><c r="J6"><v>1.5</v></c></row>'
    '<row r="7"><c r="A7" t="s"><v>10</v></c><c r="B7" t="s"><v>11</v></c>'
    '<c r="C7"><f t="shared" ref="C7:C8" si="0">B7*2</f><v>14</v></c>'
    '<c r="D7" t="d"><v>2023-01-02T03:04:05</v></c><c r="E7" t="d"><v>2023-01-02</v></c>'
    '<c r="H7" t="b"><v>true</v></c><c r="I7" t="str"><v>  </v></c></row>'
    '<row r="8"><c r="A8" t="inlineStr"><is><r><t>in</t></r>'
    '<r><t xml:space="preserve"> line</t></r><rPh><t>x</t></rPh></is></c>'
    '<c r="B8"><v>0.30000000000000004</v></c><c r="C8"><f t="shared" si="0"/><v>16</v></c>'
    '<c r="F8" s="2"><v>0.25</v></c><c r="G8" s="6"><v>-0.5</v></c>'
    '<c r="J8" s="9"><v>1234.5</v></c></row>'
    '<row r="9"><c r="A9" t="s"><v>8</v></c><c r="B9"><v>-3</v></c>'
    '<c r="C9" t="s"><v>19</v></c><c r="I9" t="str"><v>&#8364; 5 _x0041_</v></c></row>'
)
CORPUS_HEADERS = ["Name", "Code", "Amount", "When", "Time", "Stamp", "Took", "Flag", "Note", "Qty"]
CORPUS_EXPECTED: list[Row] = [
    (2, ["  Padded  ", "007", 123, dt.date(2023, 3, 15), dt.time(18, 0),
         dt.datetime(2023, 3, 15, 12, 0), "36:00:00", True, "inline note", 7]),
    (3, ["Rich ", "198000000000000000", 198000000000000000, dt.date(2023, 3, 16), dt.time(12, 0),
         dt.datetime(2023, 3, 16, 6, 0), "54:00:00", False, "fx result", 2.5]),
    (6, ["Fish & Chips", None, 1, dt.date(1900, 1, 1), dt.date(1900, 2, 28), dt.date(1900, 3, 1),
         None, None, None, 1.5]),
    (7, ["line1\nline2", "a\rb", 14, dt.datetime(2023, 1, 2, 3, 4, 5), dt.date(2023, 1, 2),
         None, None, True, "  ", None]),
    (8, ["in line", 0.30000000000000004, 16, None, None, dt.time(6, 0), "-12:00:00", None, None,
         1234.5]),
    (9, [None, -3, "é€😀 Ünïcode", None, None, None, None, None, "€ 5 A", None]),
]  # fmt: skip


@pytest.fixture
def corpus(make_xlsx: XlsxFactory) -> Path:
    return make_xlsx(worksheet(CORPUS_ROWS), shared=CORPUS_SHARED, styles_xml=CORPUS_STYLES)


@BOTH
def test_corpus_values(corpus: Path, limits: Limits) -> None:
    headers, rows = read(corpus, limits)
    assert headers == CORPUS_HEADERS
    assert rows == CORPUS_EXPECTED
    for (_, got), (_, want) in zip(rows, CORPUS_EXPECTED, strict=True):
        assert [type(v) for v in got] == [type(v) for v in want]


def as_text(rows: list[Row]) -> list[Row]:
    return [
        (n, [date_text(c) if isinstance(c, dt.date | dt.time) else c for c in cells])
        for n, cells in rows
    ]


@BOTH
def test_dates_as_text(corpus: Path, limits: Limits) -> None:
    """What imports read: each date cell as its ISO text, every other cell unchanged."""
    headers, rows = read(corpus, limits, dates_as_text=True)
    assert headers == CORPUS_HEADERS
    assert rows == as_text(CORPUS_EXPECTED)
    assert rows[0][1][3:6] == ["2023-03-15", "18:00:00", "2023-03-15 12:00:00"]
    assert rows[2][1][3:6] == ["1900-01-01", "1900-02-28", "1900-03-01"]


def test_both_paths_agree_without_header_row(corpus: Path) -> None:
    calamine = read(corpus, CALAMINE, has_header_row=False)
    assert calamine == read(corpus, STREAMING, has_header_row=False)
    assert calamine[0] == [f"Column {i}" for i in range(1, 11)]
    assert calamine[1][0] == (1, CORPUS_HEADERS)


def test_streaming_across_tiny_blocks(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx_scan, "BLOCK_BYTES", 7)
    assert read(corpus, STREAMING) == (CORPUS_HEADERS, CORPUS_EXPECTED)


@BOTH
def test_offset_table_keeps_true_positions(make_xlsx: XlsxFactory, limits: Limits) -> None:
    rows = (
        '<row r="2"><c r="C2" t="inlineStr"><is><t xml:space="preserve">   </t></is></c></row>'
        '<row r="3"><c r="B3" t="inlineStr"><is><t>Id</t></is></c>'
        '<c r="C3" t="inlineStr"><is><t>Name</t></is></c></row>'
        '<row r="4"><c r="B4"><v>1</v></c><c r="C4" t="inlineStr"><is><t>a</t></is></c></row>'
        '<row r="6"><c r="C6" t="inlineStr"><is><t>b</t></is></c></row>'
    )
    assert read(make_xlsx(worksheet(rows)), limits) == (
        ["", "Id", "Name"],
        [(4, [None, 1, "a"]), (6, [None, None, "b"])],
    )


@BOTH
def test_date1904(make_xlsx: XlsxFactory, limits: Limits) -> None:
    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>d</t></is></c></row>'
        '<row r="2"><c r="A2" s="1"><v>0</v></c></row>'
        '<row r="3"><c r="A3" s="1"><v>45000</v></c></row>'
        '<row r="4"><c r="A4" s="2"><v>1.5</v></c></row>'
    )
    path = make_xlsx(worksheet(rows), styles_xml=CORPUS_STYLES, date1904=True)
    assert read(path, limits)[1] == [
        (2, [dt.time(0, 0)]),
        (3, [dt.date(2027, 3, 16)]),
        (4, [dt.datetime(1904, 1, 2, 12, 0)]),
    ]


@BOTH
def test_error_cells_keep_their_text(make_xlsx: XlsxFactory, limits: Limits) -> None:
    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>v</t></is></c></row>'
        '<row r="2"><c r="A2" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>'
        "<row r=\"3\"><c r='A3' t='e'><v>#N/A</v></c></row>"
    )
    assert read(make_xlsx(worksheet(rows)), limits)[1] == [(2, ["#DIV/0!"]), (3, ["#N/A"])]


@BOTH
def test_empty_sheet_has_no_header_row(make_xlsx: XlsxFactory, limits: Limits) -> None:
    error = error_of(make_xlsx(worksheet("")), limits)
    assert (error.code, error.message) == ("import-015", "File has no header row")


@BOTH
def test_sheet_by_name_and_first_worksheet(make_xlsx: XlsxFactory, limits: Limits) -> None:
    one = worksheet('<row r="1"><c r="A1" t="inlineStr"><is><t>first</t></is></c></row>')
    two = worksheet('<row r="1"><c r="A1" t="inlineStr"><is><t>second</t></is></c></row>')
    chart = ("Chart", "chartsheet", "chartsheets/sheet1.xml")
    path = make_xlsx([("One", one), ("Two & Co", two)], extra=[chart])
    assert read(path, limits)[0] == ["first"]
    assert read(path, limits, sheet="Two & Co")[0] == ["second"]
    error = error_of(path, limits, sheet="Three")
    assert (error.code, error.message) == (
        "import-015",
        'Sheet "Three" not found; the workbook has: "One", "Two & Co"',
    )


@BOTH
def test_xlsx_limits(make_xlsx: XlsxFactory, limits: Limits) -> None:
    long = "x" * 11
    rows = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
        '<row r="2"><c r="A2"><v>1</v></c><c r="B2" t="s"><v>2</v></c></row>'
        f'<row r="3"><c r="A3"><v>2</v></c><c r="B3" t="inlineStr"><is><t>{long}</t></is></c></row>'
        '<row r="4"><c r="A4"><v>3</v></c><c r="B4" t="s"><v>3</v></c></row>'
    )
    path = make_xlsx(
        worksheet(rows), shared=["<t>a</t>", "<t>b</t>", "<t>ok</t>", f"<t>{long}</t>"]
    )
    error = error_of(
        path, Limits(max_rows=1, xlsx_calamine_max_bytes=limits.xlsx_calamine_max_bytes)
    )
    assert (error.code, error.message) == ("import-040", "File has more than 1 rows")
    error = error_of(
        path, Limits(max_columns=1, xlsx_calamine_max_bytes=limits.xlsx_calamine_max_bytes)
    )
    # The header's second cell is past the limit; both readers name it.
    assert (error.code, error.message) == (
        "import-040",
        "Cell B1 is beyond the last column allowed (A, column 1)",
    )
    short = Limits(max_cell_chars=10, xlsx_calamine_max_bytes=limits.xlsx_calamine_max_bytes)
    error = error_of(path, short)
    assert (error.code, error.message) == (
        "import-040",
        "Row 3, column 2: a value is longer than 10 characters",
    )
    # A long shared string is only an error where a cell uses it.
    with open_table(path, "xlsx", limits=short) as table:
        rows_read = table.rows()
        assert next(rows_read) == (2, [1, "ok"])
        with pytest.raises(TableError, match="Row 3, column 2"):
            next(rows_read)


def test_value_beyond_headers_names_the_row(make_xlsx: XlsxFactory) -> None:
    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row>'
        '<row r="2"><c r="A2"><v>1</v></c><c r="C2" s="0"/></row>'
        '<row r="3"><c r="A3"><v>1</v></c><c r="C3"><v>5</v></c></row>'
    )
    error = error_of(make_xlsx(worksheet(rows)))
    assert (error.code, error.message) == (
        "import-015",
        "Row 3: column 3 has a value but no header",
    )


def test_both_paths_agree_on_date_serials(make_xlsx: XlsxFactory) -> None:
    """Rounding to the millisecond, the 1900 leap-year bug, times below 1, durations."""
    rng = random.Random(7)
    serials = [rng.uniform(0, 80_000) for _ in range(150)] + [rng.uniform(-2, 2) for _ in range(50)]
    serials += [45_000 + (k + 0.5) / 86_400_000 for k in range(0, 700, 7)]  # half milliseconds
    serials += [0, 1, 59, 59.5, 60, 60.5, 61, 2_958_465.5, 2_958_466, 3_000_000]
    header = "".join(f'<c r="{c}1" t="inlineStr"><is><t>{c}</t></is></c>' for c in "ABC")
    rows = f'<row r="1">{header}</row>' + "".join(
        f'<row r="{i}"><c r="A{i}" s="2"><v>{v!r}</v></c><c r="B{i}" s="6"><v>{v!r}</v></c>'
        f'<c r="C{i}" s="1"><v>{v!r}</v></c></row>'
        for i, v in enumerate(serials, 2)
    )
    path = make_xlsx(worksheet(rows), styles_xml=CORPUS_STYLES)
    calamine, streaming = read(path, CALAMINE), read(path, STREAMING)
    assert len(calamine[1]) == len(serials)
    assert calamine == streaming
    as_texts = read(path, CALAMINE, dates_as_text=True)
    assert as_texts == read(path, STREAMING, dates_as_text=True)
    assert as_texts[1] == as_text(calamine[1])


def test_xls_through_calamine(tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["Name", "Qty", "When", "Ok", "Code"],
        ["Ann", 123.0, ("date", 45000), True, "007"],
        [],
        [None, 1.98e17, ("date", 45000.5), False, ("error", 0x2A)],
        [None, 0.5],
    ]
    path = build_xls(tmp_path / "old.xls", rows, sheet="Data")
    with open_table(path, "xls") as table:
        assert table.headers == ["Name", "Qty", "When", "Ok", "Code"]
        assert list(table.rows()) == [
            (2, ["Ann", 123, dt.date(2023, 3, 15), True, "007"]),
            # XLS has only the calamine reader, which drops error values.
            (4, [None, 198000000000000000, dt.datetime(2023, 3, 15, 12, 0), False, None]),
            (5, [None, 0.5, None, None, None]),
        ]
    with open_table(path, "xls", dates_as_text=True) as table:
        assert [cells[2] for _, cells in table.rows()] == [
            "2023-03-15",
            "2023-03-15 12:00:00",
            None,
        ]
    with pytest.raises(TableError) as caught:
        open_table(path, "xls", sheet="Other")
    assert caught.value.message == 'Sheet "Other" not found; the workbook has: "Data"'
    broken = tmp_path / "broken.xls"
    broken.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    with pytest.raises(TableError) as caught:
        open_table(broken, "xls")
    assert caught.value.code == "import-015"


def test_xls_date1904(tmp_path: Path) -> None:
    path = build_xls(tmp_path / "old.xls", [["d"], [("date", 45000)]], date1904=True)
    with open_table(path, "xls") as table:
        assert list(table.rows()) == [(2, [dt.date(2027, 3, 16)])]


# --- dialects only the streaming reader sees (other writers, odd but valid XML) ----------


def test_prefixed_namespace(make_xlsx: XlsxFactory) -> None:
    rows = (
        '<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>h</x:t></x:is></x:c></x:row>'
        '<x:row r="2"><x:c r="A2"><x:v>5</x:v></x:c></x:row>'
    )
    path = make_xlsx(worksheet(rows, prefix="x"))
    assert read(path, STREAMING) == read(path, CALAMINE) == (["h"], [(2, [5])])


def test_cells_and_rows_without_references(make_xlsx: XlsxFactory) -> None:
    """The shape loadbay's own XLSX export writes: no `r` anywhere, inline strings."""
    rows = (
        '<row><c t="inlineStr"><is><t>id</t></is></c><c t="inlineStr"><is><t>name</t></is></c>'
        "</row><row/>"
        '<row><c><v>1</v></c><c t="inlineStr"><is><t xml:space="preserve"> a </t></is></c></row>'
        '<row customHeight="1"><c/><c t="inlineStr"><is><t>b</t></is></c></row>'
    )
    path = make_xlsx(worksheet(rows))
    expected = (["id", "name"], [(3, [1, " a "]), (4, [None, "b"])])
    assert read(path, STREAMING) == read(path, CALAMINE) == expected


def test_comments_cdata_and_pretty_printing(make_xlsx: XlsxFactory) -> None:
    rows = (
        '\n  <row r="1">\n    <c r="A1" t="inlineStr">\n      <is><t>h</t></is>\n    </c>\n'
        '    <c r="B1" t="inlineStr"><is><t>k</t></is></c>\n  </row>\n  <!-- a </row> note -->\n'
        '  <row r="2">\n    <c r="A2" t="inlineStr">\n      <is><t><![CDATA[<b> & <c r="Z9">]]></t></is>\n'
        '    </c>\n    <c r="B2">\n      <v>2</v>\n    </c>\n  </row>\n'
    )
    path = make_xlsx(worksheet(rows, head="<!-- generated -->"))
    assert (
        read(path, STREAMING)
        == read(path, CALAMINE)
        == (
            ["h", "k"],
            [(2, ['<b> & <c r="Z9">', 2])],
        )
    )


def test_utf16_sheet_xml(make_xlsx: XlsxFactory) -> None:
    xml = worksheet('<row r="1"><c r="A1" t="inlineStr"><is><t>Città</t></is></c></row>')
    path = make_xlsx([("S", xml.replace('"UTF-8"', '"UTF-16"').encode("utf-16"))])
    assert read(path, STREAMING)[0] == ["Città"]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ('<row r="1"><c r="A1" t="s"><v>7</v></c></row>', "Row 1: a cell value is malformed"),
        ('<row r="1"><c r="A1"><v>abc</v></c></row>', "Row 1: a cell value is malformed"),
        ('<row r="1"><c r="A1" t="x"><v>1</v></c></row>', "The sheet has a cell of unknown type 'x'"),
        ('<row r="1"><c r="A1" t="str"><v>&bogus;</v></c></row>', "The sheet XML has a bad reference &bogus;"),
        ('<row r="1"><c r="AAAAA1"><v>1</v></c></row>', "Row 1: bad cell reference AAAAA"),
    ],
)  # fmt: skip
def test_malformed_sheets(make_xlsx: XlsxFactory, rows: str, message: str) -> None:
    error = error_of(make_xlsx(worksheet(rows), shared=["<t>a</t>"]))
    assert (error.code, error.message) == ("import-015", message)


def test_doctype_is_refused(make_xlsx: XlsxFactory) -> None:
    xml = worksheet('<row r="1"><c r="A1"><v>1</v></c></row>')
    xml = xml.replace("<worksheet", '<!DOCTYPE x [<!ENTITY e "boom">]><worksheet')
    assert error_of(make_xlsx(xml)).code == "import-015"


# --- the workbook around the sheet ---------------------------------------------------


def test_not_a_workbook(tmp_path: Path) -> None:
    garbage = tmp_path / "x.xlsx"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    error = error_of(garbage)
    assert (error.code, error.message) == ("import-015", "The file is not a valid XLSX workbook")
    other_zip = tmp_path / "y.xlsx"
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("readme.txt", "hello")
    assert error_of(other_zip).message == "The file is not a valid XLSX workbook"


@BOTH
def test_corrupt_sheet_data(make_xlsx: XlsxFactory, limits: Limits) -> None:
    rows = '<row r="1"><c r="A1" t="inlineStr"><is><t>h</t></is></c></row>'
    rows += '<row r="2"><c r="A2"><v>5</v></c></row>'
    path = make_xlsx(worksheet(rows), compression=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    data[data.find(b"<v>5</v>") + 3] = ord("6")  # the stored CRC no longer matches
    path.write_bytes(bytes(data))
    error = error_of(path, limits)
    assert error.code == "import-015"
    assert "Bad CRC-32" in error.message


def test_zip_bomb_by_size(make_xlsx: XlsxFactory) -> None:
    path = make_xlsx(worksheet('<row r="1"><c r="A1"><v>1</v></c></row>', head=" " * 5000))
    size = zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml").file_size
    error = error_of(path, Limits(max_xlsx_uncompressed_bytes=size - 1))
    assert error.code == "import-040"
    assert error.message.startswith("The workbook part xl/worksheets/sheet1.xml is too large")
    assert read(path, Limits(max_xlsx_uncompressed_bytes=size))[0] == ["1"]


def test_zip_bomb_by_ratio(make_xlsx: XlsxFactory) -> None:
    row = '<row r="1"><c r="A1"><v>1</v></c></row>'
    # 11 MB of spaces compress about 1000:1: that is a bomb, not a sheet.
    bomb = make_xlsx(worksheet(row, head=" " * (11 * 1024 * 1024)))
    error = error_of(bomb)
    assert error.code == "import-040"
    # The same ratio on a small part is an ordinary sparse sheet.
    small = make_xlsx(worksheet(row, head=" " * (1024 * 1024)))
    assert read(small, STREAMING)[0] == ["1"]


def test_streaming_memory_is_flat(make_xlsx: XlsxFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx_scan, "BLOCK_BYTES", 16 * 1024)

    def peak(rows: int) -> tuple[int, int, int]:
        body = "".join(
            f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}" t="s"><v>{r % 2}</v></c>'
            f'<c r="C{r}" t="inlineStr"><is><t>text {r} é</t></is></c></row>'
            for r in range(1, rows + 1)
        )
        path = make_xlsx(worksheet(body), shared=["<t>a</t>", "<t>b</t>"])
        del body
        size = zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml").file_size
        tracemalloc.start()
        try:
            with open_table(path, "xlsx", limits=STREAMING) as table:
                count = sum(1 for _ in table.rows())
            return count, tracemalloc.get_traced_memory()[1], size
        finally:
            tracemalloc.stop()

    small, big = peak(4_000), peak(16_000)
    assert (small[0], big[0]) == (3_999, 15_999)
    assert big[1] < small[1] * 1.25 + 16 * 1024
    assert big[1] < big[2] / 4


# --- number formats --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("dd/mm/yyyy", DATETIME),
        ("yyyy-mm-dd hh:mm:ss", DATETIME),
        ("H:MM:SS;@", DATETIME),
        ('m"M"d"D";@', DATETIME),
        ('[$-404]e"\\xfc"m', DATETIME),
        ("mmm-yy", DATETIME),
        ("[h]:mm:ss", DURATION),
        ("[mm]:ss", DURATION),
        ("[Blue]\\+[h]:mm;[Red]\\-[h]:mm", DURATION),
        ("[>=100][Magenta][s].00", DURATION),
        ("General", 0),
        ("0.00", 0),
        ("#,##0", 0),
        ('"Qty" 0', 0),
        ("[Red]0.00", 0),
        ("0.00E+00", 0),
        ("\\Y000000", 0),
        ('#,##0.0####" YMD"', 0),
        ('"$"#,##0_);[Red]("$"#,##0)', 0),
        ("#,##0*y", 0),
        ("[>=100][Magenta]General", 0),
        ("0;[Red]dd/mm/yy", 0),
        ("am/pm", DATETIME),
    ],
)
def test_format_kind(code: str, kind: int) -> None:
    assert format_kind(code) == kind


SHARED_MIX = [
    "<t>plain</t>", "<t>Toko 12</t>", "<t></t>", "<t/>", "<t> outer </t>",
    '<t xml:space="preserve"> kept </t>', "<t>a &amp; b &lt;c&gt;</t>", "<t>x_x0041_y</t>",
    "<t>é€😀 Ünïcode</t>", "<t>line1\r\nline2</t>", '<r><t>Ri</t></r><r><t xml:space="preserve">ch </t></r>',
    '<t>漢字</t><rPh sb="0" eb="2"><t>かんじ</t></rPh><phoneticPr fontId="1"/>',
    "<t><![CDATA[a<b]]></t>", "<t>a<!-- note -->b</t>", "<t>   </t>",
]  # fmt: skip


@pytest.mark.parametrize("block", [7, 64, 1 << 20])
@pytest.mark.parametrize("ascii_only", [True, False])
def test_shared_strings_read_as_calamine_reads_them(
    make_xlsx: XlsxFactory, monkeypatch: pytest.MonkeyPatch, block: int, ascii_only: bool
) -> None:
    """Plain items (the fast path, whole blocks at once) and every other shape of `<si>`
    (item by item), across block boundaries: the same texts as python-calamine gives."""
    rng = random.Random(block)
    plain = [f"<t>Outlet {i} {'Jl. Merdeka' if i % 2 else 'é'}</t>" for i in range(300)]
    if ascii_only:
        plain = [f"<t>Outlet {i}</t>" for i in range(300)]
    shared = plain + SHARED_MIX + plain[:50]
    order = list(range(len(shared)))
    rng.shuffle(order)
    body = "".join(
        f'<row r="{r}"><c r="A{r}" t="s"><v>{i}</v></c><c r="B{r}"><v>{r}</v></c></row>'
        for r, i in enumerate(order, 2)
    )
    path = make_xlsx(worksheet('<row r="1"><c r="A1" t="inlineStr"><is><t>T</t></is></c>'
                               '<c r="B1" t="inlineStr"><is><t>N</t></is></c></row>' + body),
                     shared=shared)  # fmt: skip
    monkeypatch.setattr(xlsx_scan, "BLOCK_BYTES", block)
    streaming = read(path, STREAMING)
    assert streaming == read(path, CALAMINE)
    texts = {cells[1]: cells[0] for _, cells in streaming[1]}
    by_index = {i: texts[r] for r, i in enumerate(order, 2)}
    mix = [by_index[len(plain) + k] for k in range(len(SHARED_MIX))]
    assert mix == [
        "plain", "Toko 12", None, None, "outer", " kept ", "a & b <c>", "xAy",
        "é€😀 Ünïcode", "line1\nline2", "Rich ", "漢字", "a<b", "ab", None,
    ]  # fmt: skip


def test_shared_strings_are_stored_compactly() -> None:
    """A million distinct texts as a list of str took ~477 MB in a 1M-row workbook; the
    table keeps their UTF-8 bytes and an offset each."""
    texts = [f"Toko Sumber Rejeki {i}" for i in range(200_000)]
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="x">'
        + "".join(f"<si><t>{t}</t></si>" for t in texts)
        + "</sst>"
    ).encode()
    tracemalloc.start()
    try:
        table = xlsx_scan.scan_shared_strings(io.BytesIO(xml), Limits())
        kept = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    as_list = sum(sys.getsizeof(t) for t in texts) + sys.getsizeof(texts)
    assert kept < as_list * 0.4, (kept, as_list)
    assert len(table) == 200_000 and table.longest == len(texts[-1])
    assert (table[0], table[123_456], table[199_999]) == (texts[0], texts[123_456], texts[-1])
    with pytest.raises(IndexError):
        table[200_000]
    with pytest.raises(IndexError):
        table[-1]


@pytest.mark.parametrize("block", [5, 33, 1 << 20])
@pytest.mark.parametrize("prefix", ["", "x:"])
def test_shared_strings_odd_items_keep_every_index(
    monkeypatch: pytest.MonkeyPatch, block: int, prefix: str
) -> None:
    """`<si/>` (no `</si>`), items after the last `</si>`, and a comment or CDATA holding
    `</si>` across a block boundary: every later index still points at its own text."""
    p = prefix
    items = [
        f"<{p}si><{p}t>a</{p}t></{p}si>",
        f"<{p}si/>",
        f"<{p}si><{p}t>c</{p}t></{p}si>",
        f"<!-- a comment with </{p}si> in it -->",
        f"<{p}si><{p}t><![CDATA[x</{p}si>y]]></{p}t></{p}si>",
        f'<{p}si count="1"/>',
        f"<{p}si><{p}t>e</{p}t></{p}si>",
        f"<{p}si/>",
    ]
    xmlns = f' xmlns:{p[:-1]}="x"' if p else ' xmlns="x"'
    xml = f'<?xml version="1.0"?><{p}sst{xmlns}>{"".join(items)}</{p}sst>'.encode()
    monkeypatch.setattr(xlsx_scan, "BLOCK_BYTES", block)
    table = xlsx_scan.scan_shared_strings(io.BytesIO(xml), Limits())
    assert [table[i] for i in range(len(table))] == [
        "a",
        None,
        "c",
        f"x</{p}si>y",  # CDATA keeps what it holds
        None,
        "e",
        None,
    ]


def test_a_comment_holding_row_end_across_blocks(
    make_xlsx: XlsxFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>H</t></is></c></row>'
        '<!-- old rows: </row><row r="9"> -->'
        '<row r="2"><c r="A2"><v>2</v></c></row>'
    )
    path = make_xlsx(worksheet(rows))
    for block in (13, 40, 1 << 20):
        monkeypatch.setattr(xlsx_scan, "BLOCK_BYTES", block)
        assert read(path, STREAMING) == (["H"], [(2, [2])])


def test_an_element_larger_than_the_limits_is_refused(
    make_xlsx: XlsxFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row, or a shared string, that never ends within what the limits allow is an
    import-040, not a read of the whole part into memory."""
    monkeypatch.setattr(xlsx_scan, "BLOCK_BYTES", 64)
    huge = "x" * 3000
    row = f'<row r="1"><c r="A1" t="inlineStr"><is><t>{huge}</t></is></c></row>'
    error = error_of(
        make_xlsx(worksheet(row)),
        Limits(xlsx_calamine_max_bytes=0, max_columns=1, max_cell_chars=10),
    )
    assert (error.code, error.message) == (
        "import-040",
        "The sheet XML has an element larger than the limits",
    )
    xml = f'<sst xmlns="x"><si><t>{huge}</t></si></sst>'.encode()
    with pytest.raises(TableError) as caught:
        xlsx_scan.scan_shared_strings(io.BytesIO(xml), Limits(max_cell_chars=2))
    assert caught.value.code == "import-040"
