"""The column kernels give exactly what the per-cell converters give, or step aside."""

from __future__ import annotations

from typing import Any

import pytest

from loadbay.catalog.fields import FieldSpec, Invalid, column_kernel, converter_for

SAMPLES: dict[str, tuple[list[Any], list[Any]]] = {
    # type: (plain cells the kernel must take, odd or bad cells it must leave to the converter)
    "email": (["a@b.co", "x.y+z@example.com"], ["a@b", " a@b.co", "a@b.co ", "a b@c.d", 5]),
    "phone": (["0812345678", "+62 812-345 (678)", "021.555"], ["0812 ", " 0812", "12", "abc"]),
    "coordinate": (
        ["-6.2,106.8", "90,180", "-90.000,-180.0", "09,7", "0.123456789012345,179.9"],
        ["90.1,1", "1,180.5", "-6.2, 106.8", "-6.2;106.8", "1e1,2", "007.5,1", "x,y"],
    ),
    "integer": (["0", "-12", "+7", "123456789012345"], ["1.5", "1e3", "1 000", "", " 1", 3.0]),
    "number": (["0", "-12.50", "1000.5", "+3"], ["1e3", "1,5", ".5", "5.", " 1", True]),
    "boolean": (["true", "FALSE", "Yes", "n", "1", "Ya", "tidak"], ["maybe", " true", 1, None]),
    "date": (["2024-02-29", "1999-12-31"], ["2023-02-29", "2024-1-05", "05/01/2024", "20240101"]),
    "datetime": (
        ["2024-01-31T10:20:30", "1999-12-31T23:59:59"],
        ["2024-01-31 10:20:30", "2024-01-31T10:20:30.5", "2024-01-31T24:00:00", "2024-01-31"],
    ),
    "option": (["Retail", "Bulk"], ["retail", "Retail ", "Other", ""]),
}


def _spec(kind: str) -> FieldSpec:
    return FieldSpec(id="f", title="F", type=kind, options=("Retail", "Bulk"))


def _per_cell(spec: FieldSpec, column: list[Any]) -> list[Any] | None:
    convert = converter_for(spec)
    try:
        return [convert(v) for v in column]
    except (Invalid, TypeError, AttributeError):
        return None


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_plain_columns_take_the_fast_path_with_the_converters_result(kind: str) -> None:
    spec = _spec(kind)
    kernel = column_kernel(spec)
    assert kernel is not None
    plain, _odd = SAMPLES[kind]
    got = kernel(list(plain))
    assert got is not None
    assert got == _per_cell(spec, plain)
    assert [type(v) for v in got] == [type(v) for v in _per_cell(spec, plain) or []]


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_any_odd_cell_sends_the_column_to_the_converter(kind: str) -> None:
    spec = _spec(kind)
    kernel = column_kernel(spec)
    assert kernel is not None
    plain, odd = SAMPLES[kind]
    for cell in odd:
        column = [*plain, cell]
        got = kernel(column)
        expected = _per_cell(spec, column)
        # Either the kernel steps aside, or it agrees with the converter cell for cell.
        assert got is None or got == expected, (kind, cell)
        if expected is None:
            assert got is None, (kind, cell)


def test_options_with_blank_or_padded_values_get_no_kernel() -> None:
    spec = FieldSpec(id="f", title="F", type="option", options=("A", " B"))
    assert column_kernel(spec) is None


def test_string_fields_have_no_kernel() -> None:
    assert column_kernel(_spec("string")) is None
