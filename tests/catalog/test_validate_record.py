"""`validate_record`: values in, converted values and every failed field out."""

from __future__ import annotations

from loadbay.catalog.fields import parse_fields
from loadbay.catalog.service import REQUIRED, UNKNOWN, validate_record

SPECS = parse_fields(
    [
        {"id": "name", "type": "string", "required": True},
        {"id": "qty", "type": "integer"},
        {"id": "price", "type": "number"},
        {"id": "day", "type": "date"},
        {"id": "kind", "type": "option", "optionData": ["A", "B"]},
    ]
)


def test_converts_every_field() -> None:
    data, errors = validate_record(
        SPECS, {"dataId": "0012", "name": "X", "qty": "3", "price": 2.5, "day": "31/12/2024",
                "kind": "b"}, ["%d/%m/%Y"],
    )  # fmt: skip
    assert errors == []
    assert data == {"dataId": "0012", "name": "X", "qty": 3, "price": 2.5, "day": "2024-12-31",
                    "kind": "B"}  # fmt: skip


def test_collects_every_error_in_field_order_then_unknown_keys() -> None:
    data, errors = validate_record(
        SPECS, {"dataId": "1", "qty": "3.5", "day": "soon", "kind": "C", "size": 1, "name": " "}
    )
    assert [field for field, _ in errors] == ["name", "qty", "day", "kind", "size"]
    assert errors[0] == ("name", REQUIRED)
    assert errors[-1] == ("size", UNKNOWN)
    assert data == {"dataId": "1"}


def test_blank_optional_values_are_left_out() -> None:
    data, errors = validate_record(SPECS, {"dataId": "1", "name": "N", "qty": None, "price": ""})
    assert errors == []
    assert data == {"dataId": "1", "name": "N"}


def test_objects_and_lists_are_not_values() -> None:
    _, errors = validate_record(SPECS, {"dataId": ["1"], "name": {"first": "N"}})
    assert [field for field, _ in errors] == ["dataId", "name"]
