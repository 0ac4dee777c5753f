"""Bearer JWT → Principal(org, email, permissions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Request

from loadbay.errors import Forbidden, Unauthorized
from loadbay.settings import get_settings

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


def decode_token(token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            get_settings().secret,
            algorithms=["HS256"],
            options={"require": ["sub", "org", "exp"]},
        )
    except jwt.PyJWTError:
        raise Unauthorized() from None
    perms = claims.get("perms", [])
    if not isinstance(claims["org"], str) or not isinstance(claims["sub"], str):
        raise Unauthorized()
    if not isinstance(perms, list) or not all(isinstance(p, str) for p in perms):
        raise Unauthorized()
    return Principal(org=claims["org"], email=claims["sub"], perms=frozenset(perms))


def current_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    principal = decode_token(token.strip())
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(perm: str, message: str = "Forbidden") -> object:
    """A dependency that lets through only principals holding `perm`."""

    def _check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(perm):
            raise Forbidden(message)
        return principal

    return Depends(_check)
