"""The table every reader gives: raw rows, the header, limits and the reader's errors.

Every format module turns its file into *raw rows*: `(row_number, cells)` for each row
that holds at least one non-blank cell, with cells already converted to Python values
and checked against the cell-length limit. This module holds what is common to all of
them: the header row, the width every row is padded to, and the row limit. Nothing here
holds more than one row at a time, so memory stays flat whatever the file size.
"""

from __future__ import annotations

import datetime
import itertools
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from types import TracebackType

Cell = str | int | float | bool | datetime.datetime | datetime.date | datetime.time | None
Row = tuple[int, list[Cell]]
RawRows = Generator[Row, None, None]


class JsonText(str):
    """A JSON object or array found where a cell was expected, as its compact JSON text:
    it reads and writes back as that text, and a field that wants text can tell it was
    not typed as text (`expected text, got an object`)."""

    __slots__ = ()

    @property
    def kind(self) -> str:
        return "an object" if self.startswith("{") else "an array"


def chunk_cell(value: object) -> object:
    """orjson's `default` for rows in transit (chunk files): a JsonText keeps its mark."""
    if isinstance(value, JsonText):
        return {"$json": str(value)}
    raise TypeError(f"cannot store a {type(value).__name__} in a chunk")


def restore_chunk_cells(batch: list[list[object]]) -> None:
    """Undo `chunk_cell` in rows `[number, cells, ...]` read back from a chunk file."""
    for row in batch:
        cells = row[1]
        assert isinstance(cells, list)
        for i, cell in enumerate(cells):
            if cell.__class__ is dict:
                cells[i] = JsonText(cell["$json"])


class TableError(Exception):
    """A file that cannot be read as a table: `import-015` (bad file) or `import-040` (limit).

    `detail` is said beside a vendor message that must stay exact (`import-002`)."""

    def __init__(self, code: str, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail


@dataclass(frozen=True)
class Limits:
    max_rows: int = 1_000_000
    max_columns: int = 500
    max_cell_chars: int = 32_767
    max_xlsx_uncompressed_bytes: int = 2 * 1024**3
    max_xlsx_ratio: int = 200
    xlsx_calamine_max_bytes: int = 32 * 1024**2
    # python-calamine holds a sheet as a dense grid of ~32-byte cells, first to last cell
    calamine_max_cells: int = 4_000_000
    max_json_depth: int = 64


def cell_too_long(number: int, column: int, limits: Limits) -> TableError:
    return TableError(
        "import-040",
        f"Row {number}, column {column + 1}: "
        f"a value is longer than {limits.max_cell_chars} characters",
    )


def is_blank(cells: list[Cell]) -> bool:
    for cell in cells:
        if cell is None or (isinstance(cell, str) and (not cell or cell.isspace())):
            continue
        return False
    return True


def used_width(cells: list[Cell]) -> int:
    """Cells after the last non-blank one do not count: editors leave styled empties behind."""
    width = len(cells)
    while width and is_blank(cells[width - 1 : width]):
        width -= 1
    return width


def date_text(value: datetime.date | datetime.time) -> str:
    """A spreadsheet date as imports read it: ISO, with a space before the time of a
    datetime, and a datetime at midnight as its date alone."""
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    return value.isoformat()


def header_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime.date | datetime.time):
        return date_text(value)
    return str(value).strip()


def unique_headers(names: list[str]) -> list[str]:
    """A header text repeated in the header row gets its count among equals: the second
    "Phone" is "Phone (2)". Mappings, the preview and the failed-rows file address columns
    by header text, so each column needs a text of its own. Blank headers stay blank."""
    taken = set(names)
    seen: dict[str, int] = {}
    unique: list[str] = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        if count > 1 and name:
            while f"{name} ({count})" in taken:
                count += 1
            name = f"{name} ({count})"
            taken.add(name)
        unique.append(name)
    return unique


class Table:
    """An opened file: `headers` at once, `rows()` streamed lazily.

    `rows()` may be called again; each call reads the file from the start. The table
    is a context manager so readers release file handles and workbooks even when the
    caller stops early. `header_row` is the 1-based row of the file the headers came
    from (None without one), `rows_above_header` the non-blank rows above it, which
    are not data; a workbook's reader sets `sheet` (the one read) and `sheets`.
    """

    def __init__(
        self,
        fmt: str,
        headers: list[str],
        make_rows: Callable[[], RawRows],
        on_close: Callable[[], None] | None = None,
        *,
        raw: Callable[[], RawRows] | None = None,
        header_row: int | None = None,
        rows_above_header: int = 0,
    ) -> None:
        self.format = fmt
        self.headers = headers
        self.header_row = header_row
        self.rows_above_header = rows_above_header
        self.sheet: str | None = None
        self.sheets: list[str] = []
        self._make_rows = make_rows
        self._raw = raw
        self._on_close = on_close
        self._live: list[RawRows] = []

    def rows(self) -> Iterator[Row]:
        gen = self._make_rows()
        self._live.append(gen)
        return gen

    def raw_rows(self, last_row: int) -> list[list[Cell]]:
        """Rows 1..`last_row` of the file as they are, header and title rows included;
        a blank row is an empty list, so index i is the file's row i + 1."""
        out: list[list[Cell]] = []
        if self._raw is None:
            return out
        source = self._raw()
        try:
            for number, cells in source:
                if number > last_row:
                    break
                out.extend([] for _ in range(number - 1 - len(out)))
                out.append(cells[: used_width(cells)])
        finally:
            source.close()
        return out

    def count_raw(self) -> int:
        """Non-blank rows of the file, header and rows above it included."""
        if self._raw is None:
            return 0
        source = self._raw()
        try:
            return sum(1 for _ in source)
        finally:
            source.close()

    def close(self) -> None:
        for gen in self._live:
            gen.close()
        self._live.clear()
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def __enter__(self) -> Table:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


HEADER_SCAN_ROWS = 20  # non-blank rows looked at for the header
_NUMBER = re.compile(r"^[\s+\-(]*[\d.,\s%)]+$")


def _label_count(cells: list[Cell]) -> int:
    """Cells that can be a column title: text that is not a number."""
    return sum(
        1 for c in cells if isinstance(c, str) and c.strip() and not _NUMBER.match(c.strip())
    )


def detect_header(head: list[Row]) -> int:
    """Index in `head` of the header row, among rows that have a row under them: the
    first with (nearly) the most titles, or the first as wide as the widest row with
    at least half the most titles (a header with blank titles). Title lines and merged
    group headers above the real header are narrower or have fewer titles; the data
    under the header has as many values but comes later."""
    if len(head) < 2:
        return 0
    counts = [_label_count(cells) for _, cells in head[:-1]]
    widths = [used_width(cells) for _, cells in head]
    best, widest = max(counts), max(widths)
    if best == 0:
        return 0
    enough = best if best < 3 else best - max(1, best // 10)
    for i, n in enumerate(counts):
        if n >= enough or (widths[i] >= widest and n * 2 >= best):
            return i
    return 0


def build_table(
    fmt: str,
    raw: Callable[[], RawRows],
    *,
    has_header_row: bool,
    limits: Limits,
    headers: list[str] | None = None,
    on_close: Callable[[], None] | None = None,
    header_row: int | None = None,
) -> Table:
    """Wrap a raw-row source: find the header row (or name the columns), then shape rows.

    `headers` is given by formats whose columns are not a row of the file (JSON keys).
    `header_row` (1-based) says where the header is; without it the header is found
    among the first rows (`detect_header`), skipping title and blank rows.
    """
    first: RawRows | None = None
    buffered: list[Row] = []
    skip_header = headers is None and has_header_row
    header_number = 0
    above = 0
    pending: TableError | None = None
    try:
        if skip_header:
            first = raw()
            if header_row is not None:
                header = None
                for row in first:
                    if row[0] >= header_row:
                        header = row if row[0] == header_row else None
                        break
                    above += 1
                if header is None:
                    raise TableError(
                        "import-015", f"Row {header_row} (headerRow) is blank or past the end"
                    )
            else:
                head: list[Row] = []
                try:
                    head.extend(itertools.islice(first, HEADER_SCAN_ROWS))
                except TableError as exc:
                    # Raised where the rows reach it, as without the scan: the rows
                    # before a bad one are still read (and imported).
                    pending = exc
                if not head:
                    raise pending or TableError("import-015", "File has no header row")
                at = detect_header(head)
                header, above, buffered = head[at], at, head[at + 1 :]
            header_number = header[0]
            cells = header[1]
            headers = unique_headers([header_text(c) for c in cells[: used_width(cells)]])
        elif headers is None:
            width = 0
            scan = raw()
            try:
                for _, cells in scan:
                    width = max(width, used_width(cells))
            finally:
                scan.close()
            headers = [f"Column {i}" for i in range(1, width + 1)]
        if len(headers) > limits.max_columns:
            raise TableError("import-040", f"File has more than {limits.max_columns} columns")
    except BaseException:
        if first is not None:
            first.close()
        if on_close is not None:
            on_close()
        raise

    width = len(headers)

    def make_rows() -> RawRows:
        nonlocal first, buffered
        rows: Iterator[Row]
        if first is not None:
            # itertools, not another generator: a layer per row costs ~10% of a CSV read
            source, rows = first, itertools.chain(buffered, _raising(pending), first)
            first, buffered = None, []
        else:
            source = raw()
            rows = source
            if skip_header:
                rows = itertools.dropwhile(lambda row: row[0] <= header_number, source)
        return _shape(rows, source, width, limits.max_rows)

    def close() -> None:
        if first is not None:
            first.close()
        if on_close is not None:
            on_close()

    return Table(
        fmt,
        headers,
        make_rows,
        close,
        raw=raw,
        header_row=header_number or None,
        rows_above_header=above,
    )


def _raising(pending: TableError | None) -> Iterator[Row]:
    """Raises `pending` where the rows reach it (after the rows read before it)."""
    if pending is not None:
        raise pending
    yield from ()


def _shape(rows: Iterator[Row], source: RawRows, width: int, max_rows: int) -> RawRows:
    count = 0
    try:
        for number, cells in rows:
            count += 1
            if count > max_rows:
                raise TableError("import-040", f"File has more than {max_rows} rows")
            size = len(cells)
            if size != width:
                if size < width:
                    cells.extend(itertools.repeat(None, width - size))
                else:
                    extra = used_width(cells)
                    if extra > width:
                        raise TableError(
                            "import-015",
                            f"Row {number}: column {extra} has a value but no header",
                        )
                    del cells[width:]
            yield number, cells
    finally:
        source.close()
