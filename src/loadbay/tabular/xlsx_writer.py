"""Streaming XLSX writer: inline strings, one pass, flat memory.

Rows become SpreadsheetML text in blocks and go straight through a deflate
stream into the zip (`StreamingZip`, whose docstring says why it is not
`zipfile`); nothing of a sheet is kept once written. There is no
shared-strings table (it would hold every distinct string until the end), so
text cells are inline strings. Cells carry no `r="B7"` reference: it is
optional (ECMA-376 18.3.1.4), Excel, LibreOffice and calamine place such cells
in order, and leaving it out makes the file a third smaller and the writer
~15% faster. (A few third-party readers, e.g. ClosedXML and EPPlus, insist on it.)
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, BinaryIO, Self
from xml.sax.saxutils import quoteattr

from loadbay.tabular.zip_writer import Deflated, DeflateSink, StreamingZip

if TYPE_CHECKING:
    from loadbay.tabular.writers import Cell

MAX_ROWS = 1_048_576
MAX_COLS = 16_384
MAX_CELL_CHARS = 32_767
# 200k rows x 12 columns: level 1 gives 15.4 MB; 3 is 11% smaller and ~20% slower,
# 6 is 24% smaller and ~45% slower. Speed is the scarcer resource here.
COMPRESSLEVEL = 1
_CACHE_SIZE, _CACHE_CHARS = 5_000, 40  # at most ~1 MB of remembered cells
_FLUSH_ITEMS = 30_000  # pieces of XML: ~2,000 rows of 12 cells, ~1 MB, per deflate call

# Excel keeps 15 significant digits: a larger integer (an id, a phone number
# with a country code, a card number) would be shown and edited rounded to
# 15 digits, and beyond 2**53 already stored rounded. As text it stays exact.
_INT_LIMIT = 10**15
_FLOAT_LIMIT = 9.99999999999999e307  # Excel's largest number; NaN fails both tests
_EPOCH = dt.date(1899, 12, 30).toordinal()
_EPOCH_DT = dt.datetime(1899, 12, 30)
# Excel counts a 1900-02-29 that never was, so its serial numbers before
# March 1900 differ from LibreOffice's by a day; those dates are written as
# text, which every reader shows the same. Before 1900 there are no serials.
_LEAP_BUG_END = dt.date(1900, 3, 1)
_DAY = dt.timedelta(days=1)

_STYLE_DATE, _STYLE_DATETIME, _STYLE_TIME, _STYLE_HEADER, _STYLE_BAD = 1, 2, 3, 4, 5

# Characters XML 1.0 cannot carry (and CR, which parsers turn into LF), the
# markup characters, and a literal "_xHHHH_" that Excel would decode (any case,
# to be safe: escaping one Excel would not decode changes nothing). The
# plain character class is the quick test (twice as fast as the full pattern).
_SPECIAL = re.compile(
    '[&<>"\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|_(?=[xX][0-9A-Fa-f]{4}_)'
)
_MAYBE_SPECIAL = re.compile('[&<>"\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff_]')
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;", "_": "_x005F_"}
_TOO_LONG = "text is longer than the 32,767 characters a cell holds"
_SHEET_NAME = re.compile(r"(?!')[^\\/?*\[\]:\x00-\x1f]{1,31}(?<!')")

_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_CT_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"

_STYLES = (
    _XML_DECL + f'<styleSheet xmlns="{_NS_MAIN}">'
    '<numFmts count="3"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/>'
    '<numFmt numFmtId="166" formatCode="hh:mm:ss"/></numFmts>'
    '<fonts count="3"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><color rgb="FF9C0006"/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    "</fonts>"
    '<fills count="3"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFFFC7CE"/></patternFill></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="6"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    # Excel's own "Bad" look: dark red text on light red, for a cell marked `Highlighted`
    '<xf numFmtId="0" fontId="2" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


class Highlighted:
    """A cell to be seen: its value's text on a light red fill (a failed row's bad cell)."""

    __slots__ = ("text",)

    def __init__(self, value: object) -> None:
        self.text = "" if value is None else str(value)


def _escape_match(m: re.Match[str]) -> str:
    c = m.group()
    return _ESCAPES.get(c) or f"_x{ord(c):04X}_"


def _col_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _text_xml(s: str, style: str = "") -> str:
    """An inline-string cell; the caller has checked the length."""
    preserve = s.strip() is not s  # else readers trim the spaces away
    if _MAYBE_SPECIAL.search(s) is not None:
        s = _SPECIAL.sub(_escape_match, s)
    if preserve:
        return f'<c t="inlineStr"{style}><is><t xml:space="preserve">{s}</t></is></c>'
    return f'<c t="inlineStr"{style}><is><t>{s}</t></is></c>'


def _too_long(s: str) -> bool:
    # Excel counts UTF-16 units: an emoji is two.
    return len(s) > MAX_CELL_CHARS or (
        len(s) > MAX_CELL_CHARS // 2 and len(s.encode("utf-16-le")) > 2 * MAX_CELL_CHARS
    )


def _day_fraction(t: dt.time) -> float:
    # One correctly rounded division: the nearest double to the exact time. A
    # value a hair below it (say 12 truncated decimals) shows one second early
    # in LibreOffice, which floors.
    return (((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond) / 86_400_000_000


def _other_xml(v: object) -> str | None:
    """Cells off the fast path: time, Decimal, subclasses; None for an unknown type."""
    if isinstance(v, Highlighted):
        style = f' s="{_STYLE_BAD}"'
        return _text_xml(v.text, style) if v.text else f"<c{style}/>"
    if isinstance(v, bool):
        return '<c t="b"><v>1</v></c>' if v else '<c t="b"><v>0</v></c>'
    if isinstance(v, int):
        return f"<c><v>{int(v)}</v></c>" if -_INT_LIMIT < v < _INT_LIMIT else _text_xml(str(v))
    if isinstance(v, float):
        if -_FLOAT_LIMIT <= v <= _FLOAT_LIMIT:
            return f"<c><v>{float(v)!r}</v></c>"
        return _text_xml(str(float(v)))
    if isinstance(v, str):
        return _text_xml(str(v)) if v else "<c/>"
    if isinstance(v, Decimal):
        # Beyond 15 significant digits Excel would round it; text keeps it exact.
        if v.is_finite() and len("".join(map(str, v.as_tuple().digits)).rstrip("0")) <= 15:
            f = float(v)
            if -_FLOAT_LIMIT <= f <= _FLOAT_LIMIT:
                return f"<c><v>{f!r}</v></c>"
        return _text_xml(str(v))
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None or v.date() < _LEAP_BUG_END:
            # No time zone in a serial number; shifting to UTC would change the value.
            return _text_xml(v.isoformat(sep=" "))
        naive = dt.datetime.combine(v.date(), v.time())  # a subclass's own arithmetic aside
        return f'<c s="{_STYLE_DATETIME}"><v>{(naive - _EPOCH_DT) / _DAY!r}</v></c>'
    if isinstance(v, dt.date):
        if v < _LEAP_BUG_END:
            return _text_xml(v.isoformat())
        return f'<c s="{_STYLE_DATE}"><v>{v.toordinal() - _EPOCH}</v></c>'
    if isinstance(v, dt.time):
        if v.tzinfo is not None:
            return _text_xml(v.isoformat())
        return f'<c s="{_STYLE_TIME}"><v>{_day_fraction(v)!r}</v></c>'
    return None


class XlsxWriter:
    """Writes sheets one after another; `write_rows` is the fast path.

    Cells: str as inline text (never a formula), bool, int/float/Decimal as
    numbers (as text when Excel would round them: integers of 16+ digits,
    Decimals of 16+ significant digits, NaN/inf), naive datetime/date/time as
    serial numbers with a date style; tz-aware ones, and dates before March
    1900, as ISO text. "" and None are empty cells. Errors name the sheet row
    (the header is row 1) and the column; a row that fails is left out whole,
    so after a ValueError for a full sheet the caller can go on in a new one.
    """

    def __init__(
        self, target: str | os.PathLike[str] | BinaryIO, *, compresslevel: int = COMPRESSLEVEL
    ) -> None:
        if isinstance(target, str | os.PathLike):
            self._file: BinaryIO | None = open(target, "wb")  # noqa: SIM115 - closed in close()
            fp: BinaryIO = self._file
        else:
            self._file, fp = None, target
        self._fp = fp
        self._zip = StreamingZip(fp, compresslevel)
        self._sheets: list[str] = []
        self._in_sheet = False
        self._closed = False
        self._row = 0
        self._max_rows = MAX_ROWS
        self._pending: list[str] = []
        self._xml_of_text: dict[str, str] = {}
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._zip.add("_rels/.rels", _ROOT_RELS)
        self._zip.add("docProps/app.xml", _APP)
        self._zip.add("docProps/core.xml", _CORE.format(created=created))
        self._zip.add("xl/styles.xml", _STYLES)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def add_sheet(
        self,
        name: str,
        headers: list[str] | None = None,
        *,
        widths: list[float] | None = None,
        freeze_header: bool = True,
    ) -> None:
        """Finish the current sheet and start the next; headers become a bold row 1.

        Without `widths`, columns are made wide enough for their header.
        """
        self._check_open()
        self._check_sheet_name(name)
        headers = list(headers or [])
        if len(headers) > MAX_COLS or not all(isinstance(h, str) for h in headers):
            raise ValueError(f"headers must be at most {MAX_COLS:,} strings")
        if any(_too_long(h) for h in headers):
            raise ValueError(_TOO_LONG.replace("text", "a header"))
        if widths is None:
            widths = [min(max(len(h) * 1.1 + 2, 8.43), 60.0) for h in headers]
        if len(widths) > MAX_COLS or not all(0 < w <= 255 for w in widths):
            raise ValueError("column widths must be between 0 and 255, at most one a column")
        self._end_sheet()
        self._sheets.append(name)
        self._zip.begin(f"xl/worksheets/sheet{len(self._sheets)}.xml")
        self._in_sheet, self._row = True, 0
        selected = ' tabSelected="1"' if len(self._sheets) == 1 else ""
        pane = (
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
            if headers and freeze_header
            else ""
        )
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{float(w)!r}" customWidth="1"/>'
            for i, w in enumerate(widths, 1)
        )
        self._zip.write(
            f'{_XML_DECL}<worksheet xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}"><sheetViews>'
            f'<sheetView{selected} workbookViewId="0">{pane}</sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/>{"<cols>" + cols + "</cols>" if cols else ""}'
            "<sheetData>".encode()
        )
        if headers:
            self._row = 1
            bold = f' s="{_STYLE_HEADER}"'
            cells = "".join(_text_xml(h, bold) if h else "<c/>" for h in headers)
            self._pending.append(f'<row r="1">{cells}</row>')

    def write_row(self, cells: Sequence[Cell | Highlighted]) -> None:
        self.write_rows((cells,))

    def write_rows(self, rows: Iterable[Sequence[Cell | Highlighted]]) -> None:
        self._check_open()
        if not self._in_sheet:
            raise RuntimeError("call add_sheet() before writing rows")
        out = self._pending
        append = out.append
        n, max_rows, int_limit, float_limit = self._row, self._max_rows, _INT_LIMIT, _FLOAT_LIMIT
        epoch, leap_end, epoch_dt, day = _EPOCH, _LEAP_BUG_END, _EPOCH_DT, _DAY
        leap_end_dt = dt.datetime.combine(leap_end, dt.time())
        maybe_special, special, escape = _MAYBE_SPECIAL.search, _SPECIAL.sub, _escape_match
        flush_at, cache = _FLUSH_ITEMS, self._xml_of_text
        cached = cache.get
        v: Any  # the if-chain below narrows it by type(); mypy cannot follow that
        # A row that fails half-written is taken back out, so the sheet stays
        # well-formed and a caller may go on (e.g. start the next sheet).
        mark, done = len(out), n
        try:
            for row in rows:
                if n >= max_rows:
                    raise ValueError(
                        f"sheet {self._sheets[-1]!r} is full: an XLSX sheet holds at most"
                        f" {max_rows:,} rows, header included"
                    )
                if len(row) > MAX_COLS:
                    raise ValueError(f"row {n + 1}: {len(row):,} cells, more than {MAX_COLS:,}")
                n += 1
                append(f'<row r="{n}">')
                # One type() call and an if-chain in the order of frequency: this
                # loop is the writer's whole cost.
                for v in row:
                    t = type(v)
                    if t is str:
                        # Exports repeat short texts (statuses, hubs, cities): their
                        # finished XML is remembered, which is ~15% of the whole time.
                        xml = cached(v)
                        if xml is not None:
                            append(xml)
                            continue
                        if not v:
                            append("<c/>")
                            continue
                        if len(v) > MAX_CELL_CHARS // 2 and _too_long(v):
                            raise ValueError(self._locate(n, row, v, _TOO_LONG))
                        text = v
                        # str.strip returns the very same object when there is nothing to strip
                        preserve = v.strip() is not v  # else readers trim the spaces away
                        if maybe_special(v) is not None:
                            v = special(escape, v)
                        if preserve:
                            xml = f'<c t="inlineStr"><is><t xml:space="preserve">{v}</t></is></c>'
                        else:
                            xml = f'<c t="inlineStr"><is><t>{v}</t></is></c>'
                        append(xml)
                        if len(text) <= _CACHE_CHARS:
                            if len(cache) >= _CACHE_SIZE:
                                cache.clear()
                            cache[text] = xml
                    elif t is int:
                        if -int_limit < v < int_limit:
                            append(f"<c><v>{v}</v></c>")
                        else:
                            append(_text_xml(str(v)))
                    elif v is None:
                        append("<c/>")
                    elif t is float:
                        if -float_limit <= v <= float_limit:
                            append(f"<c><v>{v!r}</v></c>")
                        else:
                            append(_text_xml(str(v)))
                    elif t is dt.date and v >= leap_end:
                        append(f'<c s="1"><v>{v.toordinal() - epoch}</v></c>')
                    elif t is dt.datetime and v.tzinfo is None and v >= leap_end_dt:
                        # timedelta / timedelta: one rounding, the nearest double (see _day_fraction)
                        append(f'<c s="2"><v>{(v - epoch_dt) / day!r}</v></c>')
                    elif t is bool:
                        append('<c t="b"><v>1</v></c>' if v else '<c t="b"><v>0</v></c>')
                    else:
                        text = v.text if isinstance(v, Highlighted) else v
                        if isinstance(text, str) and _too_long(text):
                            raise ValueError(self._locate(n, row, v, _TOO_LONG))
                        xml = _other_xml(v)
                        if xml is None:
                            raise TypeError(self._locate(n, row, v, f"cannot write a {t.__name__}"))
                        append(xml)
                append("</row>")
                if len(out) > flush_at:
                    self._flush()
                mark, done = len(out), n
        except BaseException:
            del out[mark:]
            raise
        finally:
            self._row = done

    def splice_rows(self, source: BinaryIO, piece: Deflated, rows: int) -> None:
        """Add `rows` rows another process wrote (`XlsxRowsPart`) to the current sheet."""
        self._check_open()
        if not self._in_sheet:
            raise RuntimeError("call add_sheet() before writing rows")
        if self._row + rows > self._max_rows:
            raise ValueError(f"sheet {self._sheets[-1]!r} is full")
        self._flush()
        self._zip.splice(source, piece)
        self._row += rows

    def close(self) -> None:
        if self._closed:
            return
        self._end_sheet()
        if not self._sheets:
            self.add_sheet("Sheet1")
            self._end_sheet()
        self._write_package_parts()
        self._zip.finish()
        self._closed = True
        if self._file is not None:
            self._file.close()
        else:
            # Like zipfile: the caller's stream stays open, but what we wrote must reach it.
            self._fp.flush()

    def abort(self) -> None:
        """Stop without finishing the file (after an error); closes a file we opened."""
        self._closed = True
        self._pending.clear()
        if self._file is not None:
            self._file.close()

    # -- internals -------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the XLSX writer is closed")

    def _check_sheet_name(self, name: str) -> None:
        if not _SHEET_NAME.fullmatch(name):
            raise ValueError(
                f"bad sheet name {name!r}: 1-31 characters, none of \\/?*[]:, no ' at the ends"
            )
        # "History" is reserved by Excel for its change tracking.
        if name.casefold() in {s.casefold() for s in self._sheets} | {"history"}:
            raise ValueError(f"sheet name {name!r} is already used or reserved")

    @staticmethod
    def _locate(n: int, row: Sequence[object], value: object, reason: str) -> str:
        col = next(i for i, v in enumerate(row) if v is value)
        return f"row {n}, column {_col_letters(col)} ({col + 1}): {reason}"

    def _flush(self) -> None:
        if self._pending:
            self._zip.write("".join(self._pending).encode("utf-8"))
            self._pending.clear()

    def _end_sheet(self) -> None:
        if self._in_sheet:
            self._pending.append("</sheetData></worksheet>")
            self._flush()
            self._zip.end()
            self._in_sheet = False

    def _write_package_parts(self) -> None:
        sheets = "".join(
            f'<sheet name={quoteattr(name)} sheetId="{i}" r:id="rId{i}"/>'
            for i, name in enumerate(self._sheets, 1)
        )
        self._zip.add(
            "xl/workbook.xml",
            f'{_XML_DECL}<workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
            f"<bookViews><workbookView/></bookViews><sheets>{sheets}</sheets></workbook>",
        )
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{_NS_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(self._sheets) + 1)
        )
        styles_id = len(self._sheets) + 1
        self._zip.add(
            "xl/_rels/workbook.xml.rels",
            f'{_XML_DECL}<Relationships xmlns="{_NS_PKG_REL}">{rels}'
            f'<Relationship Id="rId{styles_id}" Type="{_NS_REL}/styles" Target="styles.xml"/>'
            "</Relationships>",
        )
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_CT_SHEET}"/>'
            for i in range(1, len(self._sheets) + 1)
        )
        self._zip.add("[Content_Types].xml", _CONTENT_TYPES.format(sheets=overrides))


_ROOT_RELS = (
    f'{_XML_DECL}<Relationships xmlns="{_NS_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_NS_REL}/officeDocument" Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/'
    'metadata/core-properties" Target="docProps/core.xml"/>'
    f'<Relationship Id="rId3" Type="{_NS_REL}/extended-properties" Target="docProps/app.xml"/>'
    "</Relationships>"
)
_APP = (
    f"{_XML_DECL}<Properties xmlns="
    '"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Application>loadbay</Application></Properties>"
)
_CORE = (
    _XML_DECL + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
    'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:dcterms="http://purl.org/dc/terms/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>loadbay</dc:creator>'
    '<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>'
    '<dcterms:modified xsi:type="dcterms:W3CDTF">{created}</dcterms:modified>'
    "</cp:coreProperties>"
)
_CONTENT_TYPES = (
    _XML_DECL + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/docProps/core.xml" '
    'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    '<Override PartName="/docProps/app.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
    "{sheets}</Types>"
)


_SHEET_UNSAFE = re.compile(r"[\\/?*\[\]:\x00-\x1f]")


class XlsxRowsPart(XlsxWriter):
    """Rows of a sheet, numbered from `first_row`, deflated as a piece for `splice_rows`.

    The very row loop of `XlsxWriter` (same cells, same checks), writing into a
    `DeflateSink` instead of a zip: processes write the parts of one big sheet side by
    side, and the sheet's own writer splices them in order. `end` returns the piece."""

    def __init__(  # no super().__init__(): a part has no package around it
        self,
        fp: BinaryIO,
        *,
        first_row: int,
        sheet: str = "Sheet1",
        compresslevel: int = COMPRESSLEVEL,
    ) -> None:
        self._sink = DeflateSink(fp, compresslevel)
        self._file, self._fp = None, fp
        self._sheets, self._in_sheet, self._closed = [sheet], True, False
        self._row, self._max_rows = first_row - 1, MAX_ROWS
        self._pending, self._xml_of_text = [], {}

    def _flush(self) -> None:
        if self._pending:
            self._sink.write("".join(self._pending).encode("utf-8"))
            self._pending.clear()

    def end(self) -> Deflated:
        self._flush()
        self._closed = True
        return self._sink.end(final=False)

    def close(self) -> None:
        self.end()


def safe_sheet_name(name: str, fallback: str = "Data", taken: Sequence[str] = ()) -> str:
    """A sheet name Excel accepts, made from a user's name (a data type's, say)."""
    cleaned = _SHEET_UNSAFE.sub(" ", name).strip().strip("'")[:31].strip().strip("'")
    used = {t.casefold() for t in taken} | {"history"}
    return cleaned if cleaned and cleaned.casefold() not in used else fallback
