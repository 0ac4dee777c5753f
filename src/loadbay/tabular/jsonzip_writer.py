"""JSON writers: the export's zip of parts, and a plain JSON array / NDJSON file.

Export: records split into files of `part_rows`, all in one zip, each part a
JSON array streamed into its zip entry. Records are encoded in batches by
orjson (one call per batch, the brackets cut off) and joined with commas, so
at most one batch of encoded records is in memory, never a part.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, BinaryIO, Self

import orjson

from loadbay.tabular.zip_writer import DeflatedEntries, StreamingZip

if TYPE_CHECKING:
    from loadbay.tabular.writers import Cell

_BATCH = 1_000
# 200k records x 12 fields: level 1 gives 12.5 MB, 3 is 10% smaller and ~20%
# slower, the default 6 is 20% smaller and twice as slow. Worker time is the
# scarcer resource; a tenth more download is not.
COMPRESSLEVEL = 1


def json_default(value: object) -> object:
    """orjson's fallback: Decimal as its exact text (orjson does datetimes itself, ISO 8601)."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot write a {type(value).__name__} to JSON")


def dumps_batch(records: list[Any]) -> bytes:
    """The records as JSON array members, comma-separated, without the brackets."""
    return orjson.dumps(records, default=json_default, option=orjson.OPT_NON_STR_KEYS)[1:-1]


class JsonZipWriter:
    """Records go to `{base_name}_1.json`, `{base_name}_2.json`, ... inside one zip.

    Values orjson cannot keep exactly: NaN and infinity become null (JSON has
    neither), integers beyond 64 bits are an error.
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | BinaryIO,
        *,
        base_name: str,
        part_rows: int = 10_000,
        compresslevel: int = COMPRESSLEVEL,
        entries: DeflatedEntries | None = None,
    ) -> None:
        """`entries`: deflate the parts into `target` for another writer's zip (parallel
        exports), without a zip around them and without an empty part for no records."""
        if not base_name or any(c in base_name for c in "/\\\x00") or base_name in {".", ".."}:
            raise ValueError(f"bad base name {base_name!r}: it names files inside the zip")
        if part_rows < 1:
            raise ValueError("part_rows must be at least 1")
        self._base, self._part_rows = base_name, part_rows
        self._owns = isinstance(target, str | os.PathLike)
        self._fp: BinaryIO = open(target, "wb") if isinstance(target, str | os.PathLike) else target  # noqa: SIM115
        self._zip: StreamingZip | DeflatedEntries = entries or StreamingZip(self._fp, compresslevel)
        self._empty_part = entries is None
        self._parts = 0
        self._in_part = 0  # records in the open part, written or pending
        self._part_open = self._first_batch = False
        self._pending: list[Any] = []
        self._closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    @property
    def parts(self) -> int:
        """Files started so far (one even for zero records once closed)."""
        return self._parts

    def write_record(self, record: Mapping[Any, Any]) -> None:
        self.write_records((record,))

    def write_records(self, records: Iterable[Mapping[Any, Any]]) -> None:
        if self._closed:
            raise RuntimeError("the JSON zip writer is closed")
        pending, part_rows = self._pending, self._part_rows
        for record in records:
            if self._in_part == part_rows:
                self._end_part()
            pending.append(record)
            self._in_part += 1
            if len(pending) == _BATCH:
                self._write_pending()

    def close(self) -> None:
        if self._closed:
            return
        if self._parts == 0 and not self._pending and self._empty_part:
            self._start_part()  # an empty export is one file holding []
        self._end_part()
        self._zip.finish()
        self._closed = True
        if self._owns:
            self._fp.close()
        else:
            self._fp.flush()

    def abort(self) -> None:
        """Stop after an error without finishing the zip; closes a file we opened."""
        self._closed = True
        self._pending.clear()
        if self._owns:
            self._fp.close()

    def _start_part(self) -> None:
        self._parts += 1
        self._zip.begin(f"{self._base}_{self._parts}.json")
        self._zip.write(b"[")
        self._part_open, self._first_batch = True, True

    def _write_pending(self) -> None:
        if not self._part_open:
            self._start_part()
        data = dumps_batch(self._pending)
        self._zip.write(data if self._first_batch else b"," + data)
        self._first_batch = False
        self._pending.clear()

    def _end_part(self) -> None:
        if self._pending:
            self._write_pending()
        if self._part_open:
            self._zip.write(b"]")
            self._zip.end()
            self._part_open = False
        self._in_part = 0


class JsonRowWriter:
    """Rows as objects keyed by the headers: one JSON array, or one object a line (NDJSON).

    A row shorter than the headers gets null for the missing keys; a longer one
    is an error, its extra cells would have no key.
    """

    def __init__(
        self, target: str | os.PathLike[str] | BinaryIO, headers: list[str], *, lines: bool
    ) -> None:
        self._owns = isinstance(target, str | os.PathLike)
        self._fp: BinaryIO = open(target, "wb") if isinstance(target, str | os.PathLike) else target  # noqa: SIM115
        self._headers, self._lines = list(headers), lines
        self._count = self._written = 0
        self._closed = False
        if not lines:
            self._fp.write(b"[")

    def write_rows(self, rows: Iterable[Sequence[Cell]]) -> None:
        if self._closed:
            raise RuntimeError("the JSON writer is closed")
        batch: list[dict[str, Any]] = []
        try:
            for row in rows:
                batch.append(self._record(row))
                if len(batch) == _BATCH:
                    self._write(batch)
        finally:  # the rows before a bad one are written, as the other formats do
            self._write(batch)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._lines:
            self._fp.write(b"]")
        if self._owns:
            self._fp.close()
        else:
            self._fp.flush()

    def _record(self, row: Sequence[Cell]) -> dict[str, Any]:
        headers = self._headers
        if len(row) > len(headers):
            raise ValueError(
                f"row {self._count + 1}: {len(row)} cells but only {len(headers)} headers"
            )
        self._count += 1
        record = dict(zip(headers, row, strict=False))
        for key in headers[len(row) :]:
            record[key] = None
        return record

    def _write(self, batch: list[dict[str, Any]]) -> None:
        if not batch:
            return
        if self._lines:
            data = b"".join(
                orjson.dumps(r, default=json_default, option=orjson.OPT_APPEND_NEWLINE)
                for r in batch
            )
        else:
            data = orjson.dumps(batch, default=json_default)[1:-1]
            if self._written:
                data = b"," + data
        self._fp.write(data)
        self._written += len(batch)
        batch.clear()
