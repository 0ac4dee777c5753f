"""Export formats, keyed by the request's `download` value.

Adding a format: a module here with an `ExportFormat` subclass, and its line below."""

from __future__ import annotations

from loadbay.exports.formats.base import ExportFormat
from loadbay.exports.formats.csv import CsvFormat
from loadbay.exports.formats.jsonzip import JsonZipFormat
from loadbay.exports.formats.xlsx import XlsxFormat

FORMATS: dict[str, ExportFormat] = {
    f.download: f for f in (XlsxFormat(), CsvFormat(), JsonZipFormat())
}


def format_of(download: str) -> ExportFormat:
    try:
        return FORMATS[download]
    except KeyError:
        raise ValueError(f"unknown export format {download!r}") from None
