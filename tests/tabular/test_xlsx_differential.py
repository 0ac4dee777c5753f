"""The streaming XLSX reader against python-calamine, on random sheets.

Hypothesis draws sheets mixing every cell shape a writer may use (numbers, booleans,
shared and inline strings, rich-text runs, formula text, empty and missing cells),
with or without `r` attributes on rows and cells, and reads each with the streaming
reader at a random block size: the rows must be the ones the calamine path gives.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadbay.tabular import xlsx_scan
from loadbay.tabular.readers import Limits, Row, open_table
from tests.tabular.xlsx_build import build_xlsx, worksheet

CALAMINE = Limits(xlsx_calamine_max_bytes=1 << 40)
STREAMING = Limits(xlsx_calamine_max_bytes=0)

# Text as users type it: letters, digits, spaces, XML's special characters, accents,
# CJK and emoji (outside the BMP).
TEXT = st.lists(
    st.sampled_from([*"abcXYZ019 .,-_&<>\"'/éÜ€漢字😀", "\n", "\t", "\r\n", "_x0041_", "_x000D_"]),
    min_size=1,
    max_size=10,
).map("".join)
NUMBER = st.one_of(
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False, width=64).filter(lambda f: abs(f) < 1e300),
)


def _t(text: str, preserve: bool) -> str:
    space = ' xml:space="preserve"' if preserve else ""
    return f"<t{space}>{escape(text)}</t>"


@st.composite
def rich(draw: st.DrawFn) -> str:
    """A string's inside: one `<t>`, or runs (some bold) of several."""
    parts = draw(st.lists(TEXT, min_size=1, max_size=3))
    if len(parts) == 1 and draw(st.booleans()):
        return _t(parts[0], draw(st.booleans()))
    runs = []
    for part in parts:
        props = "<rPr><b/></rPr>" if draw(st.booleans()) else ""
        runs.append(f"<r>{props}{_t(part, True)}</r>")
    return "".join(runs)


# A cell: (attributes besides r, inner XML, or None for a cell left out).
Cell = tuple[str, str] | None


@st.composite
def cell(draw: st.DrawFn, shared: list[str]) -> Cell:
    kind = draw(st.sampled_from(["missing", "empty", "number", "bool", "shared", "inline", "str"]))
    if kind == "missing":
        return None
    if kind == "empty":
        return ("", "")
    if kind == "number":
        text = draw(st.one_of(NUMBER.map(repr), st.sampled_from(["1E3", "1.5E-7", "-0", "007"])))
        return ("", f"<v>{text}</v>")
    if kind == "bool":
        return (' t="b"', f"<v>{int(draw(st.booleans()))}</v>")
    if kind == "shared":
        shared.append(draw(rich()))
        return (' t="s"', f"<v>{len(shared) - 1}</v>")
    if kind == "inline":
        return (' t="inlineStr"', f"<is>{draw(rich())}</is>")
    return (' t="str"', f"<f>A1</f><v>{escape(draw(TEXT))}</v>")  # a formula's text result


def _letters(column: int) -> str:
    name = ""
    while column:
        column, rest = divmod(column - 1, 26)
        name = chr(65 + rest) + name
    return name


@st.composite
def sheet(draw: st.DrawFn) -> tuple[str, list[str]]:
    """The sheetData XML and the shared-string items it refers to."""
    shared: list[str] = []
    width = draw(st.integers(1, 6))
    xml, number = [], 0
    for _ in range(draw(st.integers(1, 12))):
        cells = draw(st.lists(cell(shared), min_size=0, max_size=width))
        with_refs = draw(st.booleans())  # r on the row and its cells, or nowhere
        number += draw(st.integers(1, 3)) if with_refs else 1  # rows may be skipped
        out = []
        for column, c in enumerate(cells, 1):
            if c is None:
                if not with_refs:
                    out.append("<c/>")  # without r, a gap must still take its place
                continue
            attrs, inner = c
            ref = f' r="{_letters(column)}{number}"' if with_refs else ""
            out.append(f"<c{ref}{attrs}>{inner}</c>" if inner else f"<c{ref}{attrs}/>")
        row_ref = f' r="{number}"' if with_refs else ""
        empty = f"<row{row_ref}/>" if draw(st.booleans()) else f"<row{row_ref}></row>"
        xml.append(f"<row{row_ref}>{''.join(out)}</row>" if out else empty)
    return "".join(xml), shared


def _read(path: Path, limits: Limits) -> tuple[list[str], list[Row]]:
    with open_table(path, "xlsx", limits=limits, has_header_row=False) as table:
        return table.headers, list(table.rows())


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(drawn=sheet(), block=st.integers(1, 2048), shared_file=st.booleans())
def test_streaming_reads_random_sheets_as_calamine_does(
    drawn: tuple[str, list[str]], block: int, shared_file: bool
) -> None:
    rows, shared = drawn
    with tempfile.TemporaryDirectory() as tmp:
        path = build_xlsx(
            Path(tmp) / "book.xlsx",
            [("Sheet1", worksheet(rows))],
            shared=shared if shared or shared_file else None,
        )
        expected = _read(path, CALAMINE)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(xlsx_scan, "BLOCK_BYTES", block)
            assert _read(path, STREAMING) == expected


@pytest.mark.parametrize("block", [7, 1 << 20])
def test_a_self_closing_row_with_r_sets_the_row_number(block: int) -> None:
    rows = '<row r="3"/><row/><row><c><v>7</v></c></row>'
    with tempfile.TemporaryDirectory() as tmp:
        path = build_xlsx(Path(tmp) / "book.xlsx", [("Sheet1", worksheet(rows))])
        assert _read(path, CALAMINE)[1] == [(5, [7])]
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(xlsx_scan, "BLOCK_BYTES", block)
            assert _read(path, STREAMING)[1] == [(5, [7])]  # was 3: its r was ignored
