"""The `loadbay` command: serve, worker, migrate, token, console-link, demo, import, export."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
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


def _say(text: str) -> None:
    # Paths and URLs whole on one line, whatever the terminal's width: people copy them.
    console.print(text, soft_wrap=True, highlight=False)


def _served_file() -> Path:
    """Where a running `serve` says which data folder and URL it uses, so the local
    commands (`token`, `demo`) started from another folder find the same ones."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "loadbay" / "serve.json"


def _running_server() -> dict[str, str] | None:
    try:
        served = json.loads(_served_file().read_text())
        os.kill(int(served["pid"]), 0)  # still alive?
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {k: str(v) for k, v in served.items()}


def _same_data_as_server() -> dict[str, str] | None:
    """With no data folder or database configured, use the running server's folder (its
    secret and database live there); say which folder is used either way."""
    server = _running_server()
    configured = {"LOADBAY_DATA_DIR", "LOADBAY_DATABASE_URL"} & set(os.environ)
    settings = get_settings()
    if server and not configured and "data_dir" not in settings.model_fields_set:
        os.environ["LOADBAY_DATA_DIR"] = server["data_dir"]
        get_settings.cache_clear()
        _say(f"data folder {server['data_dir']} (of the server at {server['url']})")
        return server
    here = get_settings().data_dir.resolve()
    _say(f"data folder {here}" + ("" if configured else " (LOADBAY_DATA_DIR not set)"))
    if server and Path(server["data_dir"]) != here:
        _say(
            f"[yellow]the server at {server['url']} uses {server['data_dir']}: its tokens and"
            f" data are not these (set LOADBAY_DATA_DIR={server['data_dir']})[/yellow]"
        )
    return server


@app.callback()
def main() -> None:
    _settings_or_exit()


@app.command()
def migrate() -> None:
    """Apply the database migrations."""
    from loadbay.db import get_database
    from loadbay.migrations import migrate as run

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
    from loadbay.logs import setup_logging
    from loadbay.migrations import migrate as run

    if "LOADBAY_PUBLIC_URL" not in os.environ:  # links should point where we listen
        os.environ["LOADBAY_PUBLIC_URL"] = f"http://{host}:{port}"
        get_settings.cache_clear()
    settings = get_settings()
    setup_logging(settings.log_level)
    run(get_database())
    supervisor = Supervisor(max(0, workers))
    supervisor.start()
    console.print(f"loadbay on http://{host}:{port} (docs at /docs), {workers} worker(s)")
    _say(f"data folder {settings.data_dir.resolve()}")
    served = _served_file()
    try:
        served.parent.mkdir(parents=True, exist_ok=True)
        where = {"pid": os.getpid(), "url": f"http://{host}:{port}"}
        served.write_text(json.dumps({**where, "data_dir": str(settings.data_dir.resolve())}))
    except OSError:  # only a convenience for the local commands
        pass
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
        if (_running_server() or {}).get("pid") == str(os.getpid()):
            served.unlink(missing_ok=True)
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
    days: Annotated[
        int | None, typer.Option(min=1, help="days until the token expires (1 or more)")
    ] = None,
) -> None:
    """Print a signed bearer token (alone on the last line)."""
    from loadbay.auth import PERMISSIONS, issue_token
    from loadbay.catalog.service import ensure_organization
    from loadbay.db import get_database
    from loadbay.migrations import migrate as run

    wanted = [p.strip() for p in perms.split(",") if p.strip()]
    unknown = [p for p in wanted if p not in PERMISSIONS]
    if unknown:
        console.print(
            f"[red]unknown permission: {', '.join(unknown)} (use {', '.join(PERMISSIONS)})[/red]"
        )
        raise typer.Exit(2)
    _same_data_as_server()
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
    from loadbay.migrations import migrate as run

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
    settings = get_settings()
    print(settings.public_url.rstrip("/") + issue_link(org_id, email, wanted, settings.secret))


DEMO_ROWS = [
    ["Data ID", "Name", "Owner Phone", "Category", "Location", "Open Since", "Credit Limit"],
    ["DEMO-1", "Toko Sinar", "+62 812 1111 2222", "Retail", "-6.2,106.8", "2019-04-01", "1500000"],
    [
        "DEMO-2",
        "Warung Jaya",
        "+62 813 3333 4444",
        "Horeca",
        "-6.25,106.85",
        "2021-11-15",
        "750000",
    ],
    ["DEMO-3", "Grosir Maju", "", "Wholesale", "", "2015-01-20", "9000000"],
]


@app.command()
def demo(
    org: Annotated[str, typer.Option(help="organisation name")] = "demo",
    url: Annotated[
        str | None,
        typer.Option(
            help="the server's base URL (default: the running server's, else the settings')"
        ),
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="the server's port on 127.0.0.1")
    ] = None,
    sample: Annotated[
        Path, typer.Option(help="where to write the sample CSV the import line uploads")
    ] = Path("loadbay-demo-outlets.csv"),
) -> None:
    """Seed a demo organisation and print curl lines that work as printed (token last)."""
    import csv
    import shlex

    from loadbay.auth import issue_token
    from loadbay.catalog.demo import seed_demo
    from loadbay.db import get_database
    from loadbay.migrations import migrate as run

    server = _same_data_as_server()
    db = get_database()
    run(db)
    with db.write() as session:
        ids = seed_demo(session, org)
    if url is None:
        url = f"http://127.0.0.1:{port}" if port else (server or {}).get("url")
    base = f"{(url or get_settings().public_url).rstrip('/')}/api/v3"
    with sample.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\r\n").writerows(DEMO_ROWS)
    tok = issue_token(ids["organizationId"], f"admin@{org}.test", ["import", "export", "admin"])
    auth = f'-H "Authorization: Bearer {tok}"'
    file = shlex.quote(f"file=@{sample.resolve()}")
    _say(f"seeded: {ids}")
    _say(f"sample file: {sample.resolve()}")
    _say(f"try (against {base}):")
    print(f"curl -s {auth} {base}/data-types")
    print(f'curl -s {auth} "{base}/data?dataTypeId={ids["dataTypeId"]}"')
    print(
        f"curl -s {auth} -F {file} -F dataTypeId={ids['dataTypeId']} -F hubId={ids['hubId']}"
        f" {base}/data/import"
    )
    print(f"curl -s {auth} {base}/import-monitoring")
    print(
        f'curl -s {auth} -H "Content-Type: application/json" -d \'{{"download": "xlsx"}}\''
        f" {base}/tasks/export"
    )
    _say("web console (a one-time sign-in link, valid 15 minutes):")
    print(
        (url or get_settings().public_url).rstrip("/") + _console_link(ids["organizationId"], org)
    )
    print(tok)


def _console_link(org_id: str, org: str) -> str:
    from loadbay.console.session import issue_link

    perms = ["import", "export", "admin"]
    return issue_link(org_id, f"admin@{org}.test", perms, get_settings().secret)


def _add_remote() -> None:
    from loadbay.client.cli import register

    register(app)  # import, export, jobs, watch, cancel, revert, template, login: HTTP only


_add_remote()
