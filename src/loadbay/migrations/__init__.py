"""The Alembic migrations and `migrate`, which applies them.

Here and not in `loadbay.db`: applying them needs every table registered
(`loadbay.models`, which imports each feature's models), and the database module
sits below the features.
"""

from __future__ import annotations

from pathlib import Path

from loadbay.db import Database


def migrate(db: Database) -> None:
    """Apply the Alembic migrations up to head."""
    from alembic import command
    from alembic.config import Config

    import loadbay.models  # noqa: F401  (register every table)

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent))
    cfg.attributes["connection_url"] = db.url
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()
