"""An exported XLSX or CSV of data-source records imports into an empty organisation
to the same records (leading zeros, formula-looking text, dates, numbers, booleans)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from loadbay.catalog.fields import parse_fields
from loadbay.catalog.models import DataType, Hub, Record
from loadbay.db import Database
from tests.exports.conftest import OUTLET_FIELDS, Exporter, Seeded, org_of


def _records(db: Database, data_type_id: str) -> dict[str, dict[str, Any]]:
    with db.read() as session:
        rows = session.scalars(sa.select(Record).where(Record.data_type_id == data_type_id))
        return {r.data_id: {k: v for k, v in r.data.items() if v not in (None, "")} for r in rows}


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_export_imports_back_to_the_same_records(
    seeded: Seeded, exporter: Exporter, db: Database, token_for: Any, fmt: str
) -> None:
    _round_trip(seeded, exporter, db, token_for, fmt)


def test_csv_writes_numbers_and_phones_as_stored_and_reimports_escaped_text(
    seeded: Seeded, exporter: Exporter, db: Database, token_for: Any
) -> None:
    """DECISIONS (revised 2026-12-04): `-6.2` and `+62 812-3456-7890` come back as they
    are; `-2+3+cmd|…`, `=HYPERLINK(…)` and text already starting with `'=` stay escaped,
    and all of them import back to the values stored."""
    names = {
        "007": ("-6.2", "+62 812-3456-7890"),
        "0010": ("-2+3+cmd|' /C calc'!A0", "+62812"),
        "A-3": ('=HYPERLINK("http://x","y")', None),
        "A-4": ("'=quoted", "021"),
    }
    with db.write() as session:
        for record in session.scalars(
            sa.select(Record).where(Record.data_type_id == seeded.outlet)
        ):
            if record.data_id in names:
                name, phone = names[record.data_id]
                record.data = {**record.data, "name": name, "phone": phone}
    body = exporter.ok("data", download="csv", dataTypeId=seeded.outlet)
    text = exporter.download(body["data"]["link"]).decode("utf-8-sig")
    assert ",-6.2,+62 812-3456-7890," in text
    assert ",'-2+3+cmd|' /C calc'!A0,+62812," in text
    assert '\'=HYPERLINK(""http://x"",""y"")' in text
    assert ",''=quoted,021," in text
    _round_trip(seeded, exporter, db, token_for, "csv")


def _round_trip(seeded: Seeded, exporter: Exporter, db: Database, token_for: Any, fmt: str) -> None:
    body = exporter.ok("data", download=fmt, dataTypeId=seeded.outlet)
    content = exporter.download(body["data"]["link"])

    fresh = {"Authorization": f"Bearer {token_for('fresh', 'ops@fresh.test')}"}
    org = org_of(fresh)
    with db.write() as session:
        hub = Hub(organization_id=org, name="Jakarta")
        outlet = DataType(
            organization_id=org,
            name="Outlet",
            fields=[s.as_dict() for s in parse_fields(OUTLET_FIELDS)],
        )
        session.add_all([hub, outlet])
        session.flush()
        hub_id, outlet_id = hub.id, outlet.id
    answer = exporter.client.post(
        "/api/v3/data/import",
        headers=fresh,
        data={"dataTypeId": outlet_id, "hubId": hub_id},
        files={"file": (f"outlets.{fmt}", content)},
    )
    assert answer.status_code == 200, answer.text
    job = exporter.client.get(
        f"/api/v3/import-monitoring/{answer.json()['data']['_id']}", headers=fresh
    ).json()["data"]
    assert job["status"] == "success", job
    assert job["totalValid"] == 5
    assert _records(db, outlet_id) == _records(db, seeded.outlet)
