"""Guessing what an uploaded file is: its format, a text file's encoding, a CSV's delimiter."""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import pathlib
from collections import Counter

from loadbay.tabular.table import TableError

_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
# The vendor's message, used exactly (loadbay also reads TSV, JSON and NDJSON).
FILE_TYPE_MESSAGE = "The file must be a file of type: csv, xls, xlsx."
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xls",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}
# Bytes that cp1252 leaves undefined: a file holding one is not cp1252, read it as latin-1.
_CP1252_HOLES = tuple(bytes([b]) for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D))
DELIMITERS = (",", ";", "\t", "|")
SAMPLE_BYTES = 64 * 1024
ENCODING_BLOCK = 1 << 20


# What loadbay reads, for the `detail` of the vendor's file-type answer.
READABLE = "loadbay reads CSV, TSV, XLSX, XLS, JSON and NDJSON"
# Signatures of files people upload by mistake, named in the answer so they know which.
_SIGNATURES = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x7fELF", "a program (ELF executable)"),
    (b"{\\rtf", "an RTF document"),
    (b"SQLite format 3\x00", "an SQLite database"),
)
# Zip members that say what kind of Office Open XML (or OpenDocument) file a zip is.
_ZIP_KINDS = (
    (b"xl/", None),
    (b"word/", "a Word document (DOCX)"),
    (b"ppt/", "a PowerPoint presentation (PPTX)"),
    (b"opendocument.spreadsheet", "an OpenDocument spreadsheet (ODS)"),
    (b"opendocument.text", "an OpenDocument text document (ODT)"),
)
_TEXT_CONTROLS = frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D, 0x1A, 0x00}


def file_type_error(found: str) -> TableError:
    """The vendor's 422 `import-002`, its message exactly, with what was found in `detail`."""
    return TableError("import-002", FILE_TYPE_MESSAGE, detail=f"found {found}; {READABLE}")


def detect_format(filename: str, head: bytes) -> str:
    """ "csv" | "tsv" | "xlsx" | "xls" | "json" | "ndjson", from the first bytes, then the name.

    Content wins over the name because users rename files; but a `.csv` or `.tsv` whose
    first character happens to be `[` or `{` is still a CSV (a header like `[Code]`).
    A file that is none of these (a PDF, an image, a zip without a workbook) is refused
    naming what it is, whatever its name.
    """
    ext = pathlib.PurePath(filename).suffix.lower()
    if head.startswith(_ZIP):
        found = _zip_kind(head)
        if found is not None:
            raise file_type_error(found)
        return "xlsx"
    if head.startswith(_OLE):
        return "xls"
    for signature, found in _SIGNATURES:
        if head.startswith(signature):
            raise file_type_error(found)
    text = _head_text(head)
    if text is None:
        raise file_type_error("binary data, not text")
    first = text.lstrip("\ufeff \t\r\n")[:1]
    if first in ("[", "{") and ext not in (".csv", ".tsv", ".tab"):
        return "json" if first == "[" else "ndjson"
    fmt = _EXTENSIONS.get(ext)
    if fmt in ("xlsx", "xls"):
        # A spreadsheet name without a spreadsheet signature is not one we can read.
        kind = "an HTML page" if _is_html(text) else "text"
        raise file_type_error(f"{kind}, not an {fmt.upper()} workbook, in a file named {ext}")
    if fmt is None:
        named = f"a file named {ext}" if ext else "a file name without an extension"
        raise file_type_error(named)
    return fmt


def _zip_kind(head: bytes) -> str | None:
    """None for a zip that may be a workbook, else what it is. Member names sit in the
    local headers, so the head shows the first ones; a workbook's come early."""
    if b"[Content_Types].xml" in head and b"word/" not in head and b"ppt/" not in head:
        return None
    for marker, found in _ZIP_KINDS:
        if marker in head:
            return found
    return "a ZIP archive that is not an XLSX workbook"


def _is_html(text: str) -> bool:
    start = text.lstrip("\ufeff \t\r\n")[:15].lower()
    return start.startswith(("<!doctype html", "<html", "<table"))


def wide_encoding(head: bytes) -> str | None:
    """UTF-32 or UTF-16 from a BOM, or from where the NUL bytes of mostly-ASCII text
    fall when there is none (Windows "Unicode text" exports); else None."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:4096]
    if len(sample) < 4 or b"\x00" not in sample:
        return None
    quads = len(sample) // 4
    if quads:
        zero4 = [sum(1 for i in range(k, quads * 4, 4) if sample[i] == 0) / quads for k in range(4)]
        # A code point's top byte is always 0 and the next nearly always (BMP); the
        # lowest is 0 only for NUL itself.
        if zero4[2] > 0.95 and zero4[3] > 0.95 and zero4[0] < 0.05:
            return "utf-32-le"
        if zero4[0] > 0.95 and zero4[1] > 0.95 and zero4[3] < 0.05:
            return "utf-32-be"
    pairs = len(sample) // 2
    even = sum(1 for i in range(0, pairs * 2, 2) if sample[i] == 0) / pairs
    odd = sum(1 for i in range(1, pairs * 2, 2) if sample[i] == 0) / pairs
    # ASCII delimiters, digits and line ends put a 0 in every other byte even in text
    # of another script; a character's low byte is 0 almost never.
    if odd > 0.3 and even < 0.02:
        return "utf-16-le"
    if even > 0.3 and odd < 0.02:
        return "utf-16-be"
    return None


def _head_text(head: bytes) -> str | None:
    """The head as text, or None when it looks binary.

    A stray NUL byte (or a few) is text: its row fails naming the cell. Many NULs or
    other control bytes are not."""
    wide = wide_encoding(head)
    if wide is not None:
        return head.decode(wide, errors="ignore")
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    sample = head[:4096]
    if sample:
        nuls = sample.count(0)
        controls = sum(1 for b in sample if b in _TEXT_CONTROLS)
        if nuls > len(sample) // 100 + 8 or controls > len(sample) // 50 + 4:
            return None
    return head.decode("utf-8", errors="ignore")


def detect_encoding(path: pathlib.Path) -> str:
    """A text file's encoding: its BOM, else UTF-16/32 by the pattern of its NUL bytes,
    else UTF-8 if every byte is, else cp1252 or latin-1.

    The whole file is checked, in blocks, because a spreadsheet export is often plain
    ASCII for a million rows and then one accented name near the end.
    """
    with path.open("rb") as f:
        head = f.read(SAMPLE_BYTES)
        wide = wide_encoding(head)
        if wide is not None:
            return wide
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        utf8 = cp1252 = True
        while block := f.read(ENCODING_BLOCK):
            if utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    utf8 = False
            if cp1252 and any(hole in block for hole in _CP1252_HOLES):
                cp1252 = False
            if not utf8 and not cp1252:
                break
        if utf8:
            try:
                decoder.decode(b"", True)
            except UnicodeDecodeError:
                utf8 = False
    if utf8:
        return "utf-8"
    return "cp1252" if cp1252 else "latin-1"


def sniff_delimiter(sample: str, complete: bool) -> str:
    """The delimiter that splits most records of `sample` into the same number (>1) of fields.

    Each candidate is tried with the csv module itself, so delimiters inside quoted
    fields do not count. `complete` says the sample is the whole file; otherwise its
    last, possibly cut, record is left out.
    """
    if not complete:
        cut = max(sample.rfind("\n"), sample.rfind("\r"))
        sample = sample[:cut] if cut > 0 else sample
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        counts = _field_counts(sample, delimiter)
        if not counts:
            continue
        width, hits = counts.most_common(1)[0]
        if width < 2:
            continue
        score = (hits / sum(counts.values()), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _field_counts(sample: str, delimiter: str) -> Counter[int]:
    """How many non-blank records of the sample have each number of fields."""
    counts: Counter[int] = Counter()
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    # An unterminated quote at the cut ends the sample; the records before it are enough.
    with contextlib.suppress(csv.Error):
        for record in reader:
            if any(record):
                counts[len(record)] += 1
    return counts
