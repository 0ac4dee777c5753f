"""A sheet's extent, read before any reader allocates for it.

python-calamine builds a dense grid from the first to the last cell of a sheet: one
cell at XFD1048576 asks for 17 billion cells (550 GB) and the process aborts, which no
`try` can catch. So the sheet XML is scanned first, streaming and bounded, for every
cell reference and the declared `<dimension>`: a value past the column limit is an
error naming its cell, and a sheet whose grid would be large goes to the streaming
reader, which holds one row at a time.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from dataclasses import dataclass

from loadbay.tabular.table import Limits, TableError

_MAX_TAG = 1 << 22  # one start tag (or a text with no markup) longer than this is hostile
# A start tag of a cell, a row or the dimension, with its reference and whether it is empty.
_TAG = re.compile(r"""<(?:[A-Za-z_][\w.-]*:)?(c|row|dimension)(?=[\s/>])([^>]*?)(/?)>""", re.S)
_REF = re.compile(r"""(?:^|\s)r(?:ef)?\s*=\s*["']([^"']*)["']""")
_CELL = re.compile(r"([A-Za-z]{1,3})?(\d{1,7})?$")
_ENCODING = re.compile(rb"""^<\?xml[^>]*encoding\s*=\s*["']([\w.-]+)["']""")


def column_name(index: int) -> str:
    """0-based column index → its letters (0 → A, 16383 → XFD)."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def cell_name(row: int, col: int) -> str:
    return f"{column_name(col)}{row}"


def _column(letters: str) -> int:
    index = 0
    for ch in letters.upper():
        index = index * 26 + ord(ch) - 64
    return index - 1


def beyond(row: int, col: int, limits: Limits) -> TableError | None:
    """The error for a value at (1-based row, 0-based column) past the column limit.

    Rows are not limited by position: the row limit counts rows (blank ones are skipped),
    and a tall sparse sheet is safe in the streaming reader."""
    if col < limits.max_columns:
        return None
    return TableError(
        "import-040",
        f"Cell {cell_name(row, col)} is beyond the last column allowed "
        f"({column_name(limits.max_columns - 1)}, column {limits.max_columns})",
    )


@dataclass
class Extent:
    """Where a sheet's cells are, 1-based rows and 0-based columns (empty: first > last)."""

    first_row: int = 1 << 62
    last_row: int = 0
    first_col: int = 1 << 62
    last_col: int = -1
    declared: int = 0  # cells in the declared `<dimension>`

    def add(self, row: int, col: int) -> None:
        self.first_row = min(self.first_row, row)
        self.last_row = max(self.last_row, row)
        self.first_col = min(self.first_col, col)
        self.last_col = max(self.last_col, col)

    @property
    def cells(self) -> int:
        """Cells in the dense grid a whole-sheet reader builds (the larger of used and
        declared)."""
        if self.last_row < self.first_row or self.last_col < self.first_col:
            return self.declared
        used = (self.last_row - self.first_row + 1) * (self.last_col - self.first_col + 1)
        return max(used, self.declared)


def _area(ref: str) -> int:
    corners = [_CELL.match(part.strip()) for part in ref.split(":", 1)]
    if len(corners) != 2 or not all(corners):
        return 0
    (c1, r1), (c2, r2) = (m.groups() for m in corners if m is not None)
    cols = abs(_column(c2 or "XFD") - _column(c1 or "A")) + 1
    rows = abs(int(r2 or 1_048_576) - int(r1 or 1)) + 1
    return cols * rows


def sheet_extent(blocks: Iterable[bytes], limits: Limits, sheet: str) -> Extent:
    """Scan a worksheet part: every cell with content inside the limits, else an error."""
    extent = Extent()
    decoder: codecs.IncrementalDecoder | None = None
    tail = ""
    row, col = 0, -1
    for block in blocks:
        if decoder is None:
            decoder = codecs.getincrementaldecoder(_encoding(block[:200]))("replace")
        text = tail + decoder.decode(block)
        cut = text.rfind("<")
        if cut < 0:
            cut = len(text)
        tail = text[cut:]
        if len(tail) > _MAX_TAG:
            raise TableError("import-040", f"Sheet {sheet} has an element larger than the limits")
        row, col = _scan(text[:cut], extent, row, col, limits, sheet)
    if decoder is not None:
        _scan(tail + decoder.decode(b"", True), extent, row, col, limits, sheet)
    return extent


def _scan(
    text: str, extent: Extent, row: int, col: int, limits: Limits, sheet: str
) -> tuple[int, int]:
    for found in _TAG.finditer(text):
        kind, attrs, empty = found.groups()
        ref = _REF.search(attrs)
        value = ref.group(1) if ref else ""
        if kind == "dimension":
            extent.declared = _area(value)
            continue
        if kind == "row":
            row = int(value) if value.isdigit() else row + 1
            col = -1
            continue
        match = _CELL.match(value.strip()) if value else None
        if match is not None and match.group(1):
            col = _column(match.group(1))
            if match.group(2):
                row = int(match.group(2))
        else:
            col += 1
        extent.add(row, col)
        # `<c .../>` holds no value: it only widens the grid, and routes a sheet to the
        # streaming reader when that grows large, but is not an error.
        if not empty and (error := beyond(row, col, limits)) is not None:
            raise error
    return row, col


def _encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    match = _ENCODING.match(head)
    name = match.group(1).decode("ascii") if match else "utf-8"
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise TableError("import-015", f"Sheet XML has an unknown encoding {name}") from None
