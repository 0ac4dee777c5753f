"""Bearer JWT: every failure is the same 401 body; a missing permission is 403."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from loadbay.settings import get_settings

API = "/api/v3"
UNAUTHORIZED = {"status": False, "message": "Unauthorized", "failedCode": "auth-001"}


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


@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
def test_every_bad_token_is_the_same_401(app_client: TestClient, case: str) -> None:
    r = app_client.get(f"{API}/hubs", headers=BAD_HEADERS[case]())
    assert r.status_code == 401
    assert r.json() == UNAUTHORIZED


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_catalog_endpoint_needs_a_token(
    app_client: TestClient, method: str, path: str
) -> None:
    kwargs: dict[str, Any] = {"json": {}} if method == "post" else {}
    r = getattr(app_client, method)(f"{API}{path}", **kwargs)
    assert r.status_code == 401
    assert r.json() == UNAUTHORIZED


def test_a_valid_token_passes(app_client: TestClient, auth: dict[str, str]) -> None:
    r = app_client.get(f"{API}/hubs", headers=auth)
    assert r.status_code == 200
    scheme_case = {"Authorization": auth["Authorization"].replace("Bearer", "bearer")}
    assert app_client.get(f"{API}/hubs", headers=scheme_case).status_code == 200


def test_a_token_for_an_organisation_that_does_not_exist_cannot_create(
    app_client: TestClient,
) -> None:
    headers = {"Authorization": _bearer(_claims(org="f" * 24))}
    assert app_client.get(f"{API}/hubs", headers=headers).status_code == 200
    r = app_client.post(f"{API}/hub", json={"name": "X"}, headers=headers)
    assert r.status_code == 401 and r.json() == UNAUTHORIZED


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
    assert r.json() == {"status": False, "message": "Forbidden", "failedCode": "auth-003"}
