"""The remote CLI against a real `loadbay serve`: exit codes, output, files, login."""

from __future__ import annotations

import json
import stat
import uuid
from pathlib import Path

import httpx

from tests.client.conftest import Server, free_port, outlets_csv


def _codes(prefix: str, n: int) -> list[str]:
    tag = uuid.uuid4().hex[:6]
    return [f"{prefix}{tag}{i}" for i in range(n)]


def test_a_clean_import_exits_0_with_its_counts(server: Server, tmp_path: Path) -> None:
    rows = [(c, f"Outlet {c}") for c in _codes("A", 3)]
    file = outlets_csv(tmp_path / "ok.csv", rows)
    result = server.run("import", str(file), "--data-type", "Outlet", "--hub", "Jakarta")
    assert result.exit_code == 0, result.output
    assert "success" in result.stdout
    assert "valid" in result.stdout and "created" in result.stdout
    again = server.run("import", str(file), "--data-type", "Outlet", "--hub", "Jakarta", "--json")
    assert again.exit_code == 0, again.output
    record = json.loads(again.stdout)  # nothing but the record on stdout
    assert record["status"] == "success"
    assert record["totalValid"] == 3 and record["totalInvalid"] == 0


def test_some_invalid_rows_exit_1_and_the_failed_rows_download(
    server: Server, tmp_path: Path
) -> None:
    good, bad = _codes("P", 2), _codes("Q", 1)
    file = outlets_csv(tmp_path / "some.csv", [(c, "x") for c in good] + [(bad[0], "")])
    failed = tmp_path / "out" / "failed.xlsx"
    result = server.run(
        "import",
        str(file),
        "--data-type",
        "Outlet",
        "--hub",
        "Jakarta",
        "--failed-rows",
        str(failed),
        "--json",
    )
    assert result.exit_code == 1, result.output
    record = json.loads(result.stdout)
    assert record["status"] == "partially"
    assert (record["totalValid"], record["totalInvalid"]) == (2, 1)
    assert failed.stat().st_size > 0
    assert f"failed rows: {failed}" in result.stderr


def test_all_invalid_rows_exit_3(server: Server, tmp_path: Path) -> None:
    file = outlets_csv(tmp_path / "bad.csv", [(c, "") for c in _codes("B", 2)])
    result = server.run("import", str(file), "--data-type", "Outlet", "--hub", "Jakarta")
    assert result.exit_code == 3, result.output
    assert "failed" in result.stdout


def test_watch_follows_a_queued_import_to_its_end(server: Server, tmp_path: Path) -> None:
    file = outlets_csv(tmp_path / "w.csv", [(c, "x") for c in _codes("W", 2)])
    queued = server.run(
        "import", str(file), "--data-type", "Outlet", "--hub", "Jakarta", "--no-wait"
    )
    assert queued.exit_code == 0, queued.output
    code = queued.stdout.strip()
    watched = server.run("watch", code, "--json")
    assert watched.exit_code == 0, watched.output
    assert json.loads(watched.stdout)["_id"] == code


def test_preview_shows_the_mapping_and_imports_nothing(server: Server, tmp_path: Path) -> None:
    file = outlets_csv(tmp_path / "p.csv", [(c, "x") for c in _codes("V", 2)])
    before = json.loads(server.run("jobs", "--json", "--limit", "100").stdout)
    result = server.run(
        "import", str(file), "--data-type", "Outlet", "--hub", "Jakarta", "--preview"
    )
    assert result.exit_code == 0, result.output
    assert "mapping" in result.stdout and "dataId" in result.stdout
    assert "would create 2, update 0, skip 0" in result.stdout
    after = json.loads(server.run("jobs", "--json", "--limit", "100").stdout)
    assert len(after) == len(before)


def test_cancel_a_draft_exits_4_and_a_finished_import_exits_3(
    server: Server, tmp_path: Path
) -> None:
    file = outlets_csv(tmp_path / "c.csv", [(c, "x") for c in _codes("C", 2)])
    with file.open("rb") as f:
        draft = httpx.post(
            f"{server.url}/api/v3/import-jobs",
            headers={"Authorization": f"Bearer {server.token}"},
            data={
                "dataTypeId": _outlet_id(server),
                "hubId": _hub_id(server),
                "showPreview": "true",
            },
            files={"file": ("c.csv", f, "text/csv")},
        ).json()["data"]["code"]
    result = server.run("cancel", draft)
    assert result.exit_code == 4, result.output
    assert "Cancelled" in result.stdout
    done = server.run("import", str(file), "--data-type", "Outlet", "--hub", "Jakarta", "--no-wait")
    code = done.stdout.strip()
    assert server.run("watch", code).exit_code == 0
    late = server.run("cancel", code)
    assert late.exit_code == 3, late.output
    assert "already finished" in late.stderr and "import-032" in late.stderr


def _outlet_id(server: Server) -> str:
    answer = httpx.get(
        f"{server.url}/api/v3/data-types", headers={"Authorization": f"Bearer {server.token}"}
    ).json()
    return str(next(d["_id"] for d in answer["data_types"]["data"] if d["name"] == "Outlet"))


def _hub_id(server: Server) -> str:
    answer = httpx.get(
        f"{server.url}/api/v3/hubs", headers={"Authorization": f"Bearer {server.token}"}
    ).json()
    return str(next(h["_id"] for h in answer["data"]["data"] if h["name"] == "Jakarta"))


def test_a_bad_token_exits_5_in_one_line(server: Server) -> None:
    result = server.run("jobs", token="not-a-token")
    assert result.exit_code == 5
    assert result.stderr.count("\n") == 1 and "Unauthorized" in result.stderr
    assert result.stdout == ""


def test_a_server_that_is_down_exits_5(server: Server) -> None:
    result = server.run("jobs", url=f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 5
    assert "cannot reach" in result.stderr


def test_jobs_json_lists_imports_newest_first(server: Server, tmp_path: Path) -> None:
    file = outlets_csv(tmp_path / "j.csv", [(c, "x") for c in _codes("J", 1)])
    code = json.loads(
        server.run(
            "import", str(file), "--data-type", "Outlet", "--hub", "Jakarta", "--json"
        ).stdout
    )["_id"]
    result = server.run("jobs", "--json", "--status", "success", "--type", "datasource")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert records[0]["_id"] == code
    assert {r["status"] for r in records} == {"success"}
    table = server.run("jobs", "--limit", "1")
    assert table.exit_code == 0 and code in table.stdout


def test_export_downloads_a_file(server: Server, tmp_path: Path) -> None:
    target = tmp_path / "outlets.csv"
    result = server.run(
        "export", "data", "-o", str(target), "-f", "csv", "--data-type", "Outlet", "--limit", "5"
    )
    assert result.exit_code == 0, result.output
    lines = target.read_text().splitlines()
    assert "Name" in lines[0] and len(lines) == 6
    tasks = tmp_path / "tasks.xlsx"
    result = server.run("export", "tasks", "-o", str(tasks), "--flow", "Delivery", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "Done"
    assert tasks.read_bytes()[:2] == b"PK"


def test_template_is_written_where_asked(server: Server, tmp_path: Path) -> None:
    target = tmp_path / "t" / "outlet.xlsx"
    result = server.run("template", "--data-type", "Outlet", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_bytes()[:2] == b"PK"  # an XLSX is a zip


def test_revert_undoes_an_import(server: Server, tmp_path: Path) -> None:
    file = outlets_csv(tmp_path / "r.csv", [(c, "x") for c in _codes("R", 1)])
    code = json.loads(
        server.run(
            "import", str(file), "--data-type", "Outlet", "--hub", "Jakarta", "--json"
        ).stdout
    )["_id"]
    result = server.run("revert", code)
    assert result.exit_code == 0, result.output
    assert "revert Done" in result.stdout and "revertedCount: 1" in result.stdout


def test_login_keeps_url_and_token_0600_and_later_commands_use_them(
    server: Server, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from loadbay.cli import app

    home = tmp_path / "cfg"
    env = {"XDG_CONFIG_HOME": str(home), "LOADBAY_URL": None, "LOADBAY_TOKEN": None}
    runner = CliRunner()
    bad = runner.invoke(app, ["login", "--url", server.url, "--token", "nope"], env=env)
    assert bad.exit_code == 5 and not (home / "loadbay" / "config.json").exists()
    result = runner.invoke(app, ["login", "--url", server.url, "--token", server.token], env=env)
    assert result.exit_code == 0, result.output
    saved = home / "loadbay" / "config.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text()) == {"url": server.url, "token": server.token}
    listed = runner.invoke(app, ["jobs", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert isinstance(json.loads(listed.stdout), list)
    nothing = runner.invoke(app, ["jobs"], env={**env, "XDG_CONFIG_HOME": str(tmp_path / "x")})
    assert nothing.exit_code == 2 and "loadbay login" in nothing.stderr


def test_usage_errors_exit_2(server: Server, tmp_path: Path) -> None:
    file = outlets_csv(tmp_path / "u.csv", [("U1", "x")])
    both = server.run(
        "import", str(file), "--data-type", "Outlet", "--hub", "Jakarta", "--flow", "Delivery"
    )
    assert both.exit_code == 2 and "exactly one" in both.stderr
    missing = server.run("import", str(tmp_path / "nope.csv"), "--data-type", "Outlet")
    assert missing.exit_code == 2
    unknown = server.run("jobs", "--bogus")
    assert unknown.exit_code == 2
    no_scheme = server.run("jobs", url="127.0.0.1:8000")
    assert no_scheme.exit_code == 2 and "not a server address" in no_scheme.stderr


def test_cancelling_a_running_import_exits_4(server: Server, tmp_path: Path) -> None:
    # Many chunks' worth of rows: the cancel lands while the job is queued or running.
    rows = [(c, "x") for c in _codes("K", 30_000)]
    file = outlets_csv(tmp_path / "k.csv", rows)
    queued = server.run(
        "import", str(file), "--data-type", "Outlet", "--hub", "Jakarta", "--no-wait"
    )
    code = queued.stdout.strip()
    result = server.run("cancel", code, "--json")
    assert result.exit_code == 4, result.output
    assert json.loads(result.stdout)["status"] in ("cancelled", "Cancelled")
