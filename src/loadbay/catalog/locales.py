"""How a locale writes numbers, dates and yes/no: the rules the locale-aware converters read.

A job keeps the rules it was previewed with (`ValueLocale.as_options()` in its
`options["locale"]`), so the preview, the whole-file check and every chunk read a
value the same way even if the organisation's settings change meanwhile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

DATE_ORDERS = ("DMY", "MDY", "YMD")
_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")

# What a cell may say for "no value": blank for an optional field, an error for a
# required one (a required field is not silently emptied).
NO_VALUE = frozenset(("-", "--", "n/a", "na", "#n/a", "null", "none", "nil"))
TICKS = frozenset(("✓", "✔", "☑", "✅"))
CROSSES = frozenset(("✗", "✘", "☐", "❌", "×"))


@dataclass(frozen=True)
class _Base:
    decimal: str
    thousands: str
    order: str
    currency: tuple[str, ...]
    yes: tuple[str, ...] = ()
    no: tuple[str, ...] = ()


_BY_TAG: dict[str, _Base] = {
    "id-ID": _Base(",", ".", "DMY", ("Rp", "IDR"), ("ya", "benar", "iya"), ("tidak", "salah")),
    "ms-MY": _Base(".", ",", "DMY", ("RM", "MYR"), ("ya",), ("tidak",)),
    "en-US": _Base(".", ",", "MDY", ("US$", "$", "USD")),
    "en-PH": _Base(".", ",", "MDY", ("₱", "PHP")),
    "en-GB": _Base(".", ",", "DMY", ("£", "GBP")),
    "en-AU": _Base(".", ",", "DMY", ("A$", "$", "AUD")),
    "en-SG": _Base(".", ",", "DMY", ("S$", "$", "SGD")),
    "en-IN": _Base(".", ",", "DMY", ("₹", "Rs", "INR")),
    "de-DE": _Base(",", ".", "DMY", ("€", "EUR"), ("ja",), ("nein",)),
    "nl-NL": _Base(",", ".", "DMY", ("€", "EUR"), ("ja",), ("nee",)),
    "es-ES": _Base(",", ".", "DMY", ("€", "EUR"), ("sí", "si"), ("no",)),
    "it-IT": _Base(",", ".", "DMY", ("€", "EUR"), ("sì", "si"), ("no",)),
    "pt-BR": _Base(",", ".", "DMY", ("R$", "BRL"), ("sim",), ("não", "nao")),
    "fr-FR": _Base(",", " ", "DMY", ("€", "EUR"), ("oui",), ("non",)),
    "vi-VN": _Base(",", ".", "DMY", ("₫", "VND"), ("có", "co"), ("không", "khong")),
    "th-TH": _Base(".", ",", "DMY", ("฿", "THB")),
    "ja-JP": _Base(".", ",", "YMD", ("¥", "JPY")),
    "zh-CN": _Base(".", ",", "YMD", ("¥", "CNY")),
}
_BY_LANGUAGE = {"id": "id-ID", "ms": "ms-MY", "en": "en-US", "de": "de-DE", "nl": "nl-NL",
                "es": "es-ES", "it": "it-IT", "pt": "pt-BR", "fr": "fr-FR", "vi": "vi-VN",
                "th": "th-TH", "ja": "ja-JP", "zh": "zh-CN"}  # fmt: skip
SUPPORTED = tuple(sorted(_BY_TAG))
# Yes/no in any language loadbay knows: what a suggestion may read a bad value as.
ALL_YES = frozenset(
    ("true", "yes", "y", "1", "t", *TICKS, *(w for b in _BY_TAG.values() for w in b.yes))
)
ALL_NO = frozenset(
    ("false", "no", "n", "0", "f", *CROSSES, *(w for b in _BY_TAG.values() for w in b.no))
)


class UnknownLocale(ValueError):
    pass


def canonical(tag: str) -> str:
    """A BCP 47 tag loadbay knows, spelled as in its table ("id-id" → "id-ID"); a
    language alone takes its main region ("id" → "id-ID")."""
    text = tag.strip().replace("_", "-")
    if not _TAG.match(text):
        raise UnknownLocale(f"'{tag}' is not a BCP 47 locale tag (like id-ID)")
    parts = text.split("-")
    lang = parts[0].lower()
    region = next((p.upper() for p in parts[1:] if len(p) == 2), None)
    if region is not None and f"{lang}-{region}" in _BY_TAG:
        return f"{lang}-{region}"
    if region is None and lang in _BY_LANGUAGE:
        return _BY_LANGUAGE[lang]
    raise UnknownLocale(f"locale '{tag}' is not supported (use one of {', '.join(SUPPORTED)})")


@dataclass(frozen=True)
class ValueLocale:
    tag: str
    decimal: str
    thousands: str
    order: str
    currency: tuple[str, ...]
    yes: frozenset[str]
    no: frozenset[str]

    @classmethod
    def of(cls, tag: str, overrides: dict[str, Any] | None = None) -> ValueLocale:
        """The rules of `tag`; `overrides` (the organisation's settings) apply when they
        are for the same locale."""
        base = _BY_TAG[canonical(tag)]
        o = overrides or {}
        same = bool(o.get("locale")) and canonical(str(o["locale"])) == canonical(tag)

        def pick(key: str, default: Any) -> Any:
            return (o.get(key) or default) if same else default

        currency = pick("currencySymbols", base.currency)
        return cls(
            canonical(tag),
            str(pick("decimalSeparator", base.decimal)),
            str(o.get("thousandsSeparator", base.thousands) if same else base.thousands),
            str(pick("dateOrder", base.order)),
            tuple(sorted((str(c) for c in currency), key=len, reverse=True)),
            frozenset(("true", "yes", "y", "1", "t", *base.yes)),
            frozenset(("false", "no", "n", "0", "f", *base.no)),
        )

    def as_options(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "decimalSeparator": self.decimal,
            "thousandsSeparator": self.thousands,
            "dateOrder": self.order,
            "currencySymbols": list(self.currency),
            "yes": sorted(self.yes),
            "no": sorted(self.no),
        }

    @classmethod
    def from_options(cls, raw: dict[str, Any]) -> ValueLocale:
        return cls(
            str(raw["tag"]),
            str(raw["decimalSeparator"]),
            str(raw["thousandsSeparator"]),
            str(raw["dateOrder"]),
            tuple(raw.get("currencySymbols") or ()),
            frozenset(raw.get("yes") or ()),
            frozenset(raw.get("no") or ()),
        )


def defaults(tag: str) -> dict[str, Any]:
    """A locale's settings as `/organization/settings` shows them."""
    base = _BY_TAG[canonical(tag)]
    return {
        "locale": canonical(tag),
        "decimalSeparator": base.decimal,
        "thousandsSeparator": base.thousands,
        "dateOrder": base.order,
        "currencySymbols": list(base.currency),
    }
