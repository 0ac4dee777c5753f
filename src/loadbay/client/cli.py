"""`loadbay login`, and `register`, which adds every remote command to the main app."""

from __future__ import annotations

from typing import Annotated

import typer

from loadbay.client import exports, imports, output
from loadbay.client.common import handled
from loadbay.client.config import save
from loadbay.client.http import Client


@handled
def login(
    url: Annotated[
        str, typer.Option(prompt="loadbay server URL", envvar="LOADBAY_URL", help="the server")
    ],
    token: Annotated[
        str,
        typer.Option(prompt=True, hide_input=True, envvar="LOADBAY_TOKEN", help="bearer token"),
    ],
) -> int:
    """Check a server and token, then keep them (0600) for the other remote commands."""
    with Client(url, token) as client:
        client.call("GET", "/hubs", params={"limit": 1})  # any token may read; proves both
        base = client.base
    path = save(base, token.strip())
    output.stderr().print(f"logged in to {base}; saved in {path}", markup=False)
    return 0


def register(app: typer.Typer) -> None:
    app.command("import")(imports.import_file)
    app.add_typer(exports.app, name="export", help="Export tasks or data-source records to a file.")
    app.command()(imports.jobs)
    app.command()(imports.watch)
    app.command()(imports.cancel)
    app.command()(imports.revert)
    app.command()(imports.template)
    app.command()(login)
