"""The one rule for formula-looking text in CSV output, and its inverse for the importer.

A spreadsheet runs a cell as a formula when it starts with `=`, `@`, `+` or `-` (and
some with a tab or CR before one). CSV output puts one `'` before such text (OWASP CSV
injection), except where that would change a value a user expects back unchanged: a
whole number (`-6.2`, `+5`, `-1e3`) or a phone number (`+62 812-3456-7890`) cannot call
anything (DECISIONS.md, Exports, revised 2026-12-04). `-2+3+cmd|…` is neither: escaped.

The importer strips one `'` before any of `= + - @ tab CR '` (what every loadbay export,
earlier ones included, can have escaped). So text that already starts with `'` and one of
those is escaped too, and every value comes back as stored: `'=x` is written `''=x` and
read as `'=x`; `-6.2` is written and read as is; an older export's `'-6.2` still reads
as `-6.2`.
"""

from __future__ import annotations

import re

# First characters worth a closer look; anything else is written as it is. A frozenset,
# so the empty string (`v[:1] == ""`) never matches.
FORMULA_STARTS = frozenset("=+-@\t\r'")
_ALWAYS = frozenset("=@\t\r")

_NUMBER = re.compile(r"[+-](?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
# A leading `+`, then digits, spaces, dashes, dots and parentheses with at least one digit.
_PHONE = re.compile(r"\+[0-9 ().-]*[0-9][0-9 ().-]*", re.ASCII)


def needs_escape(text: str) -> bool:
    """Whether CSV output puts a `'` before this text."""
    first = text[:1]
    if first in _ALWAYS:
        return True
    if first == "-":
        return _NUMBER.fullmatch(text) is None
    if first == "+":
        return _NUMBER.fullmatch(text) is None and _PHONE.fullmatch(text) is None
    if first == "'":
        return text[1:2] in FORMULA_STARTS
    return False


def escape_formula(text: str) -> str:
    """Text as CSV output writes it (callers may skip it when `text[:1]` is not in
    `FORMULA_STARTS`: the common case, tested inline on the export's hot path)."""
    return "'" + text if needs_escape(text) else text


def unescape_formula(text: str) -> str:
    """The importer's inverse: drop the one `'` that `escape_formula` added."""
    if text[:1] == "'" and text[1:2] in FORMULA_STARTS:
        return text[1:]
    return text
