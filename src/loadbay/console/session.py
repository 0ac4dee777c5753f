"""Console sign-in: one-time links, sessions in a signed cookie, CSRF tokens.

A sign-in link is a JWT (`typ: console-link`, 15 minutes) whose `jti` is
recorded when it is used, so it opens one session only. The session cookie
carries a random id and its HMAC under the configured secret; the row behind
it holds who, the permissions and the CSRF token, and sign-out ends the row.

The secret is the caller's to give (the app's settings', handed down from the app): a
process can serve an app built for settings other than its current ones.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loadbay.auth import PERMISSIONS, Principal, decode_token
from loadbay.console.models import ConsoleLinkUse, ConsoleSession
from loadbay.errors import Unauthorized
from loadbay.ids import utcnow

COOKIE = "loadbay_console"
PRE_COOKIE = "loadbay_console_pre"  # CSRF for the sign-in forms, before any session
LINK_MINUTES = 15
SESSION_HOURS = 12
LINK_TYPE = "console-link"


class LinkInvalid(Exception):
    """The link is expired, used, altered or not a sign-in link; the message says which."""


@dataclass(frozen=True)
class Signed:
    """Who is signed in, with the session's CSRF token."""

    id: str
    principal: Principal
    csrf: str


def issue_link(org: str, email: str, perms: list[str], secret: str) -> str:
    """The path and query of a one-time sign-in link (prefix it with the public URL),
    signed with `secret` (the settings' of the app it signs in to)."""
    unknown = [p for p in perms if p not in PERMISSIONS]
    if unknown:
        raise ValueError(f"unknown permission: {', '.join(unknown)}")
    now = datetime.now(UTC)
    claims = {
        "typ": LINK_TYPE,
        "sub": email,
        "org": org,
        "perms": perms,
        "jti": secrets.token_urlsafe(16),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=LINK_MINUTES)).timestamp()),
    }
    token = jwt.encode(claims, secret, algorithm="HS256")
    return f"/sign-in/link?token={token}"


def read_link(token: str, secret: str) -> tuple[Principal, str, datetime]:
    """The principal, jti and expiry of a link that is valid (not yet checked for use)."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["sub", "org", "exp", "jti", "typ"]},
        )
    except jwt.ExpiredSignatureError:
        raise LinkInvalid("This sign-in link has expired. Ask for a new one.") from None
    except jwt.PyJWTError:
        raise LinkInvalid("This sign-in link is not valid. Ask for a new one.") from None
    perms = claims.get("perms", [])
    if claims["typ"] != LINK_TYPE or not isinstance(perms, list):
        raise LinkInvalid("This sign-in link is not valid. Ask for a new one.")
    principal = Principal(str(claims["org"]), str(claims["sub"]), frozenset(map(str, perms)))
    expires = datetime.fromtimestamp(int(claims["exp"]), UTC).replace(tzinfo=None)
    return principal, str(claims["jti"]), expires


def use_link(session: Session, token: str, secret: str) -> Principal:
    """Mark the link used (in the caller's transaction) and answer who it signs in."""
    principal, jti, expires = read_link(token, secret)
    session.add(ConsoleLinkUse(jti=jti, organization_id=principal.org, expires_at=expires))
    try:
        session.flush()
    except IntegrityError:
        raise LinkInvalid("This sign-in link has already been used. Ask for a new one.") from None
    return principal


def principal_of_token(token: str, secret: str) -> Principal | None:
    """The principal of a pasted API token, or None when it is not one."""
    try:
        return decode_token(token.strip(), secret)
    except Unauthorized:
        return None


def _sign(value: str, secret: str) -> str:
    key = ("console-session:" + secret).encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def cookie_value(session_id: str, secret: str) -> str:
    return f"{session_id}.{_sign(session_id, secret)}"


def start(session: Session, principal: Principal) -> ConsoleSession:
    row = ConsoleSession(
        id=secrets.token_urlsafe(32),
        organization_id=principal.org,
        email=principal.email,
        perms=sorted(principal.perms),
        csrf=secrets.token_urlsafe(32),
        expires_at=utcnow() + timedelta(hours=SESSION_HOURS),
    )
    session.add(row)
    # Expired and ended sessions and used links of the past are cleared on the way.
    session.execute(sa.delete(ConsoleSession).where(ConsoleSession.expires_at < utcnow()))
    session.execute(sa.delete(ConsoleLinkUse).where(ConsoleLinkUse.expires_at < utcnow()))
    return row


def load(session: Session, cookie: str | None, secret: str) -> Signed | None:
    if not cookie or "." not in cookie:
        return None
    session_id, _, signature = cookie.rpartition(".")
    if not hmac.compare_digest(signature, _sign(session_id, secret)):
        return None
    row = session.get(ConsoleSession, session_id)
    if row is None or row.ended_at is not None or row.expires_at <= utcnow():
        return None
    principal = Principal(row.organization_id, row.email, frozenset(row.perms))
    return Signed(row.id, principal, row.csrf)


def end(session: Session, session_id: str) -> None:
    session.execute(
        sa.update(ConsoleSession).where(ConsoleSession.id == session_id).values(ended_at=utcnow())
    )


def same(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
