"""MujDomecek's background jobs (seed 004, Hangfire or Quartz.NET) on hourhand.

Eight recurring jobs and two fire-and-forget ones, as the seed document lists them. The job
code is in ``examples/homes/jobs/``; the schedules, their settings (the document's
``appsettings.json``), the e-mail kind, channels and alert rules in ``hourhand.toml``; the
web app (the ``/hangfire`` dashboard for admins, ``/health/jobs``, the export endpoint) in
``web.py``. From the repository root::

    cd examples/homes && PYTHONPATH=../.. ../../.venv/bin/python -m examples.homes.seed && \\
        PYTHONPATH=../.. ../../.venv/bin/hourhand --app examples.homes.app:hh serve

The database is hourhand's (``--database`` / ``HOURHAND_DATABASE``, default
``sqlite:///hourhand.db`` in the folder you run from); the domain tables live beside
hourhand's in it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from examples.common.domain import Domain
from hourhand import Hourhand

if TYPE_CHECKING:
    from fastapi import FastAPI

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "hourhand.toml"
SCHEMA = HERE / "schema.sql"

hh = Hourhand()  # HOURHAND_DATABASE, else sqlite:///hourhand.db


def db() -> Domain:
    """The domain tables, in hourhand's database (read at each use: tests point ``hh`` at a
    database of their own)."""
    return Domain(hh.database_url)


def configured() -> Hourhand:
    """The app with ``hourhand.toml`` read, for a process that did not start through the
    CLI (which reads it): the web app, a script. The file's custom kind ``SendEmailJob``
    is a job type only once it is read."""
    if hh.config_path is None:
        hh.load_config(CONFIG)
    return hh


@hh.web_app
def site(api: FastAPI) -> Any:
    """What ``hourhand serve`` and ``hourhand web`` serve: the web app of ``web.py``, with
    hourhand's API (made with the command's options) under ``/hourhand``."""
    from examples.homes.web import create_web

    return create_web(hh, api)


# The job types register themselves on ``hh`` when imported.
from examples.homes import jobs  # noqa: E402, F401
