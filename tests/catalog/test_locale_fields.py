"""The locale-aware converters (issue 10 item 6): the messy samples' values under id-ID,
and without a locale exactly what was read before."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from loadbay.catalog.fields import FieldSpec, Invalid, Noted, converter_for
from loadbay.catalog.locale_fields import locale_converter
from loadbay.catalog.locales import ValueLocale

ID = ValueLocale.of("id-ID")
FORMATS = ["%d/%m/%Y", "%d-%m-%Y", "%Y/%m/%d"]


def conv(kind: str, value: Any, required: bool = False, loc: ValueLocale = ID) -> Any:
    return locale_converter(FieldSpec("f", "Credit", kind, required), FORMATS, loc)(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Rp 1.250.000", 1250000), ("Rp1.500.000,00", 1500000), ("12,5", 12.5),
     ("2.000.000", 2000000), ("-Rp 5.000", -5000), ("IDR 7.500", 7500), (1234, 1234)],
)  # fmt: skip
def test_id_numbers(text: Any, expected: float) -> None:
    assert conv("number", text) == expected


def test_a_number_in_the_other_convention_is_read_with_a_warning() -> None:
    got = conv("number", "1,250,000")
    assert isinstance(got, Noted) and got.value == 1250000 and "1,250,000" in got.note
    got = conv("number", "5000000.5")
    assert isinstance(got, Noted) and got.value == 5000000.5


@pytest.mark.parametrize("text", ["-", "N/A", " n/a "])
def test_no_value_words_are_blank_only_when_optional(text: str) -> None:
    assert conv("number", text) is None
    assert conv("phone", text) is None
    with pytest.raises(Invalid, match="means no value, but Credit is required"):
        conv("number", text, required=True)


@pytest.mark.parametrize(
    "text", ["15-Aug-2024", "Aug 15, 2024", "15.08.2024", "2024/08/15", "15/08/2024",
             "15 Agustus 2024"],
)  # fmt: skip
def test_id_dates(text: str) -> None:
    assert conv("date", text) == "2024-08-15"


def test_month_day_order_follows_the_locale() -> None:
    assert conv("date", "8/15/2024", loc=ValueLocale.of("en-US")) == "2024-08-15"
    with pytest.raises(Invalid, match="no month 15"):
        conv("date", "8/15/2024")


def test_an_impossible_date_is_named() -> None:
    with pytest.raises(Invalid, match=r"'31/02/2024' is not a valid date: February 2024 has no"):
        conv("date", "31/02/2024")


@pytest.mark.parametrize("cell", [datetime(2024, 8, 15, 10, 30), "2024-08-15 10:30:00"])
def test_a_time_in_a_date_field_is_a_warning_not_dropped_silently(cell: Any) -> None:
    got = conv("date", cell)
    assert isinstance(got, Noted) and got.value == "2024-08-15" and "10:30:00" in got.note
    assert conv("datetime", cell) == "2024-08-15T10:30:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Yes", True), ("No", False), ("Y", True), ("TRUE", True), ("ya", True),
     ("Tidak", False), ("✓", True), ("no", False)],
)  # fmt: skip
def test_id_booleans(text: str, expected: bool) -> None:
    assert conv("boolean", text) is expected


@pytest.mark.parametrize("text", ["(021) 555-0123", "+62 812-3456-7890", "081234567890"])
def test_phones(text: str) -> None:
    assert converter_for(FieldSpec("p", "Phone", "phone"))(text) == text


def test_without_a_locale_nothing_changes() -> None:
    """Pinned: the same cells read as before (no locale means no locale rules)."""
    number = converter_for(FieldSpec("n", "N", "number"))
    assert number("1250000") == 1250000 and number("12.5") == 12.5
    for bad in ("Rp 1.250.000", "12,5", "-"):
        with pytest.raises(Invalid):
            number(bad)
    date = converter_for(FieldSpec("d", "D", "date"), FORMATS)
    assert date("15/08/2024") == "2024-08-15"
    for bad in ("15-Aug-2024", "Aug 15, 2024", "2024-08-15 10:30:00"):
        with pytest.raises(Invalid):
            date(bad)
    with pytest.raises(Invalid):
        converter_for(FieldSpec("b", "B", "boolean"))("✓")
