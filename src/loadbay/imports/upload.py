"""Streaming multipart uploads: the body goes to a temp file as it arrives.

FastAPI's UploadFile would spool the whole body before the handler runs; here
bytes are counted while they come (413 mid-stream) and form fields are checked
by us, so a missing one gets the spec's 400 code, not FastAPI's 422.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from loadbay.errors import ApiError, BadRequest, TooLarge
from loadbay.scratch import _alive, this_space
from loadbay.settings import get_settings

log = logging.getLogger("loadbay.upload")

MAX_FIELD_BYTES = 64 * 1024
MAX_FORM_OVERHEAD = 1024 * 1024  # every non-file part together, headers included
# What a part costs besides its headers and value (boundary line, blank lines): counted so
# that a flood of empty parts also reaches the cap.
PART_COST = 80
PREFIX = "upload-"
# A temp file whose name carries no owner (made before names did) is stale after this.
LEGACY_STALE_SECONDS = 3600


def storage_full(exc: BaseException) -> ApiError | None:
    """507 for a full disk or quota, so a client retries later instead of fixing its file."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        log.error("storage full: %s", exc)
        return ApiError("server-045", "Storage is full: try again later", status_code=507)
    return None


def sweep_stale(tmp_dir: Path) -> int:
    """Remove upload temp files of dead processes on this host (a crashed API leaves
    them); files of live processes, other hosts or other containers stay."""
    if not tmp_dir.is_dir():
        return 0
    space, me, removed = this_space(), os.getpid(), 0
    for entry in tmp_dir.iterdir():
        if not entry.name.startswith(PREFIX) or not entry.is_file():
            continue
        owner, _, pid = entry.name[len(PREFIX) :].rpartition("-")[0].rpartition("-")
        if pid.isdigit() and owner == space:
            stale = int(pid) == me or not _alive(int(pid))
        elif pid.isdigit():
            continue
        else:
            stale = time.time() - entry.stat().st_mtime > LEGACY_STALE_SECONDS
        if stale:
            entry.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("removed %d upload temp files of dead processes", removed)
    return removed


@dataclass
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    path: Path | None = None
    size: int = 0
    head: bytes = b""
    # The file's SHA-256, taken while it streams when the request has an Idempotency-Key.
    sha256: Any = None

    def digest(self) -> str:
        """What the request asked for: the file's bytes, its name and the form fields."""
        file_hash = self.sha256.hexdigest() if self.sha256 is not None else ""
        return orjson.dumps([file_hash, self.filename, sorted(self.fields.items())]).decode()

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


async def receive(
    request: Request,
    max_bytes: int,
    tmp_dir: Path,
    module: str = "import",
    *,
    idle_seconds: float | None = None,
) -> Upload:
    """The upload in a temp file, or an ApiError with the temp file gone: 413 past the
    size limits (the file, or 1 MB of other parts), 408 after `idle_seconds` without a
    byte, 507 for a full disk."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise BadRequest(f"{module}-001", "The file field is required.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + MAX_FORM_OVERHEAD:
        raise TooLarge(f"{module}-040", f"Request is larger than the limit of {max_bytes} bytes")
    if idle_seconds is None:
        idle_seconds = get_settings().upload_idle_seconds
    upload = Upload()
    if "idempotency-key" in request.headers:
        upload.sha256 = hashlib.sha256()
    form_bytes = 0  # non-file parts: headers and values
    state: dict[str, Any] = {
        "name": None,
        "filename": None,
        "header": b"",
        "value": b"",
        "headers": {},
    }
    sink: list[IO[bytes]] = []
    tmp_dir.mkdir(parents=True, exist_ok=True)

    def count(n: int) -> None:
        nonlocal form_bytes
        form_bytes += n
        if form_bytes > MAX_FORM_OVERHEAD:
            raise TooLarge(
                f"{module}-040",
                f"Form fields are larger than the limit of {MAX_FORM_OVERHEAD} bytes in all",
            )

    def on_part_begin() -> None:
        count(PART_COST)
        state.update(name=None, filename=None, headers={}, value=b"")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        count(end - start)
        state["header"] = bytes(state["header"]) + data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        count(end - start)
        headers = state["headers"]
        assert isinstance(headers, dict)
        key = bytes(state["header"]).lower()
        headers[key] = headers.get(key, b"") + data[start:end]

    def on_header_end() -> None:
        state["header"] = b""

    def on_headers_finished() -> None:
        headers = state["headers"]
        assert isinstance(headers, dict)
        _, disp = parse_options_header(headers.get(b"content-disposition", b""))
        state["name"] = disp.get(b"name", b"").decode("utf-8", "replace")
        filename = disp.get(b"filename")
        if filename is not None and state["name"] == "file" and upload.path is None:
            # The name is data (storage keys are made of ids); only NUL goes, as
            # PostgreSQL text cannot hold it.
            upload.filename = os.path.basename(
                filename.decode("utf-8", "replace").replace("\\", "/")
            ).replace("\x00", "\ufffd")
            # Named by owner, so a restart can tell a dead process's file from a live one's.
            owner = f"{PREFIX}{this_space()}-{os.getpid()}-"
            fd, name = tempfile.mkstemp(prefix=owner, dir=tmp_dir)
            upload.path = Path(name)
            sink.append(os.fdopen(fd, "wb"))
            state["filename"] = upload.filename

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["filename"] is not None and sink:
            chunk = data[start:end]
            upload.size += len(chunk)
            if len(upload.head) < 65536:
                upload.head += chunk[: 65536 - len(upload.head)]
            sink[0].write(chunk)
            if upload.sha256 is not None:
                upload.sha256.update(chunk)
            return
        count(end - start)
        value = bytes(state["value"]) + data[start:end]
        if len(value) > MAX_FIELD_BYTES:
            raise TooLarge(f"{module}-040", f"Form field '{state['name']}' is too long")
        state["value"] = value

    def on_part_end() -> None:
        if state["filename"] is not None:
            if sink:
                sink.pop().close()
            state["filename"] = None
        elif state["name"]:
            upload.fields[str(state["name"])] = bytes(state["value"]).decode("utf-8", "replace")

    boundary = params[b"boundary"]
    if not 1 <= len(boundary) <= 70:  # RFC 2046
        raise BadRequest(f"{module}-015", "Malformed multipart body: bad boundary")
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    total = 0
    loop = asyncio.get_running_loop()
    try:
        # One deadline moved on by every chunk: a client that stops sending is let go
        # after `idle_seconds`, however large the body it declared.
        async with asyncio.timeout(idle_seconds) as deadline:
            async for chunk in request.stream():
                deadline.reschedule(loop.time() + idle_seconds)
                total += len(chunk)
                if total > max_bytes + MAX_FORM_OVERHEAD:  # form fields and part headers count too
                    raise TooLarge(
                        f"{module}-040", f"Request is larger than the limit of {max_bytes} bytes"
                    )
                parser.write(chunk)
                if upload.size > max_bytes:
                    raise TooLarge(
                        f"{module}-040", f"File is larger than the limit of {max_bytes} bytes"
                    )
        parser.finalize()
    except ApiError:
        _abort(upload, sink)
        raise
    except TimeoutError:
        _abort(upload, sink)
        log.info("upload idle for %ss after %d bytes: ended", idle_seconds, total)
        raise ApiError(
            f"{module}-041",
            f"The upload sent nothing for {idle_seconds:g} seconds",
            status_code=408,
        ) from None
    except ClientDisconnect:
        _abort(upload, sink)
        # Nobody is left to read an answer; the log is where this shows.
        log.info("upload: the client went away after %d bytes", total)
        raise BadRequest(f"{module}-015", "The client closed the connection mid-upload") from None
    except MultipartParseError:
        _abort(upload, sink)
        raise BadRequest(f"{module}-015", "Malformed multipart body") from None
    except OSError as exc:
        _abort(upload, sink)
        full = storage_full(exc)
        if full is not None:
            raise full from None
        log.exception("upload: could not write the temp file")
        raise
    except BaseException:
        _abort(upload, sink)
        raise
    if upload.path is None or not upload.filename:
        raise BadRequest(f"{module}-001", "The file field is required.")
    if upload.size == 0:
        upload.discard()
        raise BadRequest(f"{module}-015", "The uploaded file is empty")
    return upload


def _abort(upload: Upload, sink: list[IO[bytes]]) -> None:
    for f in sink:
        with contextlib.suppress(OSError):  # a full disk fails the flush too
            f.close()
    upload.discard()
