"""The library (seed 003): a book-lending site's scheduled jobs on hourhand.

The job types are in ``jobs/``; their schedules, alert rules, notification channels,
retention and the admin's custom kind in ``hourhand.toml`` beside this file, which
``hourhand serve`` reads when run from this folder. The database is hourhand's
(``--database``, ``HOURHAND_DATABASE``, else ``sqlite:///hourhand.db`` in the folder it
runs in); the library's own tables live in it too (schema.sql, seed.py).

    cd examples/library
    PYTHONPATH=../.. ../../.venv/bin/python -m examples.library.seed
    PYTHONPATH=../.. hourhand --app examples.library.app:hh serve
"""

from __future__ import annotations

from pathlib import Path

from examples.library.jobs import register
from hourhand import Hourhand

CONFIG = Path(__file__).with_name("hourhand.toml")


def create_app(database: str | None = None) -> Hourhand:
    """A library app on ``database`` (None: hourhand's default); read ``CONFIG`` (or
    another file) with ``load_config`` to get the schedules and alerts."""
    app = Hourhand(database)
    register(app)
    return app


hh = create_app()
