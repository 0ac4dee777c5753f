#!/usr/bin/env bash
# Regenerate the initial migration from the models (only while nothing has shipped).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f src/loadbay/migrations/versions/0001_initial.py
.venv/bin/python - "$tmp" <<'PY'
import sys
from alembic import command
from alembic.config import Config
cfg = Config()
cfg.set_main_option("script_location", "src/loadbay/migrations")
cfg.attributes["connection_url"] = f"sqlite:///{sys.argv[1]}/empty.db"
command.revision(cfg, message="initial", autogenerate=True, rev_id="0001_initial")
PY
mv src/loadbay/migrations/versions/0001_initial_initial.py src/loadbay/migrations/versions/0001_initial.py
sed -i "s/astext_type=Text()/astext_type=sa.Text()/; s/^Create Date: .*/Create Date: (regenerated from the models)/" src/loadbay/migrations/versions/0001_initial.py
.venv/bin/ruff format -q src/loadbay/migrations/versions/0001_initial.py
.venv/bin/ruff check -q --fix src/loadbay/migrations/versions/0001_initial.py || true
rm -rf "$tmp"
