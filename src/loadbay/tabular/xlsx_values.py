"""What an XLSX cell's stored text means: references, escapes, number formats, dates.

Every rule here follows python-calamine, which reads small sheets: the streaming reader
must turn the same XML into the same values, so where calamine makes a choice (dates by
value, trimming of text without `xml:space`, `_xHHHH_` escapes) this module makes it too.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Callable

from loadbay.tabular.table import Cell, TableError

DATETIME, DURATION = 1, 2
_EPOCH = datetime.datetime(1899, 12, 30)
_MS_PER_DAY = 86_400_000
_ENTITY = re.compile(r"&([^;&\s]*);")
_X_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


def unescape(text: str) -> str:
    """XML character and entity references (only the five predefined entities exist)."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        try:
            if name[:2] in ("#x", "#X"):
                return chr(int(name[2:], 16))
            if name[:1] == "#":
                return chr(int(name[1:]))
            return _NAMED[name]
        except (KeyError, ValueError, OverflowError):
            raise TableError("import-015", f"The sheet XML has a bad reference &{name};") from None

    return _ENTITY.sub(one, text)


def decode_x(text: str) -> str:
    """Excel's `_xHHHH_` escapes for characters XML cannot carry (as calamine decodes them)."""

    def one(match: re.Match[str]) -> str:
        code = int(match.group(1), 16)
        return "\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code)

    return _X_ESCAPE.sub(one, text)


def format_kind(code: str) -> int:
    """DATETIME, DURATION or 0 for a number format code, judged as calamine judges it.

    Only the first section counts; quoted and escaped text is literal; `[h]`, `[mm]`,
    `[ss]` mean elapsed time (a duration); a d/m/y/h/s token outside brackets means a
    date or time; an `a` (AM/PM) turns the following `m`, `p` or `/` into a time token.
    """
    escaped = quoted = ampm = elapsed = False
    depth = 0
    prev = ""
    for ch in code:
        if escaped:
            escaped = False
        elif ch in "_\\*":
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == '"':
            quoted = True
        elif ch == ";":
            return 0
        elif ch == "[":
            depth += 1
        elif ch == "]":
            if depth == 1 and elapsed:
                return DURATION
            depth = max(0, depth - 1)
        elif depth == 0 and not ampm and ch in "aA":
            ampm = True
        elif depth == 0 and ch in ("pmPM/" if ampm else "dmhysDMHYS"):
            return DATETIME
        elif not (elapsed and ch.lower() == prev.lower()):
            elapsed = prev == "[" and ch in "hmsHMS"
        prev = ch
    return 0


def builtin_kind(num_fmt_id: int) -> int:
    if 14 <= num_fmt_id <= 22 or num_fmt_id in (45, 47):
        return DATETIME
    return DURATION if num_fmt_id == 46 else 0


def _round(x: float) -> int:
    """Half away from zero, as Rust's f64::round (Python's round() goes to even)."""
    whole = math.floor(abs(x))
    if abs(x) - whole >= 0.5:
        whole += 1
    return whole if x >= 0 else -whole


def duration_text(ms: int) -> str:
    """Elapsed time as Excel's `[h]:mm:ss` shows it; loadbay has no duration value type."""
    sign = "-" if ms < 0 else ""
    seconds, millis = divmod(abs(ms), 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{sign}{hours}:{minutes:02d}:{seconds:02d}"
    return f"{text}.{millis:03d}" if millis else text


def excel_date(value: float, kind: int, date1904: bool) -> Cell:
    """A date-formatted number as calamine gives it: a time below 1, a date when whole,
    else a datetime. The value decides, not the format, because calamine does not expose
    the format: a date-only format holding 45000.5 still gives a datetime on both paths."""
    if kind == DURATION:
        return duration_text(_round(value * _MS_PER_DAY))
    days = value + 1462 if date1904 else value
    if days < 60:  # Excel's phantom 1900-02-29 shifts every earlier serial by one
        days += 1
    try:
        moment = _EPOCH + datetime.timedelta(milliseconds=_round(days * _MS_PER_DAY))
    except (OverflowError, ValueError):
        return int(value) if value.is_integer() else value
    if value < 1:
        return moment.time()
    if value.is_integer():
        return moment.date()
    return moment


def iso_value(text: str) -> Cell:
    """`t="d"` cells carry ISO 8601 text; like calamine, a bare date or time stays one."""
    parsers: tuple[Callable[[str], Cell], ...] = (
        datetime.date.fromisoformat,
        datetime.time.fromisoformat,
        datetime.datetime.fromisoformat,
    )
    for parse in parsers:
        try:
            return parse(text)
        except ValueError:
            continue
    return text or None


def text_value(text: str) -> str:
    return decode_x(text) if "_x" in text else text  # the check skips the regex nearly always
