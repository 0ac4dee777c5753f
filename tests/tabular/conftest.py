"""Workbooks written by hand: SpreadsheetML parts zipped with the zipfile module.

No binary fixture is committed and no spreadsheet library is needed; each test states
the exact XML it reads, which is also what makes the reader's edge cases visible.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

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
        f"{XML_DECL}<{p}worksheet {xmlns} xmlns:r=\"{REL_NS}\">{head}"
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
    sheets: Sequence[tuple[str, str]],
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
        sheet_list.append(f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"/>')
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


@pytest.fixture
def make_xlsx(tmp_path: Path) -> XlsxFactory:
    counter = iter(range(1_000_000))

    def make(sheets: Sequence[tuple[str, str]] | str, **kwargs: object) -> Path:
        if isinstance(sheets, str):
            sheets = [("Sheet1", sheets)]
        return build_xlsx(tmp_path / f"book{next(counter)}.xlsx", sheets, **kwargs)  # type: ignore[arg-type]

    return make
