"""A real `loadbay serve` (SQLite, the embedded queue, one worker) for the whole module,
seeded by `loadbay demo`; the CLI runs in-process and reaches it over HTTP only."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import Result
from typer.testing import CliRunner

from loadbay.cli import app


@dataclass
class Server:
    url: str
    token: str
    config_home: Path

    def run(self, *args: str, token: str | None = None, url: str | None = None) -> Result:
        """`loadbay ARGS` against this server; stdout and stderr are kept apart."""
        env = {
            "LOADBAY_URL": url or self.url,
            "LOADBAY_TOKEN": token or self.token,
            "XDG_CONFIG_HOME": str(self.config_home),
        }
        return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("server")
    env = {**os.environ, "LOADBAY_DATA_DIR": str(folder / "data")}
    for name in ("LOADBAY_QUEUE_URL", "LOADBAY_DATABASE_URL", "LOADBAY_STORAGE_URL"):
        env.pop(name, None)  # the defaults: SQLite and the embedded queue in the data folder
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env["LOADBAY_PUBLIC_URL"] = url
    seeded = subprocess.run(
        [sys.executable, "-m", "loadbay", "demo"], env=env, capture_output=True, check=True
    )
    token = seeded.stdout.decode().strip().splitlines()[-1]
    log = (folder / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadbay", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (folder / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (folder / "serve.log").read_text()
            time.sleep(0.1)
        yield Server(url, token, folder / "config")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def outlets_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    """Outlets (Data ID, Name): an empty name is an invalid row (the field is required)."""
    lines = ["Data ID,Name,Owner Phone"] + [f"{code},{name},0812" for code, name in rows]
    path.write_text("\r\n".join(lines) + "\r\n")
    return path
