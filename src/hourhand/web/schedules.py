"""/v1/schedules: list, create, show, change, delete, enable, disable, trigger (optionally
waiting for the job), runs; and /v1/cron/preview."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from hourhand.errors import InvalidInput
from hourhand.ops.schedules import DEFAULT_RUNS, MAX_PREVIEW, MAX_RUNS
from hourhand.web.auth import App, Caller
from hourhand.web.jobs import Wait
from hourhand.web.models import (
    CronPreviewOut,
    JobOut,
    RunPageOut,
    ScheduleChanges,
    ScheduleIn,
    ScheduleOut,
    UtcTime,
)

router = APIRouter(tags=["schedules"])


@router.get("/v1/schedules", response_model=list[ScheduleOut])
def list_schedules(
    app: App,
    actor: Caller,
    org: str | None = None,
    source: Literal["code", "config", "user"] | None = None,
) -> list[ScheduleOut]:
    """Schedules (an organisation's key sees its organisation's)."""
    found = app.ops.schedules.list(actor, org_id=org, source=source)
    return [ScheduleOut.of(s) for s in found]


@router.post("/v1/schedules", response_model=ScheduleOut, status_code=201)
def create_schedule(app: App, actor: Caller, body: ScheduleIn) -> ScheduleOut:
    """Add a user schedule (in the key's organisation; outside any: admins only)."""
    fields = body.model_dump(exclude={"name", "job", "cron", "org"}, exclude_none=True)
    schedule = app.ops.schedules.create(
        actor, body.name, body.job, body.cron, org_id=body.org, **fields
    )
    return ScheduleOut.of(schedule)


@router.get("/v1/schedules/{schedule_id}", response_model=ScheduleOut)
def get_schedule(app: App, actor: Caller, schedule_id: int) -> ScheduleOut:
    return ScheduleOut.of(app.ops.schedules.get(actor, schedule_id))


@router.patch("/v1/schedules/{schedule_id}", response_model=ScheduleOut)
def update_schedule(
    app: App, actor: Caller, schedule_id: int, body: ScheduleChanges
) -> ScheduleOut:
    """Change the fields given (code and config schedules: only `enabled`)."""
    changes = body.model_dump(exclude_unset=True)
    nulls = sorted(k for k, v in changes.items() if v is None and k in NOT_NULL)
    if nulls:
        raise InvalidInput(f"{', '.join(nulls)} cannot be null")
    if not changes:
        raise InvalidInput("nothing to change: give at least one field")
    return ScheduleOut.of(app.ops.schedules.update(actor, schedule_id, **changes))


NOT_NULL = {
    "name",
    "job",
    "cron",
    "tz",
    "args",
    "enabled",
    "misfire",
    "misfire_cap",
    "catchup_window",
    "overlap",
    "jitter",
}


@router.delete("/v1/schedules/{schedule_id}", status_code=204, response_class=Response)
def delete_schedule(app: App, actor: Caller, schedule_id: int) -> Response:
    app.ops.schedules.delete(actor, schedule_id)
    return Response(status_code=204)


@router.post("/v1/schedules/{schedule_id}/enable", response_model=ScheduleOut)
def enable(app: App, actor: Caller, schedule_id: int) -> ScheduleOut:
    """Resume from now on (missed fire times are not caught up)."""
    return ScheduleOut.of(app.ops.schedules.enable(actor, schedule_id))


@router.post("/v1/schedules/{schedule_id}/disable", response_model=ScheduleOut)
def disable(app: App, actor: Caller, schedule_id: int) -> ScheduleOut:
    return ScheduleOut.of(app.ops.schedules.disable(actor, schedule_id))


@router.post("/v1/schedules/{schedule_id}/trigger", response_model=JobOut, status_code=201)
async def trigger(app: App, actor: Caller, schedule_id: int, wait: Wait = 0) -> Any:
    """Run the schedule's job now; with ?wait=SECONDS, answer when it has finished."""
    job = await run_in_threadpool(app.ops.schedules.trigger, actor, schedule_id)
    if wait > 0:
        job = await app.ops.jobs.wait(actor, job.id, wait)
    return JobOut.of(job)


@router.get("/v1/schedules/{schedule_id}/runs", response_model=RunPageOut)
def runs(
    app: App,
    actor: Caller,
    schedule_id: int,
    limit: Annotated[int, Query(ge=1, le=MAX_RUNS)] = DEFAULT_RUNS,
    cursor: Annotated[
        str | None, Query(max_length=40, description="A previous page's next_cursor.")
    ] = None,
) -> RunPageOut:
    """The schedule's ledger, newest fire time first, a page at a time: each fire time
    (and each run made by hand) with its run and the run's state, or why nothing ran."""
    return RunPageOut.of(app.ops.schedules.runs(actor, schedule_id, limit, cursor))


@router.get("/v1/cron/preview", response_model=CronPreviewOut, tags=["cron"])
def preview(
    app: App,
    actor: Caller,
    expr: Annotated[str, Query(min_length=1, max_length=200, examples=["0 8 * * MON"])],
    tz: Annotated[str, Query(min_length=1, max_length=100)] = "UTC",
    count: Annotated[int, Query(ge=1, le=MAX_PREVIEW)] = 5,
    after: Annotated[UtcTime | None, Query()] = None,
) -> CronPreviewOut:
    """The next fire times in the zone and in UTC, the expression in words, DST notes."""
    del actor  # any key may preview
    return CronPreviewOut.of(app.ops.schedules.preview(expr, tz, count, after))
