"""One attempt being run by a worker, and how its end becomes a record.

A :class:`Run` holds what the worker knows of a running attempt (its job, context, timer,
why it was stopped) and turns the way it ended into what the store records: a
:class:`~hourhand.store.Completion`, or an :class:`~hourhand.store.AttemptEnd` (retrying,
failed, cancelled, or handed back at shutdown). :func:`retry_end` applies the retry policy,
also for rescues of attempts whose worker died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from hourhand import checks
from hourhand.errors import DoNotRetry, InvalidInput, RetryAfter
from hourhand.humanize import duration
from hourhand.jobs import Job, JobContext, JobSpec, JobState, Outcome
from hourhand.leases import Pair
from hourhand.retry import DEFAULT_RETRY
from hourhand.store import AttemptEnd, Completion, Store

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Run:
    """A running attempt of a job in this worker."""

    job: Job
    spec: JobSpec | None
    ctx: JobContext
    worker_id: str
    timeout: float | None
    started: float = 0.0  # time.monotonic() when the handler started
    task: asyncio.Task[None] | None = None
    interrupt: str | None = None  # why it was stopped: cancelled, timeout, shutdown, lost
    handler_done: bool = False  # the handler returned or raised; only its record is left
    abandoned: bool = False  # handed back without waiting for the handler any longer
    timer: asyncio.TimerHandle | None = None
    result: Any = None  # what the handler returned; for hooks (hourhand.hooks)
    exception: BaseException | None = None  # what the handler raised; for hooks

    @property
    def pair(self) -> Pair:
        return (self.job.id, self.job.attempt)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    # -- how it ended ---------------------------------------------------------------------
    def interrupted(self) -> AttemptEnd | None:
        """The record of an attempt stopped by the worker (None: lost, write nothing)."""
        if self.interrupt == "timeout":
            return self.failure(
                Outcome.TIMEOUT,
                f"TimeoutError: the attempt exceeded its timeout of {self.timeout:g}s",
            )
        if self.interrupt == "cancelled":
            return self.ended_as(Outcome.CANCELLED, JobState.CANCELLED, "cancelled on request")
        if self.interrupt == "shutdown":
            return self.handback()
        return None  # lost: another worker holds the job; nothing of ours may be written

    def overran(self, blocked_for: float | None) -> AttemptEnd:
        """An async handler that returned after its timeout: the timer could not fire while
        the handler kept the event loop busy (``blocked_for`` seconds, if it did)."""
        how = ""
        if blocked_for is not None:
            how = (
                f"; it blocked the event loop for {blocked_for:.1f}s: blocking code in an "
                "async handler"
            )
        return self.failure(
            Outcome.TIMEOUT,
            f"TimeoutError: the attempt exceeded its timeout of {self.timeout:g}s "
            f"(it ran {self.elapsed:.1f}s{how})",
        )

    def raised(self, exc: BaseException) -> AttemptEnd:
        """The record of a handler that raised ``exc``."""
        self.exception = exc
        message = describe(exc)
        try:
            tb = "".join(traceback.format_exception(exc))
        except Exception:
            tb = None
        if self.interrupt == "shutdown":  # it stopped because the worker asked it to
            return self.handback()
        if self.interrupt == "cancelled":
            return self.ended_as(Outcome.CANCELLED, JobState.CANCELLED, message, tb=tb)
        if isinstance(exc, DoNotRetry):
            return self.ended_as(Outcome.FAILED, JobState.FAILED, message, tb=tb)
        retry_in = exc.after if isinstance(exc, RetryAfter) else None
        return self.failure(Outcome.FAILED, message, tb, retry_in)

    def handback(self) -> AttemptEnd:
        """Back to the queue at shutdown; the attempt does not count."""
        return self.ended_as(
            Outcome.INTERRUPTED, JobState.QUEUED, "interrupted: the worker shut down"
        )

    def failure(
        self,
        outcome: Outcome,
        message: str,
        tb: str | None = None,
        retry_in: float | None = None,
    ) -> AttemptEnd:
        return retry_end(
            self.job, self.spec, self.worker_id, outcome, message, tb, retry_in, self.elapsed
        )

    def ended_as(
        self, outcome: Outcome, state: JobState, message: str, tb: str | None = None
    ) -> AttemptEnd:
        return AttemptEnd(
            job_id=self.job.id,
            attempt=self.job.attempt,
            worker_id=self.worker_id,
            outcome=outcome,
            new_state=state,
            error=message,
            traceback=tb,
            duration=self.elapsed,
        )


def log_end(run: Run, end: Completion | AttemptEnd | None) -> None:
    """One line per finished attempt: job id and type, attempt n/max, how it ended, how long
    it took and the error's first line (never the args); the traceback at debug level.
    Failures that end the job (the dead-letter set) at warning, the rest at info."""
    if end is None:  # lost: the worker already said so
        return
    failed = isinstance(end, AttemptEnd) and end.new_state == JobState.FAILED
    level = logging.WARNING if failed else logging.INFO
    if not logger.isEnabledFor(level):
        return
    job = run.job
    took = duration(end.duration)
    if isinstance(end, Completion):
        logger.info(
            "job %d %s attempt %d/%d: completed in %s",
            job.id, job.name, job.attempt, job.max_attempts, took,
        )  # fmt: skip
        return
    how = f"{end.outcome} after {took}"
    if end.new_state == JobState.RETRYING:
        how += f", retrying in {duration(end.retry_in)}"
    elif failed:
        how += ", no attempts left" if job.attempt >= job.max_attempts else ", not retried"
    elif end.new_state == JobState.QUEUED:
        how = f"handed back after {took} (the worker is shutting down)"
    lines = (end.error or "").strip().splitlines()
    logger.log(
        level,
        "job %d %s attempt %d/%d: %s%s",
        job.id, job.name, job.attempt, job.max_attempts, how,
        f": {lines[0]}" if lines and end.new_state != JobState.QUEUED else "",
    )  # fmt: skip
    if end.traceback and logger.isEnabledFor(logging.DEBUG):
        logger.debug("job %d attempt %d traceback:\n%s", job.id, job.attempt, end.traceback)


def describe(exc: BaseException) -> str:
    """``Type: message``, even for an exception whose ``__str__`` raises."""
    try:
        text = str(exc)
    except Exception:
        text = "(its message could not be read)"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def retry_end(
    job: Job,
    spec: JobSpec | None,
    worker_id: str,
    outcome: Outcome,
    message: str,
    tb: str | None,
    retry_in: float | None,
    duration: float | None,
    *,
    require_expired: bool = False,
) -> AttemptEnd:
    """The end of a failed attempt: retrying after the policy's delay (or the one the
    handler asked for), or failed when out of attempts or the policy says no more."""
    policy = spec.retry if spec is not None else DEFAULT_RETRY
    delay = retry_in if retry_in is not None else policy.delay(job.attempt)
    if job.attempt >= job.max_attempts or delay is None:
        state, delay = JobState.FAILED, 0.0
    else:
        state = JobState.RETRYING
    return AttemptEnd(
        job_id=job.id,
        attempt=job.attempt,
        worker_id=worker_id,
        outcome=outcome,
        new_state=state,
        error=message,
        traceback=tb,
        retry_in=delay,
        duration=duration,
        require_expired=require_expired,
    )


def encode_result(result: Any) -> str:
    """A handler's result as JSON the database can store, or DoNotRetry saying why not."""
    try:
        return checks.encode_json(result)
    except InvalidInput as exc:
        raise DoNotRetry(f"result cannot be stored: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise DoNotRetry(f"the handler's result is not JSON-serializable: {exc}") from exc


def write_progress(
    store: Store, worker_id: str, job_id: int, attempt: int, percent: float, message: str | None
) -> None:
    if not store.set_progress(worker_id, job_id, attempt, percent, message):
        logger.warning("job %d: progress not recorded, the job is no longer held", job_id)


def in_thread(
    fn: Callable[..., T], ctx: JobContext, args: dict[str, Any], loop: Any
) -> asyncio.Future[T]:
    """Run a sync handler in a thread of its own; its future can be abandoned."""
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def target() -> None:
        try:
            value = fn(ctx, **args)
        except BaseException as exc:  # reported to the worker, never raised here
            error: BaseException | None = exc
            value = None
        else:
            error = None
        with contextlib.suppress(RuntimeError):  # the loop is gone: the process is exiting
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=target, name=f"hourhand-job-{ctx.job_id}", daemon=True).start()
    return future
