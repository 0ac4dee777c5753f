"""The review flags of `loadbay import`: parsed here, so bad syntax is Click's usage error
(exit 2) before anything is uploaded."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

import typer

_SHARE = re.compile(r"^\d+(\.\d+)?%$")


class InvalidRows(StrEnum):
    skip = "skip"
    block = "block"


def _maps(values: list[str] | None) -> list[str] | None:
    for text in values or []:
        header, sep, _ = text.rpartition("=")
        if not sep or not header.strip():
            raise typer.BadParameter(
                f"{text!r} is not HEADER=FIELD (give HEADER= to ignore a column)"
            )
    return values


def _value_maps(values: list[str] | None) -> list[str] | None:
    for text in values or []:
        fid, colon, pair = text.partition(":")
        if not colon or not fid.strip() or "=" not in pair:
            raise typer.BadParameter(f"{text!r} is not FIELD:FROM=TO (FROM may be blank)")
    return values


def _max_invalid(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not (text.isdigit() or (_SHARE.match(text) and float(text[:-1]) <= 100)):
        raise typer.BadParameter(f"{value!r} is not a count of rows (10) or a share (5%)")
    return text


MapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        metavar="HEADER=FIELD",
        callback=_maps,
        help="map a column to a field id (repeatable); HEADER= ignores the column",
    ),
]
IgnoreOpt = Annotated[
    list[str] | None,
    typer.Option("--ignore", metavar="HEADER", help="ignore this column (repeatable)"),
]
ValueMapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--value-map",
        metavar="FIELD:FROM=TO",
        callback=_value_maps,
        help='read FROM as TO in FIELD for the whole file (repeatable), e.g. category:"mini '
        'market=Retail"; FIELD:=TO fills blanks',
    ),
]
InvalidOpt = Annotated[
    InvalidRows | None,
    typer.Option(
        "--invalid", help="skip: write the valid rows; block: write nothing unless all are valid"
    ),
]
MaxInvalidOpt = Annotated[
    str | None,
    typer.Option(
        "--max-invalid",
        metavar="N|N%",
        callback=_max_invalid,
        help="above this many invalid rows (or share) nothing is written",
    ),
]
SheetOpt = Annotated[
    str | None, typer.Option("--sheet", help="the sheet to read: its name or 0-based index")
]
HeaderRowOpt = Annotated[
    int | None, typer.Option("--header-row", min=1, help="the header's row (1-based)")
]
LocaleOpt = Annotated[
    str | None,
    typer.Option("--locale", help="read numbers and dates as in this locale, e.g. id-ID"),
]


class Unmapped(StrEnum):
    ignore = "ignore"
    error = "error"


UnmappedOpt = Annotated[
    Unmapped,
    typer.Option(
        "--unmapped-columns",
        help="a column no field takes: ignore it (listed as a warning) or fail the import",
    ),
]


@dataclass
class Review:
    """What the review flags ask for, ready for the import-job API."""

    maps: dict[str, str] = field(default_factory=dict)  # header → field id ("" ignores)
    value_map: dict[str, dict[str, str]] = field(default_factory=dict)
    invalid: str | None = None
    max_invalid: str | None = None

    @classmethod
    def of(
        cls,
        maps: list[str] | None,
        ignore: list[str] | None,
        value_maps: list[str] | None,
        invalid: InvalidRows | None,
        max_invalid: str | None,
    ) -> Review:
        review = cls(invalid=invalid.value if invalid else None, max_invalid=max_invalid)
        for text in maps or []:
            header, _, fid = text.rpartition("=")
            review.maps[header.strip()] = fid.strip()
        for header in ignore or []:
            review.maps[header.strip()] = ""
        for text in value_maps or []:
            fid, _, pair = text.partition(":")
            source, _, to = pair.partition("=")
            review.value_map.setdefault(fid.strip(), {})[source.strip()] = to.strip()
        return review

    @property
    def asked(self) -> bool:
        """Whether the confirm needs anything the plain upload cannot carry."""
        return bool(self.maps or self.value_map or self.invalid or self.max_invalid)

    def mapping(self, suggested: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The suggestion with the --map/--ignore choices over it: a column named here
        loses its suggested field, and a field named here its suggested column."""
        chosen = {f for f in self.maps.values() if f}
        items = [
            item
            for item in suggested
            if item.get("headerColumn") not in self.maps and item.get("id") not in chosen
        ]
        for header, fid in self.maps.items():
            items.append({"id": fid, "headerColumn": header} if fid else
                         {"headerColumn": header, "ignore": True})  # fmt: skip
        return items

    def value_maps(self, remembered: dict[str, Any] | None) -> dict[str, Any]:
        """The remembered value maps with this run's pairs over them."""
        out = {fid: dict(pairs) for fid, pairs in (remembered or {}).items()}
        for fid, pairs in self.value_map.items():
            out[fid] = {**out.get(fid, {}), **pairs}
        return out

    def max_invalid_value(self) -> int | str | None:
        if self.max_invalid is None:
            return None
        return int(self.max_invalid) if self.max_invalid.isdigit() else self.max_invalid
