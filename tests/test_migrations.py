"""The migrations build exactly the schema the models describe, on every engine."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from loadbay.db import Base, Database


def test_migrations_match_the_models(db: Database) -> None:
    # Every model registers its table on Base when its module is imported.
    import loadbay.catalog.models
    import loadbay.exports.models
    import loadbay.heartbeats
    import loadbay.imports.models  # noqa: F401

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
