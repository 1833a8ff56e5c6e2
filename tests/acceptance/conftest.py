"""Fixtures of the CLI tests."""

from __future__ import annotations

import pytest

from hourhand import Hourhand


@pytest.fixture
def db(store_url: str) -> str:
    """A database of each kind with hourhand's tables (reading commands create none)."""
    app = Hourhand(store_url)
    try:
        app.migrate()
    finally:
        app.close()
    return store_url
