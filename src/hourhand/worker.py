"""The worker: claims jobs, runs their handlers, records the outcome.

One asyncio loop per worker process runs:

- the fetch loop: promotes due jobs, claims batches up to the free capacity (respecting
  per-queue limits of this worker and per-job-type limits across all workers), starts one
  task per job, then sleeps until woken (a notification, a freed slot) or the poll interval;
- the heartbeat loop: extends the leases of running jobs, stops jobs that were cancelled or
  whose claim was lost;
- the rescue loop: fails (and retries, by policy) jobs whose lease expired elsewhere;
- the completion flusher: records completed jobs in batches.

Store calls are blocking; they run in a small thread pool. Sync handlers run in a thread of
their own each, so one that overruns its timeout can be abandoned without taking a slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import random
import signal
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from hourhand.errors import DoNotRetry, InvalidInput, RetryAfter, UnknownJobType
from hourhand.jobs import Job, JobContext, JobSpec, JobState, Outcome
from hourhand.retry import DEFAULT_RETRY
from hourhand.store import AttemptEnd, Completion

if TYPE_CHECKING:
    from hourhand.app import Hourhand

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_CONCURRENCY = 10  # jobs running at once in one worker
DEFAULT_LEASE = 30.0  # seconds a claim lasts without a heartbeat
DEFAULT_POLL_INTERVAL = 1.0  # seconds between polls when no notification comes
DEFAULT_GRACE = 25.0  # seconds running jobs get to finish after SIGTERM
RESCUE_BATCH = 100  # expired jobs rescued per pass
DB_THREADS = 4  # threads for store calls
ERROR_BACKOFF = 1.0  # seconds to wait after a store call failed in a loop
SHUTDOWN_FLUSH_TRIES = 5  # attempts to record completions while stopping
LISTEN_SLICE = 0.25  # seconds the listener waits at a time, so a stop is noticed quickly


@dataclass
class _Running:
    job: Job
    spec: JobSpec | None
    ctx: JobContext
    started: float  # time.monotonic()
    task: asyncio.Task[None] | None = None
    interrupt: str | None = None  # why it was stopped: cancelled, timeout, shutdown, lost
    handler_done: bool = False  # the handler returned or raised; only its record is left
    timer: asyncio.TimerHandle | None = None


@dataclass
class WorkerStats:
    claimed: int = 0
    completed: int = 0
    failed: int = 0  # attempts that did not complete (retrying or failed)
    fenced: int = 0  # writes ignored because the claim was lost
    by_outcome: dict[str, int] = field(default_factory=dict)


def parse_queues(spec: str | None) -> tuple[list[str] | None, dict[str, int]]:
    """``"a,b:5"`` -> (["a", "b"], {"b": 5}); empty or None -> all queues."""
    if spec is None or not spec.strip():
        return None, {}
    queues: list[str] = []
    limits: dict[str, int] = {}
    for part in spec.split(","):
        name, _, limit = part.strip().partition(":")
        if not name:
            raise InvalidInput(f"bad queue list {spec!r}: empty queue name")
        queues.append(name)
        if limit:
            if not limit.isdigit() or int(limit) < 1:
                raise InvalidInput(f"bad queue limit in {part!r}: expected queue:N with N >= 1")
            limits[name] = int(limit)
    return queues, limits


class Worker:
    """Runs jobs of an :class:`~hourhand.app.Hourhand` app until stopped."""

    def __init__(
        self,
        app: Hourhand,
        *,
        queues: Sequence[str] | None = None,
        queue_limits: dict[str, int] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        lease: float = DEFAULT_LEASE,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        grace: float = DEFAULT_GRACE,
        worker_id: str | None = None,
    ) -> None:
        if concurrency < 1:
            raise InvalidInput(f"concurrency must be >= 1, got {concurrency}")
        if lease < 0.3:
            raise InvalidInput(f"lease must be >= 0.3 seconds, got {lease}")
        if poll_interval <= 0:
            raise InvalidInput(f"poll_interval must be > 0, got {poll_interval}")
        if grace < 0:
            raise InvalidInput(f"grace must be >= 0, got {grace}")
        self.app = app
        self.queues = list(queues) if queues else None
        self.queue_limits = dict(queue_limits or {})
        unknown = set(self.queue_limits) - set(self.queues or [])
        if unknown:
            raise InvalidInput(f"queue limits for queues this worker does not serve: {unknown}")
        self.concurrency = concurrency
        self.lease = lease
        self.heartbeat_interval = lease / 3
        self.poll_interval = poll_interval
        self.grace = grace
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stats = WorkerStats()
        self._running: dict[int, _Running] = {}
        self._done: list[Completion] = []
        self._stopping = False
        self._forced = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._flush_wake: asyncio.Event | None = None
        self._flush_closing = False
        self._db: ThreadPoolExecutor | None = None
        self._queue_turn = 0
        self.started = threading.Event()  # set once the worker is fetching

    # -- control --------------------------------------------------------------------------
    def stop(self, *, force: bool = False) -> None:
        """Begin a graceful stop (thread-safe): stop fetching, let running jobs finish
        within the grace period, hand the rest back. ``force`` skips the grace period."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self._stopping = True
            self._forced = self._forced or force
            return
        loop.call_soon_threadsafe(self._begin_stop, force)

    def _begin_stop(self, force: bool) -> None:
        if self._stopping and not force:
            force = True  # a second signal: do not wait
        if not self._stopping:
            logger.info("worker %s stopping: %d jobs running", self.id, len(self._running))
        self._stopping = True
        self._forced = self._forced or force
        assert self._wake is not None
        self._wake.set()

    def run(self, *, install_signals: bool = True) -> None:
        """Run until SIGTERM/SIGINT (or :meth:`stop`). A second signal skips the grace."""
        asyncio.run(self.run_async(install_signals=install_signals))

    async def run_async(self, *, install_signals: bool = False) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._flush_wake = asyncio.Event()
        store = await asyncio.to_thread(lambda: self.app.store)  # open and migrate
        self._db = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="hourhand-db")
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._loop.add_signal_handler(sig, self._begin_stop, False)
        listener = threading.Thread(
            target=self._listen, args=(store,), name="hourhand-listen", daemon=True
        )
        listener.start()
        logger.info(
            "worker %s started: queues=%s concurrency=%d",
            self.id,
            ",".join(self.queues) if self.queues else "*",
            self.concurrency,
        )
        loops = [
            asyncio.create_task(self._heartbeat_loop(), name="hourhand-heartbeat"),
            asyncio.create_task(self._rescue_loop(), name="hourhand-rescue"),
        ]
        flusher = asyncio.create_task(self._flush_loop(), name="hourhand-flush")
        try:
            self.started.set()
            await self._fetch_loop()
            await self._drain()
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            self._flush_closing = True  # the flusher records what is left, then ends
            self._flush_wake.set()
            await flusher
            if install_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    self._loop.remove_signal_handler(sig)
            self._stopping = True
            listener.join(timeout=LISTEN_SLICE + 5)
            self._db.shutdown(wait=True)
            logger.info("worker %s stopped", self.id)

    # -- helpers --------------------------------------------------------------------------
    async def _call(self, fn: Callable[[], T]) -> T:
        assert self._loop is not None
        return await self._loop.run_in_executor(self._db, fn)

    def _listen(self, store: Any) -> None:
        """Thread: wait for notifications (or database changes) and wake the fetch loop."""
        loop = self._loop
        assert loop is not None
        while not self._stopping:
            try:
                woken = store.wait_for_work(min(self.poll_interval, LISTEN_SLICE))
            except Exception:
                logger.exception("waiting for work failed")
                time.sleep(ERROR_BACKOFF)
                continue
            if woken and not self._stopping:
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(self._on_notified)

    def _on_notified(self) -> None:
        assert self._wake is not None
        self._wake.set()
        for job_id in self.app.store.cancel_requests():
            self._interrupt(job_id, "cancelled")

    # -- fetching -------------------------------------------------------------------------
    async def _fetch_loop(self) -> None:
        assert self._wake is not None
        next_promote = 0.0
        while not self._stopping:
            self._wake.clear()
            timeout = self.poll_interval
            try:
                if time.monotonic() >= next_promote:
                    _, next_due = await self._call(self.app.store.promote_due)
                    wait = self.poll_interval
                    if next_due is not None:
                        until = (next_due - datetime.now(UTC)).total_seconds()
                        wait = min(wait, max(until, 0.005))
                    next_promote = time.monotonic() + wait
                await self._fill()
                timeout = max(0.0, min(timeout, next_promote - time.monotonic()))
            except Exception:
                logger.exception("fetching jobs failed; retrying in %.1fs", ERROR_BACKOFF)
                timeout = ERROR_BACKOFF
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _free(self) -> int:
        return self.concurrency - len(self._running)

    async def _fill(self) -> None:
        """Claim until capacity is full or nothing more is ready."""
        store = self.app.store
        limited = {n: s for n, s in self.app.registry.items() if s.concurrency is not None}
        exclude = sorted(limited)
        while self._free() > 0 and not self._stopping:
            claimed = asked = 0
            for queue in self._queue_order():
                room = self._room(queue)
                if room <= 0:
                    continue
                asked += room
                queues = None if queue is None else [queue]
                got = await self._call(
                    functools.partial(store.claim, self.id, queues, room, self.lease, exclude)
                )
                self._start(got)
                claimed += len(got)
            for name, spec in limited.items():
                if self.queues is not None and spec.queue not in self.queues:
                    continue
                max_running = spec.concurrency or 0
                room = min(self._free(), max_running)
                if room <= 0:
                    continue
                asked += room
                got = await self._call(
                    functools.partial(
                        store.claim_limited,
                        self.id,
                        self.queues,
                        name,
                        room,
                        self.lease,
                        max_running,
                    )
                )
                self._start(got)
                claimed += len(got)
            if claimed == 0 or claimed < asked:
                return

    def _queue_order(self) -> list[str | None]:
        """The queues served, starting one further each time so none is always last."""
        if self.queues is None:
            return [None]
        turn = self._queue_turn
        self._queue_turn = (turn + 1) % len(self.queues)
        return [*self.queues[turn:], *self.queues[:turn]]

    def _room(self, queue: str | None) -> int:
        room = self._free()
        if queue is not None and queue in self.queue_limits:
            running = sum(1 for r in self._running.values() if r.job.queue == queue)
            room = min(room, self.queue_limits[queue] - running)
        return room

    def _start(self, jobs: list[Job]) -> None:
        assert self._loop is not None
        for job in jobs:
            self.stats.claimed += 1
            spec = self.app.registry.get(job.name)
            store = self.app.store
            ctx = JobContext(
                job,
                write_progress=functools.partial(
                    _write_progress, store, self.id, job.id, job.attempt
                ),
                loop=self._loop,
                executor=self._db,
            )
            run = _Running(job=job, spec=spec, ctx=ctx, started=time.monotonic())
            self._running[job.id] = run
            run.task = self._loop.create_task(self._execute(run), name=f"hourhand-job-{job.id}")
            timeout = job.timeout if job.timeout is not None else (spec.timeout if spec else None)
            if timeout:
                run.timer = self._loop.call_later(timeout, self._interrupt, job.id, "timeout")

    # -- running --------------------------------------------------------------------------
    def _interrupt(self, job_id: int, reason: str) -> None:
        """Stop a running job: cancelled, timeout, shutdown or lost. Async handlers are
        cancelled; sync ones are signalled through ctx.cancel_event, and abandoned unless
        the reason is a cancellation (which waits for the handler to notice)."""
        run = self._running.get(job_id)
        if run is None or run.interrupt is not None or run.handler_done:
            return
        run.interrupt = reason
        run.ctx.cancel_reason = reason
        run.ctx.cancel_event.set()
        is_sync = run.spec is not None and not run.spec.is_async
        if run.task is not None and not (is_sync and reason == "cancelled"):
            run.task.cancel()

    async def _execute(self, run: _Running) -> None:
        job, spec = run.job, run.spec
        end: AttemptEnd | None = None
        try:
            if spec is None:
                raise UnknownJobType(
                    f"unknown job type {job.name!r}: it is not registered in this worker's app"
                )
            if spec.is_async:
                result = await spec.handler(run.ctx, **job.args)
            else:
                result = await _in_thread(spec.handler, run.ctx, job.args, self._loop)
            result_json = None if result is None else _encode_result(result)
        except asyncio.CancelledError:
            if run.interrupt is None:  # not ours: the handler cancelled itself
                end = self._failure(run, Outcome.FAILED, "CancelledError: handler was cancelled")
            else:
                end = self._interrupted(run)
        except BaseException as exc:  # nothing a handler raises stops the worker
            end = self._failure_from(run, exc)
        else:
            if run.interrupt == "lost":
                end = None
            elif run.interrupt in ("timeout", "shutdown"):
                end = self._interrupted(run)  # finished just as it was stopped
            else:
                self._done.append(
                    Completion(job.id, job.attempt, result_json, time.monotonic() - run.started)
                )
                assert self._flush_wake is not None
                self._flush_wake.set()
        finally:
            run.handler_done = True
            if run.timer is not None:
                run.timer.cancel()
        if end is not None:
            await self._end(end)
        self._running.pop(job.id, None)
        assert self._wake is not None
        self._wake.set()

    def _interrupted(self, run: _Running) -> AttemptEnd | None:
        reason = run.interrupt
        if reason == "timeout":
            return self._failure(
                run, Outcome.TIMEOUT, "TimeoutError: the attempt exceeded its timeout"
            )
        if reason == "cancelled":
            return self._end_as(run, Outcome.CANCELLED, JobState.CANCELLED, "cancelled on request")
        if reason == "shutdown":
            return self._end_as(
                run, Outcome.INTERRUPTED, JobState.QUEUED, "interrupted: the worker shut down"
            )
        return None  # lost: another worker holds the job; nothing of ours may be written

    def _failure_from(self, run: _Running, exc: BaseException) -> AttemptEnd:
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        tb = "".join(traceback.format_exception(exc))
        if run.interrupt == "cancelled":
            return self._end_as(run, Outcome.CANCELLED, JobState.CANCELLED, message, tb=tb)
        if isinstance(exc, DoNotRetry):
            return self._end_as(run, Outcome.FAILED, JobState.FAILED, message, tb=tb)
        retry_in = exc.after if isinstance(exc, RetryAfter) else None
        return self._failure(run, Outcome.FAILED, message, tb, retry_in)

    def _failure(
        self,
        run: _Running,
        outcome: Outcome,
        message: str,
        tb: str | None = None,
        retry_in: float | None = None,
    ) -> AttemptEnd:
        duration = time.monotonic() - run.started
        return retry_end(run.job, run.spec, self.id, outcome, message, tb, retry_in, duration)

    def _end_as(
        self,
        run: _Running,
        outcome: Outcome,
        state: JobState,
        message: str,
        tb: str | None = None,
    ) -> AttemptEnd:
        return AttemptEnd(
            job_id=run.job.id,
            attempt=run.job.attempt,
            worker_id=self.id,
            outcome=outcome,
            new_state=state,
            error=message,
            traceback=tb,
            duration=time.monotonic() - run.started,
        )

    async def _end(self, end: AttemptEnd) -> None:
        self.stats.failed += end.outcome != Outcome.COMPLETED
        self.stats.by_outcome[end.outcome] = self.stats.by_outcome.get(end.outcome, 0) + 1
        for delay in (0.0, 0.1, 0.5, 1.0, 2.0):
            await asyncio.sleep(delay)
            try:
                applied = await self._call(functools.partial(self.app.store.end_attempt, end))
            except Exception:
                logger.exception("recording the end of job %d failed; retrying", end.job_id)
                continue
            if applied:
                logger.info(
                    "job %d attempt %d: %s -> %s",
                    end.job_id,
                    end.attempt,
                    end.outcome,
                    end.new_state,
                )
            else:
                self.stats.fenced += 1
                logger.warning(
                    "job %d attempt %d: not recorded, the job is no longer held by this worker",
                    end.job_id,
                    end.attempt,
                )
            return
        logger.error("gave up recording the end of job %d; its lease will expire", end.job_id)

    # -- completions ----------------------------------------------------------------------
    async def _flush_loop(self) -> None:
        """Record completions as they come; never cancelled, so no batch is dropped."""
        assert self._flush_wake is not None
        while not (self._flush_closing and not self._done):
            await self._flush_wake.wait()
            self._flush_wake.clear()
            await self._flush()

    async def _flush(self) -> None:
        failures = 0
        while self._done:
            batch, self._done = self._done, []
            try:
                done = await self._call(functools.partial(self.app.store.complete, self.id, batch))
            except Exception:
                logger.exception("recording %d completions failed; retrying", len(batch))
                self._done = batch + self._done
                failures += 1
                if self._flush_closing and failures >= SHUTDOWN_FLUSH_TRIES:
                    logger.error(
                        "giving up on recording %d completions; those jobs will be rescued "
                        "when their lease expires and run again",
                        len(self._done),
                    )
                    self._done = []
                    return
                await asyncio.sleep(ERROR_BACKOFF)
                continue
            self.stats.completed += len(done)
            if len(done) < len(batch):
                lost = sorted({c.job_id for c in batch} - set(done))
                self.stats.fenced += len(lost)
                logger.warning(
                    "completion not recorded for jobs %s: no longer held by this worker", lost
                )

    # -- heartbeats and rescue ------------------------------------------------------------
    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            held = [
                (r.job.id, r.job.attempt) for r in self._running.values() if r.interrupt != "lost"
            ]
            if not held:
                continue
            try:
                beat = await self._call(
                    functools.partial(self.app.store.heartbeat, self.id, held, self.lease)
                )
            except Exception:
                logger.exception("heartbeat failed")
                continue
            for job_id, _ in held:
                if job_id not in beat.alive and job_id in self._running:
                    logger.warning("job %d: lease lost to another worker; stopping it", job_id)
                    self._interrupt(job_id, "lost")
            for job_id in beat.cancel_requested:
                self._interrupt(job_id, "cancelled")

    async def _rescue_loop(self) -> None:
        while True:
            await asyncio.sleep(self.lease / 2 * random.uniform(0.8, 1.2))
            try:
                await self.rescue()
            except Exception:
                logger.exception("rescuing expired jobs failed")

    async def rescue(self) -> int:
        """Fail (and retry by policy) running jobs whose lease expired: their worker died or
        froze. Fenced: a job whose owner heartbeats meanwhile is left alone."""
        rescued = 0
        for job in await self._call(functools.partial(self.app.store.expired, RESCUE_BATCH)):
            end = retry_end(
                job,
                self.app.registry.get(job.name),
                job.worker_id or "",
                Outcome.LOST,
                f"worker lost: {job.worker_id} stopped heartbeating and its lease expired",
                None,
                None,
                None,
                require_expired=True,
            )
            if await self._call(functools.partial(self.app.store.end_attempt, end)):
                rescued += 1
                logger.warning("job %d rescued from lost worker %s", job.id, job.worker_id)
        return rescued

    # -- shutdown -------------------------------------------------------------------------
    async def _drain(self) -> None:
        if self._running and not self._forced:
            logger.info("waiting up to %.0fs for %d running jobs", self.grace, len(self._running))
            deadline = time.monotonic() + self.grace
            while self._running and not self._forced and time.monotonic() < deadline:
                tasks = [r.task for r in self._running.values() if r.task is not None]
                await asyncio.wait(tasks, timeout=min(0.1, deadline - time.monotonic()))
        for job_id in list(self._running):
            self._interrupt(job_id, "shutdown")
        tasks = [r.task for r in self._running.values() if r.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


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


def _write_progress(
    store: Any, worker_id: str, job_id: int, attempt: int, percent: float, message: str | None
) -> None:
    if not store.set_progress(worker_id, job_id, attempt, percent, message):
        logger.warning("job %d: progress not recorded, the job is no longer held", job_id)


def _encode_result(result: Any) -> str:
    try:
        return json.dumps(result, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise DoNotRetry(f"the handler's result is not JSON-serializable: {exc}") from exc


def _in_thread(
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
