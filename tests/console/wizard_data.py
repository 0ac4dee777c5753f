"""A data type the messy outlet workbooks were made for (tests/fixtures/messy), for the
console's wizard tests: the file's own column titles, except "Outlet Name" → Name (a
similar name: suggested by its words)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MESSY = Path(__file__).parent.parent / "fixtures" / "messy"
NOTES_TITLE_MERGED = MESSY / "a2_outlets_notes_title_merged.xlsx"
STORE_FIELDS: list[dict[str, Any]] = [
    {"id": "dataId", "title": "Outlet Code", "type": "string", "primaryKey": True},
    {"id": "name", "title": "Name", "type": "string", "required": True},
    {"id": "kind", "title": "Outlet Type", "type": "option",
     "optionData": ["Minimarket", "Warung", "Supermarket", "Pharmacy", "Wholesale"]},
    {"id": "phone", "title": "Owner Phone No.", "type": "phone"},
    {"id": "postCode", "title": "Post Code", "type": "string"},
    {"id": "registered", "title": "Registered Date", "type": "date"},
    {"id": "credit", "title": "Credit Limit (Rp)", "type": "number"},
    {"id": "active", "title": "Active?", "type": "boolean"},
    {"id": "location", "title": "Lat/Long", "type": "coordinate"},
    {"id": "email", "title": "Email", "type": "email"},
]  # fmt: skip
