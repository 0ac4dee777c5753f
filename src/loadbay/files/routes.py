"""`GET /api/v3/files/{org}/{path}`: the signed link is the authorisation, no bearer token.

Only local storage produces these links; S3 links are presigned and go to the store.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from loadbay.deps import AppSettings, AppStorage
from loadbay.errors import NotFound
from loadbay.storage import LocalStorage, content_disposition, content_type_for, verify_link

router = APIRouter()

_CHUNK = 1024 * 1024


@router.api_route(
    "/api/v3/files/{org}/{path:path}", methods=["GET", "HEAD"], include_in_schema=False
)
def download(
    request: Request,
    settings: AppSettings,
    storage: AppStorage,
    org: str,
    path: str,
    exp: str = "",
    sig: str = "",
    name: str = "",
) -> Response:
    key = f"{org}/{path}"
    verify_link(settings.signing_key, org, key, exp, name, sig)
    headers = {
        "Content-Disposition": content_disposition(name),
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    media_type = content_type_for(name or key)
    if isinstance(storage, LocalStorage):
        file = storage.path(key)
        if not file.is_file():
            raise NotFound("file-033", "File not found")
        return FileResponse(file, media_type=media_type, headers=headers)
    if not storage.exists(key):
        raise NotFound("file-033", "File not found")
    headers["Content-Length"] = str(storage.size(key))
    if request.method == "HEAD":
        return Response(media_type=media_type, headers=headers)

    def chunks() -> Iterator[bytes]:
        with storage.open(key) as f:
            while block := f.read(_CHUNK):
                yield block

    return StreamingResponse(chunks(), media_type=media_type, headers=headers)
