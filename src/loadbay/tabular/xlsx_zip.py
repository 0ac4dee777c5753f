"""Zip members of an XLSX, bounded: sizes checked from the directory, and again while inflating.

The zip directory states each member's sizes, but it is written by whoever made the
file: python-calamine (Rust's zip reader) inflates a member to its end whatever the
directory says. So every member a reader will touch is first inflated here, from its
raw compressed bytes, counting the output and stopping at the first byte past its
declared size, the size limit or the ratio limit. Inflating costs ~3 ms a MB; the parts
checked this way are the ones calamine would inflate anyway.
"""

from __future__ import annotations

import pathlib
import struct
import zipfile
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from loadbay.tabular.table import Limits, TableError

BOMB_FLOOR = 10 * 1024**2  # below this, even a 1000:1 ratio is an ordinary sparse sheet
_READ = 1 << 16
_OUT = 1 << 20
_LOCAL = struct.Struct("<4s22xHH")


def check_directory(info: zipfile.ZipInfo, limits: Limits) -> None:
    """Zip-bomb guard from the directory alone: nothing has been inflated yet."""
    _check(info, info.file_size, limits, "is too large when uncompressed")


def _check(info: zipfile.ZipInfo, size: int, limits: Limits, what: str) -> None:
    limit = limits.max_xlsx_uncompressed_bytes
    if size > BOMB_FLOOR:
        limit = min(limit, limits.max_xlsx_ratio * max(info.compress_size, 1))
    if size > limit:
        raise TableError(
            "import-040",
            f"The workbook part {info.filename} {what} ({size} bytes from "
            f"{info.compress_size}; the limit is {limit} bytes)",
        )


def inflate(path: pathlib.Path, info: zipfile.ZipInfo, limits: Limits) -> Iterator[bytes]:
    """The member's bytes, block by block, never more than its declared size allows."""
    check_directory(info, limits)
    if info.flag_bits & 0x1:
        raise TableError("import-015", "The workbook is password-protected")
    with path.open("rb") as f:
        f.seek(info.header_offset)
        head = f.read(_LOCAL.size)
        if len(head) < _LOCAL.size or _LOCAL.unpack(head)[0] != b"PK\x03\x04":
            raise TableError("import-015", f"The workbook part {info.filename} is corrupt")
        _, name_len, extra_len = _LOCAL.unpack(head)
        f.seek(name_len + extra_len, 1)
        left = info.compress_size
        if info.compress_type == zipfile.ZIP_STORED:
            blocks = _stored(f, left)
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            blocks = _inflated(f, info, left, limits)
        else:
            raise TableError(
                "import-015", f"The workbook part {info.filename} uses an unknown compression"
            )
        crc = 0
        for block in blocks:
            crc = zlib.crc32(block, crc)
            yield block
        if crc != info.CRC:
            raise TableError(
                "import-015", f"The workbook part {info.filename} is corrupt (Bad CRC-32)"
            )


def _stored(f: BinaryIO, left: int) -> Iterator[bytes]:
    while left > 0 and (block := f.read(min(_READ, left))):
        left -= len(block)
        yield block


def _inflated(f: BinaryIO, info: zipfile.ZipInfo, left: int, limits: Limits) -> Iterator[bytes]:
    read = f.read
    inflater = zlib.decompressobj(-15)
    total = 0
    pending = b""
    try:
        while True:
            if not pending:
                if left <= 0 or inflater.eof:
                    break
                pending = read(min(_READ, left))
                if not pending:
                    break
                left -= len(pending)
            out = inflater.decompress(pending, _OUT)
            pending = inflater.unconsumed_tail
            total += len(out)
            if total > info.file_size:
                raise TableError(
                    "import-040",
                    f"The workbook part {info.filename} inflates to more than its declared "
                    f"{info.file_size} bytes; the zip directory is false",
                )
            _check(info, total, limits, "inflates to more than the limit")
            if out:
                yield out
    except zlib.error as exc:
        raise TableError(
            "import-015", f"The workbook part {info.filename} is corrupt ({exc})"
        ) from None


def drain(path: pathlib.Path, info: zipfile.ZipInfo, limits: Limits) -> None:
    for _ in inflate(path, info, limits):
        pass
