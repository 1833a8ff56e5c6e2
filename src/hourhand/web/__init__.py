"""The REST API (FastAPI): ``create_app(hh)``, or ``hh.asgi_app()``. See docs/api.md."""

from __future__ import annotations

from hourhand.web.app import create_app

__all__ = ["create_app"]
