"""Ids and times as the vendor writes them: 24-hex ids, `Y-m-d H:i:s` UTC."""

from __future__ import annotations

import os
import re
import socket
import time
import uuid
from datetime import UTC, datetime

_ID_RE = re.compile(r"^[0-9a-f]{24}$")
_process_bytes = os.urandom(5).hex()
_counter = int.from_bytes(os.urandom(3), "big")
_pid = os.getpid()


def new_id() -> str:
    """An ObjectId-shaped id: 4 bytes of seconds, 5 per process, 3 of counter (sorts by time).

    Like MongoDB's ObjectId, the random part is drawn once per process, not per id:
    bulk imports create a million ids and a syscall for each would show."""
    global _counter, _process_bytes, _pid
    if os.getpid() != _pid:  # a forked worker must not repeat its parent's ids
        _pid, _process_bytes = os.getpid(), os.urandom(5).hex()
    _counter = (_counter + 1) & 0xFFFFFF
    return f"{int(time.time()):08x}{_process_bytes}{_counter:06x}"


HOST = socket.gethostname()


def new_owner() -> str:
    """A lease owner unique to one claim: host and pid say who, the random part makes two
    claims in one process (threads, forks sharing a pid prefix) never look alike."""
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def is_id(value: str) -> bool:
    return bool(_ID_RE.match(value))


def utcnow() -> datetime:
    """Naive UTC now (the database stores naive UTC on every engine)."""
    return datetime.now(UTC).replace(tzinfo=None)


def fmt_time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else None


def fmt_iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def new_ids(n: int) -> list[str]:
    """n ids at once (bulk inserts): the same shape as new_id, one clock read for all."""
    global _counter, _process_bytes, _pid
    if os.getpid() != _pid:
        _pid, _process_bytes = os.getpid(), os.urandom(5).hex()
    prefix = f"{int(time.time()):08x}{_process_bytes}"
    start = _counter
    _counter = (_counter + n) & 0xFFFFFF
    return [f"{prefix}{(start + i + 1) & 0xFFFFFF:06x}" for i in range(n)]
