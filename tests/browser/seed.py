"""What the browser tests put in the database: the app's job types, jobs in every state
(written through the store's own primitives, as a worker would: no worker runs in the
browser tests, so nothing changes under a test), schedules, alerts and users."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import count
from typing import Any

from hourhand import Hourhand, JobContext, Retry
from hourhand.jobs import JobState, NewJob, Outcome
from hourhand.ops import Actor
from hourhand.store import AttemptEnd, Completion
from hourhand.store.alert_rows import NewAlert
from hourhand.store.records import ProcessInfo

SEEDER = Actor.app("browser-tests")
WORKER_ID = "web-1.internal:4242:7f3a"  # the "worker" the seeded attempts ran on
LEASE = 3600.0  # seconds: a seeded running job stays running for the whole module
PASSWORD = "correct horse battery staple"  # every seeded user's
CLAIM_FIRST = timedelta(hours=1)  # how long ago a job to claim at once was due
_claim_order = count()

# name -> (role, org): a user of each role, and users of organisations
USERS: dict[str, tuple[str, str | None]] = {
    "admin": ("admin", None),
    "operator": ("operator", None),
    "viewer": ("viewer", None),
    "org_a": ("operator", "org_a"),
    "org_b": ("operator", "org_b"),
}


def define(hh: Hourhand) -> Hourhand:
    """The job types of the browser tests' app."""

    @hh.job("reports:generate", queue="reports")
    async def generate(ctx: JobContext, report_id: str, fmt: str = "pdf") -> dict[str, Any]:
        await ctx.progress(50, "half way")
        return {"report": report_id, "format": fmt}

    @hh.job("emails:send", queue="mail")
    async def send(ctx: JobContext, to: str, subject: str = "") -> str:
        return f"sent to {to}"

    @hh.job("echo")
    def echo(ctx: JobContext, text: str = "", data: Any = None) -> Any:
        return data if data is not None else text

    @hh.job("sleep", queue="slow", retry=Retry.none())
    async def sleep(ctx: JobContext, seconds: float = 1.0) -> None:
        await asyncio.sleep(seconds)

    return hh


# -- jobs ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcomes:
    """How a seeded job's attempt went (for the states past running)."""

    result: Any = None
    error: str = "ValueError: the report has no rows"
    traceback: str | None = None
    progress: tuple[float, str | None] | None = None
    duration: float = 1.25


def traceback_of(error: str, where: str = "reports.py") -> str:
    return (
        "Traceback (most recent call last):\n"
        f'  File "/srv/app/{where}", line 42, in generate\n'
        "    rows = build(report_id)\n"
        f'  File "/srv/app/{where}", line 17, in build\n'
        "    raise ValueError(msg)\n"
        f"{error}\n"
    )


def job(
    hh: Hourhand,
    state: JobState | str,
    name: str = "echo",
    args: dict[str, Any] | None = None,
    *,
    queue: str | None = None,
    org_id: str | None = None,
    outcomes: Outcomes = Outcomes(),
) -> int:
    """A job of type ``name`` in ``state``, its attempt recorded as a worker would."""
    state = JobState(state)
    if state is JobState.SCHEDULED:
        return int(hh.enqueue(name, args, queue=queue, org_id=org_id, delay=3600))
    if state in (JobState.QUEUED, JobState.CANCELLED):
        job_id = int(hh.enqueue(name, args, queue=queue, org_id=org_id))
        if state is JobState.CANCELLED:
            hh.ops.jobs.cancel(SEEDER, job_id)
        return job_id
    # due longer ago than any job seeded (all of priority 0): the next claim takes this one
    run_at = hh.store.now() - CLAIM_FIRST - timedelta(seconds=next(_claim_order))
    job_id = int(hh.enqueue(name, args, queue=queue, org_id=org_id, run_at=run_at))
    store = hh.store
    [claimed] = store.claim(WORKER_ID, None, 1, lease=LEASE)
    assert claimed.id == job_id, f"claimed job {claimed.id}, not the seeded {job_id}"
    if outcomes.progress is not None:
        store.set_progress(WORKER_ID, job_id, claimed.attempt, *outcomes.progress)
    if state is JobState.RUNNING:
        return job_id
    if state is JobState.COMPLETED:
        result = json.dumps(outcomes.result, ensure_ascii=False)
        store.complete(WORKER_ID, [Completion(job_id, claimed.attempt, result, outcomes.duration)])
        return job_id
    end = AttemptEnd(
        job_id,
        claimed.attempt,
        WORKER_ID,
        Outcome.FAILED,
        state,
        error=outcomes.error,
        traceback=outcomes.traceback or traceback_of(outcomes.error),
        retry_in=3600.0,
        duration=outcomes.duration,
    )
    assert state in (JobState.FAILED, JobState.RETRYING), state
    store.end_attempt(end)
    return job_id


def raw_job(hh: Hourhand, name: str, args: dict[str, Any], **fields: Any) -> int:
    """A queued job of a type no process here knows (a name the registry would refuse),
    written straight through the store."""
    new = NewJob(
        name=name,
        args_json=json.dumps(args, ensure_ascii=False),
        queue=fields.pop("queue", "default"),
        priority=0,
        max_attempts=3,
        run_at=None,
        timeout=None,
        **fields,
    )
    [job_id] = hh.store.insert_jobs([new])
    return job_id


# -- schedules, alerts, workers -----------------------------------------------------------
def schedule(
    hh: Hourhand,
    name: str = "nightly-report",
    *,
    job: str = "reports:generate",
    cron: str = "0 3 * * *",
    tz: str = "Europe/Amsterdam",
    args: dict[str, Any] | None = None,
    org_id: str | None = None,
) -> int:
    made = hh.ops.schedules.create(
        SEEDER,
        name,
        job,
        cron,
        tz=tz,
        args={"report_id": "daily"} if args is None else args,
        org_id=org_id,
    )
    return made.id


def alert(
    hh: Hourhand,
    summary: str = "queue reports: 120 jobs waiting (above 100)",
    *,
    rule: str = "reports-backlog",
    key: str = "queue:reports",
    org_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """A firing alert (as the alert engine opens one), without notifications."""
    row = hh.store.alerts.insert_alert(
        NewAlert(
            rule=rule,
            rule_org=None,
            source="config",
            key=key,
            kind="queue_backlog",
            severity="critical",
            state="firing",
            summary=summary,
            org_id=org_id,
            details=details or {},
        ),
        hh.store.now(),
    )
    assert row is not None, f"an alert of ({rule}, {key}) is open already"
    return row.id


def worker_beat(hh: Hourhand, worker_id: str = WORKER_ID, queues: tuple[str, ...] = ()) -> None:
    """A live worker, as its heartbeat records it."""
    hh.store.records.beat(
        ProcessInfo(
            id=worker_id,
            kind="worker",
            host=socket.gethostname(),
            pid=4242,
            queues=queues or None,
            concurrency=20,
            running=1,
            completed=1280,
            failed=3,
        )
    )


# -- users --------------------------------------------------------------------------------
def user(hh: Hourhand, name: str, role: str, org_id: str | None = None) -> None:
    hh.ops.users.create(SEEDER, name, role, org_id=org_id, password=PASSWORD)


def users(hh: Hourhand) -> None:
    for name, (role, org) in USERS.items():
        user(hh, name, role, org)


# -- the data sets ------------------------------------------------------------------------
@dataclass
class Seeded:
    """Ids of what a data set made, by name, to fill the PAGES' placeholders."""

    jobs: dict[str, int] = field(default_factory=dict)
    schedules: dict[str, int] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)


def every_state(hh: Hourhand, org_id: str | None = None, suffix: str = "") -> Seeded:
    """A job in each state, a schedule and a firing alert (of an organisation, or none)."""
    seeded = Seeded()
    for state in JobState:
        seeded.jobs[str(state)] = job(
            hh,
            state,
            "reports:generate",
            {"report_id": f"{state}{suffix}"},
            org_id=org_id,
            outcomes=Outcomes(result={"rows": 12}, progress=(40.0, "rendering page 4 of 10")),
        )
    seeded.schedules["nightly"] = schedule(hh, f"nightly-report{suffix}", org_id=org_id)
    seeded.alerts["backlog"] = alert(hh, key=f"queue:reports{suffix}", org_id=org_id)
    return seeded
