"""Seed 002 (a SaaS API on pg-boss) on hourhand: ``hourhand --app examples.saas.app:hh serve``.

As the seed's app.ts does, this module registers the job handlers and schedules the system
job; users' schedules live in the database (schedules.py), and the jobs API the seed served
at ``/v1/orgs/:orgId/jobs`` is hourhand's own (client.py speaks to it).

- User jobs (an organisation's, made by a user): ``reports:generate``, ``contacts:import``.
  Enqueue them with ``org_id`` and ``created_by`` (the seed's ``createAndEnqueueJob``); their
  state, progress and result are hourhand's job row, which the organisation's key reads.
- System job: ``storage:cleanup``, hourly, in no organisation, for cluster admins only.

The database comes from ``--database``/``HOURHAND_DATABASE`` (default
``sqlite:///hourhand.db`` in the folder you run from), files from ``SAAS_STORAGE_DIR``
(default ``./storage``).
"""

from __future__ import annotations

from examples.saas.jobs import Services
from examples.saas.jobs.imports import register_import_handler
from examples.saas.jobs.reports import register_report_handler
from examples.saas.jobs.storage_cleanup import register_storage_cleanup
from examples.saas.storage import LocalStorage, Storage
from hourhand import Hourhand


def build(hh: Hourhand, storage: Storage) -> Hourhand:
    """Register the seed's job catalogue on ``hh``, its files in ``storage``."""
    services = Services(hh, storage)
    register_report_handler(hh, services)
    register_import_handler(hh, services)
    register_storage_cleanup(hh, services)
    return hh


hh = build(Hourhand(), LocalStorage.from_env())
