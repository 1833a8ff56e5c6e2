"""What /metrics reports, read from the database on each scrape (so every replica of the
API answers the same): the rollup's totals per (queue, job type), with its duration
buckets; jobs per state; per queue its ready and running jobs and the age of its oldest
ready job; live workers; per schedule when its last successful run ended (from the ledger
of fire times). The web layer renders it in Prometheus' text format."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from hourhand.alert_config import SEVERITIES
from hourhand.errors import Forbidden
from hourhand.ops.actor import Actor, Role
from hourhand.stats import BUCKETS, Stats, StatsTotal
from hourhand.store import QueueInfo
from hourhand.store.alert_rows import OPEN_STATES

if TYPE_CHECKING:
    from hourhand.app import Hourhand


@dataclass(frozen=True)
class Snapshot:
    now: datetime  # the database's clock
    totals: list[StatsTotal]  # per (queue, job type), since the rollup began
    buckets: tuple[float, ...]  # upper bounds (seconds) of StatsTotal.buckets
    states: dict[str, int]  # jobs per state
    queues: list[QueueInfo]
    ready: list[tuple[str, str, int]]  # (queue, job type, ready jobs)
    workers_alive: int
    schedulers_alive: int
    # (schedule name, its organisation, when its newest successful run ended), for the
    # schedules that have had one, by name
    last_success: list[tuple[str, str | None, datetime]] = field(default_factory=list)
    # open alerts per (state, severity): pending or firing
    alerts: dict[tuple[str, str], int] = field(default_factory=dict)

    def oldest_ready_age(self, queue: QueueInfo) -> float:
        """Seconds the queue's oldest ready job has waited (0 without one)."""
        if queue.oldest_ready_at is None:
            return 0.0
        return max(0.0, (self.now - queue.oldest_ready_at).total_seconds())


class Metrics:
    """``hh.ops.metrics``: one snapshot per scrape (a handful of queries, none over the
    jobs' history)."""

    def __init__(self, app: Hourhand) -> None:
        self.app = app

    def stats(
        self,
        actor: Actor,
        hours: float = 24,
        queue: str | None = None,
        type: str | None = None,
    ) -> tuple[dict[str, int], Stats]:
        """Jobs per state now, and the rollup's per-minute series over the last ``hours``
        with its totals (of one queue and/or job type if given)."""
        self._cluster(actor, "reading statistics")
        return self.app.counts(), self.app.stats(hours=hours, queue=queue, name=type)

    def snapshot(self, actor: Actor) -> Snapshot:
        self._cluster(actor, "reading metrics")
        now = self.app.store.now()
        stats: Stats = self.app.stats(hours=0)
        processes = self.app.ops.workers.list(actor)
        return Snapshot(
            now=now,
            totals=stats.totals,
            buckets=BUCKETS,
            states=self.app.counts(),
            queues=self.app.queues(),
            ready=self._ready(),
            workers_alive=sum(1 for p in processes if p.kind == "worker" and p.alive),
            schedulers_alive=sum(1 for p in processes if p.kind == "scheduler" and p.alive),
            last_success=self._last_success(),
            alerts=self._alerts(),
        )

    def _alerts(self) -> dict[tuple[str, str], int]:
        """Open alerts per (state, severity), 0 for those with none (a gauge that reads 0
        rather than vanishing when the last alert resolves)."""
        found = {(s, sev): 0 for s in OPEN_STATES for sev in SEVERITIES}
        for alert in self.app.store.alerts.open_alerts():
            found[(alert.state, alert.severity)] = found.get((alert.state, alert.severity), 0) + 1
        return found

    def _last_success(self) -> list[tuple[str, str | None, datetime]]:
        """Per schedule, when its newest successful run ended: one index probe per
        schedule in the ledger, which keeps the outcome after the job is pruned."""
        store = self.app.store
        ended = store.last_successes()
        if not ended:
            return []
        found = [(s.name, s.org_id, ended[s.id]) for s in store.list_schedules() if s.id in ended]
        return sorted(found, key=lambda f: (f[0], f[1] or ""))

    def _ready(self) -> list[tuple[str, str, int]]:
        """Ready jobs per (queue, job type), with 0 for the app's job types that have
        none (so a gauge reads 0 rather than vanishing when its queue empties)."""
        found = {(queue, name): n for queue, name, n in self.app.store.ready_by_type()}
        for spec in self.app.registry.values():
            found.setdefault((spec.queue, spec.name), 0)
        return [(queue, name, n) for (queue, name), n in sorted(found.items())]

    def _cluster(self, actor: Actor, action: str) -> None:
        actor.require(Role.VIEWER, action)
        if actor.org_id is not None:  # the counts include every organisation's jobs
            raise Forbidden(f"{action} needs a key outside any organisation (cluster-wide)")
