"""HTTP routes of this feature."""

from __future__ import annotations

from loadbay.routing import Router

router = Router()
