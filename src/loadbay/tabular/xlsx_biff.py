"""XLS (BIFF8 in an OLE2 compound file), read before python-calamine is given it.

calamine builds each sheet as a dense grid from its first to its last cell, and a BIFF
cell record can name any row and column up to 65535: one far cell makes it ask for
billions of cells and abort the process. So the compound file's `Workbook` stream is
read here, record by record (a few µs a record, no cell values converted), and every
cell's position is checked against the limits first.

The same walk over the compound file's directory finds what is not a workbook at all:
an encrypted OOXML workbook is a compound file holding `EncryptionInfo` and
`EncryptedPackage` streams (what Excel writes when a password is set on an XLSX).
"""

from __future__ import annotations

import pathlib
import struct
from collections.abc import Callable
from typing import BinaryIO

from loadbay.tabular.table import Limits, TableError
from loadbay.tabular.xlsx_extent import Extent, beyond

PASSWORD_MESSAGE = "The workbook is password-protected; remove the password and upload it again"  # noqa: S105
_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_END = 0xFFFFFFFE
_MAX_SECTOR = 0xFFFFFFFA
_BOF, _EOF, _FILEPASS, _DIMENSIONS = 0x0809, 0x000A, 0x002F, 0x0200
# Records whose first two fields are the cell's row and column.
_CELLS = {0x0006, 0x00FD, 0x0203, 0x0204, 0x0205, 0x027E, 0x00D6, 0x0201}
_MULTI = {0x00BD, 0x00BE}  # MULRK, MULBLANK: row, first column, ..., last column
_BLANKS = {0x0201, 0x00BE}
_WORKSHEET = 0x0010


def _bad(why: str) -> TableError:
    return TableError("import-015", f"The file is not a valid XLS workbook ({why})")


class Compound:
    """The streams of an OLE2 compound file, by name. Opening reads only the header, the
    allocation table and the directory; a stream is read when asked for."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        f.seek(0, 2)
        self.length = f.tell()
        f.seek(0)
        data = f.read(512)
        if len(data) < 512 or not data.startswith(_SIGNATURE):
            raise _bad("no compound-file header")
        shift, mini_shift = struct.unpack_from("<HH", data, 30)
        if shift not in (9, 12) or mini_shift != 6:
            raise _bad("unknown sector size")
        self.size = 1 << shift
        self.sectors = (self.length - self.size) // self.size + 1
        (fat_count, dir_start, _, self.cutoff, mini_fat, mini_count, difat, difat_count) = (
            struct.unpack_from("<IIIIIIII", data, 44)
        )
        fat_sectors = list(struct.unpack_from("<109I", data, 76))
        seen = 0
        while difat <= _MAX_SECTOR and seen < difat_count and seen <= self.sectors:
            block = self._sector(difat)
            count = self.size // 4 - 1
            *entries, difat = struct.unpack_from(f"<{count + 1}I", block)
            fat_sectors += entries
            seen += 1
        fat_sectors = [s for s in fat_sectors[:fat_count] if s <= _MAX_SECTOR]
        self.fat = b"".join(self._sector(s) for s in fat_sectors)
        self.entries: dict[str, tuple[int, int, int]] = {}  # name → (type, start, size)
        directory = self._chain(dir_start, self.fat, self._sector)
        for offset in range(0, len(directory) - 127, 128):
            name_len, kind = struct.unpack_from("<HB", directory, offset + 64)
            if kind not in (1, 2, 5) or not 2 <= name_len <= 64:
                continue
            name = directory[offset : offset + name_len - 2].decode("utf-16-le", "replace")
            start, size = struct.unpack_from("<IQ", directory, offset + 116)
            self.entries.setdefault(name, (kind, start, size))
        self._mini_fat = b""
        if mini_count and mini_fat <= _MAX_SECTOR:
            self._mini_fat = self._chain(mini_fat, self.fat, self._sector)
        self._mini_stream = b""

    def _sector(self, index: int) -> bytes:
        if index >= self.sectors:
            raise _bad(f"sector {index} is past the end of the file")
        self.f.seek((index + 1) * self.size)
        return self.f.read(self.size)

    def _chain(self, start: int, fat: bytes, get: Callable[[int], bytes]) -> bytes:
        """A stream's sectors (or mini sectors) in the order its allocation table links them."""
        parts: list[bytes] = []
        links = len(fat) // 4
        index = start
        while index != _END:
            if index > _MAX_SECTOR or index >= links or len(parts) > links:
                raise _bad("a broken sector chain")
            parts.append(get(index))
            (index,) = struct.unpack_from("<I", fat, index * 4)
        return b"".join(parts)

    def _mini_sector(self, index: int) -> bytes:
        return self._mini_stream[index * 64 : index * 64 + 64]

    def has(self, name: str) -> bool:
        return name in self.entries

    def stream(self, name: str) -> bytes:
        _, start, size = self.entries[name]
        if size > self.length:
            raise _bad(f"the {name} stream is larger than the file")
        if size < self.cutoff:
            if not self._mini_stream:
                _, root_start, _ = next(
                    (e for e in self.entries.values() if e[0] == 5), (5, _END, 0)
                )
                self._mini_stream = self._chain(root_start, self.fat, self._sector)
            data = self._chain(start, self._mini_fat, self._mini_sector)
        else:
            data = self._chain(start, self.fat, self._sector)
        return data[:size]


def is_encrypted(path: pathlib.Path) -> bool:
    """Whether a compound file is a password-protected (encrypted) OOXML workbook."""
    try:
        with path.open("rb") as f:
            return _encrypted(Compound(f))
    except (TableError, struct.error, OSError):
        return False


def _encrypted(compound: Compound) -> bool:
    return compound.has("EncryptedPackage") or compound.has("EncryptionInfo")


def check_compound(path: pathlib.Path, limits: Limits) -> None:
    """Raise a clear error for an encrypted workbook or a sheet past the limits; return
    when calamine may be given the file."""
    try:
        with path.open("rb") as f:
            compound = Compound(f)
            if _encrypted(compound):
                raise TableError("import-015", PASSWORD_MESSAGE)
            name = "Workbook" if compound.has("Workbook") else "Book"
            if not compound.has(name):
                raise _bad("no Workbook stream")
            stream = compound.stream(name)
    except struct.error:
        raise _bad("a truncated structure") from None
    check_biff(stream, limits)


def check_biff(stream: bytes, limits: Limits) -> None:
    """Every worksheet's cells within the limits, and its grid within calamine's cap."""
    offset, size = 0, len(stream)
    depth = 0
    sheet_no = 0
    extent = Extent()
    kind = 0
    while offset + 4 <= size:
        record, length = struct.unpack_from("<HH", stream, offset)
        body = offset + 4
        offset = body + length
        if record == _BOF:
            depth += 1
            kind = struct.unpack_from("<H", stream, body + 2)[0] if length >= 4 else 0
            if kind == _WORKSHEET:
                sheet_no += 1
                extent = Extent()
        elif record == _EOF:
            if kind == _WORKSHEET:
                _check_grid(extent, limits, sheet_no)
            depth -= 1
            kind = 0
        elif record == _FILEPASS:
            raise TableError("import-015", PASSWORD_MESSAGE)
        elif record == _DIMENSIONS and length >= 12:
            first, last, first_col, last_col = struct.unpack_from("<IIHH", stream, body)
            extent.declared = max(0, last - first) * max(0, last_col - first_col)
        elif (record in _CELLS or record in _MULTI) and length >= 4:
            row, col = struct.unpack_from("<HH", stream, body)
            last = col
            if record in _MULTI and length >= 6:
                (last,) = struct.unpack_from("<H", stream, body + length - 2)
            extent.add(row + 1, col)
            extent.add(row + 1, max(col, last))
            if record not in _BLANKS:
                error = beyond(row + 1, max(col, last), limits)
                if error is not None:
                    raise error
    if kind == _WORKSHEET:  # a stream cut before its sheet's EOF record
        _check_grid(extent, limits, sheet_no)


def _check_grid(extent: Extent, limits: Limits, sheet_no: int) -> None:
    if extent.cells > limits.calamine_max_cells:
        raise TableError(
            "import-040",
            f"Sheet #{sheet_no} spans {extent.cells} cells from its first to its last cell "
            f"(rows {extent.first_row}-{extent.last_row}); the limit for XLS is "
            f"{limits.calamine_max_cells}",
        )
