"""The streaming reader for large XLSX sheets: rows out of the sheet XML, one block at a time.

Why not expat: measured on a 12-column sheet, expat spends ~0.3 µs in each Python
callback and needs five per cell, which caps it near 35k rows/s before any value is
converted. SpreadsheetML sheet data is a narrow, regular dialect (`<row>`, `<c>`,
`<v>`, `<is>`), so this reader cuts it with `str.split`/`str.find` (C speed) and only
looks at each cell once. What it must still honour from XML it does explicitly: line-end
normalisation, character and entity references, CDATA, comments, namespace prefixes.
Values follow python-calamine's conversions exactly, because the small-sheet path uses
calamine and both paths must give the same rows.
"""

from __future__ import annotations

import array
import bisect
import codecs
import datetime
import html
import itertools
import re
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO

from loadbay.tabular.table import Cell, Limits, RawRows, TableError, cell_too_long, date_text
from loadbay.tabular.xlsx_extent import beyond
from loadbay.tabular.xlsx_values import excel_date, iso_value, text_value, unescape

BLOCK_BYTES = 1 << 20
# What inflating a damaged zip member raises (bad CRC, truncated or invalid deflate data).
CORRUPT_ZIP = (zipfile.BadZipFile, zlib.error, EOFError, OSError)
MAX_COLUMN = 16_384  # Excel's XFD; a reference beyond it is corrupt, not wide
_S, _N, _STR, _B, _E, _INLINE, _D, _EMPTY = range(8)
_TYPES = {"n": _N, "s": _S, "str": _STR, "b": _B, "e": _E, "inlineStr": _INLINE, "d": _D}
_DATE_TYPES = (datetime.date, datetime.time)
_DIGITS = "0123456789"
_XML_SPACE = " \t\n\r"

_PREFIX = re.compile(r"<([A-Za-z_][\w.-]*:)?sheetData[\s/>]")
_ENCODING = re.compile(rb"""^<\?xml[^>]*encoding\s*=\s*["']([\w.-]+)["']""")
_ROW_NUMBER = re.compile(r"""(?:^|\s)r\s*=\s*["'](\d+)["']""")
_CELL_REF = re.compile(r"""(?:^|\s)r\s*=\s*["']([A-Za-z]*)\d*["']""")
_ATTR = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.S)


def _column(letters: str) -> int:
    index = 0
    for ch in letters.upper():
        index = index * 26 + ord(ch) - 64
    return index - 1


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
        raise TableError("import-015", f"The sheet XML has an unknown encoding {name}") from None


def _markup(body: str) -> str:
    """Comments out, CDATA turned into escaped text, so the splitting below stays exact."""
    if "<!DOCTYPE" in body or "<!ENTITY" in body:
        raise TableError("import-015", "The sheet XML declares a DOCTYPE, which XLSX never does")
    body = _COMMENT.sub("", body)
    body = _CDATA.sub(lambda m: html.escape(m.group(1), quote=False), body)
    if "<!--" in body or "<![CDATA[" in body:
        raise TableError("import-015", "The sheet XML has an unterminated comment or CDATA")
    return body


class _Tags:
    """Tag spellings for the sheet's namespace prefix (usually none, `x:` from some tools)."""

    def __init__(self, prefix: str) -> None:
        p = re.escape(prefix)
        self.row_open = f"<{prefix}row"
        self.row_end = f"</{prefix}row>"
        self.cell_open = f"<{prefix}c"
        self.v_open = f"<{prefix}v>"
        self.is_open = f"<{prefix}is><{prefix}t>"
        self.is_preserve = f'<{prefix}is><{prefix}t xml:space="preserve">'
        self.is_close = f"</{prefix}t></{prefix}is>"
        self.v_any = re.compile(rf"<{p}v(?:\s[^>]*)?(?:/>|>([^<]*)</{p}v>)")
        self.t_any = re.compile(rf"<{p}t(\s[^>]*)?(?:/>|>([^<]*)</{p}t>)")
        self.phonetic = re.compile(rf"<{p}rPh[\s>].*?</{p}rPh>", re.S)

    def value(self, content: str) -> str | None:
        """`<v>` anywhere in the cell: after a formula, with attributes, or indented."""
        match = self.v_any.search(content)
        return None if match is None else match.group(1) or ""

    def inline(self, content: str) -> str:
        """An inline string: runs concatenated, phonetic guides left out (as calamine)."""
        for opening, preserve in ((self.is_open, False), (self.is_preserve, True)):
            if content.startswith(opening):
                end = content.find("<", len(opening))
                if content.startswith(self.is_close, end):
                    text = content[len(opening) : end]
                    text = unescape(text) if "&" in text else text
                    return text_value(text if preserve else text.strip(_XML_SPACE))
        parts = []
        for attrs, raw in self.t_any.findall(self.phonetic.sub("", content)):
            text = unescape(raw) if "&" in raw else raw
            parts.append(text if "preserve" in attrs else text.strip(_XML_SPACE))
        return text_value("".join(parts))


class SharedStrings:
    """A workbook's shared strings as UTF-8, in one chunk per block read, with end offsets.

    Excel writes every text cell as an index into this table, so a 1M-row sheet of mostly
    distinct texts has millions of them: as a list of `str` they took 477 MB for a 1M-row,
    12-column workbook (the issue's limit is 300 MB); here they take their UTF-8 size plus
    4 bytes each. Chunks, not one growing buffer: growing a 100 MB buffer can copy it, and
    for that moment it is there twice. A lookup decodes its slice (the scanner looks each
    cell up once). An empty string reads as None, as a blank cell does."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._ends: list[array.array[int]] = []  # per chunk: each string's end in it
        self._first: list[int] = []  # per chunk: the index of its first string
        self._count = 0
        self.longest = 0  # characters, for the cell-length limit

    def extend(self, texts: list[str], ascii_only: bool) -> None:
        if not texts:
            return
        if ascii_only:  # one encode for the lot; byte lengths are character lengths
            data = "".join(texts).encode("ascii")
            lengths = map(len, texts)
        else:
            encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
            data = b"".join(encoded)
            lengths = map(len, encoded)
        self._chunks.append(data)
        self._ends.append(array.array("I", itertools.accumulate(lengths)))
        self._first.append(self._count)
        self._count += len(texts)
        self.longest = max(self.longest, max(map(len, texts)))

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> str | None:
        chunk = bisect.bisect_right(self._first, index) - 1
        if index < 0 or chunk < 0:
            raise IndexError(index)
        local = index - self._first[chunk]
        ends = self._ends[chunk]
        end = ends[local]  # IndexError past the last string
        start = ends[local - 1] if local else 0
        if end == start:
            return None
        return self._chunks[chunk][start:end].decode("utf-8", "surrogatepass")


_SST_PREFIX = re.compile(r"<([A-Za-z_][\w.-]*:)?sst[\s/>]")
# A block whose every `<si>` is one plain `<t>` run (what Excel and most tools write) is
# cut with `split` alone; anything else in it (rich-text runs, phonetic guides, entities,
# escapes, preserved or outer whitespace, empty `<t/>`) sends that block item by item.
_SST_ODD = ("<r>", "<r ", "<rPh", "&", "_x", "<t ", "<t/", "> ", " <", ">\t", "\t<", ">\n", "\n<")


def scan_shared_strings(stream: IO[bytes], limits: Limits) -> SharedStrings:
    """The shared-string table (`xl/sharedStrings.xml`), streamed block by block."""
    table = SharedStrings()
    try:
        with stream:
            _SharedScanner(table).read(stream, limits)
    except (*CORRUPT_ZIP, UnicodeDecodeError) as exc:
        raise TableError("import-015", f"The shared strings are corrupt ({exc})") from None
    return table


def _in_markup(text: str) -> bool:
    """Whether `text` ends inside a comment or CDATA section (a cut there would split it)."""
    return text.rfind("<!--") > text.rfind("-->") or text.rfind("<![CDATA[") > text.rfind("]]>")


def _blocks(
    stream: IO[bytes], start: re.Pattern[str], end_tag: str, max_tail: int, what: str
) -> Iterator[tuple[str, str]]:
    """(namespace prefix, text) of a part, block by block, each cut after the last whole
    `<{prefix}{end_tag}>` element, from the `start` element on: comments out, CDATA as
    escaped text, line ends normalised (what XML itself guarantees a reader)."""
    read = stream.read
    block = read(BLOCK_BYTES)
    decoder = codecs.getincrementaldecoder(_encoding(block[:200]))()
    prefix: str | None = None
    end = ""
    tail = ""
    while True:
        text = tail + decoder.decode(block, not block)
        if prefix is None:
            found = start.search(text)
            if found is None:
                if not block:
                    return
                tail, block = text, read(BLOCK_BYTES)
                continue
            if "<!DOCTYPE" in text[: found.start()]:
                raise TableError("import-015", f"{what} declares a DOCTYPE, which XLSX never does")
            prefix = found.group(1) or ""
            end = f"</{prefix}{end_tag}>"
            text = text[found.start() :]
        if block:
            cut = text.rfind(end)
            if cut >= 0:
                cut += len(end)
            if cut < 0 or ("<!" in text and _in_markup(text[:cut])):
                if len(text) > max_tail:
                    raise TableError("import-040", f"{what} has an element larger than the limits")
                tail, block = text, read(BLOCK_BYTES)
                continue
            body, tail = text[:cut], text[cut:]
        else:
            body, tail = text, ""
        if "<!" in body:
            body = _markup(body)
        if "\r" in body:
            body = body.replace("\r\n", "\n").replace("\r", "\n")
        yield prefix, body
        if not block:
            return
        block = read(BLOCK_BYTES)


class _SharedScanner:
    def __init__(self, table: SharedStrings) -> None:
        self.table = table
        self._use_prefix("")

    def _use_prefix(self, prefix: str) -> None:
        self.inline = _Tags(prefix).inline
        self.si_end = f"</{prefix}si>"
        self.si_open = re.compile(rf"<{re.escape(prefix)}si(?:\s[^>]*?)?(/?)>")
        self.plain_open = f"<{prefix}si><{prefix}t>"
        self.plain_close = f"</{prefix}t></{prefix}si>"

    def read(self, stream: IO[bytes], limits: Limits) -> None:
        # XML per character can be large (a run with its own formatting per character)
        max_tail = limits.max_cell_chars * 256 + BLOCK_BYTES
        prefix = None
        for found, body in _blocks(stream, _SST_PREFIX, "si", max_tail, "The shared strings"):
            if found != prefix:
                prefix = found
                self._use_prefix(prefix)
            self._items(body.strip(_XML_SPACE))

    def _items(self, body: str) -> None:
        if not body:
            return
        plain_open, plain_close = self.plain_open, self.plain_close
        if (
            body.startswith(plain_open)
            and body.endswith(plain_close)
            and not any(odd in body for odd in _SST_ODD)
        ):
            texts = body[len(plain_open) : -len(plain_close)].split(plain_close + plain_open)
            if not any("<" in t for t in texts):  # each item really was one plain run
                self.table.extend(texts, body.isascii())
                return
        # Item by item: runs joined, phonetic guides left out (`_Tags.inline`); an empty
        # `<si/>` has no `</si>`, so a piece holds any number of those before its one item.
        texts = []
        for piece in body.split(self.si_end):
            for found in self.si_open.finditer(piece):
                if found.group(1):
                    texts.append("")
                else:
                    texts.append(self.inline(piece[found.end() :]))
                    break
        self.table.extend(texts, False)


def far_cell(number: int, row: list[Cell], limits: Limits) -> TableError:
    """The error for the first value of a row past the column limit (as the pre-scan's)."""
    col = next(i for i in range(limits.max_columns, len(row)) if row[i] is not None)
    error = beyond(number, col, limits)
    assert error is not None
    return error


def scan_sheet(
    stream: IO[bytes],
    shared: SharedStrings,
    date_styles: dict[str, int],
    date1904: bool,
    limits: Limits,
    dates_as_text: bool = False,
) -> RawRows:
    """Raw rows of one worksheet part (`shared`: the workbook's shared strings)."""
    try:
        with stream:
            scanner = _Scanner(shared, date_styles, date1904, limits, dates_as_text)
            yield from scanner.rows(stream)
    except (*CORRUPT_ZIP, UnicodeDecodeError) as exc:
        raise TableError("import-015", f"The sheet is corrupt ({exc})") from None


class _Scanner:
    def __init__(
        self,
        shared: SharedStrings,
        date_styles: dict[str, int],
        date1904: bool,
        limits: Limits,
        dates_as_text: bool = False,
    ) -> None:
        self.shared = shared
        self.dates_as_text = dates_as_text
        self.date_styles = date_styles
        self.date1904 = date1904
        self.limits = limits
        self.check_shared = shared.longest > limits.max_cell_chars
        # Attributes after `r` (e.g. ` s="3" t="s"`) → (type, date kind, cache of dates).
        # Dates repeat a lot down a column; converting each serial once is a large saving.
        self.kinds: dict[str, tuple[int, int, dict[str, Cell]]] = {}
        self.columns: dict[str, int] = {}
        self.last = 0
        self.tags = _Tags("")

    def rows(self, stream: IO[bytes]) -> RawRows:
        """The rows of each block of the sheet XML, cut after its last whole `</row>`."""
        limits = self.limits
        max_tail = limits.max_columns * (limits.max_cell_chars + 256) * 2 + BLOCK_BYTES
        prefix = None
        for found, body in _blocks(stream, _PREFIX, "row", max_tail, "The sheet XML"):
            if found != prefix:
                prefix = found
                self.tags = _Tags(prefix)
            yield from self._rows(body)

    def _after_empty_rows(self, piece: str, end: int) -> int:
        """The number of an unnumbered row: one past the last numbered row, counting the
        self-closing `<row/>`s before it, where one with `r` sets the number as calamine does."""
        row_open = self.tags.row_open
        number = self.last
        pos = piece.find(row_open, 0, end)
        while pos >= 0:
            gt = piece.find(">", pos)
            tag = piece[pos + len(row_open) : gt]
            if tag[:1] in ("", " ", "\t", "\n", "/"):
                match = _ROW_NUMBER.search(tag)
                number = int(match.group(1)) if match else number + 1
            pos = piece.find(row_open, gt, end)
        return number + 1

    def _rows(self, body: str) -> RawRows:
        """The rows of whole `<row>` elements. Runs per cell: everything is bound locally,
        the common cell shapes (`<v>` first, one-run inline string) are read with `find`
        and slices, and anything else goes to the regex helpers on `_Tags`."""
        tags = self.tags
        row_open, cell_open, v_open = tags.row_open, tags.cell_open, tags.v_open
        is_open, is_close, inline, any_value = tags.is_open, tags.is_close, tags.inline, tags.value
        row_open_len, v_len, is_len = len(row_open), len(v_open), len(is_open)
        kinds, columns, shared = self.kinds, self.columns, self.shared
        check_shared, limits = self.check_shared, self.limits
        max_chars, max_columns = limits.max_cell_chars, limits.max_columns
        digits, space = _DIGITS, _XML_SPACE
        n_type, s_type, b_type, e_type, d_type = _N, _S, _B, _E, _D
        inline_type, empty_type = _INLINE, _EMPTY
        for piece in body.split(tags.row_end):
            start = piece.rfind(row_open)
            if start < 0:
                continue
            gt = piece.find(">", start)
            tag = piece[start + row_open_len : gt]
            if tag[:1] not in ("", " ", "\t", "\n") or tag[-1:] == "/":
                continue  # another element (`<rowBreaks>`) or an empty row
            if tag[:4] == ' r="':
                number = int(tag[4 : tag.find('"', 4)])
            else:
                match = _ROW_NUMBER.search(tag)
                number = int(match.group(1)) if match else self._after_empty_rows(piece, start)
            self.last = number
            row: list[Cell] = []
            append = row.append
            col = -1
            try:
                for part in piece[gt + 1 :].split(cell_open):
                    gt = part.find(">")
                    if gt < 0:
                        continue  # the text before the first cell
                    if part[:4] == ' r="':
                        q = part.find('"', 4)
                        ref = part[4:q].rstrip(digits)
                        key = part[q + 1 : gt]
                    else:
                        attrs = part[:gt]
                        if attrs[:1] not in ("", " ", "\t", "\n", "/"):
                            continue  # not a `<c>` element after all
                        if "r=" not in attrs:
                            ref, key = "", attrs  # no reference: the next column
                        else:
                            found = _CELL_REF.search(attrs)
                            ref = found.group(1) if found else ""
                            key = attrs.replace(found.group(0), "", 1) if found else attrs
                    if ref:
                        col = columns.get(ref, -2)
                        if col == -2:
                            col = columns[ref] = _column(ref)
                            if col >= MAX_COLUMN:
                                raise TableError(
                                    "import-015", f"Row {number}: bad cell reference {ref}"
                                )
                    else:
                        col += 1
                    typ, date_kind, dates = kinds.get(key) or self._kind(key)
                    gt += 1
                    if typ <= n_type:  # shared string or number: nearly every cell
                        if part.startswith(v_open, gt):
                            v: str | None = part[gt + v_len : part.find("<", gt + v_len)]
                        else:
                            v = any_value(part[gt:])
                        if not v:
                            continue
                        if typ == s_type:
                            value: Cell = shared[int(v)]
                            if value is None:
                                continue
                            if check_shared and len(value) > max_chars:  # type: ignore[arg-type]
                                raise cell_too_long(number, col, limits)
                        elif date_kind:
                            value = dates.get(v)
                            if value is None:
                                if len(dates) >= 4096:
                                    dates.clear()
                                value = dates[v] = self._date(float(v), date_kind)
                        else:
                            value = float(v)
                            if value.is_integer():
                                value = int(value)
                    elif typ == inline_type:
                        value = None
                        if part.startswith(is_open, gt):
                            end = part.find("<", gt + is_len)
                            if part.startswith(is_close, end):
                                text = part[gt + is_len : end]
                                if "&" in text:
                                    text = unescape(text)
                                value = text_value(text.strip(space))
                        if value is None:
                            value = inline(part[gt:])
                        if not value:
                            continue
                        if len(value) > max_chars:
                            raise cell_too_long(number, col, limits)
                    elif typ == empty_type:
                        continue  # `<c .../>`: a styled empty cell
                    else:
                        if part.startswith(v_open, gt):
                            v = part[gt + v_len : part.find("<", gt + v_len)]
                        else:
                            v = any_value(part[gt:])
                        if not v:
                            continue
                        if typ == b_type:
                            value = v == "1" or v == "true"
                        else:
                            if "&" in v:
                                v = unescape(v)
                            if typ == d_type:
                                value = iso_value(v)
                                if self.dates_as_text and isinstance(value, _DATE_TYPES):
                                    value = date_text(value)
                            else:
                                value = v if typ == e_type else text_value(v)
                                if len(v) > max_chars:
                                    raise cell_too_long(number, col, limits)
                    size = len(row)
                    if col == size:
                        append(value)
                    elif col > size:
                        row.extend([None] * (col - size))
                        append(value)
                    else:
                        row[col] = value
            except (ValueError, IndexError):
                raise TableError("import-015", f"Row {number}: a cell value is malformed") from None
            if len(row) > max_columns:  # empties are never appended: the last one is a value
                raise far_cell(number, row, limits)
            for cell in row:
                if cell is not None and not (isinstance(cell, str) and cell.isspace()):
                    yield number, row
                    break

    def _date(self, serial: float, kind: int) -> Cell:
        value = excel_date(serial, kind, self.date1904)
        if self.dates_as_text and isinstance(value, _DATE_TYPES):
            return date_text(value)
        return value

    def _kind(self, key: str) -> tuple[int, int, dict[str, Cell]]:
        found = {m.group(1): m.group(2) or m.group(3) for m in _ATTR.finditer(key)}
        name = found.get("t", "n")
        typ = _EMPTY if key[-1:] == "/" else _TYPES.get(name)
        if typ is None:
            raise TableError("import-015", f"The sheet has a cell of unknown type {name!r}")
        date_kind = self.date_styles.get(found.get("s", "0"), 0) if typ == _N else 0
        kind: tuple[int, int, dict[str, Cell]] = (typ, date_kind, {})
        if len(self.kinds) < 4096:
            self.kinds[key] = kind
        return kind
