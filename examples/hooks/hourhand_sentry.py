"""Report failed hourhand attempts to Sentry, tagged with the job's type, id, attempt and
queue. Copy this file into your project (it needs ``pip install 'hourhand[sentry]'``)::

    import sentry_sdk
    from hourhand_sentry import install_sentry_hooks

    sentry_sdk.init(dsn="https://...")
    install_sentry_hooks(hh)                          # every failed attempt, every job type
    install_sentry_hooks(hh, job="reports:generate")  # or one job type
    install_sentry_hooks(hh, dead_only=True)          # or only jobs that ran out of attempts

Exceptions a handler raised are captured with their traceback; attempts that failed
without one (a timeout, a worker lost) become a message event. Events are grouped by Sentry
as usual; the tags let you filter by job type, queue, outcome and whether it will retry.
The job's arguments are not added (they may hold personal data); note that Sentry's own
``include_local_variables`` (on by default) sends the local variables of each frame of the
traceback, the handler's arguments among them.
"""

from __future__ import annotations

from typing import Any

import sentry_sdk

from hourhand import AttemptResult, Hourhand, JobContext


def job_tags(ctx: JobContext) -> dict[str, str]:
    """Tags that identify an attempt: job type, id, attempt number and queue."""
    return {
        "hourhand.job_type": ctx.name,
        "hourhand.job_id": str(ctx.job_id),
        "hourhand.attempt": str(ctx.attempt),
        "hourhand.queue": ctx.job.queue,
    }


def report_failure(ctx: JobContext, result: AttemptResult) -> None:
    """An on_failure (or on_dead) hook: one Sentry event for the failed attempt."""
    details: dict[str, Any] = {
        "max_attempts": ctx.job.max_attempts,
        "state": None if result.state is None else str(result.state),
        "duration": result.duration,
        "rescued": result.rescued,  # recorded by another worker: this one's lease expired
        "error": result.error,
    }
    if result.next_run_at is not None:
        details["next_run_at"] = result.next_run_at.isoformat()
    with sentry_sdk.new_scope() as scope:  # tags for this event only
        scope.set_tags(job_tags(ctx))
        scope.set_tag("hourhand.outcome", str(result.outcome))
        scope.set_tag("hourhand.will_retry", "yes" if result.will_retry else "no")
        scope.set_tag("hourhand.dead", "yes" if result.dead else "no")
        scope.set_context("hourhand", details)
        if result.exception is not None:
            sentry_sdk.capture_exception(result.exception)
        else:  # timed out or lost: nothing was raised in this worker
            scope.fingerprint = ["hourhand", ctx.name, str(result.outcome)]
            sentry_sdk.capture_message(
                f"hourhand job {ctx.name!r} {result.outcome}: {result.error}", level="error"
            )


def install_sentry_hooks(hh: Hourhand, *, job: str | None = None, dead_only: bool = False) -> None:
    """Report every failed attempt (or, with ``dead_only``, only jobs entering the dead-letter
    set) of every job type, or of ``job`` only."""
    register = hh.on_dead if dead_only else hh.on_failure
    register(report_failure, job=job)
