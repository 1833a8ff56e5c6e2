"""What the dashboard's overview and queues pages read, gathered in one place so that the
pages only render: jobs per state, completed and failed attempts per minute, queues with
their throughput and limits, live workers, firing alerts, the next scheduled runs.

Nothing here reads the jobs' history: counts come from the partial indexes and the rollup
(``hh.counts()``, ``hh.stats()``). An organisation's actor gets its own organisation's
numbers where the data has an organisation (jobs per waiting state, counted up to
``ORG_COUNT_CAP``; alerts; schedules) and nothing of what is the cluster's (the rollup's
series, queues): those are None.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from hourhand.errors import Forbidden
from hourhand.jobs import JobState
from hourhand.ops.actor import Actor, Role
from hourhand.schedule_model import Schedule
from hourhand.stats import StatsPoint
from hourhand.store import JobFilter, QueueInfo
from hourhand.store.alert_rows import AlertRow
from hourhand.store.listing import MAX_COUNT
from hourhand.store.records import ProcessInfo

if TYPE_CHECKING:
    from hourhand.app import Hourhand
    from hourhand.ops.jobs import JobTypeInfo

NEXT_RUNS = 10  # scheduled runs the overview lists
FIRING_SHOWN = 20  # firing alerts the overview lists
QUEUE_STATS_MAX = 50  # queues whose throughput is read one by one (more: none shown)
ORG_STATES = (
    JobState.SCHEDULED,
    JobState.QUEUED,
    JobState.RUNNING,
    JobState.RETRYING,
    JobState.FAILED,
)
ORG_COUNT_CAP = MAX_COUNT  # an organisation's count per state stops here ("more than")


@dataclass(frozen=True)
class QueueView:
    """A queue with what the dashboard shows beside its counts."""

    info: QueueInfo
    oldest_ready_age: float | None  # seconds its oldest ready job has waited (None: none)
    completed_last_hour: int | None  # attempts (None: not read, too many queues)
    failed_last_hour: int | None
    workers: list[ProcessInfo] = field(default_factory=list)  # live workers serving it
    types: list[JobTypeInfo] = field(default_factory=list)  # job types in it, with limits

    @property
    def throughput(self) -> float | None:
        """Attempts completed per minute over the last hour."""
        return None if self.completed_last_hour is None else self.completed_last_hour / 60


@dataclass(frozen=True)
class Overview:
    now: datetime  # the database's clock
    counts: dict[str, int]  # jobs per state (an organisation's: waiting states and failed)
    capped: bool  # counts stop at ORG_COUNT_CAP (an organisation's)
    hour: list[StatsPoint] | None  # per minute, the last hour (None: not the actor's)
    day: list[StatsPoint] | None  # per minute, the last day
    queues: list[QueueView] | None  # None: not the actor's (queues are the cluster's)
    workers: list[ProcessInfo]
    firing: list[AlertRow]
    next_runs: list[Schedule]


class OverviewOps:
    """``hh.ops.overview``: the overview page's data, and the queues page's."""

    def __init__(self, app: Hourhand) -> None:
        self.app = app

    def overview(self, actor: Actor) -> Overview:
        actor.require(Role.VIEWER, "reading the overview")
        ops = self.app.ops
        now = self.app.store.now()
        cluster = actor.org_id is None
        hour: list[StatsPoint] | None = None
        day: list[StatsPoint] | None = None
        if cluster:
            counts, stats = ops.metrics.stats(actor, hours=24)
            day = stats.series
            hour = [p for p in day if p.minute >= now - timedelta(hours=1)]
        else:
            counts = self._org_counts(actor)
        workers = [p for p in ops.workers.list(actor) if p.alive]
        firing = ops.alerts.list(actor, state="firing", limit=FIRING_SHOWN)
        return Overview(
            now=now,
            counts=counts,
            capped=not cluster,
            hour=hour,
            day=day,
            queues=self.queues(actor, now=now, workers=workers) if cluster else None,
            workers=workers,
            firing=firing,
            next_runs=self.next_runs(actor),
        )

    def queues(
        self,
        actor: Actor,
        *,
        now: datetime | None = None,
        workers: list[ProcessInfo] | None = None,
    ) -> list[QueueView]:
        """Every queue with its oldest ready job's age, its completed and failed attempts
        of the last hour, the live workers serving it and its job types (with their
        concurrency and rate limits). Cluster actors only (queues are shared)."""
        actor.require(Role.VIEWER, "reading queues")
        if actor.org_id is not None:
            raise Forbidden("reading queues needs a user outside any organisation (shared)")
        ops = self.app.ops
        found = ops.queues.list(actor)
        now = now or self.app.store.now()
        if workers is None:
            workers = [p for p in ops.workers.list(actor) if p.alive]
        types = ops.jobs.types(actor)
        read_stats = len(found) <= QUEUE_STATS_MAX
        views = []
        for queue in found:
            completed = failed = None
            if read_stats:
                totals = self.app.stats(hours=1, queue=queue.name).series
                completed = sum(p.completed for p in totals)
                failed = sum(p.failed for p in totals)
            age = (
                None
                if queue.oldest_ready_at is None
                else max(0.0, (now - queue.oldest_ready_at).total_seconds())
            )
            views.append(
                QueueView(
                    info=queue,
                    oldest_ready_age=age,
                    completed_last_hour=completed,
                    failed_last_hour=failed,
                    workers=[
                        w
                        for w in workers
                        if w.kind == "worker" and (w.queues is None or queue.name in w.queues)
                    ],
                    types=[t for t in types if t.queue == queue.name],
                )
            )
        return views

    def next_runs(self, actor: Actor, limit: int = NEXT_RUNS) -> list[Schedule]:
        """The enabled schedules the actor sees, soonest next fire first."""
        found = [s for s in self.app.ops.schedules.list(actor) if s.next_fire_at is not None]
        found.sort(key=lambda s: (s.next_fire_at, s.name))
        return found[:limit]

    def _org_counts(self, actor: Actor) -> dict[str, int]:
        """An organisation's jobs per waiting state and failed, each counted up to
        ORG_COUNT_CAP + 1 through the state's partial index."""
        base = JobFilter(org_id=actor.org_id)
        return {
            state.value: self.app.store.count_jobs(replace(base, state=state))
            for state in ORG_STATES
        }
