"""Field definitions of data types and flows, and one small converter per field type.

A converter takes a raw cell (text from CSV, typed values from XLSX/JSON) and
returns the value to store or raises `Invalid` with the reason. Conversion
never guesses: a string field keeps leading zeros and long digit strings as
written; an XLSX number in a string field is written without a spurious `.0`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from loadbay.tabular.readers import JsonText, date_text

FIELD_TYPES = (
    "string", "number", "integer", "boolean", "date", "datetime",
    "option", "coordinate", "email", "phone",
)  # fmt: skip
_TYPE_ALIASES = {
    "text": "string", "textarea": "string", "str": "string", "input": "string",
    "float": "number", "decimal": "number", "double": "number", "numeric": "number",
    "int": "integer", "bool": "boolean", "checkbox": "boolean",
    "date-time": "datetime", "timestamp": "datetime", "time-stamp": "datetime",
    "select": "option", "dropdown": "option", "enum": "option", "radio": "option",
    "location": "coordinate", "geo": "coordinate", "tel": "phone", "mail": "email",
}  # fmt: skip


class Invalid(ValueError):
    """A cell that does not fit its field; the message is the reason shown to the user."""


class Noted:
    """A converted value with a caveat the user should see (a warning, not an error):
    the validator stores `value` and reports `note`."""

    __slots__ = ("note", "value")

    def __init__(self, value: Any, note: str) -> None:
        self.value = value
        self.note = note


@dataclass(frozen=True)
class FieldSpec:
    id: str
    title: str
    type: str
    required: bool = False
    primary_key: bool = False
    options: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "type": self.type,
            "required": self.required,
            "primaryKey": self.primary_key,
            "optionData": list(self.options),
        }


def _option_values(raw: Any) -> tuple[str, ...]:
    if raw in (None, ""):
        return ()
    if isinstance(raw, str):
        return tuple(v.strip() for v in raw.split(",") if v.strip())
    if not isinstance(raw, list):
        raise ValueError("optionData must be a list")
    values: list[str] = []
    for item in raw:
        if isinstance(item, dict):
            item = item.get("value", item.get("label", item.get("name")))
        if item is None or isinstance(item, (dict, list)):
            raise ValueError("optionData items must be values or {value, label} objects")
        values.append(str(item))
    return tuple(values)


def parse_field(raw: Any) -> FieldSpec:
    """One field from the API, in either of the vendor's spellings."""
    if not isinstance(raw, dict):
        raise ValueError("each field must be an object")
    fid = raw.get("id", raw.get("name"))
    if not isinstance(fid, str) or not fid.strip():
        raise ValueError("each field needs a non-empty string id")
    fid = fid.strip()
    title = raw.get("title") or raw.get("label") or fid
    kind = str(raw.get("type") or raw.get("inputType") or "string").strip().lower()
    kind = _TYPE_ALIASES.get(kind, kind)
    options = _option_values(raw.get("optionData", raw.get("options")))
    if kind == "string" and str(raw.get("format", "")).lower() == "date-time":
        kind = "datetime"
    elif kind == "string" and str(raw.get("format", "")).lower() == "date":
        kind = "date"
    elif kind == "string" and options:
        kind = "option"
    if kind not in FIELD_TYPES:
        raise ValueError(
            f"field {fid!r}: unknown type {kind!r} (use one of {', '.join(FIELD_TYPES)})"
        )
    if kind == "option" and not options:
        raise ValueError(f"field {fid!r}: an option field needs optionData")
    required = raw.get("required", raw.get("isRequired", False))
    primary = raw.get("primaryKey", raw.get("isPrimaryKey", False))
    return FieldSpec(fid, str(title), kind, bool(required) or bool(primary), bool(primary), options)


def parse_fields(raw: Any, *, primary_key: str | None = "dataId") -> list[FieldSpec]:
    """A data type's (or flow's) fields; data types get exactly one primary key, `dataId`
    unless the caller marks another one."""
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ValueError("fields must be a list")
    specs = [parse_field(item) for item in raw]
    ids = [s.id for s in specs]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"duplicate field id: {', '.join(dupes)}")
    if primary_key is None:
        return specs
    keys = [s for s in specs if s.primary_key]
    if len(keys) > 1:
        raise ValueError("only one field can be the primaryKey")
    if not keys:
        if primary_key in ids:
            specs = [
                FieldSpec(s.id, s.title, s.type, True, True, s.options)
                if s.id == primary_key
                else s
                for s in specs
            ]
        else:
            specs.insert(0, FieldSpec(primary_key, "Data ID", "string", True, True))
    key = next(s for s in specs if s.primary_key)
    if key.type not in ("string", "integer", "email", "phone"):
        raise ValueError(f"primaryKey field {key.id!r} must be a string")
    return specs


def fields_from_json(stored: Sequence[dict[str, Any]]) -> list[FieldSpec]:
    return [
        FieldSpec(
            f["id"], f["title"], f["type"], bool(f.get("required")), bool(f.get("primaryKey")),
            tuple(f.get("optionData") or ()),
        )
        for f in stored
    ]  # fmt: skip


# ---- converters ------------------------------------------------------------------------

Converter = Callable[[Any], Any]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?\(?[0-9][0-9 ()./-]{2,30}$")  # "(021) 555-0123" too
_TRUE = {"true", "yes", "y", "1", "t", "ya"}
_FALSE = {"false", "no", "n", "0", "f", "tidak"}
_ISO_DT = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)


def cell_text(value: Any) -> str:
    """A cell as the text a user typed: XLSX numbers without `.0`, dates in ISO form."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, (date, time)):
        return date_text(value)
    return str(value)


def nul_reason(text: str) -> str:
    """Why a cell holding a NUL byte fails: no database column stores one (PostgreSQL
    refuses it), and dropping it would change the value silently."""
    return f"contains a NUL byte (character 0) at position {text.index(chr(0)) + 1}"


def _string(value: Any) -> str:
    if isinstance(value, str):
        if value.__class__ is JsonText:
            raise Invalid(f"expected text, got {value.kind}")
        if "\x00" in value:
            raise Invalid(nul_reason(value))
        return value
    return cell_text(value)


def _refusing(what: str, convert: Converter) -> Converter:
    """`convert`, failing first a cell no field type takes: a NUL byte, a JSON object."""

    def checked(value: Any) -> Any:
        if value.__class__ is str:
            if "\x00" in value:
                raise Invalid(nul_reason(value))
        elif value.__class__ is JsonText:
            raise Invalid(f"expected {what}, got {value.kind}")
        return convert(value)

    return checked


_EXPECTED = {
    "number": "a number", "integer": "a whole number", "boolean": "true or false",
    "date": "a date", "datetime": "a date and time", "coordinate": "latitude,longitude",
    "email": "an e-mail address", "phone": "a phone number", "option": "one of the options",
}  # fmt: skip


_PLAIN_INT = re.compile(r"^[+-]?[0-9]{1,15}$")
_PLAIN_FLOAT = re.compile(r"^[+-]?[0-9]{1,15}\.[0-9]{1,15}$")


def _number(value: Any) -> int | float:
    if value.__class__ is str:  # the common case, without Decimal's cost
        if _PLAIN_INT.match(value):
            return int(value)
        if _PLAIN_FLOAT.match(value):
            return float(value)
    if isinstance(value, bool):
        raise Invalid("must be a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise Invalid("must be a finite number")
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    text = str(value).strip().replace(" ", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise Invalid(f"'{value}' is not a number") from None
    if not number.is_finite():
        raise Invalid("must be a finite number")
    if number == number.to_integral_value() and "e" not in text.lower() and "." not in text:
        return int(number)
    return float(number)


def _integer(value: Any) -> int:
    number = _number(value)
    if isinstance(number, float):
        raise Invalid(f"'{cell_text(value)}' is not a whole number")
    return number


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise Invalid(f"'{value}' is not a boolean (use true or false)")


def make_date_parsers(formats: Sequence[str]) -> tuple[Converter, Converter]:
    """The date and datetime converters, reading ISO text and the configured formats."""

    def parse_text(text: str) -> datetime | str:
        m = _ISO_DT.match(text)
        if m:
            if m.group(8):  # an offset is kept as written
                try:
                    return datetime.fromisoformat(text.replace(" ", "T", 1)).isoformat()
                except ValueError:
                    raise Invalid(f"'{text}' is not a valid date") from None
            y, mo, d, hh, mm, ss, frac = m.groups()[:7]
            try:
                return datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0),
                                int((frac or ".0")[1:].ljust(6, "0")))  # fmt: skip
            except ValueError:
                raise Invalid(f"'{text}' is not a valid date") from None
        for fmt in formats:
            try:
                return datetime.strptime(text, fmt)
            except ValueError:
                continue
        raise Invalid(f"'{text}' is not a date (use YYYY-MM-DD)")

    def to_date(value: Any) -> str:
        if value.__class__ is str and len(value) == 10 and value[4] == "-" and value[7] == "-":
            try:
                date.fromisoformat(value)
                return value
            except ValueError:
                raise Invalid(f"'{value}' is not a valid date") from None
        if isinstance(value, datetime):
            if value.time() != time(0):
                raise Invalid(f"'{value.isoformat(sep=' ')}' has a time; a date is expected")
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        parsed = parse_text(str(value).strip())
        if isinstance(parsed, str) or parsed.time() != time(0):
            raise Invalid(f"'{value}' has a time; a date is expected")
        return parsed.date().isoformat()

    def to_datetime(value: Any) -> str:
        if isinstance(value, datetime):
            return (
                value.isoformat(timespec="seconds") if not value.microsecond else value.isoformat()
            )
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day).isoformat()
        parsed = parse_text(str(value).strip())
        if isinstance(parsed, str):
            return parsed
        return (
            parsed.isoformat(timespec="seconds") if not parsed.microsecond else parsed.isoformat()
        )

    return to_date, to_datetime


def _coordinate(value: Any) -> str:
    text = (value if value.__class__ is str else cell_text(value)).strip()
    parts = [p.strip() for p in text.replace(";", ",").split(",")]
    if len(parts) != 2:
        raise Invalid(f"'{text}' is not a coordinate (use latitude,longitude)")
    try:
        lat, lng = float(parts[0]), float(parts[1])
    except ValueError:
        raise Invalid(f"'{text}' is not a coordinate (use latitude,longitude)") from None
    if not -90 <= lat <= 90:
        raise Invalid(f"latitude {parts[0]} is out of range (-90 to 90)")
    if not -180 <= lng <= 180:
        raise Invalid(f"longitude {parts[1]} is out of range (-180 to 180)")
    return f"{parts[0]},{parts[1]}"


def _email(value: Any) -> str:
    text = (value if value.__class__ is str else cell_text(value)).strip()
    if not _EMAIL.match(text):
        raise Invalid(f"'{text}' is not an e-mail address")
    return text


def _phone(value: Any) -> str:
    text = (value if value.__class__ is str else cell_text(value)).strip()
    if not _PHONE.match(text):
        raise Invalid(f"'{text}' is not a phone number")
    return text


def _option(options: tuple[str, ...]) -> Converter:
    exact = set(options)
    folded = {o.casefold(): o for o in options}

    def convert(value: Any) -> str:
        text = cell_text(value).strip()
        if text in exact:
            return text
        hit = folded.get(text.casefold())
        if hit is None:
            raise Invalid(f"'{text}' is not one of: {', '.join(options)}")
        return hit

    return convert


def converter_for(spec: FieldSpec, date_formats: Sequence[str] = ()) -> Converter:
    to_date, to_datetime = make_date_parsers(date_formats)
    table: dict[str, Converter] = {
        "string": _string, "number": _number, "integer": _integer, "boolean": _boolean,
        "date": to_date, "datetime": to_datetime, "coordinate": _coordinate,
        "email": _email, "phone": _phone,
    }  # fmt: skip
    if spec.type == "option":
        return _refusing(_EXPECTED["option"], _option(spec.options))
    if spec.type == "string":
        return _string
    return _refusing(_EXPECTED[spec.type], table[spec.type])


# ---- column kernels ------------------------------------------------------------------------
# A whole column checked at C speed (a regex, a set, a dict) when every cell has the plain
# form, with the very result the per-cell converter gives; None sends the column down the
# per-cell path, which finds and explains each bad cell. Measured on the bench file: per-cell
# calls were most of the validation time.

ColumnKernel = Callable[[list[Any]], list[Any] | None]

_K_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_K_PHONE = re.compile(r"\+?[0-9][0-9 ()./-]{1,29}[0-9()./-]")
_K_INT = re.compile(r"[+-]?[0-9]{1,15}")
_K_NUMBER = re.compile(r"[+-]?[0-9]{1,15}(?:\.[0-9]{1,15})?")
_K_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_K_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")
_LAT = r"[+-]?(?:[0-8]?[0-9](?:\.[0-9]{1,15})?|90(?:\.0{1,15})?)"
_LNG = r"[+-]?(?:(?:1[0-7][0-9]|[0-9]?[0-9])(?:\.[0-9]{1,15})?|180(?:\.0{1,15})?)"
_K_COORDINATE = re.compile(f"{_LAT},{_LNG}")
_BOOLEANS = {
    form: value
    for words, value in ((_TRUE, True), (_FALSE, False))
    for word in words
    for form in (word, word.upper(), word.capitalize())
}


def _all_match(pattern: re.Pattern[str]) -> ColumnKernel:
    def kernel(column: list[Any]) -> list[Any] | None:
        try:
            return column if all(map(pattern.fullmatch, column)) else None
        except TypeError:  # a cell that is not text
            return None

    return kernel


def _int_kernel(column: list[Any]) -> list[Any] | None:
    try:
        return list(map(int, column)) if all(map(_K_INT.fullmatch, column)) else None
    except TypeError:
        return None


def _number_kernel(column: list[Any]) -> list[Any] | None:
    try:
        if not all(map(_K_NUMBER.fullmatch, column)):
            return None
    except TypeError:
        return None
    return [float(v) if "." in v else int(v) for v in column]


def _boolean_kernel(column: list[Any]) -> list[Any] | None:
    try:
        return list(map(_BOOLEANS.__getitem__, column))
    except (KeyError, TypeError):  # TypeError: a cell that cannot be a key
        return None


def _iso_kernel(pattern: re.Pattern[str], parse: Callable[[str], Any]) -> ColumnKernel:
    def kernel(column: list[Any]) -> list[Any] | None:
        try:
            if not all(map(pattern.fullmatch, column)):
                return None
            for _ in map(parse, column):  # every value a real date (no 2024-02-30)
                pass
        except (TypeError, ValueError):
            return None
        return column

    return kernel


def _option_kernel(options: tuple[str, ...]) -> ColumnKernel | None:
    exact = frozenset(options)
    if any(not o or o != o.strip() for o in exact):
        return None

    def kernel(column: list[Any]) -> list[Any] | None:
        try:
            return column if exact.issuperset(column) else None
        except TypeError:
            return None

    return kernel


def column_kernel(spec: FieldSpec) -> ColumnKernel | None:
    """The fast whole-column check of a field's type, or None where there is none."""
    if spec.type == "option":
        return _option_kernel(spec.options)
    kernels: dict[str, ColumnKernel] = {
        "email": _all_match(_K_EMAIL),
        "phone": _all_match(_K_PHONE),
        "coordinate": _all_match(_K_COORDINATE),
        "integer": _int_kernel,
        "number": _number_kernel,
        "boolean": _boolean_kernel,
        "date": _iso_kernel(_K_DATE, date.fromisoformat),
        "datetime": _iso_kernel(_K_DATETIME, datetime.fromisoformat),
    }
    return kernels.get(spec.type)


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
