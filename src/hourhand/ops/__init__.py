"""The operations layer: every read and action people perform on hourhand (jobs,
schedules, queues, counts, workers, keys, the audit log), written once, above the store.
The CLI, the REST API and the dashboard are faces of it: they parse input, call an
operation with the :class:`Actor` making the request, and render what comes back.
Permissions, organisation scope and the audit log are applied here, not in the faces."""

from __future__ import annotations

import logging
from functools import cached_property
from typing import TYPE_CHECKING, Any

from hourhand.ops.actor import ROLES, Actor, Role
from hourhand.ops.alerts import AlertOps
from hourhand.ops.jobs import (
    BulkResult,
    Enqueued,
    JobDetail,
    JobOps,
    JobPage,
    JobQuery,
    JobTypeInfo,
)
from hourhand.ops.queues import QueueOps
from hourhand.ops.retention import PruneResult, Retention
from hourhand.ops.schedules import CronPreview, Fire, Run, RunPage, ScheduleOps

if TYPE_CHECKING:
    from hourhand.app import Hourhand
    from hourhand.ops.audit import Audit
    from hourhand.ops.health import Health
    from hourhand.ops.keys import KeyOps
    from hourhand.ops.metrics import Metrics
    from hourhand.ops.overview import OverviewOps
    from hourhand.ops.users import UserOps
    from hourhand.ops.workers import Workers

logger = logging.getLogger(__name__)


class Operations:
    """``hh.ops``: the operations on one app, each taking the acting :class:`Actor`."""

    def __init__(self, app: Hourhand) -> None:
        self.app = app
        self.jobs = JobOps(self)
        self.schedules = ScheduleOps(self)
        self.queues = QueueOps(self)
        self.retention = Retention(self)
        self.alerts = AlertOps(self)

    @cached_property
    def audit(self) -> Audit:
        from hourhand.ops.audit import Audit

        return Audit(self.app)

    @cached_property
    def keys(self) -> KeyOps:
        from hourhand.ops.keys import KeyOps

        return KeyOps(self.app)

    @cached_property
    def overview(self) -> OverviewOps:
        from hourhand.ops.overview import OverviewOps

        return OverviewOps(self.app)

    @cached_property
    def users(self) -> UserOps:
        from hourhand.ops.users import UserOps

        return UserOps(self.app)

    @cached_property
    def workers(self) -> Workers:
        from hourhand.ops.workers import Workers

        return Workers(self.app)

    @cached_property
    def health(self) -> Health:
        from hourhand.ops.health import Health

        return Health(self.app)

    @cached_property
    def metrics(self) -> Metrics:
        from hourhand.ops.metrics import Metrics

        return Metrics(self.app)

    def record(
        self,
        actor: Actor,
        action: str,
        target_kind: str,
        target_id: int | str | None,
        org_id: str | None,
        details: dict[str, Any] | None,
    ) -> None:
        """Write an action to the audit log (a failure to write is logged, never raised:
        the action itself has happened)."""
        target = None if target_id is None else str(target_id)
        self.audit.record(actor, action, target_kind, target, org_id=org_id, details=details)


__all__ = [
    "ROLES",
    "Actor",
    "AlertOps",
    "BulkResult",
    "CronPreview",
    "Enqueued",
    "Fire",
    "JobDetail",
    "JobOps",
    "JobPage",
    "JobQuery",
    "JobTypeInfo",
    "Operations",
    "PruneResult",
    "QueueOps",
    "Retention",
    "Role",
    "Run",
    "RunPage",
    "ScheduleOps",
]
