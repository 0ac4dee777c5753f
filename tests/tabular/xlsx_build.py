"""Workbooks written by hand: SpreadsheetML parts zipped with the zipfile module.

No binary fixture is committed and no spreadsheet library is needed; each test states
the exact XML it reads, which is also what makes the reader's edge cases visible.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

XlsxFactory = Callable[..., Path]


def worksheet(rows: str, *, prefix: str = "", head: str = "", tail: str = "") -> str:
    """A worksheet part around `rows` (the inside of sheetData)."""
    p = f"{prefix}:" if prefix else ""
    xmlns = f'xmlns:{prefix}="{MAIN_NS}"' if prefix else f'xmlns="{MAIN_NS}"'
    return (
        f'{XML_DECL}<{p}worksheet {xmlns} xmlns:r="{REL_NS}">{head}'
        f"<{p}sheetData>{rows}</{p}sheetData>{tail}</{p}worksheet>"
    )


def styles(num_fmts: dict[int, str], xf_fmt_ids: Sequence[int]) -> str:
    """A styles part: custom number formats, and one cellXfs entry per numFmtId given."""
    fmts = "".join(
        f'<numFmt numFmtId="{i}" formatCode="{code.replace(chr(34), "&quot;")}"/>'
        for i, code in num_fmts.items()
    )
    xfs = "".join(f'<xf numFmtId="{i}" fontId="0" fillId="0" borderId="0"/>' for i in xf_fmt_ids)
    return (
        f'{XML_DECL}<styleSheet xmlns="{MAIN_NS}">'
        f'<numFmts count="{len(num_fmts)}">{fmts}</numFmts>'
        '<cellStyleXfs count="1"><xf numFmtId="22"/></cellStyleXfs>'
        f'<cellXfs count="{len(xf_fmt_ids)}">{xfs}</cellXfs></styleSheet>'
    )


def build_xlsx(
    path: Path,
    sheets: Sequence[tuple[str, str | bytes]],
    *,
    shared: Sequence[str] | None = None,
    styles_xml: str | None = None,
    date1904: bool = False,
    extra: Sequence[tuple[str, str, str]] = (),
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """Write a workbook. `sheets` are (name, worksheet XML); `shared` are `<si>` bodies;
    `extra` are (name, relationship type suffix, target) for non-worksheet sheets."""
    sheet_list, rels, overrides = [], [], []
    for i, (name, _) in enumerate(sheets, 1):
        sheet_list.append(f'<sheet name="{escape(name)}" sheetId="{i}" r:id="rId{i}"/>')
        rels.append(
            f'<Relationship Id="rId{i}" Type="{REL_NS}/worksheet" '
            f'Target="worksheets/sheet{i}.xml"/>'
        )
        overrides.append(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="x"/>')
    for j, (name, rel_type, target) in enumerate(extra, len(sheets) + 1):
        sheet_list.insert(0, f'<sheet name="{name}" sheetId="{j}" r:id="rId{j}"/>')
        rels.append(f'<Relationship Id="rId{j}" Type="{REL_NS}/{rel_type}" Target="{target}"/>')
    if shared is not None:
        rels.append(
            f'<Relationship Id="rIdS" Type="{REL_NS}/sharedStrings" Target="sharedStrings.xml"/>'
        )
    if styles_xml is not None:
        rels.append(f'<Relationship Id="rIdT" Type="{REL_NS}/styles" Target="/xl/styles.xml"/>')
    pr = '<workbookPr date1904="1"/>' if date1904 else "<workbookPr/>"
    with zipfile.ZipFile(path, "w", compression) as z:
        z.writestr(
            "[Content_Types].xml",
            f'{XML_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            f'content-types">{"".join(overrides)}</Types>',
        )
        z.writestr(
            "_rels/.rels",
            f'{XML_DECL}<Relationships xmlns="{PKG_NS}"><Relationship Id="rId1" '
            f'Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        z.writestr(
            "xl/workbook.xml",
            f'{XML_DECL}<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">{pr}'
            f"<sheets>{''.join(sheet_list)}</sheets></workbook>",
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            f'{XML_DECL}<Relationships xmlns="{PKG_NS}">{"".join(rels)}</Relationships>',
        )
        for i, (_, xml) in enumerate(sheets, 1):
            z.writestr(f"xl/worksheets/sheet{i}.xml", xml)
        if shared is not None:
            body = "".join(f"<si>{s}</si>" for s in shared)
            z.writestr(
                "xl/sharedStrings.xml",
                f'{XML_DECL}<sst xmlns="{MAIN_NS}" count="{len(shared)}">{body}</sst>',
            )
        if styles_xml is not None:
            z.writestr("xl/styles.xml", styles_xml)
    return path


def _record(kind: int, data: bytes) -> bytes:
    return struct.pack("<HH", kind, len(data)) + data


def _biff_workbook(
    sheet: str,
    rows: Sequence[Sequence[object]],
    date1904: bool,
    far: Sequence[tuple[int, int, float]] = (),
    globals_extra: bytes = b"",
) -> bytes:
    """A BIFF8 workbook stream: globals (XF 0 General, XF 1 a date; one shared-string table)
    then one worksheet. Values: str, int/float, bool, ("date", serial), ("error", code).
    `far`: (0-based row, column, number) cells written after the rows, anywhere a BIFF
    record can point (row and column up to 65535)."""
    strings: list[str] = []
    cells = b"".join(_record(0x0203, struct.pack("<HHHd", r, c, 0, v)) for r, c, v in far)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            head = struct.pack("<HH", r, c)
            if isinstance(value, bool):
                cells += _record(0x0205, head + struct.pack("<HBB", 0, value, 0))
            elif isinstance(value, str):
                strings.append(value)
                cells += _record(0x00FD, head + struct.pack("<HI", 0, len(strings) - 1))
            elif isinstance(value, int | float):
                cells += _record(0x0203, head + struct.pack("<Hd", 0, value))
            elif isinstance(value, tuple) and value[0] == "date":
                cells += _record(0x0203, head + struct.pack("<Hd", 1, value[1]))
            elif isinstance(value, tuple) and value[0] == "error":
                cells += _record(0x0205, head + struct.pack("<HBB", 0, value[1], 1))
    width = max((len(r) for r in rows), default=0)
    sheet_stream = (
        _record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0010, 0x0DBB, 0x07CC, 0, 6))
        + _record(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, width, 0))
        + cells
        + _record(0x000A, b"")
    )
    sst = struct.pack("<II", len(strings), len(strings)) + b"".join(
        struct.pack("<HB", len(s), 1) + s.encode("utf-16-le") for s in strings
    )
    xfs = [struct.pack("<HHHBBBBIIH", 0, fmt, 1, 0x20, 0, 0, 0, 0, 0, 0) for fmt in (0, 14)]
    name = struct.pack("<BB", len(sheet), 1) + sheet.encode("utf-16-le")

    def globals_(sheet_offset: int) -> bytes:
        return (
            _record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 6))
            + _record(0x0042, struct.pack("<H", 1200))
            + _record(0x0022, struct.pack("<H", int(date1904)))
            + globals_extra
            + b"".join(_record(0x00E0, xf) for xf in xfs)
            + _record(0x0085, struct.pack("<IBB", sheet_offset, 0, 0) + name)
            + _record(0x00FC, sst)
            + _record(0x000A, b"")
        )

    head = globals_(0)
    return globals_(len(head)) + sheet_stream


def build_xls(
    path: Path,
    rows: Sequence[Sequence[object]],
    *,
    sheet: str = "Sheet1",
    date1904: bool = False,
    far: Sequence[tuple[int, int, float]] = (),
    globals_extra: bytes = b"",
) -> Path:
    """An .xls file: the BIFF8 stream in a compound (OLE2) file (`build_compound`)."""
    stream = _biff_workbook(sheet, rows, date1904, far, globals_extra)
    return build_compound(path, [("Workbook", stream)])


def build_compound(path: Path, streams: Sequence[tuple[str, bytes]]) -> Path:
    """A minimal compound (OLE2) file of 512-byte sectors: a FAT sector, each stream
    (padded past 4096 bytes to avoid the mini stream), one directory sector; the streams
    are the root's child and its chain of right siblings. At most 3 streams, 60 KB."""
    end, free, fat_mark = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    fat = [fat_mark]
    body = b""
    placed = []
    for _, data in streams:
        size = max(len(data), 4096)
        padded = data.ljust(-(-size // 512) * 512, b"\0")
        first = len(fat)
        count = len(padded) // 512
        fat += [*range(first + 1, first + count), end]
        placed.append((first, size))
        body += padded
    directory_sector = len(fat)
    fat.append(end)
    fat_sector = struct.pack(f"<{len(fat)}I", *fat).ljust(512, b"\xff")

    def entry(name: str, kind: int, right: int, child: int, start: int, length: int) -> bytes:
        encoded = (name + "\0").encode("utf-16-le") if name else b""
        return (
            encoded.ljust(64, b"\0")
            + struct.pack("<HBB", len(encoded), kind, 1)
            + struct.pack("<III", free, right, child)
            + bytes(16 + 4 + 16)
            + struct.pack("<IQ", start, length)
        )

    directory = entry("Root Entry", 5, free, 1, end, 0)
    for i, ((name, _), (first, size)) in enumerate(zip(streams, placed, strict=True), 1):
        right = i + 1 if i < len(streams) else free
        directory += entry(name, 2, right, free, first, size)
    directory = directory.ljust(512, b"\0")
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + bytes(16)
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + bytes(6)
        + struct.pack("<IIIIIIIII", 0, 1, directory_sector, 0, 4096, end, 0, end, 0)
        + struct.pack("<I", 0)
        + b"\xff" * (109 * 4 - 4)
    )
    path.write_bytes(header + fat_sector + body + directory)
    return path
