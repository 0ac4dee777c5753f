"""XLSX and XLS: which sheet, which reader, and the workbook parts every reader needs.

A sheet whose XML is small is read by python-calamine (fast, but it holds the whole
sheet); a larger one by `xlsx_scan` (streaming). The zip directory gives the sheet's
uncompressed size before anything is inflated, which both picks the reader and stops
zip bombs. Before calamine is given a workbook, every part it reads is inflated here
under the limits (`xlsx_zip`) and the sheet's extent is checked (`xlsx_extent`): a
sheet whose grid would be large goes to the streaming reader instead. XLS (the old
binary format) only has the calamine reader, so its records are checked first
(`xlsx_biff`).
"""

from __future__ import annotations

import datetime
import pathlib
import posixpath
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

import python_calamine

from loadbay.tabular.table import (
    Cell,
    Limits,
    RawRows,
    Table,
    TableError,
    build_table,
    cell_too_long,
    date_text,
    is_blank,
)
from loadbay.tabular.xlsx_biff import PASSWORD_MESSAGE, check_compound
from loadbay.tabular.xlsx_extent import sheet_extent
from loadbay.tabular.xlsx_scan import (
    BLOCK_BYTES,
    CORRUPT_ZIP,
    SharedStrings,
    scan_shared_strings,
    scan_sheet,
)
from loadbay.tabular.xlsx_values import builtin_kind, duration_text, format_kind
from loadbay.tabular.xlsx_zip import check_directory, drain, inflate

_ERROR_CELL = (b't="e"', b"t='e'")
_XML_SPACE = " \t\n\r"


@dataclass
class _Book:
    sheets: list[tuple[str, str]] = field(default_factory=list)  # (name, part) of worksheets
    date1904: bool = False
    shared_strings: str | None = None
    styles: str | None = None


def open_workbook(
    path: pathlib.Path,
    fmt: str,
    *,
    has_header_row: bool,
    sheet: str | None,
    limits: Limits,
    dates_as_text: bool = False,
    header_row: int | None = None,
) -> Table:
    """Open one worksheet: `sheet` is a name or a 0-based index (a name that is all
    digits wins over the index). Without one, the first sheet holding a table (a header
    of two or more columns with rows under it) is read, so a notes sheet before the data
    is passed over; the table says which sheet it read and which there are."""
    names = worksheet_names(path, fmt, limits)
    if not names:
        raise TableError("import-015", "The workbook has no worksheet")

    def open_one(name: str) -> Table:
        table = _open_sheet(path, fmt, name, has_header_row, limits, dates_as_text, header_row)
        table.sheet, table.sheets = name, names
        return table

    if sheet is not None:
        return open_one(pick_sheet(sheet, names))
    if len(names) == 1:
        return open_one(names[0])
    fallback: str | None = None
    for name in names:
        with open_one(name) as probe:
            has_rows = next(probe.rows(), None) is not None
            wide = len(probe.headers) >= 2 or not has_header_row
        if has_rows and wide:
            return open_one(name)
        if has_rows and fallback is None:
            fallback = name
    return open_one(fallback or names[0])


def pick_sheet(sheet: str, names: list[str]) -> str:
    if sheet in names:
        return sheet
    text = sheet.strip()
    if text.isdigit() and int(text) < len(names):
        return names[int(text)]
    raise _no_sheet(sheet, names)


def worksheet_names(path: pathlib.Path, fmt: str, limits: Limits) -> list[str]:
    if fmt == "xls":
        check_compound(path, limits)
        try:
            workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        except python_calamine.PasswordError:
            raise TableError("import-015", PASSWORD_MESSAGE) from None
        except (python_calamine.CalamineError, OSError) as exc:
            raise TableError(
                "import-015", f"The file is not a valid XLS workbook ({exc})"
            ) from None
        try:
            return [
                m.name
                for m in workbook.sheets_metadata
                if m.typ == python_calamine.SheetTypeEnum.WorkSheet
            ]
        finally:
            workbook.close()
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise TableError("import-015", "The file is not a valid XLSX workbook") from None
    with archive:
        for member in archive.infolist():
            check_directory(member, limits)
        return [name for name, _ in _read_book(archive, limits).sheets]


def _open_sheet(
    path: pathlib.Path,
    fmt: str,
    sheet: str,
    has_header_row: bool,
    limits: Limits,
    dates_as_text: bool,
    header_row: int | None,
) -> Table:
    if fmt == "xls":
        return _calamine_table(path, fmt, sheet, has_header_row, limits, dates_as_text, header_row)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise TableError("import-015", "The file is not a valid XLSX workbook") from None
    try:
        for member in archive.infolist():
            check_directory(member, limits)
        book = _read_book(archive, limits)
        name, part = _pick_sheet(book, sheet)
        if _calamine_fits(path, archive, book, name, part, limits):
            archive.close()
            return _calamine_table(
                path, fmt, name, has_header_row, limits, dates_as_text, header_row
            )
        shared = _shared_strings(archive, book.shared_strings, limits)
        date_styles = _date_styles(archive, book.styles, limits)
    except BaseException:
        archive.close()
        raise

    def raw() -> RawRows:
        return scan_sheet(
            archive.open(part), shared, date_styles, book.date1904, limits, dates_as_text
        )

    return build_table(
        fmt,
        raw,
        has_header_row=has_header_row,
        limits=limits,
        on_close=archive.close,
        header_row=header_row,
    )


# --- the calamine path ---------------------------------------------------------------


def _calamine_table(
    path: pathlib.Path,
    fmt: str,
    sheet: str | None,
    has_header_row: bool,
    limits: Limits,
    dates_as_text: bool,
    header_row: int | None = None,
) -> Table:
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    except python_calamine.PasswordError:
        raise TableError("import-015", PASSWORD_MESSAGE) from None
    except (python_calamine.CalamineError, OSError) as exc:
        raise TableError(
            "import-015", f"The file is not a valid {fmt.upper()} workbook ({exc})"
        ) from None
    if sheet is None:
        worksheets = [
            m.name
            for m in workbook.sheets_metadata
            if m.typ == python_calamine.SheetTypeEnum.WorkSheet
        ]
        if not worksheets:
            workbook.close()
            raise TableError("import-015", "The workbook has no worksheet")
        sheet = worksheets[0]
    elif sheet not in workbook.sheet_names:
        names = list(workbook.sheet_names)
        workbook.close()
        raise _no_sheet(sheet, names)
    name = sheet

    def raw() -> RawRows:
        return _calamine_rows(workbook, name, limits, dates_as_text)

    return build_table(
        fmt,
        raw,
        has_header_row=has_header_row,
        limits=limits,
        on_close=workbook.close,
        header_row=header_row,
    )


def _calamine_rows(
    workbook: python_calamine.CalamineWorkbook, name: str, limits: Limits, dates_as_text: bool
) -> RawRows:
    try:
        sheet = workbook.get_sheet_by_name(name)
    except python_calamine.CalamineError as exc:
        raise TableError("import-015", f"Sheet {name!r} cannot be read ({exc})") from None
    start = sheet.start
    if start is None:
        return
    # iter_rows starts at the used range's first column (and, in python-calamine, yields
    # the rows above it as empty rows): put the missing left columns back so column
    # positions and row numbers match the streaming reader.
    lead: list[Cell] = [None] * start[1]
    max_chars = limits.max_cell_chars
    for number, values in enumerate(sheet.iter_rows(), 1):
        cells = lead.copy()
        append = cells.append
        for value in values:
            cell: Cell
            if isinstance(value, str):
                cell = value or None
                if value and len(value) > max_chars:
                    raise cell_too_long(number, len(cells), limits)
            elif isinstance(value, float):
                cell = int(value) if value.is_integer() else value
            elif isinstance(value, datetime.timedelta):
                cell = duration_text(value // datetime.timedelta(milliseconds=1))
            elif dates_as_text and isinstance(value, datetime.date | datetime.time):
                cell = date_text(value)
            else:
                cell = value
            append(cell)
        if not is_blank(cells):
            yield number, cells


# --- workbook structure --------------------------------------------------------------


def _parse(
    archive: zipfile.ZipFile,
    part: str,
    limits: Limits,
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None] | None = None,
    text: Callable[[str], None] | None = None,
) -> None:
    """Stream one XML part through expat; names arrive as "namespace local"."""
    info = archive.getinfo(part)
    check_directory(info, limits)
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if text is not None:
        parser.CharacterDataHandler = text

    def no_doctype(*_: Any) -> None:
        raise TableError("import-015", f"{part} declares a DOCTYPE, which XLSX never does")

    parser.StartDoctypeDeclHandler = no_doctype
    try:
        with archive.open(info) as stream:
            while block := stream.read(BLOCK_BYTES):
                parser.Parse(block, False)
            parser.Parse(b"", True)
    except (expat.ExpatError, *CORRUPT_ZIP) as exc:
        raise TableError("import-015", f"The workbook part {part} is corrupt ({exc})") from None


def _local(name: str) -> str:
    return name.rpartition(" ")[2]


def _rels(archive: zipfile.ZipFile, part: str, limits: Limits) -> dict[str, tuple[str, str]]:
    """Relationship id → (type, part path) for the part's `_rels` file."""
    folder, base = posixpath.split(part)
    rels_part = posixpath.join(folder, "_rels", base + ".rels")
    found: dict[str, tuple[str, str]] = {}
    member = _find(archive, rels_part)
    if member is None:
        return found

    def start(name: str, attrs: dict[str, str]) -> None:
        if _local(name) == "Relationship" and attrs.get("TargetMode") != "External":
            target = attrs.get("Target", "")
            resolved = target[1:] if target.startswith("/") else posixpath.join(folder, target)
            found[attrs.get("Id", "")] = (attrs.get("Type", ""), posixpath.normpath(resolved))

    _parse(archive, member, limits, start)
    return found


def _find(archive: zipfile.ZipFile, part: str) -> str | None:
    """The zip member for a part name; OOXML part names are case-insensitive."""
    names = archive.NameToInfo
    if part in names:
        return part
    lowered = part.lower()
    return next((n for n in names if n.lower() == lowered), None)


def _read_book(archive: zipfile.ZipFile, limits: Limits) -> _Book:
    root = _rels(archive, "", limits)
    workbook = next(
        (p for t, p in root.values() if t.endswith("/officeDocument")), "xl/workbook.xml"
    )
    workbook = _find(archive, workbook) or ""
    if not workbook:
        raise TableError("import-015", "The file is not a valid XLSX workbook")
    rels = _rels(archive, workbook, limits)
    book = _Book()
    for rel_type, target in rels.values():
        if rel_type.endswith("/sharedStrings"):
            book.shared_strings = _find(archive, target)
        elif rel_type.endswith("/styles"):
            book.styles = _find(archive, target)

    def start(name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "sheet":
            rid = next((v for k, v in attrs.items() if k.endswith(" id")), "")
            rel_type, target = rels.get(rid, ("", ""))
            member = _find(archive, target) if rel_type.endswith("/worksheet") else None
            if member is not None:
                book.sheets.append((attrs.get("name", ""), member))
        elif local == "workbookPr":
            book.date1904 = attrs.get("date1904", "").lower() in ("1", "true")

    _parse(archive, workbook, limits, start)
    return book


def _pick_sheet(book: _Book, sheet: str | None) -> tuple[str, str]:
    if not book.sheets:
        raise TableError("import-015", "The workbook has no worksheet")
    if sheet is None:
        return book.sheets[0]
    for name, part in book.sheets:
        if name == sheet:
            return name, part
    raise _no_sheet(sheet, [name for name, _ in book.sheets])


def _no_sheet(sheet: str, names: list[str]) -> TableError:
    listed = ", ".join(f'"{n}"' for n in names)
    return TableError("import-015", f'Sheet "{sheet}" not found; the workbook has: {listed}')


def _calamine_fits(
    path: pathlib.Path,
    archive: zipfile.ZipFile,
    book: _Book,
    name: str,
    part: str,
    limits: Limits,
) -> bool:
    """Whether calamine may read this sheet: small, no error cells (calamine turns #N/A…
    into empty cells; the streaming reader keeps their text), and a grid within its cap.

    Every XML part calamine could inflate is inflated here first under the limits,
    because calamine trusts neither the zip directory nor the sheet's extent: a value
    past the row or column limit is an error naming its cell."""
    info = archive.getinfo(part)
    if info.file_size > limits.xlsx_calamine_max_bytes:
        return False
    shared = book.shared_strings
    if shared is not None and archive.getinfo(shared).file_size > limits.xlsx_calamine_max_bytes:
        return False  # calamine would hold them all as separate strings
    others = {p for _, p in book.sheets if p != part}
    for member in archive.infolist():
        member_name = member.filename
        if (
            member_name not in others
            and member_name != part
            and member_name.lower().endswith((".xml", ".rels"))
        ):
            drain(path, member, limits)
    errors = _ErrorCells()
    extent = sheet_extent(errors.watch(inflate(path, info, limits)), limits, name)
    return not errors.found and extent.cells <= limits.calamine_max_cells


class _ErrorCells:
    """Watches a sheet's blocks go by for an error cell (`t="e"`)."""

    def __init__(self) -> None:
        self.found = False

    def watch(self, blocks: Iterator[bytes]) -> Iterator[bytes]:
        overlap = b""
        for block in blocks:
            if not self.found:
                window = overlap + block
                self.found = _ERROR_CELL[0] in window or _ERROR_CELL[1] in window
                overlap = block[-8:]
            yield block


def _shared_strings(archive: zipfile.ZipFile, part: str | None, limits: Limits) -> SharedStrings:
    """All shared strings (inherent to XLSX: cells refer to them by index)."""
    if part is None:
        return SharedStrings()
    info = archive.getinfo(part)
    check_directory(info, limits)
    return scan_shared_strings(archive.open(info), limits)


def _date_styles(archive: zipfile.ZipFile, part: str | None, limits: Limits) -> dict[str, int]:
    """Style index (the cell's `s`, as text) → DATETIME/DURATION, for date styles only."""
    if part is None:
        return {}
    custom: dict[str, str] = {}
    xfs: list[str] = []
    inside: list[str] = []  # open elements, to take only `cellXfs/xf` (not `cellStyleXfs/xf`)

    def start(name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "numFmt" and attrs.get("formatCode"):
            custom[attrs.get("numFmtId", "")] = attrs["formatCode"]
        elif local == "xf" and inside[-1:] == ["cellXfs"]:
            xfs.append(attrs.get("numFmtId", "0"))
        inside.append(local)

    def end(name: str) -> None:
        inside.pop()

    _parse(archive, part, limits, start, end)
    styles: dict[str, int] = {}
    for index, fmt_id in enumerate(xfs):
        code = custom.get(fmt_id)
        kind = format_kind(code) if code is not None else _builtin(fmt_id)
        if kind:
            styles[str(index)] = kind
    return styles


def _builtin(fmt_id: str) -> int:
    return builtin_kind(int(fmt_id)) if fmt_id.isdigit() else 0
