"""Health of the jobs system, as .NET health checks report it: each check Healthy, Degraded
or Unhealthy with a description, and the worst of them overall. The REST API answers it at
``/health/jobs`` (200, or 503 when Unhealthy); the dashboard shows it.

Checks: the database answers; its schema is up to date; at least one worker and a scheduler
are alive; the oldest ready job has not waited too long; not too many attempts failed in
the last hour. Thresholds come from :class:`Thresholds` (defaults, or ``HOURHAND_HEALTH_*``
environment variables).
"""

from __future__ import annotations

import enum
import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hourhand.errors import ConfigurationError, HourhandError
from hourhand.ops.actor import Actor
from hourhand.store.base import latest_migration

if TYPE_CHECKING:
    from hourhand.app import Hourhand

logger = logging.getLogger(__name__)

MIN_WORKERS = 1  # fewer live workers: Unhealthy
MAX_READY_AGE = 300.0  # seconds the oldest ready job may wait before the check degrades
MAX_FAILURES_PER_HOUR = 100  # failed attempts in the last hour before the check degrades


class Status(enum.StrEnum):
    HEALTHY = "Healthy"
    DEGRADED = "Degraded"
    UNHEALTHY = "Unhealthy"

    @property
    def rank(self) -> int:
        return (Status.HEALTHY, Status.DEGRADED, Status.UNHEALTHY).index(self)


@dataclass(frozen=True)
class Thresholds:
    min_workers: int = MIN_WORKERS
    max_ready_age: float = MAX_READY_AGE  # seconds
    max_failures_per_hour: int = MAX_FAILURES_PER_HOUR

    @classmethod
    def from_env(cls) -> Thresholds:
        """Defaults, each overridden by its ``HOURHAND_HEALTH_<NAME>`` variable if set."""
        values: dict[str, Any] = {}
        for name, kind in (
            ("min_workers", int),
            ("max_ready_age", float),
            ("max_failures_per_hour", int),
        ):
            raw = os.environ.get(f"HOURHAND_HEALTH_{name.upper()}")
            if raw is None:
                continue
            try:
                values[name] = kind(raw)
            except ValueError:
                raise ConfigurationError(
                    f"HOURHAND_HEALTH_{name.upper()} must be a number, got {raw!r}"
                ) from None
        return cls(**values)


@dataclass(frozen=True)
class Check:
    status: Status
    description: str
    data: dict[str, Any] = field(default_factory=dict)  # the numbers behind it


@dataclass(frozen=True)
class HealthReport:
    status: Status  # the worst check's
    checks: dict[str, Check]


class Health:
    """``hh.ops.health``: run the checks (each a few cheap queries)."""

    def __init__(self, app: Hourhand, thresholds: Thresholds | None = None) -> None:
        self.app = app
        self.thresholds = thresholds or Thresholds.from_env()

    def check(self) -> HealthReport:
        checks: dict[str, Check] = {}
        try:
            now = self.app.store.now()
        except HourhandError as exc:
            reason = f"the database cannot be reached: {type(exc).__name__}"
            logger.warning("health: %s: %s", reason, exc)
            down = Check(Status.UNHEALTHY, "not checked: the database cannot be reached")
            checks = {name: down for name in CHECKS}
            checks["database"] = Check(Status.UNHEALTHY, reason)
            return HealthReport(Status.UNHEALTHY, checks)
        checks["database"] = Check(Status.HEALTHY, "the database answers", {"now": now.isoformat()})
        for name, run in (
            ("migrations", self._migrations),
            ("workers", self._workers),
            ("scheduler", self._scheduler),
            ("queue_latency", self._latency),
            ("failures", self._failures),
        ):
            try:
                checks[name] = run()
            except HourhandError as exc:
                checks[name] = Check(Status.UNHEALTHY, f"check failed: {type(exc).__name__}")
        worst = max((c.status for c in checks.values()), key=lambda s: s.rank)
        return HealthReport(worst, checks)

    # -- the checks -----------------------------------------------------------------------
    def _migrations(self) -> Check:
        have = self.app.schema_version()
        want = latest_migration(self.app.store.dialect)
        data = {"schema_version": have, "latest": want}
        if have is None or have < want:
            text = f"schema at migration {have}, this version needs {want}: run hourhand migrate"
            return Check(Status.UNHEALTHY, text, data)
        return Check(Status.HEALTHY, f"schema up to date (migration {have})", data)

    def _processes(self, kind: str) -> int:
        found = self.app.ops.workers.list(Actor.app("health"))
        return sum(1 for p in found if p.kind == kind and p.alive)

    def _workers(self) -> Check:
        alive = self._processes("worker")
        data = {"alive": alive, "minimum": self.thresholds.min_workers}
        if alive < self.thresholds.min_workers:
            return Check(Status.UNHEALTHY, f"{alive} live worker(s): no jobs are run", data)
        return Check(Status.HEALTHY, f"{alive} live worker(s)", data)

    def _scheduler(self) -> Check:
        alive = self._processes("scheduler")
        data = {"alive": alive}
        if alive == 0:
            return Check(Status.DEGRADED, "no live scheduler: schedules do not fire", data)
        return Check(Status.HEALTHY, f"{alive} live scheduler(s)", data)

    def _latency(self) -> Check:
        now = self.app.store.now()
        ages = {
            q.name: (now - q.oldest_ready_at).total_seconds()
            for q in self.app.queues()
            if q.oldest_ready_at is not None and not q.paused
        }
        oldest = max(ages.values(), default=0.0)
        limit = self.thresholds.max_ready_age
        data = {"oldest_ready_age": round(max(oldest, 0.0), 3), "threshold": limit}
        if oldest > limit:
            slow = ", ".join(sorted(name for name, age in ages.items() if age > limit))
            text = f"a ready job has waited {oldest:.0f}s (over {limit:g}s) in {slow}"
            return Check(Status.DEGRADED, text, data)
        return Check(Status.HEALTHY, f"oldest ready job waited {max(oldest, 0):.0f}s", data)

    def _failures(self) -> Check:
        stats = self.app.stats(hours=1)
        failed = sum(p.failed for p in stats.series)
        limit = self.thresholds.max_failures_per_hour
        data = {"failed_last_hour": failed, "threshold": limit}
        if failed > limit:
            text = f"{failed} failed attempts in the last hour (over {limit})"
            return Check(Status.DEGRADED, text, data)
        return Check(Status.HEALTHY, f"{failed} failed attempts in the last hour", data)


CHECKS = ("database", "migrations", "workers", "scheduler", "queue_latency", "failures")
