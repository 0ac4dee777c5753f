"""One storage port, two adapters: a local folder and an S3-compatible object store.

Keys are relative, slash-separated paths such as `{org}/imports/{job_id}/upload.csv`.
Both adapters raise `FileNotFoundError` for a missing key on `open`, `local_copy`
and `size`, and `ValueError` for a key that could escape its organisation.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import io
import os
import re
import shutil
import tempfile
import threading
import time
import unicodedata
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO, Protocol
from urllib.parse import quote, unquote, urlencode, urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from loadbay.errors import Forbidden, Gone
from loadbay.settings import Settings, get_settings

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, ObjectIdentifierTypeDef

# S3 wants parts of at least 5 MiB; 8 MiB matches boto3's own transfer default.
PART_SIZE = 8 * 1024 * 1024
# SigV4 presigned URLs cannot live longer than seven days.
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
_DELETE_BATCH = 1000

CONTENT_TYPES = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".csv": "text/csv; charset=utf-8",
    ".tsv": "text/tab-separated-values; charset=utf-8",
    ".zip": "application/zip",
    ".json": "application/json",
    ".ndjson": "application/x-ndjson",
}


class Storage(Protocol):
    def writer(self, key: str) -> AbstractContextManager[BinaryIO]: ...
    def save_file(self, key: str, path: Path) -> None: ...
    def open(self, key: str) -> AbstractContextManager[BinaryIO]: ...
    def local_copy(self, key: str) -> AbstractContextManager[Path]: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def link(self, org: str, key: str, filename: str, ttl_seconds: int | None = None) -> str: ...
    def close(self) -> None: ...


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_key(key: str, *, prefix: bool = False) -> str:
    """The key itself, or ValueError when it could address something outside its place."""
    body = key[:-1] if prefix and key.endswith("/") else key
    if not body or body.startswith("/") or "\\" in body:
        raise ValueError(f"invalid storage key: {key!r}")
    if _CONTROL.search(body):
        raise ValueError(f"invalid storage key: {key!r}")
    if any(part in ("", ".", "..") for part in body.split("/")):
        raise ValueError(f"invalid storage key: {key!r}")
    return key


def content_type_for(filename: str) -> str:
    return CONTENT_TYPES.get(PurePosixPath(filename).suffix.lower(), "application/octet-stream")


MAX_FALLBACK_CHARS = 150


def ascii_fallback(filename: str) -> str:
    """The name for clients that ignore `filename*`: accents dropped (ü → u), anything
    else outside printable ASCII, quotes and backslashes replaced, length capped with
    the extension kept."""
    plain = unicodedata.normalize("NFKD", filename)
    chars = []
    for c in plain:
        if unicodedata.combining(c):
            continue
        chars.append(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_")
    name = "".join(chars).strip(" .") or "download"
    if len(name) > MAX_FALLBACK_CHARS:
        suffix = PurePosixPath(name).suffix[:16]
        name = name[: MAX_FALLBACK_CHARS - len(suffix)] + suffix
    return name


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback for old clients and the exact UTF-8 name
    (RFC 6266 with RFC 5987's `filename*`); the header itself is always ASCII."""
    exact = quote(unicodedata.normalize("NFC", filename) or "download", safe="")
    return f"attachment; filename=\"{ascii_fallback(filename)}\"; filename*=UTF-8''{exact}"


# --- signed links for local storage -------------------------------------------------------


def _check_org(org: str, key: str) -> None:
    if not org or "/" in org or any(ord(c) < 32 for c in org) or not key.startswith(f"{org}/"):
        raise ValueError(f"key {key!r} is not under organisation {org!r}")
    validate_key(key)


def link_signature(signing_key: bytes, org: str, key: str, exp: str, filename: str) -> str:
    # Neither org, key nor exp can hold a newline, so the message splits one way only.
    message = f"{org}\n{key}\n{exp}\n{filename}".encode()
    return hmac.new(signing_key, message, hashlib.sha256).hexdigest()


def sign_link(
    public_url: str,
    signing_key: bytes,
    org: str,
    key: str,
    filename: str,
    ttl_seconds: int,
    *,
    now: float | None = None,
) -> str:
    """An absolute download URL for `key`, valid for `ttl_seconds`."""
    _check_org(org, key)
    exp = str(int(time.time() if now is None else now) + ttl_seconds)
    sig = link_signature(signing_key, org, key, exp, filename)
    rest = key[len(org) + 1 :]
    query = urlencode({"exp": exp, "sig": sig, "name": filename}, quote_via=quote)
    return f"{public_url.rstrip('/')}/api/v3/files/{quote(org, safe='')}/{quote(rest)}?{query}"


def verify_link(
    signing_key: bytes,
    org: str,
    key: str,
    exp: str,
    filename: str,
    sig: str,
    *,
    now: float | None = None,
) -> None:
    """Raise 403 for a link that was not signed for exactly these values, 410 once expired.

    The signature is checked before the expiry so a forged link learns nothing.
    """
    invalid = Forbidden("Invalid download link", "file-035")
    try:
        _check_org(org, key)
    except ValueError:
        raise invalid from None
    # Only canonical digits: `exp` is signed as text, so "+1" or " 1" cannot alias it.
    if not (exp.isascii() and exp.isdigit()) or not sig:
        raise invalid
    expected = link_signature(signing_key, org, key, exp, filename)
    if not hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace")):
        raise invalid
    if int(exp) < (time.time() if now is None else now):
        raise Gone("file-032", "Download link expired")


# --- local folder ------------------------------------------------------------------------


def _fsync(path: Path) -> None:
    # Directories too: a rename is durable only once the directory entry is on disk.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage:
    def __init__(
        self,
        root: Path,
        *,
        signing_key: bytes,
        public_url: str = "http://127.0.0.1:8000",
        link_ttl_seconds: int = 7 * 24 * 3600,
    ) -> None:
        self.root = Path(root).resolve()
        self._signing_key = signing_key
        self._public_url = public_url
        self._ttl = link_ttl_seconds

    def path(self, key: str) -> Path:
        return self.root / validate_key(key)

    @contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part"
        )
        tmp = Path(tmp_name)
        f = os.fdopen(fd, "wb")
        try:
            yield f
            # The caller may have closed the file (e.g. through a TextIOWrapper).
            if not f.closed:
                f.flush()
                os.fsync(f.fileno())
                f.close()
            else:
                _fsync(tmp)
            os.replace(tmp, target)
        except BaseException:
            f.close()
            tmp.unlink(missing_ok=True)
            raise
        _fsync(target.parent)

    def save_file(self, key: str, path: Path) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            _fsync(path)
            os.replace(path, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            with Path(path).open("rb") as src, self.writer(key) as dst:
                shutil.copyfileobj(src, dst, PART_SIZE)
            Path(path).unlink()
            return
        _fsync(target.parent)

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        with self.path(key).open("rb") as f:
            yield f

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        # The stored file itself: readers must treat it as read-only.
        path = self.path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        yield path

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        validate_key(prefix, prefix=True)
        # S3 semantics: a plain string prefix, so "org/imports/ab" also matches "ab12/…".
        parent, _, _ = prefix.rpartition("/")
        base = self.root / parent if parent else self.root
        if not base.is_dir():
            return 0
        count = 0
        for dirpath, _dirnames, filenames in os.walk(base, topdown=False):
            here = Path(dirpath)
            for name in filenames:
                if (here / name).relative_to(self.root).as_posix().startswith(prefix):
                    (here / name).unlink(missing_ok=True)
                    count += not name.endswith(".part")
            # Folders the prefix covers go too, unless they still hold other keys.
            if (here.relative_to(self.root).as_posix() + "/").startswith(prefix):
                with suppress(OSError):
                    here.rmdir()
        return count

    def link(self, org: str, key: str, filename: str, ttl_seconds: int | None = None) -> str:
        ttl = self._ttl if ttl_seconds is None else ttl_seconds
        return sign_link(self._public_url, self._signing_key, org, key, filename, ttl)

    def close(self) -> None:
        pass


# --- S3 ----------------------------------------------------------------------------------


def _is_missing(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class _MultipartSink(io.RawIOBase):
    """Buffers writes; one put for a small object, a multipart upload once a part is full."""

    def __init__(self, client: S3Client, bucket: str, key: str) -> None:
        super().__init__()
        self._client, self._bucket, self._key = client, bucket, key
        self._buf = bytearray()
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []

    def writable(self) -> bool:
        return True

    def write(self, b: ReadableBuffer) -> int:
        data = memoryview(b).cast("B")
        self._buf += data
        while len(self._buf) >= PART_SIZE:
            self._upload_part(bytes(self._buf[:PART_SIZE]))
            del self._buf[:PART_SIZE]
        return len(data)

    def _upload_part(self, body: bytes) -> None:
        if self._upload_id is None:
            created = self._client.create_multipart_upload(Bucket=self._bucket, Key=self._key)
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        answer = self._client.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=body,
        )
        self._parts.append({"ETag": answer["ETag"], "PartNumber": number})

    def finish(self) -> None:
        try:
            if self._upload_id is None:
                self._client.put_object(Bucket=self._bucket, Key=self._key, Body=bytes(self._buf))
            else:
                if self._buf:
                    self._upload_part(bytes(self._buf))
                self._client.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=self._key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
        except BaseException:
            self.abort()
            raise
        finally:
            self._buf.clear()

    def abort(self) -> None:
        self._buf.clear()
        # Marking the sink closed stops a later flush of the wrapping writer from writing.
        super().close()
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=upload_id
            )


class _BodyReader(io.RawIOBase):
    """botocore's StreamingBody as a raw stream, so io.BufferedReader can give a full file API."""

    def __init__(self, body: StreamingBody) -> None:
        super().__init__()
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, b: WriteableBuffer) -> int:
        view = memoryview(b).cast("B")
        data = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3Storage:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        link_ttl_seconds: int = 7 * 24 * 3600,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._ttl = link_ttl_seconds
        config = Config(
            s3={"addressing_style": "path"},
            # boto3 still presigns with SigV2 in us-east-1; SigV4 is what every store accepts.
            signature_version="s3v4",
            # Recent botocore adds CRC checksums that several S3-compatible stores reject.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": 5, "mode": "standard"},
        )
        self.client: S3Client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=config,
        )

    def object_key(self, key: str, *, prefix: bool = False) -> str:
        validate_key(key, prefix=prefix)
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        sink = _MultipartSink(self.client, self.bucket, self.object_key(key))
        f = io.BufferedWriter(sink, buffer_size=1024 * 1024)
        try:
            yield f
            if not f.closed:
                f.flush()
        except BaseException:
            sink.abort()
            raise
        sink.finish()
        f.close()

    def save_file(self, key: str, path: Path) -> None:
        # upload_file switches to multipart (8 MiB parts) by itself and aborts on failure.
        self.client.upload_file(str(path), self.bucket, self.object_key(key))
        Path(path).unlink()

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if _is_missing(exc):
                raise FileNotFoundError(key) from None
            raise
        with io.BufferedReader(_BodyReader(answer["Body"]), buffer_size=1024 * 1024) as f:
            yield f

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="loadbay-") as tmp:
            path = Path(tmp) / PurePosixPath(key).name
            try:
                self.client.download_file(self.bucket, self.object_key(key), str(path))
            except ClientError as exc:
                if _is_missing(exc):
                    raise FileNotFoundError(key) from None
                raise
            yield path

    def _head(self, key: str) -> int | None:
        try:
            answer = self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
        return answer["ContentLength"]

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int:
        size = self._head(key)
        if size is None:
            raise FileNotFoundError(key)
        return size

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def delete_prefix(self, prefix: str) -> int:
        full = self.object_key(prefix, prefix=True)
        count = 0
        failed: list[str] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=full, PaginationConfig={"PageSize": _DELETE_BATCH}
        )
        # Deleting page by page is safe: the continuation token points past the last key seen.
        for page in pages:
            batch: list[ObjectIdentifierTypeDef] = [
                {"Key": o["Key"]} for o in page.get("Contents", [])
            ]
            if not batch:
                continue
            answer = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
            )
            errors = answer.get("Errors", [])
            failed += [f"{e.get('Key')}: {e.get('Code')}" for e in errors]
            count += len(batch) - len(errors)
        if failed:
            raise OSError(f"could not delete {len(failed)} objects, first: {failed[0]}")
        return count

    def link(self, org: str, key: str, filename: str, ttl_seconds: int | None = None) -> str:
        _check_org(org, key)
        ttl = min(self._ttl if ttl_seconds is None else ttl_seconds, MAX_PRESIGN_SECONDS)
        return self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self.object_key(key),
                "ResponseContentDisposition": content_disposition(filename),
                "ResponseContentType": content_type_for(filename),
            },
            ExpiresIn=ttl,
        )

    def close(self) -> None:
        self.client.close()


# --- the process-wide instance -----------------------------------------------------------

_lock = threading.Lock()
_cache: dict[tuple[object, ...], Storage] = {}
_cache_pid = os.getpid()


def storage_from_settings(settings: Settings) -> Storage:
    url = urlparse(settings.effective_storage_url)
    if url.scheme == "s3":
        return S3Storage(
            url.netloc,
            unquote(url.path),
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            link_ttl_seconds=settings.link_ttl_seconds,
        )
    if url.scheme == "file":
        root = Path(unquote(url.path))
        root.mkdir(parents=True, exist_ok=True)
        return LocalStorage(
            root,
            signing_key=settings.signing_key,
            public_url=settings.public_url,
            link_ttl_seconds=settings.link_ttl_seconds,
        )
    raise ValueError(f"unsupported storage URL: {settings.effective_storage_url}")


def get_storage(settings: Settings | None = None) -> Storage:
    """One adapter per distinct configuration and process (boto3 clients do not survive fork)."""
    global _cache_pid
    if settings is None:
        settings = get_settings()
    ident = (
        settings.effective_storage_url,
        settings.s3_endpoint_url,
        settings.s3_region,
        settings.s3_access_key_id,
        settings.s3_secret_access_key,
        settings.public_url,
        settings.link_ttl_seconds,
        settings.signing_key if settings.effective_storage_url.startswith("file:") else b"",
    )
    with _lock:
        if _cache_pid != os.getpid():
            _cache.clear()
            _cache_pid = os.getpid()
        storage = _cache.get(ident)
        if storage is None:
            storage = _cache[ident] = storage_from_settings(settings)
        return storage


def reset_storage() -> None:
    with _lock:
        for storage in _cache.values():
            storage.close()
        _cache.clear()
