"""Fixtures for the tabular readers' tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.tabular.xlsx_build import XlsxFactory, build_xlsx


@pytest.fixture
def make_xlsx(tmp_path: Path) -> XlsxFactory:
    counter = iter(range(1_000_000))

    def make(sheets: Sequence[tuple[str, str | bytes]] | str, **kwargs: object) -> Path:
        if isinstance(sheets, str):
            sheets = [("Sheet1", sheets)]
        return build_xlsx(tmp_path / f"book{next(counter)}.xlsx", sheets, **kwargs)  # type: ignore[arg-type]

    return make
