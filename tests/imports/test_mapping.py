"""The one mapping resolver's suggestions: by the words of the names ("similar name")."""

from __future__ import annotations

import pytest

from loadbay.catalog.fields import FieldSpec
from loadbay.errors import BadRequest
from loadbay.imports.mapping import resolve_for_job, resolve_mapping

SPECS = [
    FieldSpec("dataId", "Outlet Code", "string", True, True),
    FieldSpec("name", "Name", "string", True),
    FieldSpec("ownerPhone", "Owner Phone No.", "phone"),
    FieldSpec("kind", "Outlet Type", "option", options=("Warung", "Minimarket")),
]


def _suggested(headers: list[str], specs: list[FieldSpec] = SPECS) -> dict[str, tuple[str, str]]:
    """field id → (header, source) as the preview suggests them."""
    found = resolve_mapping(headers, specs, strict=False)
    return {i["id"]: (i["headerColumn"], found.sources[i["headerColumn"]]) for i in found.items()}


def test_a_header_holding_a_field_titles_words_is_suggested_as_a_similar_name() -> None:
    found = _suggested(["Outlet Code", "Outlet Name", "Phone", "Outlet Type"])
    assert found == {
        "dataId": ("Outlet Code", "exact"),
        "name": ("Outlet Name", "words"),  # its words hold "Name"
        "ownerPhone": ("Phone", "words"),  # the other way round: "Owner Phone No." holds "Phone"
        "kind": ("Outlet Type", "exact"),
    }
    resolved = resolve_mapping(["Outlet Code", "Outlet Name"], SPECS, strict=False)
    assert resolved.missing_required == [] and resolved.unmapped == []


def test_no_field_is_suggested_twice_and_a_guess_with_a_rival_is_left_open() -> None:
    # Two headers match only Name: neither is suggested, Name stays to be chosen.
    assert "name" not in _suggested(["Outlet Code", "Outlet Name", "Owner Name"])
    # Name is taken by its own column: "Outlet Name" is not put on it a second time.
    assert _suggested(["Outlet Name", "Name"])["name"] == ("Name", "exact")
    # A header matching two unmapped fields says nothing.
    specs = [FieldSpec("name", "Name", "string"), FieldSpec("contact", "Contact", "string")]
    assert _suggested(["Contact Name"], specs) == {}


def test_filler_words_and_loadbays_own_export_columns_match_nothing() -> None:
    # "No" is a row-number column, not "Owner Phone No."; "hub" is loadbay's export column.
    specs = [*SPECS, FieldSpec("hubName", "Hub Name", "string")]
    assert _suggested(["No", "hub", "Outlet Code"], specs) == {"dataId": ("Outlet Code", "exact")}


def test_the_vendor_upload_path_does_not_guess_from_words() -> None:
    """A job without a confirmed mapping (`/data/import`) keeps to exact and close
    spellings: nobody confirms a guess there."""
    with pytest.raises(BadRequest) as refused:
        resolve_for_job(["Outlet Code", "Outlet Name"], SPECS, None, None)
    assert refused.value.message == "Required column(s) not found in the file: Name (name)"
    kept = resolve_for_job(["Outlet Code", "Name", "Outlet Name"], SPECS, None, None)
    assert kept.unmapped == ["Outlet Name"]
