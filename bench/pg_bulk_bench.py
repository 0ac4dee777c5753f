"""PostgreSQL insert paths for `records`, chunk by chunk, each chunk in its own transaction:

(a) SQLAlchemy executemany: INSERT … ON CONFLICT DO NOTHING RETURNING data_id
    (SQLAlchemy batches it into multi-row VALUES statements: "insertmanyvalues");
(b) loadbay.imports.pg_bulk.insert_records: COPY straight into the table under a savepoint;
    after a unique violation, COPY into a temporary table, then one
    INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING data_id.

Each path runs twice: into an empty data type (every row new), then the same rows again
(every row a conflict, the cost of a re-run import). A throwaway schema is dropped at the end.

    .venv/bin/python bench/pg_bulk_bench.py --rows 100000
    .venv/bin/python bench/pg_bulk_bench.py --rows 100000 --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import platform
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import orjson
import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import FIELDS, rows

from loadbay.catalog.models import Record
from loadbay.db import Database, table_of
from loadbay.ids import new_id
from loadbay.imports import pg_bulk
from loadbay.migrations import migrate

records = table_of(Record)
Params = list[tuple[Any, ...]]


def generate(n: int, org: str, type_id: str) -> Params:
    """Tuples in pg_bulk.RECORD_COLUMNS order, as the import pipeline builds them."""
    now = datetime(2024, 5, 1, 8, 0)
    ids = [str(field["id"]) for field in cast(list[dict[str, Any]], FIELDS)]
    out: Params = []
    for row in rows(n):
        data = dict(zip(ids, row, strict=True))
        out.append(
            (new_id(), org, type_id, None, "", data.pop("dataId"), orjson.dumps(data).decode(),
             "bench", "bench", now, now)
        )  # fmt: skip
    return out


def chunks(params: Params, size: int) -> Iterator[Params]:
    for i in range(0, len(params), size):
        yield params[i : i + size]


def as_dicts(chunk: Params) -> list[dict[str, Any]]:
    """The executemany path's input: one dict per row, `data` as an object for JSONB."""
    values = [dict(zip(pg_bulk.RECORD_COLUMNS, p, strict=True)) for p in chunk]
    for v in values:
        v["data"] = orjson.loads(v["data"])
    return values


def executemany(conn: Connection, chunk: Sequence[dict[str, Any]]) -> set[str]:
    statement = (
        pg_insert(records)
        .on_conflict_do_nothing(index_elements=["data_type_id", "scope", "data_id"])
        .returning(records.c.data_id)
    )
    return set(conn.execute(statement, list(chunk)).scalars())


def copy(conn: Connection, chunk: Sequence[tuple[Any, ...]]) -> set[str]:
    return pg_bulk.insert_records(conn, chunk)


Insert = Callable[[Connection, Any], set[str]]
PATHS: list[tuple[str, Insert, Callable[[Params], Any]]] = [
    ("(a) SQLAlchemy executemany ON CONFLICT", executemany, as_dicts),
    ("(b) pg_bulk: COPY (staged after a conflict)", copy, lambda chunk: chunk),
]


def run(
    db: Database, params: Params, size: int, insert: Insert, prepare: Callable[[Params], Any]
) -> tuple[float, int]:
    """Seconds spent in the database calls (each path's input is built beforehand)."""
    batches = [prepare(chunk) for chunk in chunks(params, size)]
    started = time.perf_counter()
    inserted = 0
    for batch in batches:
        with db.engine.begin() as conn:
            inserted += len(insert(conn, batch))
    return time.perf_counter() - started, inserted


def fresh_schema(url: str) -> tuple[str, str]:
    schema = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"
    return (
        schema,
        f"{url.replace('postgresql://', 'postgresql+psycopg://', 1)}{sep}options=-csearch_path%3D{schema}",
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--chunk", type=int, default=5_000)
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()

    schema, url = fresh_schema(args.database_url)
    db = Database(url)
    try:
        migrate(db)
        print(f"machine: {platform.machine()} python={platform.python_version()} schema={schema}")
        print(
            f"{args.rows:,} rows into records, chunks of {args.chunk:,}, one transaction per chunk"
        )
        print(f"{'path':<44} {'new rows':>12} {'all conflicts':>14}")
        for name, insert, prepare in PATHS:
            params = generate(args.rows, "bench-org", new_id())
            fresh, created = run(db, params, args.chunk, insert, prepare)
            assert created == args.rows, f"{name}: {created} of {args.rows} inserted"
            again = [(new_id(), *p[1:]) for p in params]  # same keys, new ids: all conflict
            repeat, created = run(db, again, args.chunk, insert, prepare)
            assert created == 0, f"{name}: {created} rows inserted twice"
            print(f"{name:<44} {args.rows / fresh:>9,.0f} r/s {args.rows / repeat:>10,.0f} r/s")
        with db.engine.connect() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(records)).scalar_one()
        assert count == 2 * args.rows, count
    finally:
        db.dispose()
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
