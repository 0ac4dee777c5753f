"""What every remote command shares: the --url/--token/--json options and the exit rules."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, ParamSpec

import typer

from loadbay.client.config import resolve
from loadbay.client.errors import ClientError
from loadbay.client.http import Client
from loadbay.client.output import stderr

P = ParamSpec("P")

Url = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="LOADBAY_URL",
        help="the loadbay server, e.g. https://loadbay.example.com (default: `loadbay login`'s)",
        show_envvar=True,
    ),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="LOADBAY_TOKEN",
        help="bearer token (default: `loadbay login`'s)",
        show_envvar=True,
        show_default=False,
    ),
]
Json = Annotated[
    bool, typer.Option("--json", help="print the final record as JSON, and nothing else on stdout")
]


def connect(url: str | None, token: str | None) -> Client:
    remote = resolve(url, token)
    return Client(remote.url, remote.token)


def handled(fn: Callable[P, int | None]) -> Callable[P, None]:
    """A ClientError ends the command with one line on stderr and its exit code."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            code = fn(*args, **kwargs)
        except ClientError as exc:
            stderr().print(f"loadbay: {exc}", style="red", markup=False, highlight=False)
            raise typer.Exit(exc.exit_code) from None
        if code:
            raise typer.Exit(code)

    return run


def ignored(flag: str, value: Any, why: str) -> None:
    if value is not None:
        stderr().print(f"loadbay: {flag} is ignored: {why}", style="yellow", markup=False)
