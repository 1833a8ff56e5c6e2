"""The REST API's request and response bodies (pydantic v2), and their making from the
operations layer's objects. Every route declares its response model, so /openapi.json
describes exactly what it answers. Times are ISO-8601 in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from hourhand.jobs import Attempt, Job, JobState
from hourhand.ops import BulkResult, CronPreview, JobTypeInfo, Run, RunPage
from hourhand.schedule_model import MISFIRE_POLICIES, OVERLAP_POLICIES, Schedule
from hourhand.store import FIRE_STATUSES, QueueInfo


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("time out of range") from None


UtcTime = Annotated[AwareDatetime, AfterValidator(_utc)]  # input: any offset, kept in UTC
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
States = Literal["scheduled", "queued", "running", "retrying", "completed", "failed", "cancelled"]
assert set(States.__args__) == {s.value for s in JobState}  # type: ignore[attr-defined]


class Body(BaseModel):
    """A request body: unknown fields are refused (a typo is not silently ignored)."""

    model_config = ConfigDict(extra="forbid")


# -- errors ----------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["no job with id 7"])


class ErrorBody(BaseModel):
    error: ErrorDetail


# -- jobs ------------------------------------------------------------------------------------
class JobOut(BaseModel):
    id: int
    type: str  # the job type's name
    queue: str
    args: dict[str, Any]
    state: States
    priority: int
    attempt: int
    max_attempts: int
    run_at: datetime
    timeout: float | None
    unique_key: str | None
    org_id: str | None
    created_by: str | None
    schedule_id: int | None
    fire_time: datetime | None
    progress: float | None
    progress_message: str | None
    result: Any = None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(
            id=job.id,
            type=job.name,
            queue=job.queue,
            args=job.args,
            state=str(job.state),  # type: ignore[arg-type]
            priority=job.priority,
            attempt=job.attempt,
            max_attempts=job.max_attempts,
            run_at=job.run_at,
            timeout=job.timeout,
            unique_key=job.unique_key,
            org_id=job.org_id,
            created_by=job.created_by,
            schedule_id=job.schedule_id,
            fire_time=job.fire_time,
            progress=job.progress,
            progress_message=job.progress_message,
            result=job.result,
            error=job.error,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )


class AttemptOut(BaseModel):
    id: int
    attempt: int
    worker_id: str | None
    started_at: datetime | None
    finished_at: datetime
    outcome: str  # completed, failed, timeout, cancelled, lost, interrupted
    duration: float | None  # seconds
    error: str | None
    traceback: str | None

    @classmethod
    def of(cls, attempt: Attempt) -> AttemptOut:
        values = {k: getattr(attempt, k) for k in cls.model_fields if k != "outcome"}
        return cls(outcome=str(attempt.outcome), **values)


class JobDetailOut(JobOut):
    attempts: list[AttemptOut]  # oldest first


class JobPageOut(BaseModel):
    jobs: list[JobOut]  # newest first
    next_cursor: str | None  # pass as ?cursor= for the next page; null: the last page


class EnqueueIn(Body):
    type: str = Field(min_length=1, max_length=200, examples=["reports:generate"])
    args: dict[str, Any] = Field(default_factory=dict, examples=[{"report_id": "r1"}])
    delay: Seconds | None = None  # seconds from now
    run_at: UtcTime | None = None  # or a time (with an offset); not both
    priority: int | None = None
    queue: str | None = None
    unique_key: str | None = None
    max_attempts: int | None = None
    timeout: Seconds | None = None
    org: str | None = None
    created_by: str | None = None


class OrgEnqueueIn(Body):
    """An organisation's job: the organisation is the one in the path."""

    type: str = Field(min_length=1, max_length=200, examples=["reports:generate"])
    args: dict[str, Any] = Field(default_factory=dict)
    delay: Seconds | None = None
    run_at: UtcTime | None = None
    priority: int | None = None
    queue: str | None = None
    unique_key: str | None = None
    max_attempts: int | None = None
    timeout: Seconds | None = None
    created_by: str | None = None


class JobFilterIn(Body):
    """Which jobs a bulk action takes (as the listing's query parameters)."""

    state: States | None = None
    queue: str | None = None
    type: str | None = None
    org: str | None = None
    schedule: int | None = None
    created_after: UtcTime | None = None
    created_before: UtcTime | None = None
    error: str | None = None
    error_class: str | None = None
    dry_run: bool = False
    limit: int = Field(default=10_000, ge=1, le=10_000)


class BulkRetryIn(JobFilterIn):
    rate: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None  # jobs per second


class BulkOut(BaseModel):
    action: Literal["retry", "cancel"]
    matched: int
    changed: int
    dry_run: bool
    sample: list[JobOut]  # the newest matching jobs
    job_ids: list[int]  # the jobs changed
    remaining: int  # matched but beyond the limit: run it again
    rate: float | None

    @classmethod
    def of(cls, result: BulkResult) -> BulkOut:
        return cls(
            action=result.action,  # type: ignore[arg-type]
            matched=result.matched,
            changed=result.changed,
            dry_run=result.dry_run,
            sample=[JobOut.of(j) for j in result.sample],
            job_ids=result.job_ids,
            remaining=result.remaining,
            rate=result.rate,
        )


class JobTypeOut(BaseModel):
    name: str
    queue: str
    priority: int
    max_attempts: int
    timeout: float | None
    concurrency: int | None
    rate_limit: str | None
    retry: str
    params: list[dict[str, Any]]
    description: str | None  # what the handler's docstring (or a custom kind) says
    schema_: dict[str, Any] = Field(alias="schema")  # JSON schema of the job's args
    admin_only: bool  # enqueued and scheduled through the API by cluster admins only

    model_config = ConfigDict(populate_by_name=True)

    @classmethod
    def of(cls, info: JobTypeInfo) -> JobTypeOut:
        return cls(**info.__dict__)


# -- schedules -------------------------------------------------------------------------------
Misfire = Literal[MISFIRE_POLICIES]  # type: ignore[valid-type]
Overlap = Literal[OVERLAP_POLICIES]  # type: ignore[valid-type]


class ScheduleOut(BaseModel):
    id: int
    name: str
    job: str
    cron: str
    tz: str
    description: str  # the cron expression in words
    args: dict[str, Any]
    source: str  # code, config or user
    org_id: str | None
    created_by: str | None
    enabled: bool
    queue: str | None
    priority: int | None
    max_attempts: int | None
    timeout: float | None
    misfire: str
    misfire_cap: int
    catchup_window: float
    overlap: str
    jitter: float
    next_fire_at: datetime | None
    last_fire_at: datetime | None
    last_job_id: int | None
    last_status: str | None
    last_duration: float | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, schedule: Schedule) -> ScheduleOut:
        values = {k: getattr(schedule, k) for k in cls.model_fields if k != "description"}
        return cls(description=schedule.parsed.describe(), **values)


class ScheduleChanges(Body):
    """The fields of a schedule a user may set (all optional in a PATCH)."""

    name: str | None = None
    job: str | None = None
    cron: str | None = Field(default=None, examples=["0 8 * * MON"])
    tz: str | None = Field(default=None, examples=["Europe/Stockholm"])
    args: dict[str, Any] | None = None
    enabled: bool | None = None
    queue: str | None = None
    priority: int | None = None
    max_attempts: int | None = None
    timeout: Seconds | None = None
    misfire: Misfire | None = None
    misfire_cap: int | None = None
    catchup_window: Seconds | None = None
    overlap: Overlap | None = None
    jitter: Seconds | None = None


class ScheduleIn(ScheduleChanges):
    name: str = Field(min_length=1, max_length=200)
    job: str = Field(min_length=1, max_length=200)
    cron: str = Field(min_length=1, examples=["0 8 * * MON"])
    org: str | None = None
    created_by: str | None = None  # the user its runs are made for (their created_by)


FireStatus = Literal[FIRE_STATUSES]  # type: ignore[valid-type]


class RunOut(BaseModel):
    """One entry of a schedule's ledger: a fire time (or a run made by hand) and what
    became of it (docs/schedules.md, "The ledger")."""

    fire_time: datetime  # for 'triggered': when it was triggered
    status: FireStatus  # enqueued, held, triggered; or why nothing ran
    recorded_at: datetime  # when the scheduler wrote it
    enqueued_at: datetime | None  # when its run was enqueued (null: no run of its own)
    due_at: datetime | None  # when the run was due to start (fire time + jitter)
    job_id: int | None  # its run ('merged': the run it was folded into)
    state: States | None  # the run's state now (its job's, or how it ended if pruned)
    outcome: Literal["completed", "failed", "cancelled"] | None  # how the run last ended
    finished_at: datetime | None
    error: str | None  # the job's last error, while the job exists
    unlisted: int  # earlier fire times with this status that have no entry of their own

    @classmethod
    def of(cls, run: Run) -> RunOut:
        fire, job = run.fire, run.own_job
        return cls(
            fire_time=fire.fire_time,
            status=fire.status,
            recorded_at=fire.recorded_at,
            enqueued_at=fire.enqueued_at,
            due_at=fire.due_at,
            job_id=fire.job_id,
            state=run.state,  # type: ignore[arg-type]
            outcome=fire.outcome,  # type: ignore[arg-type]
            finished_at=fire.finished_at,
            error=None if job is None else job.error,
            unlisted=fire.unlisted,
        )


class RunPageOut(BaseModel):
    runs: list[RunOut]  # newest fire time first
    next_cursor: str | None  # pass as ?cursor= for the next page; null: the last page

    @classmethod
    def of(cls, page: RunPage) -> RunPageOut:
        return cls(runs=[RunOut.of(r) for r in page.runs], next_cursor=page.next_cursor)


class FireOut(BaseModel):
    utc: datetime
    local: str  # ISO-8601 in the expression's zone, with its offset
    dst: str | None  # how a DST change moves this fire, if it does


class CronPreviewOut(BaseModel):
    expression: str
    tz: str
    description: str
    fires: list[FireOut]
    warning: str | None

    @classmethod
    def of(cls, preview: CronPreview) -> CronPreviewOut:
        fires = [FireOut(utc=f.utc, local=f.local.isoformat(), dst=f.dst) for f in preview.fires]
        return cls(
            expression=preview.expression,
            tz=preview.tz,
            description=preview.description,
            fires=fires,
            warning=preview.warning,
        )


# -- queues ----------------------------------------------------------------------------------
class QueueOut(BaseModel):
    name: str
    paused: bool
    ready: int
    scheduled: int
    running: int
    retrying: int
    failed: int
    oldest_ready_age: float | None  # seconds the oldest ready job has waited
    changed_at: datetime | None  # last paused or resumed

    @classmethod
    def of(cls, queue: QueueInfo, now: datetime) -> QueueOut:
        age = None
        if queue.oldest_ready_at is not None:
            age = max(0.0, (now - queue.oldest_ready_at).total_seconds())
        return cls(
            name=queue.name,
            paused=queue.paused,
            ready=queue.ready,
            scheduled=queue.scheduled,
            running=queue.running,
            retrying=queue.retrying,
            failed=queue.failed,
            oldest_ready_age=age,
            changed_at=queue.changed_at,
        )


# -- keys, audit, workers --------------------------------------------------------------------
class KeyOut(BaseModel):
    id: int
    name: str
    org_id: str | None
    role: str
    prefix: str  # the public part: hh_<prefix>_...
    created_at: datetime
    created_by: str | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: Any) -> KeyOut:
        return cls(**{k: getattr(key, k) for k in cls.model_fields})


class KeyIn(Body):
    name: str = Field(min_length=1, max_length=200)
    role: Literal["admin", "operator", "viewer"]
    org: str | None = None


class KeyCreatedOut(KeyOut):
    key: str  # the secret: shown this once, stored nowhere


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor_kind: str
    actor: str
    actor_id: str | None
    org_id: str | None
    address: str | None
    action: str
    target_kind: str | None
    target_id: str | None
    details: dict[str, Any] | None

    @classmethod
    def of(cls, entry: Any) -> AuditOut:
        return cls(**{k: getattr(entry, k) for k in cls.model_fields})


class ProcessOut(BaseModel):
    id: str
    kind: str  # worker, scheduler or web
    host: str
    pid: int
    queues: list[str] | None  # a worker's queues; null: every queue
    concurrency: int | None
    running: int | None  # null for an organisation's key
    completed: int | None
    failed: int | None
    version: str | None
    started_at: datetime | None
    last_seen_at: datetime | None
    alive: bool

    @classmethod
    def of(cls, process: Any) -> ProcessOut:
        values = {k: getattr(process, k) for k in cls.model_fields}
        if values["queues"] is not None:
            values["queues"] = list(values["queues"])
        return cls(**values)


# -- stats and health ------------------------------------------------------------------------
class StatsPointOut(BaseModel):
    minute: datetime  # the minute's start
    completed: int  # attempts that completed
    failed: int  # attempts that failed, timed out or were lost
    dead: int  # jobs that entered the failed state
    cancelled: int
    duration_sum: float  # seconds, over `durations` attempts
    durations: int
    duration_avg: float | None  # seconds


class StatsTotalOut(BaseModel):
    queue: str
    type: str
    completed: int
    failed: int
    dead: int
    cancelled: int
    duration_sum: float
    durations: int


class StatsOut(BaseModel):
    states: dict[str, int]  # jobs per state now
    since: datetime  # the series starts here
    series: list[StatsPointOut]  # per minute, oldest first; empty minutes left out
    totals: list[StatsTotalOut]  # per (queue, job type), since counting began

    @classmethod
    def of(cls, states: dict[str, int], stats: Any) -> StatsOut:
        series = [
            StatsPointOut(
                minute=p.minute,
                completed=p.completed,
                failed=p.failed,
                dead=p.dead,
                cancelled=p.cancelled,
                duration_sum=p.duration_sum,
                durations=p.durations,
                duration_avg=p.duration_sum / p.durations if p.durations else None,
            )
            for p in stats.series
        ]
        totals = [
            StatsTotalOut(
                queue=t.queue,
                type=t.name,
                completed=t.completed,
                failed=t.failed,
                dead=t.dead,
                cancelled=t.cancelled,
                duration_sum=t.duration_sum,
                durations=t.durations,
            )
            for t in stats.totals
        ]
        return cls(states=states, since=stats.since, series=series, totals=totals)


HealthStatus = Literal["Healthy", "Degraded", "Unhealthy"]


class CheckOut(BaseModel):
    status: HealthStatus
    description: str | None = None  # with a valid key only
    data: dict[str, Any] | None = None  # the numbers behind it, with a valid key only


class HealthOut(BaseModel):
    status: HealthStatus
    checks: dict[str, CheckOut]


class LivenessOut(BaseModel):
    status: Literal["ok"]
