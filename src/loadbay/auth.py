"""Bearer JWT → Principal(org, email, permissions)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import anyio.to_thread
import jwt
from fastapi import Depends, Request

from loadbay.errors import Forbidden, Unauthorized
from loadbay.settings import Settings, get_settings

PERMISSIONS = ("import", "export", "admin")


@dataclass(frozen=True)
class Principal:
    org: str
    email: str
    perms: frozenset[str]

    def can(self, perm: str) -> bool:
        return perm in self.perms or "admin" in self.perms


def issue_token(org: str, email: str, perms: list[str], days: int | None = None) -> str:
    settings = get_settings()
    now = datetime.now(UTC)
    claims = {
        "sub": email,
        "org": org,
        "perms": perms,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(days=days or settings.token_days)).timestamp()),
    }
    return jwt.encode(claims, settings.secret, algorithm="HS256")


def _when(exp: object) -> str:
    try:
        return datetime.fromtimestamp(float(exp), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return "an unreadable time"


def _why(exc: jwt.PyJWTError, token: str) -> str:
    """Which of the vendor's one 401 this is, in words a person can act on."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        claims = jwt.decode(token, options={"verify_signature": False})
        return f"expired: the token expired at {_when(claims.get('exp'))}; get a new one"
    if isinstance(exc, jwt.InvalidSignatureError):
        return (
            "bad signature: the token was not signed by this server's secret "
            "(made by another loadbay, or with another data folder or LOADBAY_JWT_SECRET?)"
        )
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return "bad signature: the token must be signed with HS256"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"malformed: the token has no '{exc.claim}' claim"
    if isinstance(exc, jwt.DecodeError):
        return "malformed: the bearer token is not a JSON Web Token"
    return "malformed: the token's claims are not valid"


def decode_token(token: str, secret: str | None = None) -> Principal:
    """The principal a token names; `secret`: the app's (the process's when not given)."""
    try:
        claims = jwt.decode(
            token,
            secret or get_settings().secret,
            algorithms=["HS256"],
            options={"require": ["sub", "org", "exp"]},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized(detail=_why(exc, token)) from None
    perms = claims.get("perms", [])
    if not isinstance(claims["org"], str) or not isinstance(claims["sub"], str):
        raise Unauthorized(detail="malformed: the token's org and sub must be texts")
    if not isinstance(perms, list) or not all(isinstance(p, str) for p in perms):
        raise Unauthorized(detail="malformed: the token's perms must be a list of texts")
    return Principal(org=claims["org"], email=claims["sub"], perms=frozenset(perms))


# Which organisations exist is the catalog's to say, and auth sits below it: the app hands
# the check in at start-up (`create_app` sets `app.state.known_organisation`).
KnownOrganisation = Callable[[str], bool]
# A known organisation is remembered this long per app, so a poll does not ask the
# database again (at 170 polls/s that query was a fifth of a poll's cost). An unknown one
# is never remembered: an organisation made a moment ago is let in at once. A reset
# database is noticed this many seconds late at most.
KNOWN_ORG_SECONDS = 5.0


async def _known_organisation(request: Request, org: str) -> bool:
    state = request.app.state
    check: KnownOrganisation | None = getattr(state, "known_organisation", None)
    if check is None:  # an app that skipped the wiring must not let every token through
        raise RuntimeError("app.state.known_organisation is not set (see loadbay.api)")
    known: dict[str, float] | None = getattr(state, "known_organisations", None)
    if known is None:
        known = state.known_organisations = {}
    now = time.monotonic()
    if known.get(org, 0.0) > now:
        return True
    # The check reads the database: on a worker thread, never on the event loop.
    if not await anyio.to_thread.run_sync(check, org):
        return False
    if len(known) > 10_000:  # tokens of many organisations: start over rather than grow
        known.clear()
    known[org] = now + KNOWN_ORG_SECONDS
    return True


def _secret(request: Request) -> str:
    """The secret of the settings the app was built for (a bare app: the process's)."""
    settings: Settings | None = getattr(request.app.state, "settings", None)
    return (settings or get_settings()).secret


async def current_principal(request: Request) -> Principal:
    """On the event loop (a header, an HMAC, a dict; the database only when the token's
    organisation is not known yet): a poll spends its one thread on its own query."""
    header = request.headers.get("authorization", "")
    if not header.strip():
        raise Unauthorized(detail="no token: send the header 'Authorization: Bearer <token>'")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized(detail=f"malformed: the scheme is '{scheme[:20]}', not 'Bearer'")
    if not token.strip():
        raise Unauthorized(detail="no token: the Authorization header has no token after 'Bearer'")
    principal = decode_token(token.strip(), _secret(request))
    # A token outlives a reset database; its organisation's data would look merely empty.
    if not await _known_organisation(request, principal.org):
        raise Unauthorized(
            detail=f"unknown organisation: {principal.org[:40]} does not exist on this server"
        )
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


# The vendor's 403 body for an action the token's permissions do not cover.
FORBIDDEN = "You do not have permission to perform this action"


def require(*perms: str, message: str = FORBIDDEN) -> Any:
    """The one permission check: a dependency that lets through principals holding any
    of `perms` (`admin` holds them all) and answers the vendor's 403 `auth-003` else."""

    async def _check(principal: CurrentPrincipal) -> Principal:  # no thread for a set lookup
        if not any(principal.can(perm) for perm in perms):
            raise Forbidden(message)
        return principal

    return Depends(_check)


CanImport = Annotated[Principal, require("import")]
CanExport = Annotated[Principal, require("export")]
# Records and tasks are what imports write and exports read: either permission reads them.
CanRead = Annotated[Principal, require("import", "export")]
