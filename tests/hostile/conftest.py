"""The import fixtures (catalog, upload, monitoring) for the hostile-file suite."""

from tests.imports.conftest import catalog, monitoring, org_id, upload

__all__ = ["catalog", "monitoring", "org_id", "upload"]
