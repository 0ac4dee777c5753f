"""Where the server's address and token come from: flags, then the environment
(`LOADBAY_URL`, `LOADBAY_TOKEN`), then the file `loadbay login` wrote."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from loadbay.client.errors import UsageError


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "loadbay" / "config.json"


@dataclass(frozen=True)
class Remote:
    url: str
    token: str


def load_saved() -> dict[str, str]:
    path = config_path()
    try:
        raw = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError) as exc:
        raise UsageError(f"{path}: cannot read ({exc}); run `loadbay login` again") from None
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: not a JSON object; run `loadbay login` again")
    return {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}


def save(url: str, token: str) -> Path:
    """Write the file with 0600 rights from its first byte: the token is a password."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(f".{path.name}.part")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(orjson.dumps({"url": url, "token": token}, option=orjson.OPT_INDENT_2))
    os.chmod(partial, 0o600)  # a umask cannot widen it, but make the intent plain
    os.replace(partial, path)
    return path


def resolve(url: str | None, token: str | None) -> Remote:
    """Flags and environment arrive through Click's `envvar`; the saved file fills the rest."""
    saved = load_saved() if not (url and token) else {}
    url = url or saved.get("url")
    token = token or saved.get("token")
    if not url:
        raise UsageError("no server: give --url, set LOADBAY_URL, or run `loadbay login`")
    if not token:
        raise UsageError("no token: give --token, set LOADBAY_TOKEN, or run `loadbay login`")
    return Remote(url.rstrip("/"), token)
