"""`GET|PUT /organization/settings`: the organisation's locale rules and limits.

Reading needs a valid token; changing needs `admin`. A PUT may give only some keys:
the others keep their value, and naming a new `locale` resets the separators, date
order and currency symbols to that locale's own unless the same PUT gives them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body
from sqlalchemy.orm import Session

from loadbay.auth import CurrentPrincipal, Principal, require
from loadbay.catalog.locales import DATE_ORDERS, UnknownLocale, ValueLocale, canonical, defaults
from loadbay.catalog.models import Organization
from loadbay.deps import ReadSession, WriteSession
from loadbay.errors import BadRequest, NotFound
from loadbay.pagination import ok
from loadbay.routing import Router

router = Router()
Admin = Annotated[Principal, require("admin")]
CODE = "organization-003"
SEPARATORS = (".", ",", " ", "'", "\u00a0", "\u202f", "")
MAX_CHUNKS = 64
KEYS = ("locale", "decimalSeparator", "thousandsSeparator", "dateOrder", "currencySymbols",
        "maxConcurrentChunks")  # fmt: skip
BLANK: dict[str, Any] = {
    "locale": None,
    "decimalSeparator": ".",
    "thousandsSeparator": ",",
    "dateOrder": "DMY",  # the day-first formats loadbay reads without a locale
    "currencySymbols": [],
    "maxConcurrentChunks": None,
}


def _org(session: Session, org: str) -> Organization:
    found = session.get(Organization, org)
    if found is None:
        raise NotFound("organization-004", "Organisation not found")
    return found


def read(session: Session, org: str) -> dict[str, Any]:
    stored = _org(session, org).settings or {}
    return {**BLANK, **{k: v for k, v in stored.items() if k in KEYS}}


def org_locale(session: Session, org: str) -> ValueLocale | None:
    """The organisation's locale rules, or None when it has not chosen a locale."""
    found = read(session, org)
    return ValueLocale.of(str(found["locale"]), found) if found["locale"] else None


def locale_for(session: Session, org: str, tag: str | None, by_default: bool) -> ValueLocale | None:
    """The rules an upload reads values with: the request's `locale` (with the
    organisation's own settings when it names the same one), else, where the flow
    applies it by default, the organisation's locale."""
    if tag:
        try:
            return ValueLocale.of(tag, read(session, org))
        except UnknownLocale as exc:
            raise BadRequest("import-003", str(exc)) from None
    return org_locale(session, org) if by_default else None


def parse(payload: Any, current: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise BadRequest(CODE, "The body must be a JSON object")
    unknown = sorted(set(payload) - set(KEYS))
    if unknown:
        raise BadRequest(CODE, f"Unknown setting(s): {', '.join(unknown)} (use {', '.join(KEYS)})")
    out = dict(current)
    if payload.get("locale") not in (None, ""):
        try:
            tag = canonical(str(payload["locale"]))
        except UnknownLocale as exc:
            raise BadRequest(CODE, f"locale: {exc}") from None
        if tag != current.get("locale"):
            out.update(defaults(tag))
    elif "locale" in payload:
        out["locale"] = None
    for key in ("decimalSeparator", "thousandsSeparator"):
        if key in payload:
            value = payload[key]
            if not isinstance(value, str) or value not in SEPARATORS:
                allowed = ", ".join(repr(s) for s in SEPARATORS)
                raise BadRequest(CODE, f"{key} must be one of {allowed}")
            out[key] = value
    if out["decimalSeparator"] == "" or out["decimalSeparator"] == out["thousandsSeparator"]:
        raise BadRequest(CODE, "decimalSeparator must be set and differ from thousandsSeparator")
    if "dateOrder" in payload:
        if payload["dateOrder"] not in DATE_ORDERS:
            raise BadRequest(CODE, f"dateOrder must be one of {', '.join(DATE_ORDERS)}")
        out["dateOrder"] = payload["dateOrder"]
    if "currencySymbols" in payload:
        symbols = payload["currencySymbols"]
        if not isinstance(symbols, list) or not all(
            isinstance(s, str) and 0 < len(s.strip()) <= 8 for s in symbols
        ):
            raise BadRequest(CODE, 'currencySymbols must be a list of short texts like ["Rp"]')
        out["currencySymbols"] = [s.strip() for s in symbols][:20]
    if "maxConcurrentChunks" in payload:
        value = payload["maxConcurrentChunks"]
        ok_int = isinstance(value, int) and not isinstance(value, bool)
        if value is not None and not (ok_int and 1 <= value <= MAX_CHUNKS):
            raise BadRequest(CODE, f"maxConcurrentChunks must be a whole number 1-{MAX_CHUNKS}")
        out["maxConcurrentChunks"] = value
    return out


@router.get("/organization/settings", response_model=None, tags=["organization"])
def get_settings_route(principal: CurrentPrincipal, session: ReadSession) -> dict[str, Any]:
    return ok(read(session, principal.org))


@router.put("/organization/settings", response_model=None, tags=["organization"])
def put_settings_route(
    principal: Admin, session: WriteSession, payload: Annotated[Any, Body()] = None
) -> dict[str, Any]:
    """Change some or all of `{locale, decimalSeparator, thousandsSeparator, dateOrder:
    DMY|MDY|YMD, currencySymbols, maxConcurrentChunks}` (admin only)."""
    org = _org(session, principal.org)
    changed = parse(payload, read(session, principal.org))
    org.settings = changed
    return ok(changed)
