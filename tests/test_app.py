"""The service's own surface: settings, health, docs, CLI token."""

from __future__ import annotations

import jwt
import pytest
from typer.testing import CliRunner

from loadbay.settings import Settings, SettingsError, get_settings, load_settings


def test_a_wrong_setting_fails_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOADBAY_CHUNK_SIZE", "lots")
    with pytest.raises(SettingsError, match="LOADBAY_CHUNK_SIZE"):
        load_settings()
    monkeypatch.setenv("LOADBAY_CHUNK_SIZE", "100")
    monkeypatch.setenv("LOADBAY_DATABASE_URL", "mysql://nope")
    with pytest.raises(SettingsError, match="LOADBAY_DATABASE_URL"):
        load_settings()


def test_the_cli_refuses_to_start_on_a_wrong_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from loadbay.cli import app

    monkeypatch.setenv("LOADBAY_RETENTION_DAYS", "-1")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["migrate"])
    finally:
        monkeypatch.delenv("LOADBAY_RETENTION_DAYS")
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "LOADBAY_RETENTION_DAYS" in result.output


def test_embedded_defaults_live_in_the_data_folder(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="", queue_url="", storage_url="")
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'loadbay.db'}"
    assert settings.effective_queue_url == f"sqlite:///{tmp_path / 'queue.db'}"
    assert settings.effective_storage_url == f"file://{tmp_path / 'files'}"
    url = Settings(data_dir=tmp_path, database_url="postgresql://u@h/db").effective_database_url
    assert url == "postgresql+psycopg://u@h/db"


def test_health_docs_and_openapi(app_client) -> None:
    health = app_client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] is True
    assert app_client.get("/docs").status_code == 200
    spec = app_client.get("/openapi.json").json()
    for path in ("/api/v3/data/import", "/api/v3/import-monitoring", "/api/v3/tasks/export",
                 "/api/v3/data-types", "/api/v3/import-jobs"):  # fmt: skip
        assert path in spec["paths"], path


def test_token_prints_a_signed_token_on_its_last_line(sqlite_db) -> None:
    from loadbay.cli import app

    result = CliRunner().invoke(
        app, ["token", "--org", "cli-org", "--email", "a@b.test", "--perms", "import,admin"]
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    claims = jwt.decode(token, get_settings().secret, algorithms=["HS256"])
    assert claims["sub"] == "a@b.test"
    assert claims["perms"] == ["import", "admin"]
    again = CliRunner().invoke(app, ["token", "--org", claims["org"], "--email", "x@b.test"])
    assert (
        jwt.decode(
            again.output.strip().splitlines()[-1], get_settings().secret, algorithms=["HS256"]
        )["org"]
        == claims["org"]
    )
    bad = CliRunner().invoke(app, ["token", "--org", "o", "--email", "e", "--perms", "root"])
    assert bad.exit_code == 2


def test_an_app_is_built_for_the_settings_it_is_given(db, token_for) -> None:
    """No environment change and no cache to clear: each app answers by its own settings
    (one app at a time in a process: the services still read the installed ones)."""
    from fastapi.testclient import TestClient

    from loadbay.api import create_app

    headers = {"Authorization": f"Bearer {token_for()}"}
    nested: dict[str, object] = {"leaf": 1}
    for _ in range(5):
        nested = {"inner": nested}
    body = {"name": "Jakarta", "extra": nested}
    try:
        shallow = create_app(Settings(max_json_depth=4), database=db, run_migrations=False)
        assert shallow.state.settings.max_json_depth == 4 and shallow.state.database is db
        with TestClient(shallow) as client:
            refused = client.post("/api/v3/hub", json=body, headers=headers)
        assert refused.status_code == 400 and refused.json()["failedCode"] == "hub-015"
        deep = create_app(Settings(max_json_depth=64), database=db, run_migrations=False)
        with TestClient(deep) as client:
            assert client.post("/api/v3/hub", json=body, headers=headers).status_code == 201
    finally:
        get_settings.cache_clear()  # the environment's settings again for the next test


def test_an_app_reads_its_own_settings_not_the_processs(db, make_org, make_app) -> None:
    """Its routes are handed the settings it was built for (`app.state`): a token signed
    with its secret is accepted, and a file link signed with its key downloads, while the
    process's current settings are the environment's."""
    from fastapi.testclient import TestClient

    from loadbay.storage import get_storage

    own = Settings(jwt_secret="own-secret-" + "s" * 40, link_secret="own-link-" + "k" * 40)
    app = make_app(jwt_secret=own.jwt_secret, link_secret=own.link_secret)
    get_settings.cache_clear()  # the environment's are the current ones again
    assert get_settings().secret != own.secret
    org = make_org("acme")
    claims = {"sub": "ops@acme.test", "org": org, "perms": ["import"], "exp": 2**40}
    headers = {"Authorization": f"Bearer {jwt.encode(claims, own.secret, algorithm='HS256')}"}
    storage = get_storage(own)
    with storage.writer(f"{org}/notes/a.txt") as f:
        f.write(b"hello")
    link = storage.link(org, f"{org}/notes/a.txt", "a.txt", 60)
    with TestClient(app) as client:
        assert client.get("/api/v3/hubs", headers=headers).status_code == 200
        assert client.get(link.split("127.0.0.1:8000", 1)[1]).content == b"hello"


def test_uploads_take_the_apps_limit_not_the_processs(db, token_for, make_app) -> None:
    """The upload routes receive with the size limit of the settings the app was built
    for, whatever the process's current settings say."""
    from fastapi.testclient import TestClient

    app = make_app(max_upload_bytes=1000)
    get_settings.cache_clear()  # the environment's (512 MB) are the current ones again
    headers = {"Authorization": f"Bearer {token_for()}"}
    content = b"Code,Name\r\n" + b"x,y\r\n" * 1000
    with TestClient(app) as client:
        for path in ("/api/v3/import-jobs", "/api/v3/data/import"):
            answer = client.post(
                path,
                headers=headers,
                data={"dataTypeId": "0" * 24},
                files={"file": ("a.csv", content)},
            )
            assert (answer.status_code, answer.json()["failedCode"]) == (413, "import-040"), path
