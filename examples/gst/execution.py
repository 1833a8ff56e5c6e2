"""One execution of a GST job: every tenant in turn, each in its own transactions, each
written to ``audit_log`` (the seed's "All executions are logged to audit_log"), and the
run's results summed for the caller (the HTTP trigger answers them; hourhand keeps them as
the job's result).

A tenant that fails does not stop the others: its ``audit_log`` row says ``failed`` with
the error, and the job fails at the end (:class:`JobFailed`), so that hourhand retries it
by its policy and the alert rules count the failure. The jobs are written so that a retry
redoes only what is left (flags, ``reminder_sent_at``, ``notification_log``).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from examples.common.domain import Domain, iso, now
from examples.gst.db import SERVICE_ROLE, Tenant, new_id, tenants, to_json
from examples.gst.notify import Outbox
from hourhand import DoNotRetry, Hourhand, JobContext, Retry

logger = logging.getLogger(__name__)

Results = dict[str, Any]


class JobFailed(Exception):
    """A job run that failed for some tenants. Its message is the seed's ``error``, a
    newline, then its ``errorDetails`` (examples/gst/functions.py splits them)."""

    def __init__(self, error: str, details: str) -> None:
        super().__init__(f"{error}\n{details}")


@dataclass
class Run:
    """What a job's per-tenant function gets: the database, the time of the run, the
    e-mail budget shared by all tenants of the run, and the job's context."""

    hh: Hourhand
    db: Domain
    ctx: JobContext
    now: datetime  # when the run started (UTC)
    at: datetime  # the schedule's fire time, or `now` for a run by hand
    tenants_left: int = 1  # this tenant and those after it in this run
    outbox: Outbox = field(init=False)

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.hh)

    def share(self) -> int:
        """The e-mails this tenant may send: an even share of what the run has left, so
        that the first tenants by name do not take the whole budget (what one leaves
        unused goes to those after it)."""
        return -(-self.outbox.left // max(self.tenants_left, 1))


@dataclass(frozen=True)
class JobDef:
    """One row of the seed's job catalogue."""

    name: str  # the edge function's name, the job type's and the HTTP route's
    per_tenant: Callable[[Run, Tenant], Results]
    expected: float  # seconds: the top of the seed's "Expected Time"
    max_acceptable: float  # seconds: the seed's "Max Acceptable"
    retry: Retry
    max_attempts: int
    description: str

    @property
    def timeout(self) -> float:
        """An attempt's hard limit: twice the seed's "Max Acceptable" (the alert rules
        warn well before)."""
        return 2 * self.max_acceptable


def execute(hh: Hourhand, ctx: JobContext, job: JobDef, tenant_id: str | None) -> Results:
    """Run ``job`` for every tenant (or the one named) and return the summed results."""
    db = Domain(hh.database_url)
    started = now()
    fire = ctx.job.fire_time
    run = Run(hh, db, ctx, started, fire.astimezone(UTC) if fire else started)
    everyone = tenants(db, tenant_id)
    if tenant_id is not None and not everyone:
        raise DoNotRetry(f"no tenant with id {tenant_id!r}")
    totals: Results = {"tenants": len(everyone)}
    by_tenant: dict[str, Results] = {}
    failures: list[tuple[Tenant, str]] = []
    for index, tenant in enumerate(everyone):
        clock = time.monotonic()
        run.tenants_left = len(everyone) - index
        try:
            results = job.per_tenant(run, tenant)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            failures.append((tenant, error))
            logger.warning("%s: tenant %s failed: %s", job.name, tenant.id, type(exc).__name__)
            _audit_failure(db, ctx, job, tenant, error, _ms(clock))
            continue
        audit(db, ctx, job, tenant, "success", results, _ms(clock))
        by_tenant[tenant.id] = results
        for key, value in results.items():
            if isinstance(value, int) and not isinstance(value, bool):
                totals[key] = totals.get(key, 0) + value
        ctx.progress(100 * (index + 1) / len(everyone), f"{index + 1}/{len(everyone)} tenants")
    if failures:
        tenant, error = failures[0]
        raise JobFailed(
            f"{job.name} failed for {len(failures)} of {len(everyone)} tenants",
            f"tenant {tenant.id}: {error}",
        )
    totals["byTenant"] = by_tenant
    return totals


def audit(
    db: Domain,
    ctx: JobContext,
    job: JobDef,
    tenant: Tenant,
    status: str,
    results: Results,
    execution_ms: int,
) -> None:
    """The ``background_job_execution`` row of one tenant's run, with the seed's fields:
    ``details`` holds ``job_name``, ``status``, the results (snake_case) and
    ``execution_time_ms``, and which hourhand job and attempt it was."""
    details = {
        "job_name": job.name,
        "status": status,
        **{snake(k): v for k, v in results.items()},
        "execution_time_ms": execution_ms,
        "job_id": ctx.job.id,
        "attempt": ctx.job.attempt,
        "trigger": _trigger(ctx),
    }
    db.execute(
        "INSERT INTO audit_log (id, tenant_id, action_type, entity_type, entity_id, user_id,"
        " details, timestamp) VALUES (?, ?, 'background_job_execution', 'background_job',"
        " NULL, ?, ?, ?)",
        (new_id(), tenant.id, SERVICE_ROLE, to_json(details), iso(now())),
    )


def _audit_failure(
    db: Domain, ctx: JobContext, job: JobDef, tenant: Tenant, error: str, ms: int
) -> None:
    try:
        audit(db, ctx, job, tenant, "failed", {"error": error}, ms)
    except Exception as exc:  # the audit table itself may be what failed
        logger.error("%s: no audit_log row for tenant %s: %s", job.name, tenant.id, exc)


def _trigger(ctx: JobContext) -> str:
    """How the run was started: ``schedule`` (by its cron, or triggered from the schedule),
    ``http`` (/functions/v1 with an API key) or ``manual`` (an enqueue from code or CLI)."""
    if ctx.job.schedule_id is not None:
        return "schedule"
    return "http" if (ctx.job.created_by or "").startswith("key:") else "manual"


def snake(key: str) -> str:
    """``overdueTasks`` -> ``overdue_tasks`` (the audit details' style)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _ms(since: float) -> int:
    return round((time.monotonic() - since) * 1000)
