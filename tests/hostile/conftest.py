"""The import fixtures (a catalog, an uploader, monitoring) for hostile-input tests."""

from tests.imports.conftest import catalog, monitoring, org_id, upload  # noqa: F401
