"""The import fixtures (a data type, an uploader, the monitoring record) for hostile files."""

from tests.imports.conftest import catalog, monitoring, org_id, upload

__all__ = ["catalog", "monitoring", "org_id", "upload"]
