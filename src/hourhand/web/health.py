"""/health (liveness), /health/jobs (the checks of hh.ops.health), /metrics (Prometheus)
and /v1/stats."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from hourhand.errors import NotAuthenticated
from hourhand.ops import Actor
from hourhand.ops.health import Status
from hourhand.ops.metrics import Snapshot
from hourhand.web.auth import App, Caller, MaybeCaller
from hourhand.web.errors import ERROR_RESPONSES
from hourhand.web.models import CheckOut, ErrorBody, HealthOut, LivenessOut, StatsOut

router = APIRouter(tags=["health"])
PUBLIC_METRICS = Actor.app("metrics")  # who reads /metrics when it needs no key


@router.get("/health", response_model=LivenessOut)
def health() -> LivenessOut:
    """Liveness: the process answers (no key, no database)."""
    return LivenessOut(status="ok")


@router.get(
    "/health/jobs",
    response_model=HealthOut,
    responses={
        401: {"model": ErrorBody, "description": "a key was given and is not valid"},
        503: {"model": HealthOut, "description": "Unhealthy"},
    },
)
def health_jobs(app: App, caller: MaybeCaller) -> Any:
    """Database, migrations, live workers and scheduler, queue latency and failures: each
    Healthy, Degraded or Unhealthy; 503 when any is Unhealthy. Descriptions and numbers
    only with a key outside any organisation (they describe every organisation's work)."""
    report = app.ops.health.check()
    detailed = caller is not None and caller.org_id is None
    checks = {
        name: CheckOut(
            status=str(c.status),  # type: ignore[arg-type]
            description=c.description if detailed else None,
            data=c.data if detailed else None,
        )
        for name, c in report.checks.items()
    }
    out = HealthOut(status=str(report.status), checks=checks)  # type: ignore[arg-type]
    status = 503 if report.status == Status.UNHEALTHY else 200
    return JSONResponse(out.model_dump(mode="json", exclude_none=True), status_code=status)


@router.get("/v1/stats", response_model=StatsOut, tags=["stats"], responses=ERROR_RESPONSES)
def stats(
    app: App,
    actor: Caller,
    hours: Annotated[float, Query(gt=0, le=24 * 31, allow_inf_nan=False)] = 24,
    queue: str | None = None,
    type: str | None = None,
) -> Response:
    """Jobs per state, and per minute over the last `hours` (default 24) the completed and
    failed attempts and their durations; totals per (queue, job type). Cluster keys only."""
    states, found = app.ops.metrics.stats(actor, hours, queue, type)
    # (built and checked once, serialized by pydantic: FastAPI would check the 1,440
    # minutes of a day again and encode them in Python, 10 ms more)
    body = StatsOut.of(states, found).model_dump_json()
    return Response(body, media_type="application/json")


class SnapshotCollector(Collector):
    """Renders one ops snapshot (read on each scrape) as Prometheus metric families."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        labels = ["queue", "type"]
        duration = HistogramMetricFamily(
            "hourhand_job_execution_duration_seconds",
            "Duration of job attempts (completed and failed).",
            labels=labels,
        )
        executions = CounterMetricFamily(
            "hourhand_job_execution",
            "Job attempts that ended (completed or failed).",
            labels=labels,
        )
        failures = CounterMetricFamily(
            "hourhand_job_failures",
            "Job attempts that failed, timed out or were lost.",
            labels=labels,
        )
        dead = CounterMetricFamily(
            "hourhand_job_dead", "Jobs that entered the failed state (dead letters).", labels=labels
        )
        for t in snap.totals:
            values = [t.queue, t.name]
            cumulative, buckets = 0, []
            for bound, count in zip(snap.buckets, t.buckets, strict=True):
                cumulative += count
                buckets.append(
                    ("+Inf" if bound == float("inf") else repr(float(bound)), cumulative)
                )
            duration.add_metric(values, buckets, t.duration_sum)
            executions.add_metric(values, t.completed + t.failed)
            failures.add_metric(values, t.failed)
            dead.add_metric(values, t.dead)
        yield from (duration, executions, failures, dead)
        length = GaugeMetricFamily(
            "hourhand_job_queue_length",
            "Jobs ready to run, per queue and job type.",
            labels=["queue", "type"],
        )
        for queue, name, count in snap.ready:
            length.add_metric([queue, name], count)
        running = GaugeMetricFamily(
            "hourhand_jobs_running", "Jobs running now, per queue.", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "hourhand_queue_oldest_ready_age_seconds",
            "How long the oldest ready job of the queue has waited.",
            labels=["queue"],
        )
        paused = GaugeMetricFamily("hourhand_queue_paused", "1 if paused.", labels=["queue"])
        for q in snap.queues:
            running.add_metric([q.name], q.running)
            age.add_metric([q.name], snap.oldest_ready_age(q))
            paused.add_metric([q.name], 1 if q.paused else 0)
        yield from (length, running, age, paused)
        states = GaugeMetricFamily("hourhand_jobs", "Jobs per state.", labels=["state"])
        for state, count in sorted(snap.states.items()):
            states.add_metric([state], count)
        yield states
        yield GaugeMetricFamily(
            "hourhand_workers_alive", "Worker processes alive.", value=snap.workers_alive
        )
        yield GaugeMetricFamily(
            "hourhand_schedulers_alive", "Scheduler processes alive.", value=snap.schedulers_alive
        )
        name = "hourhand_schedule_last_success_timestamp_seconds"
        success = GaugeMetricFamily(
            name,
            "When the schedule's newest successful run ended (Unix time); absent if it has "
            "had none. A schedule of an organisation has an org label too.",
        )
        for schedule, org, at in snap.last_success:  # names are unique per organisation
            tags = {"schedule": schedule} if org is None else {"schedule": schedule, "org": org}
            success.add_sample(name, tags, at.timestamp())
        yield success
        alerts = GaugeMetricFamily(
            "hourhand_alerts",
            "Open alerts (docs/alerts.md), per state (pending, firing) and severity.",
            labels=["state", "severity"],
        )
        for (state, severity), count in sorted(snap.alerts.items()):
            alerts.add_metric([state, severity], count)
        yield alerts


def render(snapshot: Snapshot) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format."},
        401: {"model": ErrorBody, "description": "unauthenticated"},
        403: {"model": ErrorBody, "description": "forbidden"},
        503: {"model": ErrorBody, "description": "unavailable"},
    },
)
async def metrics(request: Request, caller: MaybeCaller) -> Response:
    """Prometheus metrics, read from the database on each scrape. Needs a cluster key
    unless the app was made with metrics_public=True."""
    app = request.app.state.hourhand
    if caller is None:
        if not request.app.state.metrics_public:
            raise NotAuthenticated("/metrics needs an API key: 'Authorization: Bearer <key>'")
        caller = PUBLIC_METRICS
    snapshot = await run_in_threadpool(app.ops.metrics.snapshot, caller)
    return Response(render(snapshot), media_type=CONTENT_TYPE_LATEST)
