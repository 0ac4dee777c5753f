"""Deflate pieces made apart and put together: CRC-32 combination, spliced entries."""

from __future__ import annotations

import io
import random
import zipfile
import zlib

import pytest

from loadbay.tabular.zip_writer import (
    DeflatedEntries,
    DeflateSink,
    StreamingZip,
    crc32_combine,
)


@pytest.mark.parametrize("cut", [0, 1, 7, 1000, 65_537])
def test_crc32_combine_matches_zlib(cut: int) -> None:
    data = random.Random(cut).randbytes(70_000)
    a, b = data[:cut], data[cut:]
    assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(data)


def test_crc32_combine_of_nothing_keeps_the_first() -> None:
    assert crc32_combine(0x1234ABCD, 0, 0) == 0x1234ABCD


def _pieces(parts: list[bytes]) -> tuple[io.BytesIO, list]:
    scratch = io.BytesIO()
    sink = DeflateSink(scratch, 1)
    pieces = []
    for part in parts:
        # several writes a piece, as the XLSX rows part makes them
        for i in range(0, len(part), 999):
            sink.write(part[i : i + 999])
        pieces.append(sink.end(final=False))
    return scratch, pieces


def test_spliced_pieces_make_one_entry_that_inflates_and_checks() -> None:
    rnd = random.Random(3)
    parts = [
        b"".join(b"<row>%d</row>" % rnd.randrange(10**6) for _ in range(n))
        for n in (5, 3000, 0, 800)
    ]
    scratch, pieces = _pieces(parts)
    out = io.BytesIO()
    archive = StreamingZip(out, 1)
    archive.begin("sheet.xml")
    archive.write(b"<head>" * 500)
    for piece in pieces:
        archive.splice(scratch, piece)
    archive.write(b"</tail>")
    archive.end()
    archive.add("other.txt", "after")
    archive.finish()
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as z:
        assert z.testzip() is None  # every CRC and size right
        assert z.read("sheet.xml") == b"<head>" * 500 + b"".join(parts) + b"</tail>"
        assert z.read("other.txt") == b"after"


def test_deflated_entries_are_added_whole() -> None:
    scratch = io.BytesIO()
    entries = DeflatedEntries(scratch, 1)
    for name, body in (("a.json", b"[1,2]"), ("b.json", b"[]"), ("c.json", b"x" * 100_000)):
        entries.begin(name)
        entries.write(body)
        entries.end()
    out = io.BytesIO()
    archive = StreamingZip(out, 1)
    for i, (_name, piece) in enumerate(entries.entries, 1):
        archive.add_deflated(f"part_{i}.json", scratch, piece)
    archive.finish()
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as z:
        assert z.testzip() is None
        assert z.namelist() == ["part_1.json", "part_2.json", "part_3.json"]
        assert z.read("part_3.json") == b"x" * 100_000
