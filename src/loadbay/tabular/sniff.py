"""Guessing what an uploaded file is: its format, a text file's encoding, a CSV's delimiter."""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import pathlib
from collections import Counter

from loadbay.tabular.readers import TableError

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
_TEXT_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# Bytes that cp1252 leaves undefined: a file holding one is not cp1252, read it as latin-1.
_CP1252_HOLES = tuple(bytes([b]) for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D))
DELIMITERS = (",", ";", "\t", "|")
SAMPLE_BYTES = 64 * 1024
ENCODING_BLOCK = 1 << 20


def detect_format(filename: str, head: bytes) -> str:
    """ "csv" | "tsv" | "xlsx" | "xls" | "json" | "ndjson", from the first bytes, then the name.

    Content wins over the name because users rename files; but a `.csv` or `.tsv` whose
    first character happens to be `[` or `{` is still a CSV (a header like `[Code]`).
    """
    ext = pathlib.PurePath(filename).suffix.lower()
    if head.startswith(_ZIP):
        return "xlsx"
    if head.startswith(_OLE):
        return "xls"
    text = _head_text(head)
    if text is None:
        raise TableError("import-002", FILE_TYPE_MESSAGE)
    first = text.lstrip()[:1]
    if first in ("[", "{") and ext not in (".csv", ".tsv", ".tab"):
        return "json" if first == "[" else "ndjson"
    fmt = _EXTENSIONS.get(ext)
    if fmt is None or fmt in ("xlsx", "xls"):
        # A spreadsheet name without a spreadsheet signature is not one we can read.
        raise TableError("import-002", FILE_TYPE_MESSAGE)
    return fmt


def _head_text(head: bytes) -> str | None:
    """The head as text, or None when it looks binary (NUL bytes outside UTF-16)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", errors="ignore")
    if b"\x00" in head:
        return None
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    return head.decode("utf-8", errors="ignore")


def detect_encoding(path: pathlib.Path) -> str:
    """A text file's encoding: its BOM, else UTF-8 if every byte is, else cp1252 or latin-1.

    The whole file is checked, in blocks, because a spreadsheet export is often plain
    ASCII for a million rows and then one accented name near the end.
    """
    with path.open("rb") as f:
        head = f.read(4)
        if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
            return "utf-32"
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
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
