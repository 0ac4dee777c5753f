"""Alembic environment: runs on the connection handed in by `loadbay.migrations.migrate`."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

import loadbay.models  # noqa: F401  (register every table)
from loadbay.db import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # `alembic` CLI (autogenerate): connect to the configured URL
        url = config.attributes.get("connection_url") or config.get_main_option("sqlalchemy.url")
        engine = sa.create_engine(str(url))
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
            conn.commit()
        return
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


def _configure(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


run()
