"""Prometheus metrics at GET /metrics."""

from __future__ import annotations

from loadbay.routing import Router

router = Router()
