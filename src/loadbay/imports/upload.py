"""Streaming multipart uploads: the body goes to a temp file as it arrives.

FastAPI's UploadFile would spool the whole body before the handler runs; here
bytes are counted while they come (413 mid-stream) and form fields are checked
by us, so a missing one gets the spec's 400 code, not FastAPI's 422.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from loadbay.errors import BadRequest, TooLarge

MAX_FIELD_BYTES = 64 * 1024
MAX_FORM_OVERHEAD = 1024 * 1024  # every non-file part together


@dataclass
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    path: Path | None = None
    size: int = 0
    head: bytes = b""

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


async def receive(
    request: Request, max_bytes: int, tmp_dir: Path, module: str = "import"
) -> Upload:
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise BadRequest(f"{module}-001", "The file field is required.")
    upload = Upload()
    state: dict[str, Any] = {
        "name": None,
        "filename": None,
        "header": b"",
        "value": b"",
        "headers": {},
    }
    sink: list[IO[bytes]] = []
    tmp_dir.mkdir(parents=True, exist_ok=True)

    def on_part_begin() -> None:
        state.update(name=None, filename=None, headers={}, value=b"")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header"] = bytes(state["header"]) + data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
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
            fd, name = tempfile.mkstemp(prefix="upload-", dir=tmp_dir)
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
            return
        value = bytes(state["value"]) + data[start:end]
        if len(value) > MAX_FIELD_BYTES:
            raise BadRequest(f"{module}-040", f"Form field '{state['name']}' is too long")
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
    try:
        async for chunk in request.stream():
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
    except BadRequest:
        _abort(upload, sink)
        raise
    except TooLarge:
        _abort(upload, sink)
        raise
    except Exception:
        _abort(upload, sink)
        raise BadRequest(f"{module}-015", "Malformed multipart body") from None
    if upload.path is None or not upload.filename:
        raise BadRequest(f"{module}-001", "The file field is required.")
    if upload.size == 0:
        upload.discard()
        raise BadRequest(f"{module}-015", "The uploaded file is empty")
    return upload


def _abort(upload: Upload, sink: list[IO[bytes]]) -> None:
    for f in sink:
        f.close()
    upload.discard()
