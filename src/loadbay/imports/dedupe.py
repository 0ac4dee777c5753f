"""Keys seen earlier in the same file, for "duplicate of row N".

A duplicate cannot be decided inside one chunk, and a Python set of a million
keys costs ~100 MB, so the plan step keeps the keys in a throwaway SQLite file.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType


class KeyIndex:
    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="loadbay-keys-")
        self._db = sqlite3.connect(Path(self._dir.name) / "keys.db", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("PRAGMA cache_size=-32768")
        self._db.execute(
            "CREATE TABLE k (key TEXT PRIMARY KEY, row INTEGER NOT NULL) WITHOUT ROWID"
        )
        self._db.execute("BEGIN")

    def first_rows(self, batch: Sequence[tuple[str, int]]) -> dict[int, int]:
        """For the rows in `batch` (key, row number) whose key came earlier: row → first row."""
        before = self._db.total_changes
        self._db.executemany("INSERT OR IGNORE INTO k (key, row) VALUES (?, ?)", batch)
        if self._db.total_changes - before == len(batch):
            return {}  # the common case: every key is new, no Python loop over the batch
        keys = list({k for k, _ in batch})
        first: dict[str, int] = {}
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            marks = ",".join("?" * len(part))
            first.update(self._db.execute(f"SELECT key, row FROM k WHERE key IN ({marks})", part))
        return {row: first[key] for key, row in batch if first[key] != row}

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()

    def __enter__(self) -> KeyIndex:
        return self

    def __exit__(
        self, *_exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
    ) -> None:
        self.close()
