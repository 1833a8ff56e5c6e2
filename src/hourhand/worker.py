"""The worker: claims jobs, runs their handlers, records the outcome.

One asyncio loop per worker process runs:

- the fetch loop: promotes due jobs, claims batches up to the free capacity (only job types
  this worker knows, respecting per-queue limits of this worker, per-job-type concurrency and
  rate limits across all workers, and paused queues: see :mod:`hourhand.gate`), starts one
  task per job, then sleeps until woken (a notification, a freed slot, a rate limit's window
  freeing) or the poll interval;
- the recorder (:mod:`hourhand.recorder`): records outcomes, completions in batches;
- the rescue loop: fails (and retries, by policy) jobs whose lease expired elsewhere.

Threads that handlers cannot block keep the leases (:mod:`hourhand.leases`): one heartbeats
every job the worker holds, one watches the loop and names a handler that blocks it.
Store calls are blocking; they run in a small thread pool. Sync handlers run in a thread of
their own each, so one that overruns its timeout can be abandoned without taking a slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from hourhand import checks
from hourhand.claiming import Claims
from hourhand.errors import DatabaseUnavailable, DoNotRetry, InvalidInput
from hourhand.gate import ClaimGate
from hourhand.hooks import HookRunner
from hourhand.jobs import Job, JobContext, JobState, Outcome
from hourhand.leases import Leases, LoopWatchdog, Pair
from hourhand.outage import Backoff, Outage
from hourhand.presence import Presence
from hourhand.ratelimits import RateLimit
from hourhand.recorder import Recorder, WorkerStats
from hourhand.running import (
    Run,
    describe,
    encode_result,
    in_thread,
    log_end,
    retry_end,
    write_progress,
)
from hourhand.store import AttemptEnd, Completion
from hourhand.store.base import TypeClaim

if TYPE_CHECKING:
    from hourhand.app import Hourhand

__all__ = ["Worker", "WorkerStats", "parse_queues", "retry_end"]

logger = logging.getLogger(__name__)
# jitter from a generator of our own: the global `random` state belongs to the application
_jitter = random.Random()

T = TypeVar("T")

DEFAULT_CONCURRENCY = 10  # jobs running at once in one worker
DEFAULT_LEASE = 30.0  # seconds a claim lasts without a heartbeat
DEFAULT_POLL_INTERVAL = 1.0  # seconds between polls when no notification comes
DEFAULT_GRACE = 25.0  # seconds running jobs get to finish after SIGTERM
MAX_CONCURRENCY = 100_000
MAX_LEASE = 86400.0  # seconds
MAX_POLL_INTERVAL = 3600.0  # seconds
MIN_WAIT = 0.005  # seconds: the shortest wait for a job about to become due
RESCUE_BATCH = 100  # expired jobs rescued per pass
DB_THREADS = 4  # threads for store calls
LISTEN_SLICE = 0.25  # seconds the listener waits at a time, so a stop is noticed quickly
STOP_WAIT = 5.0  # seconds stopped handlers get to end before they are abandoned
RECORD_AT_STOP = 15.0  # seconds a stopping worker keeps trying to record outcomes


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
            if not limit.isdigit() or not 1 <= int(limit) <= MAX_CONCURRENCY:
                raise InvalidInput(
                    f"bad queue limit in {part!r}: expected queue:N with 1 <= N <= "
                    f"{MAX_CONCURRENCY}"
                )
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
        self.app = app
        self.queues = list(queues) if queues else None
        for queue in self.queues or []:
            checks.text("queue", queue)
        self.queue_limits = dict(queue_limits or {})
        unknown = set(self.queue_limits) - set(self.queues or [])
        if unknown:
            raise InvalidInput(f"queue limits for queues this worker does not serve: {unknown}")
        self.concurrency = checks.integer("concurrency", concurrency, 1, MAX_CONCURRENCY)
        self.lease = checks.seconds("lease", lease, minimum=0.3, maximum=MAX_LEASE)
        self.poll_interval = checks.seconds(
            "poll_interval", poll_interval, maximum=MAX_POLL_INTERVAL, inclusive=False
        )
        self.grace = checks.seconds("grace", grace, maximum=MAX_LEASE)
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        checks.text("worker id", self.id)
        self.stats = WorkerStats()
        self._hooks = HookRunner(app.hooks, app.registry)  # checks hooks' job= scopes
        self._with_hooks = len(app.hooks) > 0  # (registered before the worker is made)
        self._runs: dict[Pair, Run] = {}
        self._stopping = False
        self._forced = False
        self._claim_uncertain = False  # a claim failed: it may have claimed jobs we never got
        self._claims = Claims(self._free, lambda: not self._stopping, self._hold)
        self._direct_names: list[str] | None = None  # what the listener may claim by itself
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._force_event: asyncio.Event | None = None
        self._db: ThreadPoolExecutor | None = None
        self._leases: Leases | None = None
        self._watchdog: LoopWatchdog | None = None
        self._recorder: Recorder | None = None
        self._queue_turn = 0
        self._gate = ClaimGate()  # paused queues, rate-limit waits
        self._fetch_outage = Outage("fetching jobs", logger)
        self.started = threading.Event()  # set once the worker is fetching

    # -- control --------------------------------------------------------------------------
    def stop(self, *, force: bool = False) -> None:
        """Begin a graceful stop (thread-safe): stop fetching, let running jobs finish
        within the grace period, hand the rest back. ``force`` (or a second call) skips
        the grace period and stops waiting for handlers that ignore being stopped."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self._stopping = True
            self._forced = self._forced or force
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._begin_stop, force)

    def _begin_stop(self, force: bool) -> None:
        if self._stopping and not force:
            force = True  # a second signal: do not wait
        if not self._stopping:
            logger.info("worker %s stopping: %d jobs running", self.id, len(self._runs))
        elif force and not self._forced:
            logger.warning(
                "worker %s: stopping now, without waiting for %d running job(s); "
                "they are handed back",
                self.id,
                len(self._runs),
            )
        self._stopping = True
        self._forced = self._forced or force
        assert self._wake is not None and self._force_event is not None
        self._wake.set()
        if self._forced:
            self._force_event.set()

    def run(self, *, install_signals: bool = True) -> None:
        """Run until SIGTERM/SIGINT (or :meth:`stop`). A second signal skips the grace.

        Handlers that ignore being stopped are abandoned, not awaited, at the end."""
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.run_async(install_signals=install_signals))
        finally:
            loop.close()

    async def run_async(self, *, install_signals: bool = False) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._force_event = asyncio.Event()
        if self._forced:
            self._force_event.set()
        store = await asyncio.to_thread(lambda: self.app.store)  # open and migrate
        self._db = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="hourhand-db")
        self._leases = Leases(
            store,
            self.id,
            self.lease,
            on_lost=functools.partial(self._from_thread, self._on_lost),
            on_cancel=functools.partial(self._from_thread, self._on_cancel_pairs),
        )
        self._watchdog = LoopWatchdog(self._loop, self._describe_task)
        self._recorder = Recorder(
            store,
            self.id,
            self._call,
            self._leases,
            self.stats,
            on_recorded=self._wake.set,
            on_settled=self._hooks.settled if self._with_hooks else None,
        )
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._loop.add_signal_handler(sig, self._begin_stop, False)
        self._leases.start()
        self._watchdog.start()
        watcher = store.watch()
        listener = threading.Thread(
            target=self._listen, args=(watcher,), name="hourhand-listen", daemon=True
        )
        listener.start()
        logger.info(
            "worker %s started: queues=%s concurrency=%d lease=%gs job types=%s",
            self.id,
            ",".join(self.queues) if self.queues else "*",
            self.concurrency,
            self.lease,
            ",".join(sorted(self.app.registry)) or "none",
        )
        presence = Presence.of_worker(self).start()  # hourhand workers lists it
        rescuer = asyncio.create_task(self._rescue_loop(), name="hourhand-rescue")
        recorder = asyncio.create_task(self._recorder.run(), name="hourhand-recorder")
        try:
            self.started.set()
            await self._fetch_loop()
            await self._call(self._claims_settled)  # the listener's last claim, if any
            self._claims.start(self._start)
            if self._claim_uncertain:  # a lost claim reply: give its jobs back now
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._call(self._release_unheld), STOP_WAIT)
            await self._drain()
        finally:
            self._stopping = True  # (already, unless the run was cancelled): no more claims
            rescuer.cancel()
            await asyncio.gather(rescuer, return_exceptions=True)
            self._recorder.close(RECORD_AT_STOP)
            await recorder  # records what is left (leases still held meanwhile)
            await self._hooks.close()  # the hooks of the last ends
            if install_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    self._loop.remove_signal_handler(sig)
            listener.join(timeout=LISTEN_SLICE + 5)
            self._give_back_unstarted()
            watcher.close()
            self._watchdog.stop()
            self._leases.stop()
            self._db.shutdown(wait=True)
            presence.stop()
            logger.info("worker %s stopped", self.id)

    def _give_back_unstarted(self) -> None:
        """Jobs claimed and never started (a run cancelled between a claim and its start):
        give them back now rather than after their lease (best effort)."""
        assert self._leases is not None
        unstarted = self._claims.take_all()
        if not unstarted:
            return
        self._leases.release((job.id, job.attempt) for job in unstarted)
        held = [job_id for job_id, _ in self._leases.held()]
        with contextlib.suppress(Exception):
            self.app.store.release_unheld(self.id, held)

    # -- helpers --------------------------------------------------------------------------
    async def _call(self, fn: Callable[[], T]) -> T:
        assert self._loop is not None
        return await self._loop.run_in_executor(self._db, fn)

    def _from_thread(self, callback: Callable[[Any], None], arg: Any) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(callback, arg)

    def _describe_task(self, name: str) -> str:
        _, _, rest = name.partition("hourhand-job-")
        job_id, _, attempt = rest.partition("-")
        if not job_id.isdigit() or not attempt.isdigit():
            return f"task {name!r}"
        run = self._runs.get((int(job_id), int(attempt)))
        kind = f" (type {run.job.name!r})" if run is not None else ""
        return f"job {job_id}{kind}, attempt {attempt}"

    def _listen(self, watcher: Any) -> None:
        """Thread: wait for notifications (or database changes) and wake the fetch loop."""
        while not self._stopping:
            try:
                woken = watcher.wait(min(self.poll_interval, LISTEN_SLICE))
                cancels = watcher.cancel_requests()
            except Exception:
                logger.exception("waiting for work failed")
                time.sleep(LISTEN_SLICE)
                continue
            if cancels:
                self._from_thread(self._on_cancel_ids, cancels)
            queues_changed = watcher.queues_changed()
            if queues_changed:  # (before the wake-up: queued in this order)
                self._from_thread(self._on_queues_changed, None)
            if woken and not self._stopping:
                if not queues_changed:  # (else the paused queues are read first)
                    self._claim_from_listener()
                self._from_thread(self._wake_up, None)

    def _claim_from_listener(self) -> None:
        """Thread: work is ready; claim it here rather than wake the event loop to ask the
        thread pool to (the shortest pickup). Only in the plain case: any job type without
        a concurrency or rate limit, no paused queue, no per-queue limit; the event loop is
        woken anyway and claims whatever else there is."""
        names = self._direct_names
        if names is None or self._gate.paused or self.queue_limits:
            return
        if self._gate.must_read(time.monotonic()):
            return  # the paused queues may have changed: the fetch loop reads them first
        store = self.app.store

        def take(room: int) -> TypeClaim:
            return TypeClaim(store.claim(self.id, self.queues, room, self.lease, names))

        try:
            got = self._claims.claim(take, self.concurrency)
        except Exception:  # the fetch loop, woken next, tries again and reports
            logger.debug("claim from the listener failed", exc_info=True)
            self._from_thread(self._claim_failed, None)  # it may have claimed all the same
            return
        if got.jobs:
            self._from_thread(self._start_claimed, None)

    def _hold(self, pairs: Iterable[Pair]) -> None:
        assert self._leases is not None
        self._leases.hold(pairs)

    def _claim_failed(self, _: object = None) -> None:
        self._claim_uncertain = True  # the reply may have been lost, not the claim

    def _start_claimed(self, _: object = None) -> None:
        self._claims.start(self._start)

    def _claims_settled(self) -> None:
        """Thread: wait for a claim under way (the listener's) to end."""
        with self._claims.quiet():
            pass

    def _wake_up(self, _: object = None) -> None:
        assert self._wake is not None
        self._wake.set()

    def _on_queues_changed(self, _: object = None) -> None:
        self._gate.queues_changed()
        self._wake_up()

    # -- fetching -------------------------------------------------------------------------
    async def _fetch_loop(self) -> None:
        assert self._wake is not None
        next_promote = 0.0
        backoff = Backoff(first=0.2, longest=self.poll_interval * 5)
        while not self._stopping:
            self._wake.clear()
            timeout = self.poll_interval
            try:
                if time.monotonic() >= next_promote:
                    _, next_in = await self._call(self.app.store.promote_due)
                    wait = self.poll_interval
                    if next_in is not None:  # by the database's clock, not ours
                        wait = min(wait, max(next_in, MIN_WAIT))
                    next_promote = time.monotonic() + wait
                await self._fill()
                now = time.monotonic()
                timeout = max(0.0, min(timeout, next_promote - now))
                rate_free = self._gate.next_free(now)  # a rate-limited type may start then
                if rate_free is not None:
                    timeout = min(timeout, max(rate_free, MIN_WAIT))
                self._fetch_outage.ok()
                backoff.reset()
            except Exception as exc:
                self._fetch_outage.failed(exc)
                timeout = backoff.next()
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _free(self) -> int:
        """Free slots: running handlers take one each, and so do outcomes waiting to be
        recorded beyond one batch's worth (so that claims stop while recording lags)."""
        assert self._recorder is not None
        backlog = max(0, self._recorder.pending - self.concurrency)
        return self.concurrency - len(self._runs) - backlog

    async def _fill(self) -> None:
        """Claim until capacity is full or nothing more is ready."""
        assert self._leases is not None
        if self._claim_uncertain:  # give back what a lost claim reply may have taken
            self._claim_uncertain = False  # (a claim failing meanwhile sets it again)
            try:
                released = await self._call(self._release_unheld)
            except BaseException:
                self._claim_uncertain = True
                raise
            if released:
                logger.warning(
                    "gave back jobs %s: claimed for this worker by a request whose reply was "
                    "lost with the connection",
                    released,
                )
        free_names = sorted(n for n, s in self.app.registry.items() if not s.limited)
        limited = {n: s for n, s in self.app.registry.items() if s.limited}
        served = await self._gate.claimable(self._call, self.app.store, self.queues)
        self._direct_names = free_names or None  # (once the paused queues are known)
        while self._free() > 0 and not self._stopping:
            claimed = asked = 0
            for queue in self._queue_order(served):
                queues = None if queue is None else [queue]
                room = self._room(queue)
                if room > 0 and free_names:
                    asked += room
                    got = await self._claim(queues, room, free_names)
                    claimed += len(got)
                for name, spec in limited.items():
                    room = min(self._room(queue), spec.concurrency or MAX_CONCURRENCY)
                    if room <= 0 or self._gate.waiting(name, time.monotonic()):
                        continue
                    asked += room
                    take = functools.partial(
                        self._claim_limited, queues, name, spec.concurrency, spec.rate_limit
                    )
                    took = await self._claim_type(take, room)
                    self._gate.rate_limited(name, took.free_in, time.monotonic())
                    claimed += len(took.jobs)
            if claimed == 0 or claimed < asked:
                return

    async def _claim(self, queues: list[str] | None, room: int, names: list[str]) -> list[Job]:
        """Claim up to ``room`` jobs of the types ``names`` (without limits)."""
        store, lease = self.app.store, self.lease

        def take(n: int) -> TypeClaim:
            return TypeClaim(store.claim(self.id, queues, n, lease, names))

        return (await self._claim_type(take, room)).jobs

    def _claim_limited(
        self,
        queues: list[str] | None,
        name: str,
        max_running: int | None,
        rate: RateLimit | None,
        room: int,
    ) -> TypeClaim:
        return self.app.store.claim_limited(
            self.id, queues, name, room, self.lease, max_running, rate
        )

    async def _claim_type(self, take: Callable[[int], TypeClaim], room: int) -> TypeClaim:
        """Claim up to ``room`` jobs with ``take(n)`` (in turn with the listener's claims,
        see :mod:`hourhand.claiming`) and start them."""
        try:
            got = await self._call(functools.partial(self._claims.claim, take, room))
        except Exception:
            self._claim_uncertain = True  # the reply may have been lost, not the claim
            raise
        self._claims.start(self._start)
        return got

    def _release_unheld(self) -> list[int]:
        """Thread: give back the jobs claimed for this worker that it does not have (a
        claim whose reply was lost with the connection). No claim runs meanwhile."""
        assert self._leases is not None
        with self._claims.quiet() as claimed:
            held = [job_id for job_id, _ in self._leases.held()] + claimed
            return self.app.store.release_unheld(self.id, held)

    def _queue_order(self, queues: list[str | None]) -> list[str | None]:
        """The queues to claim from, starting one further each time so none is always last."""
        if len(queues) <= 1:
            return queues
        turn = self._queue_turn % len(queues)
        self._queue_turn = turn + 1
        return [*queues[turn:], *queues[:turn]]

    def _room(self, queue: str | None) -> int:
        room = self._free()
        if queue is not None and queue in self.queue_limits:
            running = sum(1 for r in self._runs.values() if r.job.queue == queue)
            room = min(room, self.queue_limits[queue] - running)
        return room

    def _start(self, jobs: list[Job]) -> None:
        assert self._loop is not None and self._leases is not None
        # (their leases are held already: from the moment they were claimed, see claiming)
        self.stats.claimed += len(jobs)
        loop, registry, store, worker_id, runs = (
            self._loop,
            self.app.registry,
            self.app.store,
            self.id,
            self._runs,
        )
        for job in jobs:  # (a busy worker runs this for every job: names looked up once)
            spec = registry.get(job.name)
            progress = functools.partial(write_progress, store, worker_id, job.id, job.attempt)
            ctx = JobContext(job, progress, loop, self._db)
            timeout = job.timeout if job.timeout is not None else (spec.timeout if spec else None)
            run = Run(job, spec, ctx, worker_id, timeout)
            runs[(job.id, job.attempt)] = run
            run.task = loop.create_task(
                self._execute(run), name=f"hourhand-job-{job.id}-{job.attempt}"
            )
            if timeout:
                run.timer = loop.call_later(timeout, self._interrupt, run, "timeout")

    # -- stopping jobs --------------------------------------------------------------------
    def _on_lost(self, pairs: list[Pair]) -> None:
        for pair in pairs:
            run = self._runs.get(pair)
            if run is not None and not run.handler_done:
                logger.warning(
                    "job %d attempt %d: lease lost to another worker; stopping it", *pair
                )
                self._interrupt(run, "lost")

    def _on_cancel_pairs(self, pairs: list[Pair]) -> None:
        for pair in pairs:
            run = self._runs.get(pair)
            if run is not None:
                self._interrupt(run, "cancelled")

    def _on_cancel_ids(self, job_ids: list[int]) -> None:
        wanted = set(job_ids)
        for run in list(self._runs.values()):
            if run.job.id in wanted:
                self._interrupt(run, "cancelled")

    def _interrupt(self, run: Run, reason: str) -> None:
        """Stop a running job: cancelled, timeout, shutdown or lost. Async handlers are
        cancelled. Sync ones are signalled through ctx.cancel_event; on a timeout or a lost
        claim they are abandoned at once (their slot freed, their thread left to end), on a
        cancellation or a shutdown they get time to notice (a shutdown abandons them after
        STOP_WAIT). A timeout, a lost claim or a shutdown overrides a cancellation the
        handler has not noticed (the database turns whatever end follows into cancelled)."""
        if run.handler_done or self._runs.get(run.pair) is not run:
            return
        overrides = run.interrupt == "cancelled" and reason in ("shutdown", "timeout", "lost")
        if run.interrupt is not None and not overrides:
            return
        run.interrupt = reason
        run.ctx.request_stop(reason)
        is_sync = run.spec is not None and not run.spec.is_async
        if run.task is not None and not (is_sync and reason in ("cancelled", "shutdown")):
            run.task.cancel()

    # -- running --------------------------------------------------------------------------
    async def _execute(self, run: Run) -> None:
        job, spec = run.job, run.spec
        run.started = time.monotonic()
        outcome: Completion | AttemptEnd | None = None
        try:
            try:  # (in this coroutine: one that catches a handler's GeneratorExit and
                # returns would hand its caller a GeneratorExit instead of the value)
                if self._with_hooks:
                    await self._hooks.before(run)
                if spec is None:  # not claimed by this worker's own claims; a safety net
                    raise DoNotRetry(
                        f"unknown job type {job.name!r}: it is not registered in this worker's app"
                    )
                types = spec.types
                args = job.args if types.converts is False else types.for_handler(job.args)
                if spec.is_async:
                    result = await spec.handler(run.ctx, **args)
                else:
                    result = await in_thread(spec.handler, run.ctx, args, self._loop)
                elapsed = run.elapsed
                run.result = result
                result_json = None if result is None else encode_result(result)
            except asyncio.CancelledError:
                if run.interrupt is None:  # not ours: the handler cancelled itself
                    message = "CancelledError: handler was cancelled"
                    outcome = run.failure(Outcome.FAILED, message)
                else:
                    outcome = run.interrupted()
            except BaseException as exc:  # nothing a handler raises stops the worker
                outcome = run.raised(exc)
            else:
                outcome = self._finished(run, result_json, elapsed)
        except Exception as exc:  # the record could not be built (a retry policy that raises)
            logger.exception("job %d attempt %d: its end could not be worked out", *run.pair)
            outcome = run.ended_as(
                Outcome.FAILED, JobState.FAILED, f"its end could not be worked out: {describe(exc)}"
            )
        finally:
            run.handler_done = True
            if run.timer is not None:
                run.timer.cancel()
            if self._runs.get(run.pair) is run:
                del self._runs[run.pair]
            assert self._wake is not None
            self._wake.set()
        if not run.abandoned:
            log_end(run, outcome)
        self._record(run, outcome)

    def _finished(
        self, run: Run, result_json: str | None, elapsed: float
    ) -> Completion | AttemptEnd | None:
        """What to record of a handler that returned (None: nothing, its claim was lost)."""
        if run.interrupt == "lost":
            return None
        if run.interrupt == "timeout":
            return run.interrupted()  # finished just as it timed out
        assert run.spec is not None
        if run.timeout is not None and run.spec.is_async and elapsed > run.timeout:
            return run.overran(self._blocked_for(run))
        # done, even if a shutdown asked it to stop: record it, so it does not run again
        return Completion(run.job.id, run.job.attempt, result_json, elapsed)

    def _record(self, run: Run, outcome: Completion | AttemptEnd | None) -> None:
        assert self._recorder is not None and self._leases is not None
        if run.abandoned:
            pass  # handed back already
        elif isinstance(outcome, Completion):
            self._recorder.complete(outcome)
        elif outcome is not None:
            self._recorder.end(outcome)
        else:
            self._leases.release([run.pair])
            self._hooks.lost(run)

    def _blocked_for(self, run: Run) -> float | None:
        """How long ``run``'s handler has kept the event loop from turning, if the watchdog
        caught it doing so (called on the loop, right after the handler returned)."""
        assert self._watchdog is not None and run.task is not None
        if self._watchdog.blocker == run.task.get_name():
            return self._watchdog.stalled()
        return None

    # -- rescue ---------------------------------------------------------------------------
    async def _rescue_loop(self) -> None:
        outage = Outage("rescuing expired jobs", logger)
        while True:
            await asyncio.sleep(self.lease / 2 * _jitter.uniform(0.8, 1.2))
            try:
                await self.rescue()
            except Exception as exc:
                outage.failed(exc)
            else:
                outage.ok()

    async def rescue(self) -> int:
        """Fail (and retry by policy) running jobs whose lease expired: their worker died or
        froze. Fenced: a job whose owner heartbeats meanwhile is left alone. One job that
        cannot be rescued does not stop the others."""
        assert self._leases is not None
        rescued = 0
        for job in await self._call(functools.partial(self.app.store.expired, RESCUE_BATCH)):
            if job.worker_id == self.id and self._leases.holds((job.id, job.attempt)):
                continue  # ours: our heartbeats missed the database for a while; they resume
            try:
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
                state = await self._call(functools.partial(self.app.store.end_attempt, end))
            except DatabaseUnavailable:
                raise
            except Exception:
                logger.exception("job %d: rescue failed; trying the others", job.id)
                continue
            if state is not None:
                rescued += 1
                self._hooks.rescued(job, end, state)
                logger.warning(
                    "job %d rescued from lost worker %s: %s", job.id, job.worker_id, state
                )
        return rescued

    # -- shutdown -------------------------------------------------------------------------
    async def _drain(self) -> None:
        assert self._force_event is not None
        if self._runs and not self._forced:
            logger.info("waiting up to %.0fs for %d running jobs", self.grace, len(self._runs))
            await self._wait_for_runs(self.grace)
        for run in list(self._runs.values()):
            self._interrupt(run, "shutdown")
        await self._wait_for_runs(STOP_WAIT)
        stuck = [run for run in self._runs.values() if not run.handler_done]
        if stuck:
            logger.warning(
                "worker %s: handing back %d job(s) whose handlers did not stop: %s",
                self.id,
                len(stuck),
                ", ".join(
                    self._describe_task(f"hourhand-job-{r.job.id}-{r.job.attempt}") for r in stuck
                ),
            )
        assert self._recorder is not None
        for run in stuck:
            run.abandoned = True
            del self._runs[run.pair]
            self._recorder.end(run.handback())

    async def _wait_for_runs(self, timeout: float) -> None:
        """Until the running handlers end, ``timeout`` passes, or a forced stop."""
        assert self._force_event is not None
        deadline = time.monotonic() + timeout
        while self._runs and not self._forced:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            tasks: set[asyncio.Future[Any]] = {
                r.task for r in self._runs.values() if r.task is not None
            }
            forced = asyncio.ensure_future(self._force_event.wait())
            await asyncio.wait(
                {*tasks, forced}, timeout=min(left, 0.5), return_when=asyncio.FIRST_COMPLETED
            )
            forced.cancel()
