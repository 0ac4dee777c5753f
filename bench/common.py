"""Shared bench helpers: a loadbay server in subprocesses, data generation, peak memory."""

from __future__ import annotations

import contextlib
import csv
import os
import random
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
FIELDS = [
    {"id": "dataId", "title": "Outlet Code", "type": "string", "primaryKey": True},
    {"id": "name", "title": "Name", "type": "string", "required": True},
    {"id": "owner", "title": "Owner", "type": "string"},
    {"id": "phone", "title": "Phone", "type": "phone"},
    {"id": "email", "title": "Email", "type": "email"},
    {
        "id": "category",
        "title": "Category",
        "type": "option",
        "optionData": ["Retail", "Wholesale", "Horeca"],
    },
    {"id": "location", "title": "Location", "type": "coordinate"},
    {"id": "openSince", "title": "Open Since", "type": "date"},
    {"id": "creditLimit", "title": "Credit Limit", "type": "number"},
    {"id": "visits", "title": "Visits", "type": "integer"},
    {"id": "active", "title": "Active", "type": "boolean"},
    {"id": "notes", "title": "Notes", "type": "string"},
]
HEADERS = [f["title"] for f in FIELDS]


def rows(n: int, seed: int = 7) -> Iterator[list[Any]]:
    rnd = random.Random(seed)
    cats = ["Retail", "Wholesale", "Horeca"]
    start = date(2015, 1, 1)
    for i in range(n):
        yield [
            f"{i:012d}", f"Toko {i}", f"Owner {rnd.randrange(100000)}", f"0812{rnd.randrange(10**7):07d}",
            f"user{i}@example.com", cats[i % 3], f"{rnd.uniform(-8, -6):.6f},{rnd.uniform(106, 108):.6f}",
            (start + timedelta(days=i % 3000)).isoformat(), f"{rnd.randrange(10**6) / 100:.2f}",
            str(rnd.randrange(500)), "true" if i % 2 else "false", f"note {rnd.randrange(10**9)}",
        ]  # fmt: skip


def write_csv(path: Path, n: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADERS)
        w.writerows(rows(n))


def write_xlsx(path: Path, n: int) -> None:
    from loadbay.tabular.xlsx_writer import XlsxWriter

    def typed() -> Iterator[list[Any]]:
        for r in rows(n):
            yield [r[0], r[1], r[2], r[3], r[4], r[5], r[6], date.fromisoformat(r[7]), float(r[8]),
                   int(r[9]), r[10] == "true", r[11]]  # fmt: skip

    with XlsxWriter(path) as book:
        book.add_sheet("Outlets", HEADERS)
        book.write_rows(typed())


_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def write_xlsx_shared(path: Path, n: int) -> None:
    """The same rows as an Excel-made workbook: every text a shared string, cells with
    `r` references, the date with a date style (what Excel itself writes, unlike
    loadbay's own writer, whose inline strings need no shared-string table)."""
    from xml.sax.saxutils import escape

    index: dict[str, int] = {}

    def s(col: str, r: int, text: str) -> str:
        i = index.setdefault(text, len(index))
        return f'<c r="{col}{r}" t="s"><v>{i}</v></c>'

    epoch = date(1899, 12, 30)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            f.write(f'{_DECL}<worksheet xmlns="{_NS}"><sheetData>'.encode())
            head = "".join(s(c, 1, h) for c, h in zip("ABCDEFGHIJKL", HEADERS, strict=True))
            f.write(f'<row r="1" spans="1:12">{head}</row>'.encode())
            for r, v in enumerate(rows(n), 2):
                serial = (date.fromisoformat(v[7]) - epoch).days
                cells = [s(c, r, v[k]) for k, c in enumerate("ABCDEFG")]
                cells += [f'<c r="H{r}" s="1"><v>{serial}</v></c>', f'<c r="I{r}"><v>{v[8]}</v></c>',
                          f'<c r="J{r}"><v>{v[9]}</v></c>',
                          f'<c r="K{r}" t="b"><v>{1 if v[10] == "true" else 0}</v></c>', s("L", r, v[11])]  # fmt: skip
                f.write(f'<row r="{r}" spans="1:12">{"".join(cells)}</row>'.encode())
            f.write(b"</sheetData></worksheet>")
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as f:
            f.write(
                f'{_DECL}<sst xmlns="{_NS}" count="{len(index)}" uniqueCount="{len(index)}">'.encode()
            )
            for text in index:  # insertion order is index order
                f.write(f"<si><t>{escape(text)}</t></si>".encode())
            f.write(b"</sst>")
        z.writestr("xl/styles.xml", f'{_DECL}<styleSheet xmlns="{_NS}"><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>')  # fmt: skip
        z.writestr("xl/workbook.xml", f'{_DECL}<workbook xmlns="{_NS}" xmlns:r="{_REL}"><sheets><sheet name="Outlets" sheetId="1" r:id="rId1"/></sheets></workbook>')  # fmt: skip
        z.writestr("xl/_rels/workbook.xml.rels", f'{_DECL}<Relationships xmlns="{_PKG}">'
                   f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
                   f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/>'
                   f'<Relationship Id="rId3" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/></Relationships>')  # fmt: skip
        z.writestr("_rels/.rels", f'{_DECL}<Relationships xmlns="{_PKG}"><Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>')  # fmt: skip
        z.writestr("[Content_Types].xml", f'{_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/>'
                   f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
                   f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
                   f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>'
                   f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT}.sharedStrings+xml"/></Types>')  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def pg_schema(url: str) -> Iterator[str]:
    """A throwaway schema on `url`'s database, dropped afterwards: runs never see each
    other's data, and a million-row run leaves nothing behind."""
    import secrets

    import psycopg

    schema = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def peak_rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process so far (its own, not its children's)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
    return found


class Server:
    """`loadbay serve` with its workers, on a fresh data folder, on loopback."""

    def __init__(self, data_dir: Path, env: dict[str, str], workers: int = 2) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "LOADBAY_DATA_DIR": str(data_dir), "LOADBAY_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
                    "LOADBAY_PUBLIC_URL": self.base, **env}  # fmt: skip
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "loadbay",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            env=self.env,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("server did not start")
            time.sleep(0.2)

    def token(self, org: str = "bench") -> str:
        out = subprocess.run(
            [sys.executable, "-m", "loadbay", "token", "--org", org, "--email", "bench@loadbay.test",
             "--perms", "import,export,admin"], env=self.env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        return out.stdout.strip().splitlines()[-1]

    def peak_memory(self) -> dict[str, float]:
        procs = {"api": self.proc.pid} | {
            f"worker{i}": p for i, p in enumerate(children(self.proc.pid))
        }
        return {name: round(peak_rss_mb(pid), 1) for name, pid in procs.items()}

    def cpu_seconds(self) -> dict[str, float]:
        procs = {"api": self.proc.pid} | {
            f"worker{i}": p for i, p in enumerate(children(self.proc.pid))
        }
        return {name: round(cpu_seconds(pid), 1) for name, pid in procs.items()}

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
