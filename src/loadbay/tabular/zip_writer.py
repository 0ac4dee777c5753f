"""The zip container the XLSX and JSON-zip writers share, written forward only.

`StreamingZip` writes a zip to any stream (the S3 upload sink cannot seek);
`DeflateSink` and `DeflatedEntries` deflate pieces in one process that another
process's `StreamingZip` splices into its entries (parallel exports), with
`crc32_combine` joining their checksums.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

_U32 = 0xFFFFFFFF  # also the marker for "the value is in the ZIP64 extra field"
_ZIP64_LIMIT = _U32  # tests lower it to exercise the ZIP64 records


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, i = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[i]
        vector >>= 1
        i += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, row) for row in matrix]


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC-32 of A + B from crc32(A), crc32(B) and len(B) (zlib's crc32_combine, which
    Python's zlib does not expose): B's length in zero bytes is applied to crc1 by repeated
    squaring of the one-zero-bit operator, O(log len2)."""
    if len2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit
    even = _gf2_square(odd)  # two zero bits
    odd = _gf2_square(even)  # four zero bits
    while True:
        even = _gf2_square(odd)  # first pass: one zero byte
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


@dataclass(frozen=True)
class Deflated:
    """A piece of raw deflate data in a file: where, how long, and what it inflates to."""

    offset: int
    csize: int  # compressed bytes
    crc: int  # CRC-32 of the inflated bytes
    size: int  # inflated bytes


class DeflateSink:
    """Raw deflate into a file, in pieces another process splices into a zip.

    `write`, then `end(final=False)` for a piece that continues a stream (it ends on a
    byte boundary with a sync flush and no final block: concatenated, such pieces are one
    valid stream, as pigz makes them), or `end(final=True)` for a whole entry. Each piece
    starts with a fresh compressor, so it never refers back into another piece."""

    def __init__(self, fp: BinaryIO, level: int) -> None:
        self._fp, self._level = fp, level
        self._pos = 0
        self._start()

    def _start(self) -> None:
        self._deflate = zlib.compressobj(self._level, zlib.DEFLATED, -15)
        self._offset, self._crc, self._size = self._pos, 0, 0

    def write(self, data: bytes) -> None:
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        packed = self._deflate.compress(data)
        if packed:
            self._fp.write(packed)
            self._pos += len(packed)

    def end(self, *, final: bool) -> Deflated:
        packed = self._deflate.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)
        self._fp.write(packed)
        self._pos += len(packed)
        piece = Deflated(self._offset, self._pos - self._offset, self._crc, self._size)
        self._start()
        return piece


class DeflatedEntries:
    """`StreamingZip`'s entry calls (`begin`, `write`, `end`, `finish`), but each entry
    only deflated into a file and listed in `entries`: the zip is made elsewhere, from
    the pieces of several processes (`StreamingZip.add_deflated`)."""

    def __init__(self, fp: BinaryIO, level: int) -> None:
        self._sink = DeflateSink(fp, level)
        self._name = ""
        self.entries: list[tuple[str, Deflated]] = []

    def begin(self, name: str) -> None:
        self._name = name

    def write(self, data: bytes) -> None:
        self._sink.write(data)

    def end(self) -> None:
        self.entries.append((self._name, self._sink.end(final=True)))

    def finish(self) -> None:
        pass


def _copy(source: BinaryIO, piece: Deflated, out: Callable[[bytes], None]) -> None:
    source.seek(piece.offset)
    left = piece.csize
    while left:
        block = source.read(min(left, 1 << 20))
        if not block:
            raise ValueError("a deflated piece is shorter than recorded")
        out(block)
        left -= len(block)


class StreamingZip:
    """A forward-only zip writer, in the layout Excel accepts, for any writable stream.

    `begin`, any number of `write`, `end` per entry; `finish` writes the
    central directory. Not `zipfile`: a streamed entry's size is unknown, and
    `zipfile` then either fails at 4 GiB or, with `force_zip64=True`, puts a
    ZIP64 extra with 0xFFFFFFFF sizes in the local header; on an unseekable
    target (the S3 upload sink) that comes with the data-descriptor flag, the
    form Excel has been reported to reject as corrupt even for small files
    (duckdb-excel#64). This writes the layout of Apache POI's Excel-tested
    OpcOutputStream: local header with version 4.5, data-descriptor flag, zero
    sizes, no extra field; a data descriptor after the data (8-byte sizes only
    past 4 GiB); ZIP64 fields only in the central directory, only when needed.
    Offsets are counted, never sought. It also stamps entries with the real
    time (`zipfile.open` writes 1980) and takes our compression level.
    """

    def __init__(self, fp: BinaryIO, level: int) -> None:
        self._fp, self._level, self._pos = fp, level, 0
        # name, flags, crc, compressed size, size, local header offset
        self._entries: list[tuple[bytes, int, int, int, int, int]] = []
        t = time.localtime()
        self._stamp = struct.pack(
            "<HH",
            (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2),
            ((t.tm_year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday,
        )
        self._name, self._flags = b"", 0
        self._offset = self._crc = self._csize = self._size = 0
        self._deflate = zlib.compressobj(level, zlib.DEFLATED, -15)

    def _out(self, data: bytes) -> None:
        self._fp.write(data)
        self._pos += len(data)

    def begin(self, name: str) -> None:
        self._name, self._offset = name.encode("utf-8"), self._pos
        self._flags = 0x08 if name.isascii() else 0x808  # bit 11: the name is UTF-8
        self._crc = self._csize = self._size = 0
        self._deflate = zlib.compressobj(self._level, zlib.DEFLATED, -15)
        # version 4.5, sizes after the data, deflate; crc and sizes zero here
        head = struct.pack("<HHH", 45, self._flags, 8) + self._stamp + bytes(12)
        self._out(b"PK\x03\x04" + head + struct.pack("<HH", len(self._name), 0) + self._name)

    def write(self, data: bytes) -> None:
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        packed = self._deflate.compress(data)
        if packed:
            self._csize += len(packed)
            self._out(packed)

    def end(self) -> None:
        packed = self._deflate.flush()
        self._csize += len(packed)
        self._out(packed)
        self._close_entry()

    def _close_entry(self) -> None:
        """The data descriptor after an entry's data, and its central directory record."""
        big = self._csize > _ZIP64_LIMIT or self._size > _ZIP64_LIMIT
        sizes = struct.pack("<QQ" if big else "<II", self._csize, self._size)
        self._out(b"PK\x07\x08" + struct.pack("<I", self._crc) + sizes)
        entry = (self._name, self._flags, self._crc, self._csize, self._size, self._offset)
        self._entries.append(entry)

    def splice(self, source: BinaryIO, piece: Deflated) -> None:
        """Continue the open entry with a piece deflated elsewhere (`DeflateSink`, not final).

        Our own deflate output so far ends on a byte boundary first (sync flush), and a new
        compressor follows, so no back-reference crosses into or out of the piece."""
        packed = self._deflate.flush(zlib.Z_SYNC_FLUSH)
        self._csize += len(packed)
        self._out(packed)
        _copy(source, piece, self._out)
        self._crc = crc32_combine(self._crc, piece.crc, piece.size)
        self._csize += piece.csize
        self._size += piece.size
        self._deflate = zlib.compressobj(self._level, zlib.DEFLATED, -15)

    def add_deflated(self, name: str, source: BinaryIO, piece: Deflated) -> None:
        """A whole entry deflated elsewhere (`DeflateSink`, final)."""
        self.begin(name)
        _copy(source, piece, self._out)
        self._crc, self._csize, self._size = piece.crc, piece.csize, piece.size
        self._close_entry()

    def add(self, name: str, text: str) -> None:
        self.begin(name)
        self.write(text.encode("utf-8"))
        self.end()

    def finish(self) -> None:
        start = self._pos
        for name, flags, crc, csize, size, offset in self._entries:
            extra = b""  # ZIP64 values, in the order the spec gives, only where needed
            if size > _ZIP64_LIMIT:
                extra, size = extra + struct.pack("<Q", size), _U32
            if csize > _ZIP64_LIMIT:
                extra, csize = extra + struct.pack("<Q", csize), _U32
            if offset > _ZIP64_LIMIT:
                extra, offset = extra + struct.pack("<Q", offset), _U32
            if extra:
                extra = struct.pack("<HH", 1, len(extra)) + extra
            head = struct.pack("<HHHH", 45, 45, flags, 8) + self._stamp
            tail = struct.pack(
                "<IIIHHHHHII", crc, csize, size, len(name), len(extra), 0, 0, 0, 0, offset
            )
            self._out(b"PK\x01\x02" + head + tail + name + extra)
        end, size, count = self._pos, self._pos - start, len(self._entries)
        if start > _ZIP64_LIMIT or size > _ZIP64_LIMIT or count >= 0xFFFF:
            record = struct.pack("<QHHIIQQQQ", 44, 45, 45, 0, 0, count, count, size, start)
            self._out(b"PK\x06\x06" + record + b"PK\x06\x07" + struct.pack("<IQI", 0, end, 1))
            start, size, count = min(start, _U32), min(size, _U32), min(count, 0xFFFF)
        self._out(b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, count, count, size, start, 0))
