"""Bearer JWT: every failure is the same 401 body; a missing permission is 403."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from loadbay.catalog.models import Organization
from loadbay.db import Database
from loadbay.settings import get_settings

API = "/api/v3"
UNAUTHORIZED = {"status": False, "message": "Unauthorized", "failedCode": "auth-001"}
# The vendor's 403 (mileapp-importexport.openapi.json, POST /data/import).
FORBIDDEN = {
    "status": False,
    "message": "You do not have permission to perform this action",
    "failedCode": "auth-003",
}


def _claims(org: str = "0" * 24, **over: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {
        "sub": "ops@acme.test",
        "org": org,
        "perms": ["import"],
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
    }
    return {**claims, **over}


def _bearer(claims: dict[str, Any], secret: str | None = None, alg: str = "HS256") -> str:
    return "Bearer " + jwt.encode(claims, secret or get_settings().secret, algorithm=alg)


BAD_HEADERS: dict[str, Callable[[], dict[str, str]]] = {
    "missing": lambda: {},
    "empty": lambda: {"Authorization": ""},
    "wrong scheme": lambda: {"Authorization": _bearer(_claims()).replace("Bearer", "Basic")},
    "no token": lambda: {"Authorization": "Bearer "},
    "malformed": lambda: {"Authorization": "Bearer not.a.jwt"},
    "garbage": lambda: {"Authorization": "Bearer abc"},
    "expired": lambda: {
        "Authorization": _bearer(_claims(exp=int(datetime.now(UTC).timestamp()) - 60))
    },
    "wrong signature": lambda: {"Authorization": _bearer(_claims(), secret="s" * 48)},
    "no org": lambda: {
        "Authorization": _bearer({k: v for k, v in _claims().items() if k != "org"})
    },
    "no expiry": lambda: {
        "Authorization": _bearer({k: v for k, v in _claims().items() if k != "exp"})
    },
    "perms not a list": lambda: {"Authorization": _bearer(_claims(perms="admin"))},
    "alg none": lambda: {
        "Authorization": "Bearer " + jwt.encode(_claims(), key=None, algorithm="none")  # type: ignore[arg-type]
    },
}
ENDPOINTS = [
    ("get", "/hubs"),
    ("post", "/hub"),
    ("get", "/flows"),
    ("get", "/data-types"),
    ("get", "/data-type/0123456789abcdef01234567/"),
    ("delete", "/data-type/0123456789abcdef01234567"),
    ("post", "/data"),
    ("get", "/data"),
    ("post", "/data/bulk/upsert"),
    ("get", "/tasks"),
    ("post", "/task"),
]


DETAILS = {
    "missing": "no token: send the header 'Authorization: Bearer <token>'",
    "empty": "no token: send the header",
    "wrong scheme": "malformed: the scheme is 'Basic', not 'Bearer'",
    "no token": "no token: the Authorization header has no token after 'Bearer'",
    "malformed": "malformed: the bearer token is not a JSON Web Token",
    "garbage": "malformed: the bearer token is not a JSON Web Token",
    "expired": "expired: the token expired at 20",
    "wrong signature": "bad signature: the token was not signed by this server's secret",
    "no org": "malformed: the token has no 'org' claim",
    "no expiry": "malformed: the token has no 'exp' claim",
    "perms not a list": "malformed: the token's perms must be a list of texts",
    "alg none": "bad signature: the token must be signed with HS256",
}


@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
def test_every_bad_token_is_the_vendors_401_with_a_detail_saying_which(
    app_client: TestClient, case: str
) -> None:
    r = app_client.get(f"{API}/hubs", headers=BAD_HEADERS[case]())
    assert r.status_code == 401
    body = r.json()
    assert {k: body[k] for k in UNAUTHORIZED} == UNAUTHORIZED and set(body) == {
        *UNAUTHORIZED,
        "detail",
    }
    assert body["detail"].startswith(DETAILS[case]), body["detail"]


def test_an_expired_token_says_when(app_client: TestClient, make_org: Callable[[str], str]) -> None:
    exp = int(datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC).timestamp())
    headers = {"Authorization": _bearer(_claims(make_org("acme"), exp=exp))}
    body = app_client.get(f"{API}/hubs", headers=headers).json()
    assert body["detail"] == "expired: the token expired at 2025-03-04 05:06:07 UTC; get a new one"


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_catalog_endpoint_needs_a_token(
    app_client: TestClient, method: str, path: str
) -> None:
    kwargs: dict[str, Any] = {"json": {}} if method == "post" else {}
    r = getattr(app_client, method)(f"{API}{path}", **kwargs)
    assert r.status_code == 401
    assert r.json() == {**UNAUTHORIZED, "detail": DETAILS["missing"]}


def test_a_valid_token_passes(app_client: TestClient, auth: dict[str, str]) -> None:
    r = app_client.get(f"{API}/hubs", headers=auth)
    assert r.status_code == 200
    scheme_case = {"Authorization": auth["Authorization"].replace("Bearer", "bearer")}
    assert app_client.get(f"{API}/hubs", headers=scheme_case).status_code == 200


def test_a_token_for_an_organisation_that_does_not_exist_is_refused_saying_so(
    app_client: TestClient,
) -> None:
    headers = {"Authorization": _bearer(_claims(org="f" * 24))}
    unknown = {
        **UNAUTHORIZED,
        "detail": f"unknown organisation: {'f' * 24} does not exist on this server",
    }
    for r in (
        app_client.get(f"{API}/hubs", headers=headers),
        app_client.post(f"{API}/hub", json={"name": "X"}, headers=headers),
    ):
        assert r.status_code == 401 and r.json() == unknown


def test_a_known_organisation_is_not_asked_of_the_database_on_every_poll(
    db: Database, make_org: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poll asked the database whether its organisation exists, every time (a fifth of
    a poll's cost at 170 polls/s). Known ones are remembered for a few seconds; unknown
    ones never, so an organisation made a moment ago is let in at once."""
    from loadbay import auth as auth_module
    from loadbay.api import create_app

    app = create_app(run_migrations=False)
    asked: list[str] = []
    check = app.state.known_organisation

    def counting(org: str) -> bool:
        asked.append(org)
        return bool(check(org))

    app.state.known_organisation = counting
    org = make_org("Polling Co")
    later = "e" * 24
    headers = {"Authorization": _bearer(_claims(org=org))}
    with TestClient(app, raise_server_exceptions=False) as client:
        for _ in range(5):
            assert client.get(f"{API}/hubs", headers=headers).status_code == 200
        assert asked == [org]
        late = {"Authorization": _bearer(_claims(org=later))}
        assert client.get(f"{API}/hubs", headers=late).status_code == 401
        with db.write() as session:
            session.add(Organization(id=later, name="Made just now"))
        assert client.get(f"{API}/hubs", headers=late).status_code == 200
        # Past the memory, the database is asked again (a reset database is noticed).
        monkeypatch.setattr(auth_module, "KNOWN_ORG_SECONDS", 0.0)
        app.state.known_organisations.clear()
        with db.write() as session:
            session.execute(sa.delete(Organization).where(Organization.id == later))
        assert client.get(f"{API}/hubs", headers=late).status_code == 401
    assert asked.count(org) == 1 and asked.count(later) == 3


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/hub"),
        ("post", "/flow"),
        ("post", "/data-type"),
        ("put", "/data-type/0123456789abcdef01234567"),
        ("patch", "/data-type/0123456789abcdef01234567"),
        ("delete", "/data-type/0123456789abcdef01234567"),
        ("post", "/data"),
        ("post", "/data/bulk/upsert"),
        ("post", "/task"),
    ],
)
@pytest.mark.parametrize("perms", ["", "export"])
def test_writes_without_permission_are_403(
    app_client: TestClient, token_for: Callable[..., str], method: str, path: str, perms: str
) -> None:
    headers = {"Authorization": f"Bearer {token_for(perms=perms)}"}
    kwargs: dict[str, Any] = {} if method == "delete" else {"json": {"name": "X"}}
    r = getattr(app_client, method)(f"{API}{path}", headers=headers, **kwargs)
    assert r.status_code == 403
    assert r.json() == FORBIDDEN


IMPORT_READS = [
    "/import-monitoring",
    "/import-monitoring/0123456789abcdef01234567",
    "/import-jobs/0123456789abcdef01234567",
]
RECORD_READS = [
    "/data",
    "/data/0123456789abcdef01234567",
    "/tasks",
    "/task/0123456789abcdef01234567",
]


@pytest.mark.parametrize("path", IMPORT_READS)
@pytest.mark.parametrize("perms", ["", "export"])
def test_reading_imports_needs_import(
    app_client: TestClient, token_for: Callable[..., str], path: str, perms: str
) -> None:
    headers = {"Authorization": f"Bearer {token_for(perms=perms)}"}
    r = app_client.get(f"{API}{path}", headers=headers)
    assert r.status_code == 403
    assert r.json() == FORBIDDEN


@pytest.mark.parametrize("path", IMPORT_READS)
@pytest.mark.parametrize("perms", ["import", "admin"])
def test_import_or_admin_reads_imports(
    app_client: TestClient, token_for: Callable[..., str], path: str, perms: str
) -> None:
    headers = {"Authorization": f"Bearer {token_for(perms=perms)}"}
    r = app_client.get(f"{API}{path}", headers=headers)
    assert r.status_code == (200 if path == "/import-monitoring" else 404), r.text


@pytest.mark.parametrize("path", RECORD_READS)
def test_reading_records_and_tasks_needs_a_permission(
    app_client: TestClient, token_for: Callable[..., str], path: str
) -> None:
    none = app_client.get(
        f"{API}{path}", headers={"Authorization": f"Bearer {token_for(perms='')}"}
    )
    assert none.status_code == 403
    assert none.json() == FORBIDDEN
    for perms in ("import", "export", "admin"):
        headers = {"Authorization": f"Bearer {token_for(perms=perms)}"}
        r = app_client.get(f"{API}{path}", headers=headers)
        assert r.status_code == (404 if path.count("/") > 1 else 200), (perms, r.text)
