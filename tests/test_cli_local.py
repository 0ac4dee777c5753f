"""`token` and `demo` against a real `loadbay serve`: the same data folder found from
another directory, curl lines that work as printed, and `--days` checked."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOADBAY_")}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    env["LOADBAY_LOG_LEVEL"] = "WARNING"
    return env


def _cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loadbay", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture
def server(tmp_path: Path) -> tuple[str, Path, dict[str, str]]:
    home = tmp_path / "server"
    home.mkdir()
    env, port = _env(tmp_path), _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadbay", "serve", "--port", str(port), "--workers", "1"],
        cwd=home, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("loadbay serve did not start")
    yield url, home, env
    proc.terminate()
    proc.wait(timeout=30)


def test_demo_from_another_folder_prints_lines_that_work_as_printed(
    server: tuple[str, Path, dict[str, str]], tmp_path: Path
) -> None:
    url, home, env = server
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = _cli(["demo"], elsewhere, env)
    assert result.returncode == 0, result.stderr
    assert f"data folder {home / '.loadbay'} (of the server at {url})" in result.stderr
    assert not (elsewhere / ".loadbay").exists()  # no second, empty database
    lines = [x for x in result.stdout.splitlines() if x.startswith("curl ")]
    assert len(lines) == 5 and all(f"{url}/api/v3/" in x for x in lines)
    assert (elsewhere / "loadbay-demo-outlets.csv").is_file()
    for line in lines:
        done = subprocess.run(shlex.split(line), capture_output=True, text=True, timeout=60)
        answer = json.loads(done.stdout)
        assert answer["status"] is True, (line, answer)
    token = result.stdout.splitlines()[-1]
    monitoring = httpx.get(
        f"{url}/api/v3/import-monitoring", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert monitoring["data"]["data"][0]["filename"] == "loadbay-demo-outlets.csv"


@pytest.mark.parametrize("days", ["0", "-3"])
def test_token_days_must_be_positive(tmp_path: Path, days: str) -> None:
    result = _cli(
        ["token", "--org", "acme", "--email", "a@b.test", "--days", days], tmp_path, _env(tmp_path)
    )
    assert result.returncode == 2
    words = " ".join(result.stderr.replace("│", " ").split())
    assert "Invalid value for '--days'" in words and "greater than or equal to 1" in words
    assert not result.stdout


def test_token_says_which_data_folder_it_uses(tmp_path: Path) -> None:
    result = _cli(["token", "--org", "acme", "--email", "a@b.test"], tmp_path, _env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"data folder {tmp_path / '.loadbay'} (LOADBAY_DATA_DIR not set)" in result.stderr
