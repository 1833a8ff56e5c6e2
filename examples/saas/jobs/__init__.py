"""The job handlers, one module each (the seed's ``modules/jobs/handlers/``), registered by
``register_*`` functions that app.py calls, as the seed's app.ts does."""

from __future__ import annotations

from dataclasses import dataclass

from examples.common.domain import Domain
from examples.saas.storage import Storage
from hourhand import Hourhand


@dataclass(frozen=True)
class Services:
    """What the handlers use: the domain tables (in hourhand's database) and the storage
    provider."""

    hh: Hourhand
    storage: Storage

    @property
    def domain(self) -> Domain:
        # read when a job runs: `hourhand --database URL` sets the app's URL after import
        return Domain(self.hh.database_url)
