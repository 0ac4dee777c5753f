"""`Client`: the loadbay HTTP API as the CLI uses it; every failure is a typed error."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from loadbay.client.errors import AuthFailed, ClientError, ServerError, Unreachable, UsageError

API = "/api/v3"
# Reads wait long on an upload (the server counts the rows before it answers); a server
# that does not even accept the connection within CONNECT seconds is unreachable.
CONNECT = 10.0
TIMEOUT = httpx.Timeout(30.0, connect=CONNECT)
UPLOAD_TIMEOUT = httpx.Timeout(600.0, connect=CONNECT)
CHUNK = 1024 * 1024


def _envelope(response: httpx.Response) -> dict[str, Any]:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {"message": response.text.strip().splitlines()[0] if response.text.strip() else ""}
    return body if isinstance(body, dict) else {"data": body}


def _check(response: httpx.Response) -> dict[str, Any]:
    body = _envelope(response)
    if response.is_success:
        return body
    message = str(body.get("message") or response.reason_phrase or "error")
    if body.get("detail"):
        message = f"{message}: {body['detail']}"
    code = body.get("failedCode")
    if response.status_code in (401, 403):
        raise AuthFailed(message, response.status_code, code)
    raise ServerError(message, response.status_code, code)


class Client:
    """One server, one token. `url` is the server's address, with or without `/api/v3`."""

    def __init__(self, url: str, token: str, *, transport: httpx.BaseTransport | None = None):
        base = url.strip().rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise UsageError(f"{url!r} is not a server address: give http://host:port or https://…")
        self.base = base[: -len(API)] if base.endswith(API) else base
        self._http = httpx.Client(
            base_url=self.base + API,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=TIMEOUT,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _reach(self) -> Iterator[None]:
        try:
            yield
        except httpx.TimeoutException:
            raise Unreachable(f"{self.base}: no answer in time") from None
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach {self.base}: {exc or type(exc).__name__}") from None

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        with self._reach():
            response = self._http.request(method, path, **kwargs)
        return _check(response)

    def data(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(method, path, **kwargs).get("data")

    # ---- catalog: names to ids --------------------------------------------------------

    def find(self, what: str, ref: str) -> str:
        """The id of the hub, flow or data type named (or numbered) `ref`."""
        path, key = {"hub": ("/hubs", "data"), "flow": ("/flows", "data"),
                     "data type": ("/data-types", "data_types")}[what]  # fmt: skip
        found: list[str] = []
        page = 1
        while True:
            body = self.call("GET", path, params={"page": page, "limit": 100})
            paginator = body.get(key) or {}
            for item in paginator.get("data") or []:
                if ref in (item.get("_id"), item.get("id"), item.get("name")):
                    found.append(str(item.get("_id") or item.get("id")))
            if page >= int(paginator.get("last_page") or 1):
                break
            page += 1
        if not found:
            raise ClientError(f"{what} '{ref}' not found in this organisation")
        if len(set(found)) > 1:
            raise ClientError(f"{len(found)} {what}s are named '{ref}': give the id")
        return found[0]

    # ---- imports ------------------------------------------------------------------------

    def upload(self, path: str, file: Path, fields: Mapping[str, str]) -> Any:
        """A multipart upload streamed from the open file in blocks: never read whole."""
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        with file.open("rb") as f, self._reach():
            response = self._http.post(
                path,
                data=dict(fields),
                files={"file": (file.name, f, kind)},
                timeout=UPLOAD_TIMEOUT,
            )
        return _check(response).get("data")

    def monitoring(self, code: str) -> dict[str, Any]:
        return dict(self.data("GET", f"/import-monitoring/{code}") or {})

    def job(self, code: str) -> dict[str, Any]:
        return dict(self.data("GET", f"/import-jobs/{code}") or {})

    def jobs(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self.data("GET", "/import-monitoring", params=dict(params)) or {})

    def draft(self, code: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Change a preview's draft (mapping, value map…); validation starts again."""
        return dict(self.data("PATCH", f"/import-jobs/{code}", json=dict(body)) or {})

    def confirm(self, code: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return dict(
            self.data("PUT", f"/import-jobs/{code}", json=dict(body), timeout=UPLOAD_TIMEOUT) or {}
        )

    def cancel(self, code: str) -> dict[str, Any]:
        return dict(self.data("POST", f"/import-jobs/{code}/cancel") or {})

    def revert(self, code: str) -> dict[str, Any]:
        try:
            return dict(self.data("POST", f"/import-jobs/{code}/revert") or {})
        except ServerError as exc:
            # A route the server lacks answers a bare 404 "Not found" (or 405); a job it
            # does not know answers 404 with its own message.
            if exc.status == 405 or (exc.status == 404 and exc.message == "Not found"):
                raise ClientError(
                    f"this server cannot revert imports: POST {API}/import-jobs/{code}/revert "
                    f"answered HTTP {exc.status}; upgrade the server"
                ) from None
            raise

    def template(self, kind: str, target_id: str) -> dict[str, Any]:
        key = "dataTypeId" if kind == "datasource" else "flowId"
        return dict(self.data("GET", "/import-template", params={key: target_id}) or {})

    # ---- exports ------------------------------------------------------------------------

    def export(self, kind: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """Queue a background export (no row ceiling); answers the vendor's `data`."""
        if kind == "task":
            body = orjson.dumps({**request, "background": True})
            headers = {"Content-Type": "application/json"}
            return dict(self.data("POST", "/tasks/export", content=body, headers=headers) or {})
        params = {k: str(v) for k, v in request.items()} | {"background": "true"}
        return dict(self.data("POST", "/data/export", params=params) or {})

    def export_entry(self, log_id: str) -> dict[str, Any] | None:
        """The export-log entry `log_id` (`_source` with `_id`), or None if not listed."""
        body = self.call("GET", "/tasks/export-log", params={"limit": 100, "sortBy": "requestAt"})
        for entry in body.get("data") or []:
            if entry.get("_id") == log_id:
                return {"_id": log_id, **(entry.get("_source") or {})}
        return None

    # ---- files --------------------------------------------------------------------------

    def download(self, url: str, target: Path) -> int:
        """Stream a signed link to `target` (written whole or not at all); answers bytes.
        No bearer token: the link is its own authorisation, and S3 would refuse one."""
        target = target.expanduser()
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.part")
        size = 0
        try:
            with self._reach(), httpx.stream("GET", url, timeout=UPLOAD_TIMEOUT) as response:
                if not response.is_success:
                    response.read()
                    _check(response)
                with partial.open("wb") as out:
                    for block in response.iter_bytes(CHUNK):
                        out.write(block)
                        size += len(block)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return size
