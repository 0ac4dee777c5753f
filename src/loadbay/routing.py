"""A router that answers every path with and without a trailing slash.

The vendor's paths sometimes end in `/`; a 307 redirect would break multipart
POSTs, so both forms are registered and `redirect_slashes` is off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter


class Router(APIRouter):
    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().add_api_route(path, endpoint, **kwargs)
        twin = path[:-1] if path.endswith("/") else path + "/"
        if twin and twin != path:
            kwargs["include_in_schema"] = False
            super().add_api_route(twin, endpoint, **kwargs)
