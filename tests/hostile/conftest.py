"""Hostile-input fixtures: those of tests/imports and tests/scale, re-exported."""

from tests.imports.conftest import catalog, monitoring, org_id, upload, upload_for  # noqa: F401
from tests.scale.conftest import procs  # noqa: F401
