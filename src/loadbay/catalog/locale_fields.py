"""The converters of number, integer, boolean, date and datetime fields under a locale.

Without a locale `fields.converter_for` is used unchanged. With one, a number may
carry the locale's separators and a currency symbol, a date may be written in the
locale's day/month order or with a month name, yes/no may be in its language or a
tick, and "-" or "N/A" means no value (an error where the field is required).
A value read with a caveat comes back as `Noted(value, why)`: the validator keeps
the value and reports the caveat as a warning, so nothing is changed silently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any

from loadbay.catalog.fields import (
    _BOOLEANS,
    ColumnKernel,
    Converter,
    FieldSpec,
    Invalid,
    Noted,
    _int_kernel,
    _number,
    _number_kernel,
    column_kernel,
    converter_for,
    make_date_parsers,
)
from loadbay.catalog.locales import CROSSES, NO_VALUE, TICKS, ValueLocale

_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009")
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)
_TIME = r"(?:[ T,]+(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?\s*([AaPp]\.?[Mm]\.?)?)?"
_NUMERIC = re.compile(rf"^(\d{{1,4}})([./-])(\d{{1,2}})\2(\d{{1,4}}){_TIME}$")
_D_MON_Y = re.compile(rf"^(\d{{1,2}})[ ./-]+([^\W\d_]{{3,9}})\.?[ ./,-]+(\d{{4}}){_TIME}$")
_MON_D_Y = re.compile(
    rf"^([^\W\d_]{{3,9}})\.?[ ]+(\d{{1,2}})(?:st|nd|rd|th)?,?[ ]+(\d{{4}}){_TIME}$"
)
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january", "januari", "janvier", "januar", "enero"),
            ("feb", "february", "februari", "februar", "febrero", "fev", "fév"),
            ("mar", "march", "maret", "mars", "märz", "marzo", "mrt"),
            ("apr", "april", "avril", "abril"),
            ("may", "mei", "mai", "mayo", "maggio"),
            ("jun", "june", "juni", "juin", "junio"),
            ("jul", "july", "juli", "juillet", "julio"),
            ("aug", "august", "agustus", "agu", "agt", "ags", "août", "aout", "agosto"),
            ("sep", "sept", "september", "septembre", "septiembre"),
            ("oct", "october", "oktober", "okt", "octobre", "octubre"),
            ("nov", "november", "novembre", "noviembre"),
            ("dec", "december", "desember", "des", "dez", "décembre", "dezember", "diciembre"),
        ),
        start=1,
    )
    for name in names
}
_ORDER_WORDS = {"DMY": "day/month/year", "MDY": "month/day/year", "YMD": "year/month/day"}


def _no_value(convert: Converter, spec: FieldSpec) -> Converter:
    def check(value: Any) -> Any:
        if value.__class__ is str and value.strip().casefold() in NO_VALUE:
            if spec.required:
                raise Invalid(f"'{value.strip()}' means no value, but {spec.title} is required")
            return None
        return convert(value)

    return check


def _strip_currency(text: str, symbols: Sequence[str]) -> str:
    folded = text.casefold()
    for symbol in symbols:  # longest first: "US$" before "$"
        s = symbol.casefold()
        if folded.startswith(s):
            return text[len(s) :].strip()
        if folded.endswith(s):
            return text[: -len(s)].strip()
    return text


def number_parser(loc: ValueLocale, whole: bool) -> Converter:
    d, t = loc.decimal, loc.thousands.translate(_SPACES)
    other_d = "." if d == "," else ","
    local = _grouping(d, t)
    other = _grouping(other_d, d)
    example = f"1{loc.thousands}250{loc.thousands}000{d}50"

    def convert(value: Any) -> int | float | Noted:
        if value.__class__ is not str:
            number = _number(value)
            if whole and isinstance(number, float):
                raise Invalid(f"'{value}' is not a whole number")
            return number
        text = value.strip()
        body = text
        sign = ""
        if body[:1] in "+-":
            sign, body = body[:1], body[1:].strip()
        elif body[:1] == "(" and body[-1:] == ")":  # accountants' negative
            sign, body = "-", body[1:-1].strip()
        body = _strip_currency(body, loc.currency)
        if not sign and body[:1] in "+-":
            sign, body = body[:1], body[1:].strip()
        body = body.translate(_SPACES) if not t or t == "" or loc.thousands.isspace() else body
        note = None
        if local.match(body):
            digits = body.replace(t, "") if t else body
            digits = digits.replace(d, ".")
        elif other.match(body):
            digits = body.replace(d, "").replace(other_d, ".")
            note = f"read as {sign}{digits} ({other_d} as the decimal point, not {loc.tag}'s {d})"
        else:
            raise Invalid(f"'{text}' is not a number in {loc.tag} (write it like {example})")
        whole_part, _, frac = digits.partition(".")
        if len(whole_part) > 15:
            raise Invalid(f"'{text}' has too many digits")
        result: int | float
        if not frac.strip("0"):
            result = int(sign + whole_part)
        elif whole:
            raise Invalid(f"'{text}' is not a whole number")
        else:
            result = float(sign + digits)
        return result if note is None else Noted(result, f"'{text}' {note}")

    return convert


def _grouping(decimal: str, thousands: str) -> re.Pattern[str]:
    frac = rf"(?:{re.escape(decimal)}\d+)?"
    if not thousands or thousands == decimal:
        return re.compile(rf"^\d+{frac}$")
    group = re.escape(thousands)
    return re.compile(rf"^(?:\d{{1,3}}(?:{group}\d{{3}})+|\d+){frac}$")


def boolean_parser(loc: ValueLocale) -> Converter:
    yes, no = loc.yes | TICKS, loc.no | CROSSES

    def convert(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        text = str(value).strip().casefold()
        if text in yes:
            return True
        if text in no:
            return False
        words = "/".join(sorted(w for w in loc.yes | loc.no if len(w) > 1))
        raise Invalid(f"'{value}' is not a yes/no value (use {words} or ✓)")

    return convert


def _clock(groups: Sequence[str | None], text: str) -> tuple[int, int, int]:
    hh, mm, ss, ampm = groups
    if hh is None:
        return 0, 0, 0
    hour = int(hh)
    if ampm:
        if not 1 <= hour <= 12:
            raise Invalid(f"'{text}' has an hour {hour} that does not fit AM/PM")
        hour = hour % 12 + (12 if ampm[0] in "pP" else 0)
    return hour, int(mm or 0), int(ss or 0)


def date_parsers(loc: ValueLocale, formats: Sequence[str]) -> tuple[Converter, Converter]:
    """The date and datetime converters under `loc`; the configured formats still apply
    after the locale's own forms."""
    fallback = make_date_parsers(formats)[1]

    def parse(text: str) -> tuple[datetime | str, bool]:
        """Text → (the moment, or ISO text with an offset; whether a time was written)."""
        m = _ISO.match(text)
        if m:
            if m.group(7):  # an offset: kept as written (a datetime field) or refused
                try:
                    return datetime.fromisoformat(text.replace(" ", "T", 1)).isoformat(), True
                except ValueError:
                    raise Invalid(f"'{text}' is not a valid date") from None
            clock = (m.group(4), m.group(5), m.group(6), None)
            when = _build(text, int(m.group(1)), int(m.group(2)), int(m.group(3)), clock)
            return when, m.group(4) is not None
        m = _NUMERIC.match(text)
        if m:
            a, b, c = m.group(1), m.group(3), m.group(4)
            if len(a) == 4 or loc.order == "YMD":
                ys, ms, ds = a, b, c
            elif loc.order == "MDY":
                ms, ds, ys = a, b, c
            else:
                ds, ms, ys = a, b, c
            if len(ys) != 4:
                raise Invalid(f"'{text}' needs a four-digit year")
            when = _build(text, int(ys), int(ms), int(ds), m.groups()[4:8], loc.order)
            return when, m.group(5) is not None
        for pattern, day_first in ((_D_MON_Y, True), (_MON_D_Y, False)):
            m = pattern.match(text)
            if m:
                day, name = (m.group(1), m.group(2)) if day_first else (m.group(2), m.group(1))
                month = _MONTHS.get(name.casefold())
                if month is None:
                    raise Invalid(f"'{text}': '{name}' is not a month name")
                when = _build(text, int(m.group(3)), month, int(day), m.groups()[3:7])
                return when, m.group(4) is not None
        try:
            found = fallback(text)
        except Invalid:
            raise Invalid(
                f"'{text}' is not a date (use YYYY-MM-DD or {_ORDER_WORDS[loc.order]})"
            ) from None
        parsed = datetime.fromisoformat(found)
        return parsed, parsed.time() != time(0)

    def to_date(value: Any) -> str | Noted:
        if value.__class__ is str and len(value) == 10 and value[4] == "-" and value[7] == "-":
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                raise Invalid(f"'{value}' is not a valid date") from None
        if isinstance(value, datetime):
            when: datetime | str = value
            text = value.isoformat(sep=" ")
        elif isinstance(value, date):
            return value.isoformat()
        else:
            text = str(value).strip()
            when, _timed = parse(text)
        if isinstance(when, str):
            raise Invalid(f"'{text}' has a time zone; a date is expected")
        day = when.date().isoformat()
        if when.time() != time(0):
            clock = when.time().isoformat(timespec="seconds")
            return Noted(day, f"'{text}' has a time ({clock}); only the date {day} is kept")
        return day

    def to_datetime(value: Any) -> str:
        if isinstance(value, datetime):
            when: datetime | str = value
        elif isinstance(value, date):
            when = datetime(value.year, value.month, value.day)
        else:
            when = parse(str(value).strip())[0]
        if isinstance(when, str):
            return when
        return when.isoformat(timespec="seconds") if not when.microsecond else when.isoformat()

    return to_date, to_datetime


def _build(
    text: str, y: int, mo: int, d: int, clock: Sequence[str | None], order: str = "YMD"
) -> datetime:
    if not 1 <= mo <= 12:
        raise Invalid(
            f"'{text}' is not a valid date: there is no month {mo} "
            f"(read in {_ORDER_WORDS[order]} order)"
        )
    hour, minute, second = _clock(clock, text)
    try:
        return datetime(y, mo, d, hour, minute, second)
    except ValueError:
        if not 1 <= d <= 31 or hour > 23 or minute > 59 or second > 59:
            raise Invalid(f"'{text}' is not a valid date or time") from None
        raise Invalid(
            f"'{text}' is not a valid date: {date(y, mo, 1).strftime('%B')} {y} has no day {d}"
        ) from None


def locale_converter(spec: FieldSpec, formats: Sequence[str], loc: ValueLocale) -> Converter:
    """`converter_for` under a locale; a string field is the same with or without one."""
    if spec.type == "string":
        return converter_for(spec, formats)
    if spec.type in ("number", "integer"):
        convert = number_parser(loc, whole=spec.type == "integer")
    elif spec.type == "boolean":
        convert = boolean_parser(loc)
    elif spec.type in ("date", "datetime"):
        to_date, to_datetime = date_parsers(loc, formats)
        convert = to_date if spec.type == "date" else to_datetime
    else:
        convert = converter_for(spec, formats)
    return _no_value(convert, spec)


_K_COMMA = re.compile(r"[+-]?[0-9]{1,15}(?:,[0-9]{1,15})?")


def _comma_kernel(column: list[Any]) -> list[Any] | None:
    try:
        if not all(map(_K_COMMA.fullmatch, column)):
            return None
    except TypeError:
        return None
    out: list[Any] = []
    for v in column:
        whole, _, frac = v.partition(",")
        out.append(float(f"{whole}.{frac}") if frac.strip("0") else int(whole))
    return out


def locale_kernel(spec: FieldSpec, loc: ValueLocale) -> ColumnKernel | None:
    """The fast whole-column check under a locale: a number column takes it when every
    cell is digits with at most the locale's decimal mark ("1.500" is 1.5 in en-US and
    1500 in id-ID, so the mark decides)."""
    if spec.type == "integer":
        return _int_kernel
    if spec.type == "number":
        return _number_kernel if loc.decimal == "." else _comma_kernel
    if spec.type == "boolean":
        words = {w: True for w in loc.yes | TICKS} | {w: False for w in loc.no | CROSSES}
        table = {**_BOOLEANS}
        for word, value in words.items():
            for form in (word, word.upper(), word.capitalize()):
                table[form] = value

        def kernel(column: list[Any]) -> list[Any] | None:
            try:
                return list(map(table.__getitem__, column))
            except (KeyError, TypeError):
                return None

        return kernel
    return column_kernel(spec)
