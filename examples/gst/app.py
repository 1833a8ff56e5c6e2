"""The GST litigation system's background jobs on hourhand (seed 001).

Run from this folder (see README.md)::

    hourhand --app examples.gst.app:hh serve

Five job types named after the seed's edge functions, scheduled by ``hourhand.toml``
(cron, zone, alert rules, mail server), and served over HTTP at
``/functions/v1/<name>`` beside hourhand's API and dashboard (examples/gst/functions.py).
"""

from __future__ import annotations

from pathlib import Path

from examples.gst.catalogue import CATALOGUE
from examples.gst.execution import JobDef, Results, execute
from examples.gst.functions import site
from hourhand import Hourhand, JobContext

CONFIG = Path(__file__).with_name("hourhand.toml")


def create_app(database: str | None = None, config: Path | None = CONFIG) -> Hourhand:
    """The app: the five job types, the HTTP triggers and, unless ``config`` is None, the
    schedules, alert rules and e-mail settings of ``hourhand.toml`` (read here, so that
    every process of the app has them, wherever it runs from). ``database``: else
    ``--database`` / ``HOURHAND_DATABASE`` / ``sqlite:///hourhand.db``."""
    hh = Hourhand(database)
    for job in CATALOGUE:
        register(hh, job)
    hh.web_app(site)
    if config is not None:
        hh.load_config(config)
    return hh


def register(hh: Hourhand, job: JobDef) -> None:
    """``job`` as a job type: it runs for every tenant, or for ``tenant_id`` alone."""

    def handler(ctx: JobContext, tenant_id: str | None = None) -> Results:
        return execute(hh, ctx, job, tenant_id)

    handler.__doc__ = job.description
    handler.__name__ = job.name.replace("-", "_")
    hh.job(job.name, max_attempts=job.max_attempts, retry=job.retry, timeout=job.timeout)(handler)


def job_names() -> list[str]:
    return [job.name for job in CATALOGUE]


hh = create_app()
