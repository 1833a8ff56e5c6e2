"""/v1/jobs and /v1/orgs/{org}/jobs: list, search, enqueue (optionally waiting for the
result), show, retry, cancel, delete, and bulk retry/cancel over a filter; an
organisation's list, enqueue, show and cancel under /v1/orgs/{org}/jobs."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hourhand.errors import NotFound
from hourhand.jobs import Job, JobState
from hourhand.ops import Actor, JobDetail, JobQuery
from hourhand.ops.jobs import DEFAULT_PAGE, MAX_PAGE
from hourhand.web.auth import App, Caller
from hourhand.web.models import (
    AttemptOut,
    BulkOut,
    BulkRetryIn,
    EnqueueIn,
    JobDetailOut,
    JobFilterIn,
    JobOut,
    JobPageOut,
    JobTypeOut,
    OrgEnqueueIn,
    States,
    UtcTime,
)

MAX_WAIT = 300  # seconds a request may wait for its job

router = APIRouter(tags=["jobs"])

Wait = Annotated[
    float,
    Query(
        ge=0,
        le=MAX_WAIT,
        allow_inf_nan=False,
        description="Seconds to wait for the job to finish (0-300); the job is returned "
        "as it is when the wait ends.",
    ),
]


class Filters:
    """The listing's query parameters."""

    def __init__(
        self,
        state: States | None = None,
        queue: str | None = None,
        type: str | None = None,
        org: str | None = None,
        schedule: int | None = None,
        created_after: Annotated[UtcTime | None, Query()] = None,
        created_before: Annotated[UtcTime | None, Query()] = None,
        error: Annotated[str | None, Query(description="Text in the last error.")] = None,
        error_class: str | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
        cursor: Annotated[str | None, Query(description="A previous page's next_cursor.")] = None,
    ) -> None:
        self.query = JobQuery(
            state=None if state is None else JobState(state),
            queue=queue,
            type=type,
            org_id=org,
            schedule_id=schedule,
            created_after=created_after,
            created_before=created_before,
            error=error,
            error_class=error_class,
            limit=limit,
            cursor=cursor,
        )


JobFilters = Annotated[Filters, Depends()]


def _out(job: Job, created: bool | None = None) -> JSONResponse | JobOut:
    out = JobOut.of(job)
    if created:
        return JSONResponse(out.model_dump(mode="json"), status_code=201)
    return out


async def _enqueue(
    app: App, actor: Actor, body: EnqueueIn | OrgEnqueueIn, org: str | None, wait: float
) -> Any:
    options = body.model_dump(exclude={"type", "args", "org"}, exclude_none=True)
    submitted = await run_in_threadpool(
        app.ops.jobs.enqueue, actor, body.type, body.args, org_id=org, **options
    )
    job = submitted.job
    if wait > 0:
        job = await app.ops.jobs.wait(actor, job.id, wait)
    return _out(job, submitted.created)


def _bulk_query(body: JobFilterIn) -> JobQuery:
    return JobQuery(
        state=None if body.state is None else JobState(body.state),
        queue=body.queue,
        type=body.type,
        org_id=body.org,
        schedule_id=body.schedule,
        created_after=body.created_after,
        created_before=body.created_before,
        error=body.error,
        error_class=body.error_class,
    )


CREATED: dict[int | str, dict[str, Any]] = {
    201: {"model": JobOut, "description": "The job was added."}
}
ENQUEUE_DOC = (
    "Add a job. 201 with the job; 200 with the existing job when its unique_key is held "
    "by a waiting or running job. With ?wait=SECONDS the answer waits for the job to "
    "finish (its result is in `result`)."
)


@router.get("/v1/jobs", response_model=JobPageOut)
def list_jobs(app: App, actor: Caller, filters: JobFilters) -> JobPageOut:
    """Jobs matching the filters, newest first, a page at a time."""
    page = app.ops.jobs.list(actor, filters.query)
    return JobPageOut(jobs=[JobOut.of(j) for j in page.jobs], next_cursor=page.next_cursor)


@router.post("/v1/jobs", response_model=JobOut, responses=CREATED, description=ENQUEUE_DOC)
async def enqueue(app: App, actor: Caller, body: EnqueueIn, wait: Wait = 0) -> Any:
    return await _enqueue(app, actor, body, body.org, wait)


@router.get("/v1/jobs/search", response_model=list[JobOut])
def search(
    app: App,
    actor: Caller,
    q: Annotated[str, Query(min_length=1, max_length=200, description="A job id or text.")],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
) -> list[JobOut]:
    """A job by id, or the newest jobs whose arguments or last error contain the text."""
    return [JobOut.of(j) for j in app.ops.jobs.search(actor, q, limit)]


@router.post("/v1/jobs/retry", response_model=BulkOut)
def bulk_retry(app: App, actor: Caller, body: BulkRetryIn) -> BulkOut:
    """Retry every job matching the filter (state defaults to failed: redrive the
    dead-letter set); `rate` spreads them out (jobs per second); `dry_run` counts."""
    result = app.ops.jobs.bulk_retry(
        actor, _bulk_query(body), dry_run=body.dry_run, rate=body.rate, limit=body.limit
    )
    return BulkOut.of(result)


@router.post("/v1/jobs/cancel", response_model=BulkOut)
def bulk_cancel(app: App, actor: Caller, body: JobFilterIn) -> BulkOut:
    """Cancel every job matching the filter (a state must be given)."""
    result = app.ops.jobs.bulk_cancel(
        actor, _bulk_query(body), dry_run=body.dry_run, limit=body.limit
    )
    return BulkOut.of(result)


def _detail(detail: JobDetail) -> JobDetailOut:
    base = JobOut.of(detail.job).model_dump()
    return JobDetailOut(**base, attempts=[AttemptOut.of(a) for a in detail.attempts])


@router.get("/v1/jobs/{job_id}", response_model=JobDetailOut)
def get_job(app: App, actor: Caller, job_id: int) -> JobDetailOut:
    """A job with its attempts (oldest first)."""
    return _detail(app.ops.jobs.get(actor, job_id))


@router.post("/v1/jobs/{job_id}/retry", response_model=JobOut)
def retry(app: App, actor: Caller, job_id: int) -> JobOut:
    """Run a failed, cancelled, retrying or scheduled job now."""
    return JobOut.of(app.ops.jobs.retry(actor, job_id))


@router.post("/v1/jobs/{job_id}/cancel", response_model=JobOut)
def cancel(app: App, actor: Caller, job_id: int) -> JobOut:
    """Cancel a waiting job; ask the worker running a running one to stop it."""
    return JobOut.of(app.ops.jobs.cancel(actor, job_id))


@router.delete("/v1/jobs/{job_id}", status_code=204, response_class=Response)
def delete(app: App, actor: Caller, job_id: int) -> Response:
    """Delete a job that is not running, with its attempts."""
    app.ops.jobs.delete(actor, job_id)
    return Response(status_code=204)


@router.get("/v1/job-types", response_model=list[JobTypeOut], tags=["job types"])
def job_types(app: App, actor: Caller) -> list[JobTypeOut]:
    """The registered job types with their options and parameters."""
    return [JobTypeOut.of(t) for t in app.ops.jobs.types(actor)]


# -- one organisation's jobs ---------------------------------------------------------------
def _org(actor: Actor, org: str) -> str:
    """The organisation in the path, if the caller may see it (another's: not found)."""
    if actor.org_id is not None and actor.org_id != org:
        raise NotFound(f"no organisation {org!r}")
    return org


def _within(actor: Actor, org: str) -> Actor:
    """The caller confined to the organisation in the path: its jobs only, another's ids
    (and jobs outside any organisation) not found, whatever the key's own scope."""
    return replace(actor, org_id=_org(actor, org))


@router.get("/v1/orgs/{org}/jobs", response_model=JobPageOut)
def list_org_jobs(app: App, actor: Caller, org: str, filters: JobFilters) -> JobPageOut:
    """One organisation's jobs (the `org` filter is the path's)."""
    query = replace(filters.query, org_id=_org(actor, org))
    page = app.ops.jobs.list(actor, query)
    return JobPageOut(jobs=[JobOut.of(j) for j in page.jobs], next_cursor=page.next_cursor)


@router.post(
    "/v1/orgs/{org}/jobs", response_model=JobOut, responses=CREATED, description=ENQUEUE_DOC
)
async def enqueue_org_job(
    app: App, actor: Caller, org: str, body: OrgEnqueueIn, wait: Wait = 0
) -> Any:
    return await _enqueue(app, actor, body, _org(actor, org), wait)


@router.get("/v1/orgs/{org}/jobs/{job_id}", response_model=JobDetailOut)
def get_org_job(app: App, actor: Caller, org: str, job_id: int) -> JobDetailOut:
    """One of the organisation's jobs, with its attempts (oldest first)."""
    return _detail(app.ops.jobs.get(_within(actor, org), job_id))


@router.post("/v1/orgs/{org}/jobs/{job_id}/cancel", response_model=JobOut)
def cancel_org_job(app: App, actor: Caller, org: str, job_id: int) -> JobOut:
    """Cancel one of the organisation's jobs (a running one: ask its worker to stop it)."""
    return JobOut.of(app.ops.jobs.cancel(_within(actor, org), job_id))
