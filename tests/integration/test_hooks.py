"""Hooks (hourhand.hooks) with a real worker, on both stores: what runs when, in which order,
with which result, and that nothing a hook does (raise, block, hang) harms the job or the
worker."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass

import pytest

from hourhand import (
    AttemptResult,
    DoNotRetry,
    Hourhand,
    JobContext,
    JobState,
    Outcome,
    Retry,
)
from hourhand import hooks as hooks_module
from hourhand.store import AttemptEnd
from tests.conftest import wait_until

SECRET = "s3cr3t-argument-value"  # an argument value that must never reach a log line


@dataclass(frozen=True)
class Seen:
    point: str
    job_id: int
    attempt: int
    result: AttemptResult | None
    thread: str
    label: str = ""


class Tape:
    """Hooks that write down every call, from any thread."""

    def __init__(self) -> None:
        self.calls: list[Seen] = []
        self._lock = threading.Lock()

    def add(
        self, point: str, ctx: JobContext, result: AttemptResult | None, label: str = ""
    ) -> None:
        with self._lock:
            self.calls.append(
                Seen(point, ctx.job_id, ctx.attempt, result, threading.current_thread().name, label)
            )

    def of(self, job_id: int, point: str | None = None) -> list[Seen]:
        with self._lock:
            return [c for c in self.calls if c.job_id == job_id and point in (None, c.point)]

    def install(self, hh: Hourhand, job: str | None = None, label: str = "") -> None:
        """Sync hooks at all four points (for ``job`` only, if given)."""

        def before(ctx: JobContext) -> None:
            self.add("before_job", ctx, None, label)

        def after(ctx: JobContext, result: AttemptResult) -> None:
            self.add("after_job", ctx, result, label)

        def failure(ctx: JobContext, result: AttemptResult) -> None:
            self.add("on_failure", ctx, result, label)

        def dead(ctx: JobContext, result: AttemptResult) -> None:
            self.add("on_dead", ctx, result, label)

        hh.before_job(before, job=job)
        hh.after_job(after, job=job)
        hh.on_failure(failure, job=job)
        hh.on_dead(dead, job=job)


def state_of(hh: Hourhand, job_id: int) -> JobState:
    return hh.get_job(job_id).state


def test_sync_and_async_hooks_run_app_ones_first_with_the_outcome(hh: Hourhand, run_worker) -> None:
    tape = Tape()
    loop_threads: list[str] = []

    @hh.job("add")
    async def add(ctx: JobContext, a: int, b: int) -> dict[str, int]:
        loop_threads.append(threading.current_thread().name)
        tape.add("handler", ctx, None)
        return {"sum": a + b}

    @hh.before_job(job="add")  # a type's hook, registered before the app's: runs after them
    async def typed_before(ctx: JobContext) -> None:
        tape.add("before_job", ctx, None, "type-async")

    @hh.before_job
    async def app_before(ctx: JobContext) -> None:
        tape.add("before_job", ctx, None, "app-async")

    @hh.after_job(job="add")
    async def typed_after(ctx: JobContext, result: AttemptResult) -> None:
        tape.add("after_job", ctx, result, "type-async")

    tape.install(hh, label="app-sync")

    job_id = hh.enqueue("add", {"a": 2, "b": 3})
    run_worker()
    wait_until(lambda: len(tape.of(job_id, "after_job")) == 2)
    calls = tape.of(job_id)
    assert [(c.point, c.label) for c in calls] == [
        ("before_job", "app-async"),
        ("before_job", "app-sync"),
        ("before_job", "type-async"),
        ("handler", ""),
        ("after_job", "app-sync"),
        ("after_job", "type-async"),
    ]
    # async hooks run on the worker's event loop (the handler's thread), sync ones on the
    # hook threads
    [loop_thread] = set(loop_threads)
    by_label = {(c.point, c.label): c for c in calls}
    assert by_label["before_job", "app-async"].thread == loop_thread
    assert by_label["after_job", "type-async"].thread == loop_thread
    assert by_label["before_job", "app-sync"].thread.startswith("hourhand-hook-")
    assert by_label["after_job", "app-sync"].thread.startswith("hourhand-hook-")
    result = by_label["after_job", "app-sync"].result
    assert result is not None
    assert (result.outcome, result.state, result.result) == (
        Outcome.COMPLETED,
        JobState.COMPLETED,
        {"sum": 5},
    )
    assert result.error is None and result.exception is None
    assert result.duration is not None and result.duration >= 0
    assert not result.will_retry and not result.failed and not result.dead
    assert state_of(hh, job_id) == JobState.COMPLETED


def test_hooks_scoped_to_a_job_type_run_for_that_type_only(hh: Hourhand, run_worker) -> None:
    tape = Tape()

    @hh.job("reports:generate")
    def generate(ctx: JobContext) -> None: ...

    @hh.job("emails:send")
    def send(ctx: JobContext) -> None: ...

    tape.install(hh, job="reports:generate")
    report = hh.enqueue("reports:generate")
    email = hh.enqueue("emails:send")
    run_worker()
    wait_until(lambda: tape.of(report, "after_job"))
    wait_until(lambda: state_of(hh, email) == JobState.COMPLETED)
    assert [c.point for c in tape.of(report)] == ["before_job", "after_job"]
    assert tape.of(email) == []


def test_a_hook_that_raises_is_logged_and_the_job_completes(
    hh: Hourhand, run_worker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hourhand")
    tape = Tape()

    @hh.job("greet")
    def greet(ctx: JobContext, name: str) -> str:
        return f"hello {name}"

    @hh.before_job
    def broken_before(ctx: JobContext) -> None:
        raise RuntimeError("before hook bug")

    @hh.after_job
    async def broken_after(ctx: JobContext, result: AttemptResult) -> None:
        raise KeyError("after hook bug")

    tape.install(hh)  # registered after the broken ones: still runs
    job_id = hh.enqueue("greet", {"name": SECRET})
    run_worker()
    wait_until(lambda: tape.of(job_id, "after_job"))
    job = hh.get_job(job_id)
    assert (job.state, job.result, job.attempt) == (JobState.COMPLETED, f"hello {SECRET}", 1)
    assert [c.point for c in tape.of(job_id)] == ["before_job", "after_job"]
    failures = [r for r in caplog.records if r.name == "hourhand.hooks"]
    messages = sorted(r.getMessage() for r in failures)
    assert messages == [
        f"hook {__name__}.{broken_after.__qualname__} (after_job) raised for job {job_id} "
        "(type 'greet') attempt 1: KeyError: 'after hook bug'",
        f"hook {__name__}.{broken_before.__qualname__} (before_job) raised for job {job_id} "
        "(type 'greet') attempt 1: RuntimeError: before hook bug",
    ]
    assert all(r.levelno == logging.ERROR and r.exc_info for r in failures)
    assert SECRET not in caplog.text  # job arguments are never logged


def test_on_dead_fires_once_when_attempts_run_out_and_never_for_a_retry(
    hh: Hourhand, run_worker
) -> None:
    tape = Tape()

    @hh.job("doomed", max_attempts=3, retry=Retry.fixed([0.05]))
    def doomed(ctx: JobContext) -> None:
        raise ConnectionError(f"attempt {ctx.attempt} failed")

    @hh.job("flaky", max_attempts=3, retry=Retry.fixed([0.05]))
    async def flaky(ctx: JobContext) -> str:
        if ctx.attempt == 1:
            raise ConnectionError("not yet")
        return "ok"

    @hh.job("invalid")
    def invalid(ctx: JobContext) -> None:
        raise DoNotRetry("bad input")

    tape.install(hh)
    doomed_id, flaky_id, invalid_id = (hh.enqueue(n) for n in ("doomed", "flaky", "invalid"))
    run_worker(poll_interval=0.05)
    wait_until(lambda: len(tape.of(doomed_id, "after_job")) == 3)
    wait_until(lambda: len(tape.of(flaky_id, "after_job")) == 2)
    wait_until(lambda: tape.of(invalid_id, "after_job"))

    assert [c.point for c in tape.of(doomed_id) if c.attempt == 3] == [
        "before_job",
        "on_failure",
        "on_dead",
        "after_job",
    ]
    assert [c.attempt for c in tape.of(doomed_id, "on_failure")] == [1, 2, 3]
    failures = [c.result for c in tape.of(doomed_id, "on_failure")]
    assert [r.will_retry for r in failures if r] == [True, True, False]
    assert [r.state for r in failures if r] == [
        JobState.RETRYING,
        JobState.RETRYING,
        JobState.FAILED,
    ]
    first = failures[0]
    assert first is not None
    assert first.outcome == Outcome.FAILED and first.error == "ConnectionError: attempt 1 failed"
    assert isinstance(first.exception, ConnectionError)
    assert "Traceback" in (first.traceback or "")
    assert first.retry_in == pytest.approx(0.05) and first.next_run_at is not None
    [dead] = tape.of(doomed_id, "on_dead")
    assert dead.attempt == 3 and dead.result is not None and dead.result.dead
    assert state_of(hh, doomed_id) == JobState.FAILED

    assert [c.point for c in tape.of(flaky_id) if c.attempt == 1] == [
        "before_job",
        "on_failure",
        "after_job",
    ]
    assert [c.point for c in tape.of(flaky_id) if c.attempt == 2] == ["before_job", "after_job"]
    assert tape.of(flaky_id, "on_dead") == []
    assert state_of(hh, flaky_id) == JobState.COMPLETED

    assert [c.point for c in tape.of(invalid_id)] == [
        "before_job",
        "on_failure",
        "on_dead",
        "after_job",
    ]


def test_timeouts_fail_and_cancels_do_not(hh: Hourhand, run_worker) -> None:
    tape = Tape()
    started = threading.Event()

    @hh.job("slow", timeout=0.2, max_attempts=1)
    async def slow(ctx: JobContext) -> None:
        await asyncio.sleep(30)

    @hh.job("waits")
    async def waits(ctx: JobContext) -> None:
        started.set()
        await asyncio.sleep(30)

    tape.install(hh)
    slow_id = hh.enqueue("slow")
    waits_id = hh.enqueue("waits")
    run_worker()
    assert started.wait(15)
    hh.cancel(waits_id)
    wait_until(lambda: tape.of(slow_id, "after_job") and tape.of(waits_id, "after_job"))

    assert [c.point for c in tape.of(slow_id)] == [
        "before_job",
        "on_failure",
        "on_dead",
        "after_job",
    ]
    timed_out = tape.of(slow_id, "on_failure")[0].result
    assert timed_out is not None and timed_out.outcome == Outcome.TIMEOUT
    assert timed_out.exception is None and "TimeoutError" in (timed_out.error or "")

    assert [c.point for c in tape.of(waits_id)] == ["before_job", "after_job"]
    cancelled = tape.of(waits_id, "after_job")[0].result
    assert cancelled is not None
    assert (cancelled.outcome, cancelled.state) == (Outcome.CANCELLED, JobState.CANCELLED)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_the_worker_survives_hooks_raising_base_exceptions(
    hh: Hourhand, run_worker, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    caplog.set_level(logging.ERROR, logger="hourhand.hooks")
    tape = Tape()
    raised = [KeyboardInterrupt(), SystemExit(3), asyncio.CancelledError()]

    @hh.job("work")
    def work(ctx: JobContext, n: int) -> int:
        return n

    for exc in raised:

        def raiser(ctx: JobContext, result: AttemptResult, exc: BaseException = exc) -> None:
            raise exc

        async def async_raiser(
            ctx: JobContext, result: AttemptResult, exc: BaseException = exc
        ) -> None:
            raise exc

        hh.after_job(raiser if kind == "sync" else async_raiser)

    tape.install(hh)
    worker = run_worker()
    first = hh.enqueue("work", {"n": 1})
    wait_until(lambda: tape.of(first, "after_job"))
    second = hh.enqueue("work", {"n": 2})  # the worker is still taking jobs
    wait_until(lambda: tape.of(second, "after_job"))
    assert hh.get_job(second).result == 2 and worker.thread.is_alive()
    logged = [r.getMessage() for r in caplog.records if f"job {first} " in r.getMessage()]
    assert [line.split("attempt 1: ")[1] for line in logged] == [
        "KeyboardInterrupt",
        "SystemExit: 3",
        "CancelledError",
    ]
    worker.stop()  # and it stops as usual


def test_a_hook_that_hangs_is_given_up_on_after_the_hook_timeout(
    hh: Hourhand, run_worker, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hooks_module, "HOOK_TIMEOUT", 0.3)
    caplog.set_level(logging.WARNING, logger="hourhand.hooks")
    release = threading.Event()
    ran: list[int] = []
    tape = Tape()

    @hh.job("work")
    def work(ctx: JobContext) -> None:
        ran.append(ctx.job_id)

    @hh.before_job
    def stuck(ctx: JobContext) -> None:
        release.wait(30)

    @hh.before_job
    async def stuck_async(ctx: JobContext) -> None:
        await asyncio.sleep(30)

    tape.install(hh)
    try:
        job_id = hh.enqueue("work")
        run_worker()
        wait_until(lambda: tape.of(job_id, "after_job"))
        assert ran == [job_id] and state_of(hh, job_id) == JobState.COMPLETED
        assert [c.point for c in tape.of(job_id)] == ["before_job", "after_job"]
        timeouts = [r.getMessage() for r in caplog.records if "did not finish" in r.getMessage()]
        assert timeouts == [
            f"hook {__name__}.{hook.__qualname__} (before_job) for job {job_id} (type 'work') "
            "attempt 1 did not finish within 0.3s; going on without it"
            for hook in (stuck, stuck_async)
        ]
    finally:
        release.set()


def test_hooks_that_block_do_not_let_leases_lapse(hh: Hourhand, run_worker) -> None:
    """A sync hook that sleeps past the lease and an async one that blocks the event loop
    past it: the heartbeat thread keeps every claim, so no job is rescued by the second
    worker and each runs once."""
    lease = 1.0  # seconds; the hooks block for more than twice that
    tape = Tape()
    blocking_started = threading.Event()
    long_job_release = threading.Event()

    @hh.job("short")
    def short(ctx: JobContext) -> None: ...

    @hh.job("long")
    def long(ctx: JobContext) -> None:
        long_job_release.wait(30)

    @hh.before_job(job="short")
    def sleepy(ctx: JobContext) -> None:
        time.sleep(lease * 2.2)

    @hh.after_job(job="short")
    async def blocks_the_loop(ctx: JobContext, result: AttemptResult) -> None:
        blocking_started.set()
        time.sleep(lease * 2.2)  # noqa: ASYNC251 (blocking the loop is the point)

    tape.install(hh, job="long")
    long_id = hh.enqueue("long")
    run_worker(lease=lease, worker_id="first")
    wait_until(lambda: tape.of(long_id, "before_job"))
    short_id = hh.enqueue("short")  # its hooks block while "long" runs
    run_worker(lease=lease, worker_id="rescuer", queues=["elsewhere"])
    assert blocking_started.wait(15)
    wait_until(lambda: state_of(hh, short_id) == JobState.COMPLETED)
    long_job_release.set()
    wait_until(lambda: state_of(hh, long_id) == JobState.COMPLETED)
    for job_id in (short_id, long_id):
        assert [a.outcome for a in hh.attempts(job_id)] == [Outcome.COMPLETED]
        assert hh.get_job(job_id).worker_id == "first"


def test_after_job_sees_a_hand_back_at_shutdown(hh: Hourhand, run_worker) -> None:
    tape = Tape()

    @hh.job("endless")
    async def endless(ctx: JobContext) -> None:
        await asyncio.sleep(30)

    tape.install(hh)
    job_id = hh.enqueue("endless")
    worker = run_worker(grace=0)
    wait_until(lambda: tape.of(job_id, "before_job"))
    worker.stop()  # returns once the worker (and its hooks) are done
    assert [c.point for c in tape.of(job_id)] == ["before_job", "after_job"]
    result = tape.of(job_id, "after_job")[0].result
    assert result is not None
    assert (result.outcome, result.state) == (Outcome.INTERRUPTED, JobState.QUEUED)
    assert not result.failed and state_of(hh, job_id) == JobState.QUEUED


def test_a_lost_claim_is_seen_by_after_job_only(hh: Hourhand, run_worker) -> None:
    """Another worker ended this worker's attempt (as a rescue does when a lease expired):
    the worker that ran it sees after_job with outcome lost and no state; on_failure is for
    the worker that recorded the end (here the test, standing in for it)."""
    tape = Tape()
    release = threading.Event()

    @hh.job("victim", retry=Retry.fixed([0.05]))
    async def victim(ctx: JobContext) -> str:
        if ctx.attempt == 1:
            while not release.is_set():
                await asyncio.sleep(0.01)
        return "second time lucky"

    tape.install(hh)
    job_id = hh.enqueue("victim")
    run_worker(lease=0.6, poll_interval=0.05, worker_id="w1")
    wait_until(lambda: tape.of(job_id, "before_job"))
    state = hh.store.end_attempt(
        AttemptEnd(
            job_id=job_id,
            attempt=1,
            worker_id="w1",
            outcome=Outcome.LOST,
            new_state=JobState.RETRYING,
            error="worker lost: w1 stopped heartbeating and its lease expired",
            retry_in=0.05,
        )
    )
    assert state == JobState.RETRYING
    wait_until(lambda: len(tape.of(job_id, "after_job")) == 2)
    release.set()
    # (attempt 2 may run before this worker notices it lost attempt 1)
    ends = sorted(tape.of(job_id, "after_job"), key=lambda c: c.attempt)
    first, second = (c.result for c in ends)
    assert first is not None and second is not None
    assert (first.outcome, first.state) == (Outcome.LOST, None)
    assert (second.outcome, second.state) == (Outcome.COMPLETED, JobState.COMPLETED)
    assert tape.of(job_id, "on_failure") == [] and tape.of(job_id, "on_dead") == []


@pytest.mark.parametrize("max_attempts", [1, 2])
def test_a_rescue_fires_on_failure_and_on_dead_in_the_rescuing_worker(
    hh: Hourhand, run_worker, max_attempts: int
) -> None:
    """A worker died holding a job (claimed here with a short lease that nobody renews):
    the worker that rescues it runs on_failure (outcome lost), and on_dead when that was
    the last attempt; before_job and after_job did not run there for that attempt."""
    tape = Tape()

    @hh.job("orphan", max_attempts=max_attempts, retry=Retry.fixed([0.05]))
    def orphan(ctx: JobContext) -> str:
        return "done"

    tape.install(hh)
    job_id = hh.enqueue("orphan")
    [claimed] = hh.store.claim("dead-worker", None, 1, 0.3, ["orphan"])
    assert claimed.id == job_id
    run_worker(lease=0.6, poll_interval=0.05)
    if max_attempts == 1:
        wait_until(lambda: tape.of(job_id, "on_dead"))
        assert [c.point for c in tape.of(job_id)] == ["on_failure", "on_dead"]
        assert state_of(hh, job_id) == JobState.FAILED
    else:
        wait_until(lambda: tape.of(job_id, "after_job"))
        # (the retry may start before the rescue's on_failure hook has run)
        points = sorted(c.point for c in tape.of(job_id))
        assert points == ["after_job", "before_job", "on_failure"]
        assert state_of(hh, job_id) == JobState.COMPLETED
    lost = tape.of(job_id, "on_failure")[0]
    assert lost.attempt == 1 and lost.result is not None
    assert (lost.result.outcome, lost.result.rescued) == (Outcome.LOST, True)
    assert lost.result.will_retry == (max_attempts == 2)
    assert "worker lost: dead-worker" in (lost.result.error or "")


def test_hook_calls_stay_off_the_database_threads(hh: Hourhand, run_worker) -> None:
    """Sync hooks never take the threads the worker's database calls use: with every hook
    thread busy, jobs are still claimed and recorded."""
    release = threading.Event()
    done: list[int] = []

    @hh.job("quick")
    def quick(ctx: JobContext) -> None: ...

    @hh.after_job
    def slow_after(ctx: JobContext, result: AttemptResult) -> None:
        release.wait(30)
        done.append(ctx.job_id)

    ids = [hh.enqueue("quick") for _ in range(hooks_module.HOOK_THREADS * 3)]
    run_worker()
    try:
        wait_until(lambda: all(state_of(hh, i) == JobState.COMPLETED for i in ids))
        assert done == []
    finally:
        release.set()
    wait_until(lambda: sorted(done) == ids)
