"""Readers for text formats (CSV, TSV, JSON, NDJSON), sniffing, and the common table rules."""

from __future__ import annotations

import codecs
import csv
import json
import tracemalloc
from pathlib import Path

import pytest

from loadbay.tabular import json_reader, sniff
from loadbay.tabular.readers import (
    Limits,
    Row,
    Table,
    TableError,
    iter_head,
    open_table,
    unique_headers,
)
from loadbay.tabular.sniff import detect_encoding, detect_format, sniff_delimiter


def write(tmp_path: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def read_all(path: Path, fmt: str, **kwargs: object) -> tuple[list[str], list[Row]]:
    with open_table(path, fmt, **kwargs) as table:  # type: ignore[arg-type]
        return table.headers, list(table.rows())


def table_error(path: Path, fmt: str, **kwargs: object) -> TableError:
    with pytest.raises(TableError) as caught:
        read_all(path, fmt, **kwargs)
    return caught.value


# --- format, encoding and delimiter sniffing -------------------------------------------


@pytest.mark.parametrize(
    ("filename", "head", "expected"),
    [
        ("data.xlsx", b"PK\x03\x04\x14\x00[Content_Types].xml", "xlsx"),
        ("renamed.csv", b"PK\x03\x04\x14\x00xl/workbook.xml", "xlsx"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "xls"),
        ("data.bin", b'\xef\xbb\xbf \n [{"a": 1}]', "json"),
        ("data.txt", b'\n{"a": 1}\n{"a": 2}\n', "ndjson"),
        ("data.json", codecs.BOM_UTF16_LE + '[{"a": 1}]'.encode("utf-16-le"), "json"),
        ("data.csv", b"a,b\n1,2\n", "csv"),
        ("DATA.CSV", b"a;b\n", "csv"),
        ("data.txt", b"a\tb\n", "csv"),
        ("data.tsv", b"a\tb\n", "tsv"),
        ("data.tab", b"a\tb\n", "tsv"),
        ("codes.csv", b"[Code],[Name]\n1,2\n", "csv"),
        ("data.ndjson", b"", "ndjson"),
        ("data.jsonl", b"", "ndjson"),
        ("data.json", b"", "json"),
    ],
)
def test_detect_format(filename: str, head: bytes, expected: str) -> None:
    assert detect_format(filename, head) == expected


@pytest.mark.parametrize(
    ("filename", "head"),
    [
        ("report.pdf", b"%PDF-1.7"),
        ("image.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
        ("fake.xlsx", b"id,name\n"),
        ("noextension", b"id,name\n"),
    ],
)
def test_detect_format_rejects_unsupported_files(filename: str, head: bytes) -> None:
    with pytest.raises(TableError) as caught:
        detect_format(filename, head)
    assert caught.value.code == "import-002"
    assert caught.value.message == "The file must be a file of type: csv, xls, xlsx."


def test_detect_encoding_boms_and_fallbacks(tmp_path: Path) -> None:
    assert detect_encoding(write(tmp_path, "a", "id\né\n")) == "utf-8"
    assert detect_encoding(write(tmp_path, "b", codecs.BOM_UTF8 + b"id\n")) == "utf-8-sig"
    assert detect_encoding(write(tmp_path, "c", "id\né\n", "utf-16")) == "utf-16"
    be = codecs.BOM_UTF16_BE + "id".encode("utf-16-be")
    assert detect_encoding(write(tmp_path, "d", be)) == "utf-16"
    # One cp1252 byte after more than a megabyte of ASCII: the whole file is checked.
    ascii_lines = b"id,name\n" + b"1,plain ascii\n" * 100_000
    assert detect_encoding(write(tmp_path, "e", ascii_lines + "2,Café €\n".encode("cp1252"))) == (
        "cp1252"
    )
    # 0x81 is undefined in cp1252, so such a file can only be latin-1.
    assert detect_encoding(write(tmp_path, "f", ascii_lines + b"3,\xe9\x81\n")) == "latin-1"
    # A multi-byte character cut by the 1 MB block boundary is still valid UTF-8.
    cut = b"x" * ((1 << 20) - 1) + "é".encode()
    assert detect_encoding(write(tmp_path, "g", cut)) == "utf-8"


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("a,b,c\n1,2,3\n4,5,6\n", ","),
        ("a;b;c\n1;2,5;3\n4;5,1;6\n", ";"),
        ("a\tb\n1\t2\n", "\t"),
        ("a|b|c\n1|2|3\n", "|"),
        ('name;note\n"x";"a, b, c, d"\n"y";"e, f"\n', ";"),
        ('name,note\n"x","a;b;c;d"\n"y","e;f;g"\n', ","),
        ("single\nvalue\n", ","),
    ],
)
def test_sniff_delimiter(sample: str, expected: str) -> None:
    assert sniff_delimiter(sample, complete=True) == expected


def test_sniff_delimiter_ignores_a_cut_last_record() -> None:
    sample = "a;b\n1;2\n3;4\n" + '5;"unterminated, with, many, commas, a, b, c, d'
    assert sniff_delimiter(sample, complete=False) == ";"


# --- CSV ---------------------------------------------------------------------------------


def test_csv_values_row_numbers_and_header(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "d.csv",
        " Name , Code ,Qty\r\n"
        "Ann,007,  5 \r\n"
        '"Bob ""B""","line1\nline2",\r\n'
        "\r\n"
        " , ,\r\n"
        "Cid,,3\r\n",
    )
    headers, rows = read_all(path, "csv")
    assert headers == ["Name", "Code", "Qty"]
    assert rows == [
        (2, ["Ann", "007", "  5 "]),
        # The quoted newline keeps this one record; row numbers count records.
        (3, ['Bob "B"', "line1\nline2", None]),
        (6, ["Cid", None, "3"]),
    ]


def test_csv_short_rows_are_padded_and_extra_empty_cells_dropped(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "a,b,c\n1\n1,2,3,,  \n")
    assert read_all(path, "csv")[1] == [(2, ["1", None, None]), (3, ["1", "2", "3"])]


def test_csv_value_beyond_the_headers_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "a,b\n1,2\n1,2,,x\n")
    error = table_error(path, "csv")
    assert (error.code, error.message) == (
        "import-015",
        "Row 3: column 4 has a value but no header",
    )


def test_csv_formula_escape_is_undone(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "d.csv",
        "v\n'=SUM(A1)\n'+62 812\n'-5\n'@home\n\"'\tx\"\n'plain\n''=double\n'\n",
    )
    values = [cells[0] for _, cells in read_all(path, "csv")[1]]
    assert values == ["=SUM(A1)", "+62 812", "-5", "@home", "\tx", "'plain", "'=double", "'"]


def test_csv_duplicate_headers_are_numbered_and_empty_ones_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "a, a ,,b\n1,2,3,4\n")
    assert read_all(path, "csv") == (["a", "a (2)", "", "b"], [(2, ["1", "2", "3", "4"])])


def test_csv_trailing_empty_headers_are_dropped(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "a,b,,\n1,2,,\n")
    assert read_all(path, "csv") == (["a", "b"], [(2, ["1", "2"])])


def test_csv_header_is_the_first_non_blank_record(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "\n,,\nid,name\n1,x\n")
    assert read_all(path, "csv") == (["id", "name"], [(4, ["1", "x"])])


@pytest.mark.parametrize(
    ("content", "delimiter"),
    [("a;b\n1;2,5\n", ";"), ("a|b\n1|2\n", "|"), ("a\tb\n1\t2\n", "\t")],
)
def test_csv_sniffed_delimiters(tmp_path: Path, content: str, delimiter: str) -> None:
    headers, rows = read_all(write(tmp_path, "d.csv", content), "csv")
    assert headers == ["a", "b"]
    assert rows[0][1] == content.splitlines()[1].split(delimiter)


def test_tsv_forces_tab(tmp_path: Path) -> None:
    path = write(tmp_path, "d.tsv", "a,b\tc\n1,2\t3\n4,5\t6\n")
    assert read_all(path, "tsv") == (["a,b", "c"], [(2, ["1,2", "3"]), (3, ["4,5", "6"])])


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252"])
def test_csv_encodings(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path, "d.csv", "Name;Città\r\nCafé;€ 5\r\n", encoding)
    assert read_all(path, "csv") == (["Name", "Città"], [(2, ["Café", "€ 5"])])


def test_csv_latin1_fallback(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", b"name\n\xe9\x81\n")
    assert read_all(path, "csv")[1] == [(2, ["é\x81"])]


def test_csv_without_header_row(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "1,2\n\n3,4,5,,\n6\n")
    headers, rows = read_all(path, "csv", has_header_row=False)
    assert headers == ["Column 1", "Column 2", "Column 3"]
    assert rows == [(1, ["1", "2", None]), (3, ["3", "4", "5"]), (4, ["6", None, None])]


@pytest.mark.parametrize("content", ["", "\n\n", " , \n\t\n"])
def test_csv_without_any_row_has_no_header(tmp_path: Path, content: str) -> None:
    error = table_error(write(tmp_path, "d.csv", content), "csv")
    assert (error.code, error.message) == ("import-015", "File has no header row")


def test_csv_row_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "a\n1\n\n2\n3\n")
    assert len(read_all(path, "csv", limits=Limits(max_rows=3))[1]) == 3
    error = table_error(path, "csv", limits=Limits(max_rows=2))
    assert (error.code, error.message) == ("import-040", "File has more than 2 rows")


def test_csv_column_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "a,b,c\n1,2,3\n")
    assert read_all(path, "csv", limits=Limits(max_columns=3))[0] == ["a", "b", "c"]
    error = table_error(path, "csv", limits=Limits(max_columns=2))
    assert (error.code, error.message) == ("import-040", "File has more than 2 columns")


def test_csv_cell_length_limit_names_row_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", f"a,b\n1,{'x' * 10}\n2,{'y' * 11}\n")
    error = table_error(path, "csv", limits=Limits(max_cell_chars=10))
    assert (error.code, error.message) == (
        "import-040",
        "Row 3, column 2: a value is longer than 10 characters",
    )


def test_csv_runaway_quoted_field_hits_the_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", 'a,b\n1,"never closed\n' + "more text\n" * 1000)
    error = table_error(path, "csv", limits=Limits(max_cell_chars=100))
    assert error.code == "import-040"
    assert error.message.startswith("Row 2")
    assert error.message.endswith("a value is longer than 100 characters")
    assert csv.field_size_limit() >= 100 * 4


def test_rows_can_be_read_twice_and_head(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "a\n1\n2\n3\n")
    with open_table(path, "csv") as table:
        first, second = list(table.rows()), list(table.rows())
    assert first == second == [(2, ["1"]), (3, ["2"]), (4, ["3"])]
    assert iter_head(path, "csv", 2) == (["a"], [(2, ["1"]), (3, ["2"])])


def test_closing_a_table_mid_read_releases_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "a\n" + "1\n" * 100)
    table = open_table(path, "csv")
    rows = table.rows()
    next(rows)
    table.close()
    with pytest.raises(StopIteration):
        next(rows)


def test_unknown_format_is_unsupported(tmp_path: Path) -> None:
    error = table_error(write(tmp_path, "d.doc", "x"), "doc")
    assert (error.code, error.message) == ("import-002", "Unsupported file type: doc")


def peak_while_reading(path: Path, fmt: str, **kwargs: object) -> tuple[int, int]:
    """Rows read and the peak of Python allocations while opening and reading them all."""
    tracemalloc.start()
    try:
        with open_table(path, fmt, **kwargs) as table:  # type: ignore[arg-type]
            count = sum(1 for _ in table.rows())
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def assert_flat_memory(small: tuple[int, int], big: tuple[int, int], big_size: int) -> None:
    """Four times the rows may not need noticeably more memory, and never the file's size."""
    assert big[0] == 4 * small[0]
    assert big[1] < small[1] * 1.25 + 16 * 1024
    assert big[1] < big_size / 4


def test_csv_reading_does_not_hold_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sniff, "ENCODING_BLOCK", 64 * 1024)

    def make(rows: int) -> Path:
        path = tmp_path / f"{rows}.csv"
        with path.open("w", encoding="utf-8") as f:
            f.write("id,name,note\n")
            for i in range(rows):
                f.write(f'{i},name {i},"a note, number {i}, é"\n')
        return path

    big = make(80_000)
    assert_flat_memory(
        peak_while_reading(make(20_000), "csv"), peak_while_reading(big, "csv"), big.stat().st_size
    )


# --- JSON and NDJSON ---------------------------------------------------------------------


def test_json_values_and_headers_in_order_of_first_appearance(tmp_path: Path) -> None:
    objects = [
        {"id": 1, " name ": "Ann", "ok": True},
        {"id": 2.5, "tags": ["a", "é"], "ok": False, "extra": {"k": None}},
        {},
        {"id": None, "name2": "", "ok": None},
        {"id": 12345678901234567890, "name2": "  "},
    ]
    path = write(tmp_path, "d.json", json.dumps(objects, indent=2))
    headers, rows = read_all(path, "json")
    assert headers == ["id", "name", "ok", "tags", "extra", "name2"]
    assert rows == [
        (2, [1, "Ann", True, None, None, None]),
        (3, [2.5, None, False, '["a","é"]', '{"k":null}', None]),
        (6, [12345678901234567890, None, None, None, None, "  "]),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"a": 1}, 5]', "Row 3: invalid JSON (expected a JSON object)"),
        ('[{"a": 1}, {"a": }]', "Row 3: invalid JSON (Expecting value)"),
        ('[{"a": 1} {"a": 2}]', "Row 3: invalid JSON (expected ',' or ']')"),
        ('[{"a": 1},]', "Row 3: invalid JSON (Expecting value)"),
        ('[{"a": 1}', "Row 3: invalid JSON (expected ',' or ']')"),
        ('[{"a": "unterminated', "Row 2: invalid JSON (Unterminated string starting at)"),
        ('[{"a": 1}] x', "Unexpected data after the JSON array"),
        ('{"a": 1}', "The JSON file is not an array of objects"),
        ("", "The JSON file is not an array of objects"),
        (b"[\xff]", "The file is not valid UTF-8 text"),
    ],
)
def test_json_errors_name_the_row(tmp_path: Path, content: str | bytes, message: str) -> None:
    error = table_error(write(tmp_path, "d.json", content), "json")
    assert (error.code, error.message) == ("import-015", message)


def test_json_objects_across_block_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(json_reader, "BLOCK_CHARS", 7)
    objects = [{"id": i, "text": "x" * (i % 23), "n": [i] * (i % 4)} for i in range(200)]
    path = write(tmp_path, "d.json", "\ufeff" + json.dumps(objects, indent=1) + "\n\n")
    headers, rows = read_all(path, "json")
    assert headers == ["id", "text", "n"]
    assert len(rows) == 200
    assert rows[41] == (43, [41, "x" * 18, "[41]"])


def test_json_empty_array_has_no_columns(tmp_path: Path) -> None:
    assert read_all(write(tmp_path, "d.json", " [ ] "), "json") == ([], [])


def test_json_limits(tmp_path: Path) -> None:
    path = write(tmp_path, "d.json", json.dumps([{"a": 1, "b": "xyz"}, {"c": 2}, {"a": 3}]))
    error = table_error(path, "json", limits=Limits(max_columns=2))
    assert (error.code, error.message) == ("import-040", "File has more than 2 columns")
    error = table_error(path, "json", limits=Limits(max_rows=2))
    assert (error.code, error.message) == ("import-040", "File has more than 2 rows")
    error = table_error(path, "json", limits=Limits(max_cell_chars=2))
    assert error.message == "Row 2, column 2: a value is longer than 2 characters"


def test_ndjson_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "d.ndjson", '{"a": 1}\r\n\n{"b": "x", "a": [1]}\n  \n{"a": null}\n')
    assert read_all(path, "ndjson") == (["a", "b"], [(2, [1, None]), (4, ["[1]", "x"])])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"a": 1}\n[1]\n', "Row 3: invalid JSON (expected a JSON object)"),
        ('{"a": 1}\n\n{"a": 1\n', "Row 4: invalid JSON (Expecting ',' delimiter)"),
    ],
)
def test_ndjson_errors_name_the_row(tmp_path: Path, content: str, message: str) -> None:
    error = table_error(write(tmp_path, "d.ndjson", content), "ndjson")
    assert (error.code, error.message) == ("import-015", message)


def test_json_reading_does_not_hold_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(json_reader, "BLOCK_CHARS", 16 * 1024)

    def make(rows: int) -> Path:
        path = tmp_path / f"{rows}.json"
        with path.open("w", encoding="utf-8") as f:
            f.write("[")
            for i in range(rows):
                f.write(("," if i else "") + json.dumps({"id": i, "name": f"n {i}", "v": i / 3}))
            f.write("]")
        return path

    big = make(12_000)
    assert_flat_memory(
        peak_while_reading(make(3_000), "json"),
        peak_while_reading(big, "json"),
        big.stat().st_size,
    )


def test_table_is_a_context_manager(tmp_path: Path) -> None:
    with open_table(write(tmp_path, "d.csv", "a\n1\n"), "csv") as table:
        assert isinstance(table, Table)
        assert table.format == "csv"


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["Name", "Phone", "Phone"], ["Name", "Phone", "Phone (2)"]),
        (["a", "a", "a", ""], ["a", "a (2)", "a (3)", ""]),
        (["a", "a (2)", "a"], ["a", "a (2)", "a (3)"]),  # an existing "a (2)" keeps its text
        (["", "x", ""], ["", "x", ""]),
        (["Phone", "phone"], ["Phone", "phone"]),  # different texts: addressable already
    ],
)
def test_repeated_headers_get_their_count(names: list[str], expected: list[str]) -> None:
    assert unique_headers(names) == expected
