"""One Settings object, read once from LOADBAY_* environment variables and `.env`."""

from __future__ import annotations

import functools
import os
import secrets
import threading
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(RuntimeError):
    """A setting is wrong; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LOADBAY_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Path(".loadbay")
    database_url: str = ""  # default: sqlite file in data_dir
    queue_url: str = ""  # default: sqlite file in data_dir; redis://… for Redis
    storage_url: str = ""  # default: local folder in data_dir; s3://bucket/prefix for S3
    public_url: str = "http://127.0.0.1:8000"
    jwt_secret: str = ""  # default: generated once and kept in data_dir
    link_secret: str = ""  # HMAC key for local download links; default: generated like jwt_secret
    link_ttl_seconds: Annotated[int, Field(gt=0)] = 7 * 24 * 3600
    token_days: Annotated[int, Field(gt=0)] = 30

    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None

    smtp_host: str | None = None
    smtp_port: Annotated[int, Field(gt=0, lt=65536)] = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "loadbay@localhost"
    smtp_starttls: bool = False

    retention_days: Annotated[int, Field(gt=0)] = 30
    preview_retention_hours: Annotated[int, Field(gt=0)] = 24
    chunk_size: Annotated[int, Field(gt=0, le=100_000)] = 5000
    # A dead worker's step is taken over within a lease (renewed every third of it while
    # the work moves) plus a sweep: 14 s at most, where the promise is 15.
    lease_seconds: Annotated[int, Field(gt=0)] = 12
    sweep_interval_seconds: Annotated[float, Field(gt=0)] = 2
    # Claims of one step (plan, chunk, finalize, export) that expired or raised before it
    # fails for good; transient outages and graceful hand-backs do not count.
    max_attempts: Annotated[int, Field(gt=0)] = 5
    # Chunks one organisation may have in flight at once, over all its imports (0: no
    # cap); an organisation's own `maxConcurrentChunks` setting takes precedence. Chunks
    # over the cap wait, queued, and are claimed as the organisation's own finish.
    max_concurrent_chunks_per_org: Annotated[int, Field(ge=0)] = 0
    # Workers write a heartbeat row this often; one silent for three beats is taken for dead.
    worker_heartbeat_seconds: Annotated[float, Field(gt=0)] = 5
    # /readyz answers 503 when tasks wait and no worker started one for this long.
    queue_stall_seconds: Annotated[float, Field(gt=0)] = 120
    confirm_wait_seconds: Annotated[float, Field(ge=0)] = 10.0

    max_upload_bytes: Annotated[int, Field(gt=0)] = 512 * 1024 * 1024
    # An upload that sends nothing for this long is ended with 408 import-041.
    upload_idle_seconds: Annotated[float, Field(gt=0)] = 30.0
    max_rows: Annotated[int, Field(gt=0)] = 1_000_000
    max_columns: Annotated[int, Field(gt=0)] = 500
    max_cell_chars: Annotated[int, Field(gt=0)] = 32_767
    max_xlsx_uncompressed_bytes: Annotated[int, Field(gt=0)] = 2 * 1024 * 1024 * 1024
    max_xlsx_ratio: Annotated[int, Field(gt=0)] = 200
    xlsx_calamine_max_bytes: Annotated[int, Field(gt=0)] = 32 * 1024 * 1024
    calamine_max_cells: Annotated[int, Field(gt=0)] = 4_000_000
    # The preview reads the upload in a child process with this address-space limit.
    preview_memory_bytes: Annotated[int, Field(gt=0)] = 1024 * 1024 * 1024
    preview_timeout_seconds: Annotated[float, Field(gt=0)] = 120.0
    # Objects and arrays inside objects and arrays, in JSON files and request bodies.
    max_json_depth: Annotated[int, Field(gt=0, le=500)] = 64
    date_formats: list[str] = [
        "%d/%m/%Y",
        "%d-%m-%Y",
        "%Y/%m/%d",
        "%d/%m/%Y %H:%M",
        "%d/%m/%Y %H:%M:%S",
    ]

    max_export_rows: Annotated[int, Field(gt=0)] = 1_000_000
    # The vendor's own direct limit: written in seconds, in a worker process (exports.direct).
    direct_export_max_rows: Annotated[int, Field(gt=0)] = 1_000_000
    direct_export_concurrency: Annotated[int, Field(gt=0)] = 2
    # The console downloads an export of at most this many rows at once; a larger one
    # runs in the background and its file appears in the export log.
    console_direct_export_rows: Annotated[int, Field(gt=0)] = 10_000
    # False writes a direct export on a request thread of the API process instead (one
    # process, no fork server: an embedded run, or a test that watches the writer).
    direct_export_in_worker_process: bool = True
    json_export_part_rows: Annotated[int, Field(gt=0)] = 10_000
    # An export of at least this many rows is written by this many processes side by side.
    export_processes: Annotated[int, Field(gt=0)] = Field(
        default_factory=lambda: min(os.cpu_count() or 1, 4)
    )
    export_parallel_min_rows: Annotated[int, Field(gt=0)] = 200_000

    # Webhooks: each POST waits this long; a failed one is retried after these delays (the
    # last repeated) until this many seconds after the event, then given up.
    webhook_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0
    webhook_backoff_seconds: Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=1)] = [
        10,
        30,
        120,
        600,
        1800,
        3600,
    ]
    webhook_retry_seconds: Annotated[float, Field(gt=0)] = 24 * 3600

    # Load (see loadbay.admission): polls and views past the gate at once; a newcomer whose
    # wait would exceed api_max_wait_seconds is answered 503 server-036 at once. The
    # thread pool and the database pool are sized from api_concurrency (api_threads,
    # db_pool_size), never apart from it. Two: a poll is Python under one GIL, so more
    # threads at once add no speed, only wait for the GIL, and so does the event loop
    # that answers sheds (bench/RESULTS.md, "Polling load, wave 2": 2 beat 4 and 8 on
    # SQLite and on PostgreSQL). Raise it for a database far away on the network.
    api_concurrency: Annotated[int, Field(gt=0, le=256)] = 2
    api_max_wait_seconds: Annotated[float, Field(gt=0)] = 1.0

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("database_url", "queue_url", "storage_url")
    @classmethod
    def _known_scheme(cls, value: str, info: object) -> str:
        name = getattr(info, "field_name", "")
        allowed = {
            "database_url": ("sqlite", "postgresql"),
            "queue_url": ("sqlite", "redis", "memory"),
            "storage_url": ("file", "s3"),
        }[name]
        if value and value.split(":", 1)[0].split("+", 1)[0] not in allowed:
            raise ValueError(f"must start with one of {', '.join(a + '://' for a in allowed)}")
        return value

    # Derived values: the embedded defaults all live under data_dir.
    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            return url
        return f"sqlite:///{(self.data_dir / 'loadbay.db').resolve()}"

    @property
    def api_threads(self) -> int:
        """AnyIO's thread pool: room for every admitted request, and as much again, at
        least 8, for ungated ones (writes, health checks, downloads)."""
        return self.api_concurrency + max(8, self.api_concurrency)

    @property
    def db_pool_size(self) -> int:
        """Connections an engine pools (as many again may overflow): one per thread,
        the overflow for a thread that holds a second (a read beside its write)."""
        return self.api_threads

    @property
    def effective_queue_url(self) -> str:
        return self.queue_url or f"sqlite:///{(self.data_dir / 'queue.db').resolve()}"

    @property
    def effective_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        # Asked on every link and storage lookup: resolve a folder once, not every time.
        return _files_url(self.data_dir, None if self.data_dir.is_absolute() else os.getcwd())

    @property
    def secret(self) -> str:
        return self.jwt_secret or _kept_secret(self.data_dir, "jwt.secret")

    @property
    def signing_key(self) -> bytes:
        return (self.link_secret or _kept_secret(self.data_dir, "link.secret")).encode()


@functools.lru_cache(maxsize=64)
def _files_url(data_dir: Path, cwd: str | None) -> str:
    """The local store's URL; `cwd` is part of the key when `data_dir` is relative."""
    return f"file://{(data_dir / 'files').resolve()}"


def _kept_secret(data_dir: Path, name: str) -> str:
    """A secret generated once and kept in the data folder so every process agrees; read
    once per process (every request's token is checked with it, on the event loop)."""
    path = data_dir / name
    key = str(path.absolute())
    found = _secrets_read.get(key)
    if found is not None:
        return found
    found = _read_or_make_secret(data_dir, path)
    _secrets_read[key] = found
    return found


_secrets_read: dict[str, str] = {}


def _read_or_make_secret(data_dir: Path, path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    tmp = path.with_suffix(".tmp" + secrets.token_hex(4))
    tmp.write_text(value)
    tmp.chmod(0o600)
    try:
        tmp.rename(path) if not path.exists() else tmp.unlink()
    except OSError:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"LOADBAY_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid setting: {problems}") from None


class CurrentSettings:
    """The process's current settings: the ones an entry point (`create_app`, the worker)
    built at start-up and installed with `use`, else read once from the environment.
    `cache_clear` forgets them, so the next call reads the environment again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: Settings | None = None

    def __call__(self) -> Settings:
        current = self._current
        if current is None:
            with self._lock:
                if self._current is None:
                    self._current = load_settings()
                current = self._current
        return current

    def use(self, settings: Settings) -> None:
        self._current = settings

    def cache_clear(self) -> None:
        self._current = None


get_settings = CurrentSettings()
