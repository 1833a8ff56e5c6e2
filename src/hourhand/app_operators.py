"""The operator's side of :class:`hourhand.app.Hourhand` (a mixin of it): reading jobs,
their attempts and counts, retrying and cancelling them, the statistics, pruning by hand,
waiting for results, and pausing queues. (The operations layer, ``hh.ops``, adds
permissions, organisation scope and the audit log over these for the CLI, API and
dashboard.)"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from hourhand import checks
from hourhand.checks import MAX_ID
from hourhand.errors import InvalidInput, JobNotFound, JobStateError
from hourhand.jobs import FINAL_STATES, Attempt, Job, JobSpec, JobState
from hourhand.ratelimits import RateUse
from hourhand.retention import Pruner, manual_rule
from hourhand.stats import Stats
from hourhand.store import JobFilter, QueueInfo, Store
from hourhand.waiting import Waiters

DEFAULT_WAIT = 30.0  # seconds hh.wait waits when given no timeout
MAX_WAIT = 24 * 3600.0
PRUNED_STATES = ("completed", "cancelled", "failed")


class OperatorCalls:
    """``hh.get_job``, ``list_jobs``, ``attempts``, ``cancel``, ``retry``, ``counts``,
    ``stats``, ``prune``, ``wait``, ``pause_queue`` and their kin."""

    if TYPE_CHECKING:  # what the mixin uses of Hourhand
        registry: dict[str, JobSpec]
        _lock: threading.Lock
        _waiters: Waiters | None

        @property
        def store(self) -> Store: ...

        def own_job_types(self) -> list[str]: ...

    # -- operators ------------------------------------------------------------------------
    def get_job(self, job_id: int) -> Job:
        """The job with this id; raises JobNotFound."""
        if isinstance(job_id, bool) or not isinstance(job_id, int) or not 1 <= job_id <= MAX_ID:
            raise JobNotFound(f"no job with id {job_id!r}")
        job = self.store.get_job(job_id)
        if job is None:
            raise JobNotFound(f"no job with id {job_id}")
        return job

    def list_jobs(
        self,
        *,
        state: JobState | str | None = None,
        queue: str | None = None,
        name: str | None = None,
        org_id: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Job]:
        """Jobs, newest first."""
        if state is not None:
            try:
                state = JobState(state)
            except ValueError:
                states = ", ".join(s.value for s in JobState)
                raise InvalidInput(f"unknown state {state!r} (one of: {states})") from None
        if not 1 <= limit <= 10_000:
            raise InvalidInput(f"limit must be between 1 and 10000, got {limit}")
        flt = JobFilter(state, queue, name, org_id, limit, before_id)
        return self.store.list_jobs(flt)

    def attempts(self, job_id: int) -> list[Attempt]:
        """The job's execution history, oldest first."""
        self.get_job(job_id)
        return self.store.list_attempts(job_id)

    def cancel(self, job_id: int) -> Job:
        """Cancel a waiting job; ask the worker running it to stop a running one."""
        before = self.get_job(job_id)
        if before.state in FINAL_STATES:
            raise JobStateError(
                f"job {job_id} is {before.state}; only waiting or running jobs can be cancelled"
            )
        job = self.store.cancel_job(job_id)
        if job is None:
            raise JobNotFound(f"no job with id {job_id}")
        if job.state in FINAL_STATES and job.state != JobState.CANCELLED:  # ended meanwhile
            raise JobStateError(f"job {job_id} is {job.state} now; it was not cancelled")
        return job

    def retry(self, job_id: int) -> Job:
        """Run a failed or cancelled job again (now); a retrying job is run now."""
        before = self.get_job(job_id)
        if before.state in (JobState.RUNNING, JobState.QUEUED, JobState.COMPLETED):
            raise JobStateError(
                f"job {job_id} is {before.state}; only failed, cancelled, retrying or "
                "scheduled jobs can be retried"
            )
        job = self.store.retry_job(job_id)
        if job is None:  # gone, or its state changed since it was read
            now = self.get_job(job_id)
            raise JobStateError(f"job {job_id} is {now.state} now; it was not retried")
        return job

    def counts(self) -> dict[str, int]:
        """Jobs per state: waiting, running and failed (the dead-letter set) as they are
        now; completed and cancelled as ever counted (pruning does not lower them). Its
        cost does not grow with the history."""
        return self.store.count_by_state()

    def stats(self, hours: float = 24, queue: str | None = None, name: str | None = None) -> Stats:
        """The rollup: per minute over the last ``hours`` (completed and failed attempts,
        dead and cancelled jobs, attempt durations), and the totals per (queue, job type),
        of one queue and/or job type if given."""
        span = checks.number("hours", hours, 0, 10 * 365 * 24) * 3600
        queue = None if queue is None else checks.text("queue", queue)
        name = None if name is None else checks.text("job type", name)
        since = self.store.now() - timedelta(seconds=span)
        series = self.store.stats_series(since, None, queue, name)
        totals = [
            t
            for t in self.store.stats_totals()
            if (queue is None or t.queue == queue) and (name is None or t.name == name)
        ]
        return Stats(since, series, totals)

    def prune(
        self,
        older_than: float | timedelta,
        states: Iterable[str] = PRUNED_STATES,
        batch: int = 1000,
    ) -> int:
        """Delete finished jobs (and their attempts) that finished more than ``older_than``
        (seconds, or a timedelta) ago by the database's clock, in short transactions of
        ``batch`` jobs; returns how many. Counts and stats keep what they counted. (The
        ``[retention]`` policy does this on a schedule: hourhand.retention.)"""
        rule = manual_rule(older_than, states)
        return Pruner(self.store, batch_size=batch, pause=0).prune([rule]).deleted

    def prunable(
        self, older_than: float | timedelta, states: Iterable[str] = PRUNED_STATES
    ) -> dict[str, int]:
        """What :meth:`prune` would delete now: jobs per state (a dry run)."""
        rule = manual_rule(older_than, states)
        if not rule.states:
            return {}
        return Pruner(self.store).count([rule]).matched

    # -- waiting for results ----------------------------------------------------------------
    def wait(self, job_id: int, timeout: float = DEFAULT_WAIT) -> Job:
        """Block until the job has finished (completed, failed or cancelled) or ``timeout``
        seconds have passed, and return it. On timeout the job is returned as it is then:
        check ``job.state``. Woken by the database's notifications, not by polling the job.
        Raises JobNotFound for an unknown id."""
        seconds = checks.seconds("timeout", timeout, maximum=MAX_WAIT)
        return self._waiting().wait(job_id, seconds, self.get_job)

    async def wait_async(self, job_id: int, timeout: float = DEFAULT_WAIT) -> Job:
        """:meth:`wait` for async callers: it holds no thread while it waits."""
        seconds = checks.seconds("timeout", timeout, maximum=MAX_WAIT)
        return await self._waiting().wait_async(job_id, seconds, self.get_job)

    def _waiting(self) -> Waiters:
        store = self.store
        with self._lock:
            if self._waiters is None:
                self._waiters = Waiters(store)
            return self._waiters

    def rate_use(self, name: str) -> RateUse | None:
        """How much of job type ``name``'s rate limit is used now (its starts in the last
        period, and when a start is allowed again if the limit is reached), from the limit
        logged with its latest start; None if none is logged."""
        return self.store.rate_use(checks.text("job type", name))

    # -- queues ---------------------------------------------------------------------------
    def pause_queue(self, name: str) -> QueueInfo:
        """Pause queue ``name``: every worker stops claiming its jobs (within a second;
        jobs already running finish). It stays paused, across restarts, until resumed. A
        queue without jobs can be paused too: jobs that arrive later wait."""
        self.store.set_paused(checks.text("queue", name), True)
        return self.queue(name)

    def resume_queue(self, name: str) -> QueueInfo:
        """Resume queue ``name``: workers claim its jobs again at once."""
        self.store.set_paused(checks.text("queue", name), False)
        return self.queue(name)

    def queue(self, name: str) -> QueueInfo:
        """One queue: paused or not, its ready and running jobs (zeros for an unknown one)."""
        found = self.store.list_queues(checks.text("queue", name))
        return found[0] if found else QueueInfo(name, False, 0, 0, None)

    def queues(self) -> list[QueueInfo]:
        """Every queue, by name: those with ready or running jobs, those ever paused and
        those this app's job types use (hourhand's own, such as notifications, only while
        they have jobs); each with its paused flag and job counts."""
        found = {q.name: q for q in self.store.list_queues()}
        for name in self.own_job_types():  # (hourhand.* types run in the app's queues)
            queue = self.registry[name].queue
            found.setdefault(queue, QueueInfo(queue, False, 0, 0, None))
        return [found[name] for name in sorted(found)]
