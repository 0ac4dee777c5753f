"""The `loadbay` command: serve, worker, migrate, token, console-link, demo, import, export."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from typing import Annotated

import typer
from rich.console import Console

from loadbay.settings import SettingsError, get_settings

app = typer.Typer(
    help="loadbay: bulk import and export of field-operations data.", no_args_is_help=True
)
console = Console(stderr=True)
log = logging.getLogger("loadbay.serve")


def _settings_or_exit() -> None:
    try:
        get_settings()
    except SettingsError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


@app.callback()
def main() -> None:
    _settings_or_exit()


@app.command()
def migrate() -> None:
    """Apply the database migrations."""
    from loadbay.db import get_database
    from loadbay.db import migrate as run

    run(get_database())
    console.print("database is up to date")


def _die_with_parent() -> None:
    """Workers started by `serve` get SIGTERM from the kernel when `serve` dies, however it
    dies (uvicorn re-raises SIGTERM after its own shutdown, past any finally of ours)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux: the finally in serve() still stops them on a clean exit
        pass


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[
        int, typer.Option(help="worker processes started beside the API (0: API alone)")
    ] = 2,
) -> None:
    """Run the API, with worker processes beside it."""
    import uvicorn

    from loadbay.db import get_database
    from loadbay.db import migrate as run
    from loadbay.logs import setup_logging

    if "LOADBAY_PUBLIC_URL" not in os.environ:  # links should point where we listen
        os.environ["LOADBAY_PUBLIC_URL"] = f"http://{host}:{port}"
        get_settings.cache_clear()
    settings = get_settings()
    setup_logging(settings.log_level)
    run(get_database())
    supervisor = Supervisor(max(0, workers))
    supervisor.start()
    console.print(f"loadbay on http://{host}:{port} (docs at /docs), {workers} worker(s)")
    try:
        uvicorn.run(
            "loadbay.api:create_app",
            factory=True,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
        )
    finally:
        supervisor.stop()


class Supervisor:
    """The worker processes `serve` runs beside the API, each restarted when it dies
    (killed for memory, a crash in a native library): the API never shares a process
    with the work, and the work never stays without workers."""

    def __init__(self, count: int) -> None:
        self.children: list[subprocess.Popen[bytes]] = [self._spawn() for _ in range(count)]
        self.restarts = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="supervisor")

    @staticmethod
    def _spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "loadbay", "worker", "--concurrency", "1"],
            env=os.environ.copy(),
            preexec_fn=_die_with_parent,
        )

    def start(self) -> None:
        self._thread.start()

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            for i, child in enumerate(self.children):
                code = child.poll()
                if code is None or self._stopping.is_set():
                    continue
                self.restarts += 1
                log.warning(
                    "worker died; starting another",
                    extra={"pid": child.pid, "exit": code, "restarts": self.restarts},
                )
                self.children[i] = self._spawn()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        for child in self.children:
            child.send_signal(signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(help="worker processes in this consumer")] = 1,
    periodic: Annotated[bool, typer.Option(help="also run the sweeper and purge schedules")] = True,
) -> None:
    """Run a queue worker alone (scale out by starting more, anywhere)."""
    from loadbay.logs import setup_logging
    from loadbay.worker.consumer import run_consumer

    setup_logging(get_settings().log_level)
    run_consumer(concurrency, periodic=periodic)


@app.command()
def token(
    org: Annotated[str, typer.Option(help="organisation id or name (created if missing)")],
    email: Annotated[str, typer.Option(help="the user's e-mail (the token's subject)")],
    perms: Annotated[
        str, typer.Option(help="comma list of import, export, admin")
    ] = "import,export",
    days: Annotated[int | None, typer.Option(help="days until the token expires")] = None,
) -> None:
    """Print a signed bearer token (alone on the last line)."""
    from loadbay.auth import PERMISSIONS, issue_token
    from loadbay.catalog.service import ensure_organization
    from loadbay.db import get_database
    from loadbay.db import migrate as run

    wanted = [p.strip() for p in perms.split(",") if p.strip()]
    unknown = [p for p in wanted if p not in PERMISSIONS]
    if unknown:
        console.print(
            f"[red]unknown permission: {', '.join(unknown)} (use {', '.join(PERMISSIONS)})[/red]"
        )
        raise typer.Exit(2)
    db = get_database()
    run(db)
    with db.write() as session:
        org_id = ensure_organization(session, org).id
    console.print(f"organisation {org} → {org_id}")
    print(issue_token(org_id, email, wanted, days))


@app.command("console-link")
def console_link(
    org: Annotated[str, typer.Option(help="organisation id or name (created if missing)")],
    email: Annotated[str, typer.Option(help="the user's e-mail")],
    perms: Annotated[
        str, typer.Option(help="comma list of import, export, admin")
    ] = "import,export",
) -> None:
    """Print a one-time web console sign-in link, valid 15 minutes (alone on the last line)."""
    from loadbay.auth import PERMISSIONS
    from loadbay.catalog.service import ensure_organization
    from loadbay.console.session import LINK_MINUTES, issue_link
    from loadbay.db import get_database
    from loadbay.db import migrate as run

    wanted = [p.strip() for p in perms.split(",") if p.strip()]
    unknown = [p for p in wanted if p not in PERMISSIONS]
    if unknown:
        console.print(
            f"[red]unknown permission: {', '.join(unknown)} (use {', '.join(PERMISSIONS)})[/red]"
        )
        raise typer.Exit(2)
    db = get_database()
    run(db)
    with db.write() as session:
        org_id = ensure_organization(session, org).id
    console.print(f"organisation {org} → {org_id}; open within {LINK_MINUTES} minutes, once:")
    print(get_settings().public_url.rstrip("/") + issue_link(org_id, email, wanted))


@app.command()
def demo(org: Annotated[str, typer.Option(help="organisation name")] = "demo") -> None:
    """Seed a demo organisation (hub, data type Outlet, flow Delivery, records, tasks)."""
    from loadbay.auth import issue_token
    from loadbay.catalog.demo import seed_demo
    from loadbay.db import get_database
    from loadbay.db import migrate as run

    db = get_database()
    run(db)
    with db.write() as session:
        ids = seed_demo(session, org)
    settings = get_settings()
    tok = issue_token(ids["organizationId"], f"admin@{org}.test", ["import", "export", "admin"])
    base = f"{settings.public_url}/api/v3"
    console.print(f"seeded: {ids}")
    console.print("try:")
    print(f'curl -s -H "Authorization: Bearer {tok}" {base}/data-types')
    print(
        f'curl -s -H "Authorization: Bearer {tok}" "{base}/data?dataTypeId={ids.get("dataTypeId", "")}"'
    )
    print(
        f'curl -s -H "Authorization: Bearer {tok}" -F file=@outlets.csv -F dataTypeId={ids.get("dataTypeId", "")} '
        f"-F hubId={ids.get('hubId', '')} {base}/data/import"
    )
    print(f'curl -s -H "Authorization: Bearer {tok}" {base}/import-monitoring')
    console.print("web console (one-time link, 15 minutes):")
    print(settings.public_url.rstrip("/") + _console_link(ids["organizationId"], org))
    print(
        f'curl -s -H "Authorization: Bearer {tok}" -H "Content-Type: application/json" '
        f'-d \'{{"download": "xlsx"}}\' {base}/tasks/export'
    )
    print(tok)


def _console_link(org_id: str, org: str) -> str:
    from loadbay.console.session import issue_link

    return issue_link(org_id, f"admin@{org}.test", ["import", "export", "admin"])


def _add_remote() -> None:
    from loadbay.client.cli import register

    register(app)  # import, export, jobs, watch, cancel, revert, template, login: HTTP only


_add_remote()
