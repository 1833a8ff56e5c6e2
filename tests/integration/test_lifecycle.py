"""The job lifecycle on both stores, with a worker running in the test process."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from hourhand import DoNotRetry, Hourhand, JobContext, JobState, Outcome, Retry, RetryAfter
from tests.conftest import wait_until


def state_of(hh: Hourhand, job_id: int) -> JobState:
    return hh.get_job(job_id).state


def test_completed_job_keeps_result_and_records_one_attempt(hh: Hourhand, run_worker) -> None:
    @hh.job("add")
    async def add(ctx: JobContext, a: int, b: int) -> dict[str, int]:
        return {"sum": a + b}

    job_id = hh.enqueue("add", {"a": 2, "b": 3})
    assert state_of(hh, job_id) == JobState.QUEUED
    run_worker()
    wait_until(lambda: state_of(hh, job_id) == JobState.COMPLETED)
    job = hh.get_job(job_id)
    assert job.result == {"sum": 5}
    assert job.attempt == 1 and job.finished_at is not None and job.error is None
    [attempt] = hh.attempts(job_id)
    assert attempt.outcome == Outcome.COMPLETED
    assert attempt.duration is not None and attempt.duration >= 0
    assert attempt.worker_id == job.worker_id


def test_sync_handler_runs_in_a_thread_and_returns_result(hh: Hourhand, run_worker) -> None:
    threads: list[str] = []

    @hh.job("sync")
    def sync(ctx: JobContext, word: str) -> str:
        threads.append(threading.current_thread().name)
        return word.upper()

    job_id = hh.enqueue("sync", {"word": "hi"})
    run_worker()
    wait_until(lambda: state_of(hh, job_id) == JobState.COMPLETED)
    assert hh.get_job(job_id).result == "HI"
    assert threads == [f"hourhand-job-{job_id}"]


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_progress_is_recorded_on_the_job(hh: Hourhand, run_worker, kind: str) -> None:
    release = threading.Event()

    if kind == "async":

        @hh.job("progress")
        async def handler(ctx: JobContext) -> None:
            await ctx.progress(40, "four of ten")
            while not release.is_set():
                await asyncio.sleep(0.01)
    else:

        @hh.job("progress")
        def handler(ctx: JobContext) -> None:
            ctx.progress(40, "four of ten")
            release.wait(10)

    job_id = hh.enqueue("progress")
    run_worker()
    job = wait_until(lambda: (j := hh.get_job(job_id)).progress is not None and j)
    assert (job.progress, job.progress_message, job.state) == (40, "four of ten", "running")
    release.set()
    wait_until(lambda: state_of(hh, job_id) == JobState.COMPLETED)


def test_fixed_retry_policy_retries_then_dead_letters(hh: Hourhand, run_worker) -> None:
    @hh.job("flaky", max_attempts=3, retry=Retry.fixed([0.05, 0.1]))
    def flaky(ctx: JobContext) -> None:
        raise ConnectionError(f"attempt {ctx.attempt} failed")

    job_id = hh.enqueue("flaky")
    run_worker(poll_interval=0.05)
    wait_until(lambda: state_of(hh, job_id) == JobState.FAILED)
    job = hh.get_job(job_id)
    assert job.attempt == 3
    assert job.error == "ConnectionError: attempt 3 failed"
    attempts = hh.attempts(job_id)
    assert [a.outcome for a in attempts] == [Outcome.FAILED] * 3
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert "Traceback" in (attempts[0].traceback or "")
    # waits between attempts follow the policy (at least the fixed delay)
    gaps = [
        (attempts[i + 1].started_at - attempts[i].finished_at).total_seconds()  # type: ignore[operator]
        for i in range(2)
    ]
    assert gaps[0] >= 0.04 and gaps[1] >= 0.09
    assert hh.list_jobs(state="failed") == [job]


def test_exponential_retry_policy_succeeds_on_a_later_attempt(hh: Hourhand, run_worker) -> None:
    @hh.job("eventually", retry=Retry.exponential(base=0.05, factor=2, cap=0.2, jitter=0))
    async def eventually(ctx: JobContext) -> int:
        if ctx.attempt < 3:
            raise RuntimeError("not yet")
        return ctx.attempt

    job_id = hh.enqueue("eventually")
    run_worker(poll_interval=0.05)
    wait_until(lambda: state_of(hh, job_id) == JobState.COMPLETED)
    assert hh.get_job(job_id).result == 3
    outcomes = [a.outcome for a in hh.attempts(job_id)]
    assert outcomes == [Outcome.FAILED, Outcome.FAILED, Outcome.COMPLETED]


def test_retry_none_fails_at_first_error(hh: Hourhand, run_worker) -> None:
    @hh.job("once", retry=Retry.none())
    def once(ctx: JobContext) -> None:
        raise ValueError("no")

    job_id = hh.enqueue("once")
    run_worker()
    wait_until(lambda: state_of(hh, job_id) == JobState.FAILED)
    assert len(hh.attempts(job_id)) == 1


def test_do_not_retry_fails_at_once_and_retry_after_sets_the_delay(
    hh: Hourhand, run_worker
) -> None:
    @hh.job("bad")
    def bad(ctx: JobContext) -> None:
        raise DoNotRetry("invalid report id")

    @hh.job("later", retry=Retry.fixed([3600]))
    def later(ctx: JobContext) -> str:
        if ctx.attempt == 1:
            raise RetryAfter(0.1, "rate limited")
        return "ok"

    bad_id = hh.enqueue("bad")
    later_id = hh.enqueue("later")
    run_worker(poll_interval=0.05)
    wait_until(lambda: state_of(hh, bad_id) == JobState.FAILED)
    assert hh.get_job(bad_id).error == "DoNotRetry: invalid report id"
    assert len(hh.attempts(bad_id)) == 1
    # RetryAfter(0.1) wins over the policy's hour
    wait_until(lambda: state_of(hh, later_id) == JobState.COMPLETED, timeout=10)
    assert [a.error for a in hh.attempts(later_id)] == ["RetryAfter: rate limited", None]


def test_unique_key_returns_the_waiting_job_until_it_finishes(hh: Hourhand, run_worker) -> None:
    @hh.job("report")
    async def report(ctx: JobContext, report_id: str) -> None:
        return None

    first = hh.enqueue("report", {"report_id": "r1"}, unique_key="r1")
    assert hh.enqueue("report", {"report_id": "r1"}, unique_key="r1") == first
    other_org = hh.enqueue("report", {"report_id": "r1"}, unique_key="r1", org_id="o2")
    assert other_org != first  # keys are per organisation
    run_worker()
    wait_until(lambda: state_of(hh, first) == JobState.COMPLETED)
    again = hh.enqueue("report", {"report_id": "r1"}, unique_key="r1")
    assert again not in (first, other_org)


def test_higher_priority_runs_first(hh: Hourhand, run_worker) -> None:
    order: list[int] = []

    @hh.job("p")
    def p(ctx: JobContext, n: int) -> None:
        order.append(n)

    for n, prio in [(1, 0), (2, 5), (3, -1), (4, 5), (5, 10)]:
        hh.enqueue("p", {"n": n}, priority=prio)
    run_worker(concurrency=1)
    wait_until(lambda: len(order) == 5)
    assert order == [5, 2, 4, 1, 3]


def test_delayed_job_is_scheduled_then_runs_when_due(hh: Hourhand, run_worker) -> None:
    ran_at: list[datetime] = []

    @hh.job("later")
    async def later(ctx: JobContext) -> None:
        ran_at.append(datetime.now(UTC))

    run_worker(poll_interval=0.05)
    before = datetime.now(UTC)
    job_id = hh.enqueue("later", delay=0.5)
    at = hh.enqueue("later", run_at=datetime.now(UTC) + timedelta(seconds=0.5))
    assert state_of(hh, job_id) == JobState.SCHEDULED
    assert state_of(hh, at) == JobState.SCHEDULED
    wait_until(lambda: len(ran_at) == 2)
    assert min(ran_at) >= before + timedelta(seconds=0.45)


def test_cancel_a_waiting_job_and_retry_it(hh: Hourhand, run_worker) -> None:
    @hh.job("noop")
    async def noop(ctx: JobContext) -> None:
        return None

    job_id = hh.enqueue("noop", delay=3600)
    assert hh.cancel(job_id).state == JobState.CANCELLED
    retried = hh.retry(job_id)
    assert retried.state == JobState.QUEUED
    run_worker()
    wait_until(lambda: state_of(hh, job_id) == JobState.COMPLETED)


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_cancel_signals_a_running_job(hh: Hourhand, run_worker, kind: str) -> None:
    started = threading.Event()

    if kind == "async":

        @hh.job("long")
        async def handler(ctx: JobContext) -> None:
            started.set()
            await asyncio.sleep(60)
    else:

        @hh.job("long")
        def handler(ctx: JobContext) -> None:
            started.set()
            if ctx.cancel_event.wait(60):
                raise RuntimeError("stopped on request")

    job_id = hh.enqueue("long")
    run_worker(lease=0.9)  # heartbeats every 0.3 s carry the cancel request
    assert started.wait(10)
    assert hh.cancel(job_id).cancel_requested
    wait_until(lambda: state_of(hh, job_id) == JobState.CANCELLED)
    [attempt] = hh.attempts(job_id)
    assert attempt.outcome == Outcome.CANCELLED


def test_retry_a_failed_job_grants_another_attempt(hh: Hourhand, run_worker) -> None:
    calls: list[int] = []

    @hh.job("once", max_attempts=1)
    def once(ctx: JobContext) -> str:
        calls.append(ctx.attempt)
        if len(calls) == 1:
            raise ValueError("first time fails")
        return "second time works"

    job_id = hh.enqueue("once")
    run_worker()
    wait_until(lambda: state_of(hh, job_id) == JobState.FAILED)
    hh.retry(job_id)
    wait_until(lambda: state_of(hh, job_id) == JobState.COMPLETED)
    assert calls == [1, 2]
    assert hh.get_job(job_id).result == "second time works"


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_timeout_fails_the_attempt_and_frees_the_slot(hh: Hourhand, run_worker, kind: str) -> None:
    if kind == "async":

        @hh.job("slow", timeout=0.2, max_attempts=1)
        async def slow(ctx: JobContext) -> None:
            await asyncio.sleep(60)
    else:

        @hh.job("slow", timeout=0.2, max_attempts=1)
        def slow(ctx: JobContext) -> None:
            ctx.cancel_event.wait(5)

    @hh.job("quick")
    async def quick(ctx: JobContext) -> str:
        return "done"

    slow_id = hh.enqueue("slow", priority=1)
    quick_id = hh.enqueue("quick")
    run_worker(concurrency=1)
    wait_until(lambda: state_of(hh, slow_id) == JobState.FAILED)
    [attempt] = hh.attempts(slow_id)
    assert attempt.outcome == Outcome.TIMEOUT
    assert "timeout" in (attempt.error or "")
    # the one slot was released: the next job ran
    wait_until(lambda: state_of(hh, quick_id) == JobState.COMPLETED)


def test_per_type_concurrency_is_respected_across_workers(hh: Hourhand, run_worker) -> None:
    lock = threading.Lock()
    running = [0]
    peak = [0]

    @hh.job("limited", concurrency=2)
    def limited(ctx: JobContext) -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1

    ids = hh.enqueue_many("limited", [{} for _ in range(12)])
    run_worker(concurrency=5)
    run_worker(concurrency=5)
    wait_until(lambda: hh.counts()["completed"] == len(ids), timeout=30)
    assert peak[0] == 2


def test_per_queue_limit_of_a_worker(hh: Hourhand, run_worker) -> None:
    lock = threading.Lock()
    running = {"a": 0, "b": 0}
    peak = {"a": 0, "b": 0}

    @hh.job("q")
    def q(ctx: JobContext, queue: str) -> None:
        with lock:
            running[queue] += 1
            peak[queue] = max(peak[queue], running[queue])
        time.sleep(0.05)
        with lock:
            running[queue] -= 1

    for queue in "ab":
        hh.enqueue_many("q", [{"queue": queue} for _ in range(8)], queue=queue)
    run_worker(concurrency=6, queues=["a", "b"], queue_limits={"a": 1})
    wait_until(lambda: hh.counts()["completed"] == 16, timeout=30)
    assert peak["a"] == 1 and peak["b"] > 1


def test_worker_serves_only_its_queues(hh: Hourhand, run_worker) -> None:
    @hh.job("noop")
    async def noop(ctx: JobContext) -> None:
        return None

    mine = hh.enqueue("noop", queue="mine")
    other = hh.enqueue("noop", queue="other")
    run_worker(queues=["mine"])
    wait_until(lambda: state_of(hh, mine) == JobState.COMPLETED)
    assert state_of(hh, other) == JobState.QUEUED


def test_enqueue_many_returns_ids_in_order(hh: Hourhand) -> None:
    @hh.job("n")
    async def n(ctx: JobContext, i: int) -> None:
        return None

    ids = hh.enqueue_many("n", [{"i": i} for i in range(50)])
    assert len(set(ids)) == 50
    assert [hh.get_job(job_id).args["i"] for job_id in ids] == list(range(50))
    assert hh.enqueue_many("n", []) == []


@pytest.mark.anyio
async def test_enqueue_async(hh: Hourhand) -> None:
    @hh.job("a")
    async def a(ctx: JobContext, x: int) -> None:
        return None

    job_id = await hh.enqueue_async("a", {"x": 1}, org_id="org_1", created_by="u_1")
    job = hh.get_job(job_id)
    assert (job.org_id, job.created_by, job.args) == ("org_1", "u_1", {"x": 1})
    ids = await hh.enqueue_many_async("a", [{"x": 2}, {"x": 3}])
    assert len(ids) == 2


def test_system_jobs_have_no_org(hh: Hourhand) -> None:
    @hh.job("s")
    async def s(ctx: JobContext) -> None:
        return None

    job = hh.get_job(hh.enqueue("s"))
    assert job.org_id is None and job.created_by is None


def test_idle_worker_is_woken_by_a_new_job_not_by_its_poll(hh: Hourhand, run_worker) -> None:
    @hh.job("ping")
    async def ping(ctx: JobContext) -> None:
        return None

    run_worker(poll_interval=30)  # PostgreSQL: LISTEN/NOTIFY; SQLite: PRAGMA data_version
    time.sleep(0.3)  # let the worker go idle (nothing to wait for: it is a state, not an event)
    job_id = hh.enqueue("ping")
    wait_until(lambda: state_of(hh, job_id) == JobState.COMPLETED, timeout=5)


def test_concurrent_enqueues_of_one_unique_key_make_one_job(hh: Hourhand) -> None:
    @hh.job("once")
    async def once(ctx: JobContext, n: int) -> None:
        return None

    hh.store  # noqa: B018 - open (and migrate) before the race
    barrier = threading.Barrier(8)
    ids: list[int] = []

    def enqueue(n: int) -> None:
        barrier.wait()
        ids.append(hh.enqueue("once", {"n": n}, unique_key="the-one"))

    threads = [threading.Thread(target=enqueue, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 8 and len(set(ids)) == 1
    assert hh.counts()["queued"] == 1
