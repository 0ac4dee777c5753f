"""The readers' limits from the settings, the same for the preview, the review and the plan."""

from __future__ import annotations

from loadbay.settings import get_settings
from loadbay.tabular.readers import Limits


def limits() -> Limits:
    s = get_settings()
    return Limits(
        max_rows=s.max_rows,
        max_columns=s.max_columns,
        max_cell_chars=s.max_cell_chars,
        max_xlsx_uncompressed_bytes=s.max_xlsx_uncompressed_bytes,
        max_xlsx_ratio=s.max_xlsx_ratio,
        xlsx_calamine_max_bytes=s.xlsx_calamine_max_bytes,
        calamine_max_cells=s.calamine_max_cells,
        max_json_depth=s.max_json_depth,
    )
