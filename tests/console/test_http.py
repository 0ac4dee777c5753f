"""The console over plain HTTP: sign-in links, sessions, CSRF, permissions, isolation."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from loadbay.console.session import COOKIE, issue_link
from loadbay.db import Database


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def _sign_in(
    client: TestClient, org_id: str, perms: list[str], email: str = "ana@acme.test"
) -> str:
    link = issue_link(org_id, email, perms, client.app.state.settings.secret)
    answer = client.get(link, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    return client.cookies[COOKIE]


def test_a_sign_in_link_opens_one_session_and_works_once(
    app_client: TestClient, make_org: Callable[[str], str]
) -> None:
    org = make_org("acme")
    link = issue_link(org, "ana@acme.test", ["import"], app_client.app.state.settings.secret)
    first = app_client.get(link, follow_redirects=False)
    assert first.status_code == 303
    home = app_client.get("/")
    assert home.status_code == 200
    assert "ana@acme.test" in home.text and "acme" in home.text
    app_client.cookies.clear()
    again = app_client.get(link, follow_redirects=False)
    assert again.status_code == 400
    assert "already been used" in again.text
    assert COOKIE not in app_client.cookies


def test_an_altered_link_and_no_session_are_refused(
    app_client: TestClient, make_org: Callable[[str], str]
) -> None:
    org = make_org("acme")
    link = issue_link(org, "ana@acme.test", ["import"], app_client.app.state.settings.secret)
    assert app_client.get(link[:-3] + "abc").status_code == 400
    answer = app_client.get("/imports", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=/imports"


def test_a_pasted_api_token_signs_in(app_client: TestClient, token_for: Callable[..., str]) -> None:
    page = app_client.get("/sign-in")
    csrf = _csrf(page.text)
    bad = app_client.post("/sign-in", data={"csrf": csrf, "token": "nonsense"})
    assert bad.status_code == 400 and "was not accepted" in bad.text
    csrf = _csrf(bad.text)
    answer = app_client.post(
        "/sign-in", data={"csrf": csrf, "token": token_for(), "next": "/imports"},
        follow_redirects=False,
    )  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/imports"
    assert app_client.get("/imports").status_code == 200


def test_sign_in_without_the_form_token_is_refused(
    app_client: TestClient, token_for: Callable[..., str]
) -> None:
    answer = app_client.post("/sign-in", data={"token": token_for()}, follow_redirects=False)
    assert answer.status_code == 403
    assert COOKIE not in app_client.cookies


def test_every_post_needs_the_sessions_csrf_token(
    app_client: TestClient, make_org: Callable[[str], str]
) -> None:
    org = make_org("acme")
    _sign_in(app_client, org, ["import", "export", "admin"])
    csrf = _csrf(app_client.get("/").text)
    for path in ("/sign-out", "/imports/x/cancel", "/imports/x/map", "/exports/new"):
        refused = app_client.post(path, data={"csrf": "wrong"}, follow_redirects=False)
        assert refused.status_code == 403, path
        assert "This form has expired" in refused.text
        assert app_client.post(path, data={}, follow_redirects=False).status_code == 403
    upload = app_client.post(
        "/imports/new/upload", data={"target": "datasource:x"},
        files={"file": ("a.csv", b"a,b\n1,2\n")}, follow_redirects=False,
    )  # fmt: skip
    assert upload.status_code == 403
    assert app_client.get("/").status_code == 200  # still signed in
    out = app_client.post("/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303


def test_sign_out_ends_the_session_even_for_a_copied_cookie(
    app_client: TestClient, make_org: Callable[[str], str]
) -> None:
    org = make_org("acme")
    cookie = _sign_in(app_client, org, ["import"])
    csrf = _csrf(app_client.get("/").text)
    out = app_client.post("/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert out.headers["location"] == "/sign-in?out=1"
    app_client.cookies.set(COOKIE, cookie)
    answer = app_client.get("/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")


def test_a_forged_cookie_is_not_a_session(app_client: TestClient) -> None:
    app_client.cookies.set(COOKIE, "someid.0000")
    assert app_client.get("/", follow_redirects=False).status_code == 303


def test_permissions_hide_links_and_the_server_refuses(
    app_client: TestClient, make_org: Callable[[str], str]
) -> None:
    org = make_org("acme")
    _sign_in(app_client, org, ["export"])
    home = app_client.get("/").text
    assert "New import" not in home and "Export" in home and "Settings" not in home
    for path in ("/imports", "/imports/new", "/settings"):
        answer = app_client.get(path)
        assert answer.status_code == 403, path
        assert "permission" in answer.text
    assert app_client.get("/exports").status_code == 200


def test_another_organisations_import_is_not_found(
    app_client: TestClient, make_org: Callable[[str], str], db: Database, auth: dict[str, str]
) -> None:
    upload = app_client.post(
        "/api/v3/import-jobs",
        headers=auth,
        data={"dataTypeId": _data_type(app_client, auth)},
        files={"file": ("a.csv", b"name\nx\n")},
    )
    code = upload.json()["data"]["code"]
    other = make_org("globex")
    _sign_in(app_client, other, ["import", "export", "admin"], "bo@globex.test")
    for path in (f"/imports/{code}", f"/imports/{code}/map", f"/imports/{code}/progress"):
        answer = app_client.get(path)
        assert answer.status_code == 404, path
        assert "not found" in answer.text.lower()
    assert "a.csv" not in app_client.get("/imports").text


def _data_type(client: TestClient, auth: dict[str, str]) -> str:
    body = {
        "name": "Things",
        "commonData": True,
        "fields": [{"id": "name", "title": "Name", "type": "string", "required": True}],
    }
    answer = client.post("/api/v3/data-type", headers=auth, json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["data_type"]["_id"])


def test_the_progress_fragment_polls_until_the_job_ends(
    app_client: TestClient, make_org: Callable[[str], str], token_for: Callable[..., str]
) -> None:
    auth = {"Authorization": f"Bearer {token_for()}"}
    upload = app_client.post(
        "/api/v3/import-jobs",
        headers=auth,
        data={"dataTypeId": _data_type(app_client, auth)},
        files={"file": ("a.csv", b"name\nx\n")},
    )
    code = upload.json()["data"]["code"]
    _sign_in(app_client, make_org("acme"), ["import"])
    running = app_client.get(f"/imports/{code}/progress", headers={"HX-Request": "true"})
    assert 'hx-trigger="every 1s"' in running.text
    assert 'role="progressbar"' in running.text and 'aria-valuenow="0"' in running.text
    csrf = _csrf(app_client.get(f"/imports/{code}/map").text)
    app_client.post(f"/imports/{code}/cancel", data={"csrf": csrf})
    ended = app_client.get(f"/imports/{code}/progress", headers={"HX-Request": "true"})
    assert "hx-trigger" not in ended.text
    assert 'hx-swap-oob="true"' in ended.text  # the Cancel button is replaced too
    assert "Cancelled" in ended.text
