"""A real `loadbay serve` on a free port with its own data folder, and Debian's Chromium
driven by Playwright. Browser tests skip only when /usr/bin/chromium is absent."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
AXE = Path(__file__).parents[2] / "src/loadbay/console/static/axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WIDTHS = (1280, 390)


@dataclass
class Server:
    url: str
    env: dict[str, str]
    data_dir: Path

    def cli(self, *args: str) -> str:
        """Run a local `loadbay` command against this server's data; its last line."""
        done = subprocess.run(
            [sys.executable, "-m", "loadbay", *args],
            env=self.env, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return done.stdout.strip().splitlines()[-1]

    def link(self, org: str, email: str, perms: str = "import,export,admin") -> str:
        return self.cli("console-link", "--org", org, "--email", email, "--perms", perms)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (apt-get install chromium; .ci/run does)")
    data_dir = tmp_path_factory.mktemp("console-server")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOADBAY_")}
    env.update(
        LOADBAY_DATA_DIR=str(data_dir),
        LOADBAY_JWT_SECRET="console-test-" + "s" * 40,
        LOADBAY_PUBLIC_URL=f"http://127.0.0.1:{port}",
        LOADBAY_CHUNK_SIZE="3",
        LOADBAY_LOG_LEVEL="WARNING",
        LOADBAY_SWEEP_INTERVAL_SECONDS="2",
        LOADBAY_CONSOLE_DIRECT_EXPORT_ROWS="20",  # the demo's 50 outlets run in the background
    )
    log = (data_dir / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadbay", "serve", "--port", str(port), "--workers", "1"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):  # noqa: S310
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((data_dir / "serve.log").read_text()) from None
            time.sleep(0.3)
    srv = Server(url, env, data_dir)
    srv.cli("demo", "--org", "acme")
    yield srv
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    # The console's CSP forbids inline scripts; axe is injected as one, by the test only.
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, bypass_csp=True, accept_downloads=True
    )
    context.set_default_timeout(15_000)
    pg = context.new_page()
    yield pg
    context.close()


def check_screen(page: Any, name: str) -> None:
    """No WCAG 2.1 A/AA violation (axe-core), no horizontal scrolling at 1280 and 390 px,
    and a screenshot at each width."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG
    )
    problems = [
        f"{v['id']}: {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]
    assert problems == [], f"{name}: {problems}"
    try:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
            assert fits, f"{name} scrolls sideways at {width} px"
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})
