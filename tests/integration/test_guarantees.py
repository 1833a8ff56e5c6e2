"""The engine's promises in ordinary trouble: a job body runs once when nothing failed, and an
operator's action sticks. Each test names the situation; docs/guarantees.md points here."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import time_machine

from hourhand import (
    DatabaseUnavailable,
    DoNotRetry,
    Hourhand,
    JobContext,
    JobState,
    Outcome,
    Retry,
    gate,
)
from tests.conftest import WorkerThread, reset_postgres, wait_until
from tests.support.faults import fail_updates_for, sql


def state(hh: Hourhand, job_id: int) -> JobState:
    return hh.get_job(job_id).state


@pytest.fixture
def pg(pg_base_url: str) -> Iterator[Hourhand]:
    """An app on PostgreSQL only, for situations SQLite cannot have (row locks)."""
    reset_postgres(pg_base_url)
    app = Hourhand(pg_base_url)
    yield app
    app.close()


# -- 1. a blocking async handler ---------------------------------------------------------------


def test_blocking_async_handler_keeps_its_lease_and_runs_once(
    hh: Hourhand, run_worker, caplog: pytest.LogCaptureFixture
) -> None:
    runs: Counter[int] = Counter()

    @hh.job("blocker")
    async def blocker(ctx: JobContext) -> None:
        runs[ctx.job_id] += 1
        time.sleep(3)  # noqa: ASYNC251  blocking code in an async handler stops the loop

    caplog.set_level(logging.WARNING, logger="hourhand")
    ids = [hh.enqueue("blocker") for _ in range(2)]
    run_worker(lease=1.2, concurrency=1, poll_interval=0.1)  # blocked by the handler
    run_worker(lease=1.2, queues=["elsewhere"])  # idle: rescues any lease that lapses
    wait_until(lambda: all(state(hh, i) == JobState.COMPLETED for i in ids), timeout=30)
    assert runs == dict.fromkeys(ids, 1)
    for job_id in ids:
        assert [a.outcome for a in hh.attempts(job_id)] == [Outcome.COMPLETED]
    assert "the event loop has not turned" in caplog.text
    assert any(f"job {i} (type 'blocker')" in caplog.text for i in ids)


def test_async_handler_blocking_past_its_timeout_is_reported_as_a_timeout(
    hh: Hourhand, run_worker
) -> None:
    @hh.job("overrun", timeout=0.5, max_attempts=1)
    async def overrun(ctx: JobContext) -> str:
        time.sleep(1.6)  # noqa: ASYNC251
        return "too late"

    job_id = hh.enqueue("overrun")
    run_worker(lease=1.2)
    wait_until(lambda: state(hh, job_id) == JobState.FAILED, timeout=20)
    [attempt] = hh.attempts(job_id)
    assert attempt.outcome == Outcome.TIMEOUT
    assert "exceeded its timeout of 0.5s" in (attempt.error or "")
    assert "blocked the event loop" in (attempt.error or "")
    assert hh.get_job(job_id).result is None


# -- 2. what the database cannot store ---------------------------------------------------------


def test_unstorable_result_fails_its_job_and_not_its_batch(hh: Hourhand, run_worker) -> None:
    runs: Counter[int] = Counter()

    @hh.job("result")
    async def result(ctx: JobContext, kind: str) -> dict[str, str]:
        runs[ctx.job_id] += 1
        return {"ok": "fine", "nul": "bad\x00byte", "surrogate": "\ud800"}[kind]  # type: ignore[return-value]

    ordinary = [hh.enqueue("result", {"kind": "ok"}) for _ in range(3)]
    bad = {kind: hh.enqueue("result", {"kind": kind}) for kind in ("nul", "surrogate")}
    run_worker(lease=3, concurrency=10)
    done = [*ordinary, *bad.values()]
    wait_until(lambda: all(hh.get_job(i).finished_at for i in done), timeout=20)
    for job_id in ordinary:
        assert state(hh, job_id) == JobState.COMPLETED
        assert [a.outcome for a in hh.attempts(job_id)] == [Outcome.COMPLETED]
    for kind, job_id in bad.items():
        job = hh.get_job(job_id)
        assert job.state == JobState.FAILED, kind
        assert "result cannot be stored" in (job.error or "")
        assert [a.outcome for a in hh.attempts(job_id)] == [Outcome.FAILED]
    assert runs == dict.fromkeys(done, 1)  # nothing ran twice


def test_error_message_with_a_nul_byte_is_recorded_escaped(hh: Hourhand, run_worker) -> None:
    @hh.job("nul_error")
    async def nul_error(ctx: JobContext) -> None:
        raise DoNotRetry("bad\x00input \udcff")

    job_id = hh.enqueue("nul_error")
    run_worker(lease=3)
    wait_until(lambda: state(hh, job_id) == JobState.FAILED)
    [attempt] = hh.attempts(job_id)
    assert attempt.outcome == Outcome.FAILED
    assert attempt.error == "DoNotRetry: bad\\x00input \\udcff"
    assert "bad\\x00input" in (attempt.traceback or "")


def test_batch_that_fails_is_recorded_item_by_item(
    hh: Hourhand, run_worker, store_url: str
) -> None:
    runs: Counter[int] = Counter()

    @hh.job("n")
    async def n(ctx: JobContext, i: int) -> int:
        runs[ctx.job_id] += 1
        return i

    ids = hh.enqueue_many("n", [{"i": i} for i in range(5)])
    poison = ids[2]
    condition = f"NEW.id = {poison} AND NEW.state = 'completed'"
    fault = fail_updates_for(store_url, 4.0, postgres=condition, sqlite=condition)
    try:
        run_worker(lease=3, concurrency=10)
        wait_until(lambda: state(hh, poison) == JobState.COMPLETED, timeout=30)
    finally:
        fault.remove()
    others = [hh.get_job(i) for i in ids if i != poison]
    assert all(j.state == JobState.COMPLETED for j in others)
    # the others were recorded while the poisoned completion still failed
    assert all(j.finished_at and j.finished_at.timestamp() < fault.until for j in others)
    assert runs == dict.fromkeys(ids, 1)
    assert [a.outcome for a in hh.attempts(poison)] == [Outcome.COMPLETED]


# -- 3 and 4c. outcomes waiting to be recorded ---------------------------------------------------


def test_completions_waiting_to_be_recorded_keep_their_lease_and_stop_claims(pg: Hourhand) -> None:
    runs: Counter[int] = Counter()

    @pg.job("quick")
    async def quick(ctx: JobContext) -> None:
        runs[ctx.job_id] += 1

    ids = pg.enqueue_many("quick", [{} for _ in range(300)])
    locker = psycopg.connect(pg.database_url, autocommit=True)
    workers: list[WorkerThread] = []
    try:
        locker.execute("BEGIN")
        locker.execute("LOCK TABLE hourhand_attempts IN EXCLUSIVE MODE")  # completions wait
        for _ in range(2):  # the second would rescue the first's jobs if their leases lapsed
            workers.append(
                WorkerThread(pg.worker(lease=1.0, concurrency=10, poll_interval=0.1)).start()
            )
        observed: list[int] = []
        deadline = time.monotonic() + 3.5  # over three leases
        while time.monotonic() < deadline:
            observed.append(pg.counts()["running"])
            time.sleep(0.1)
        assert max(observed) <= 2 * 10 * 2  # running + waiting to be recorded, per worker
        assert pg.counts()["retrying"] == 0  # no lease lapsed: nothing rescued
        locker.execute("ROLLBACK")
        wait_until(lambda: pg.counts()["completed"] == 300, timeout=30)
    finally:
        locker.close()
        for w in workers:
            w.stop()
    assert runs == dict.fromkeys(ids, 1)
    assert all(a.outcome == Outcome.COMPLETED for i in ids[:20] for a in pg.attempts(i))


# -- 4a, 4b. rescue and re-claims ---------------------------------------------------------------


@dataclass(frozen=True)
class ExplodingRetry(Retry):
    """A policy with a bug: computing the next delay raises."""

    def delay(self, attempt: int) -> float | None:
        raise RuntimeError("policy bug")


def test_one_job_whose_rescue_raises_does_not_stop_the_others(
    hh: Hourhand, run_worker, caplog: pytest.LogCaptureFixture
) -> None:
    @hh.job("bad", retry=ExplodingRetry("fixed", delays=(1.0,)))
    async def bad(ctx: JobContext) -> None:
        return None

    @hh.job("good")
    async def good(ctx: JobContext) -> None:
        return None

    bad_id = hh.enqueue("bad")
    good_id = hh.enqueue("good")
    hh.store.claim("gone", None, 1, 0.3, ["bad"])  # a worker that died: bad expires first
    hh.store.claim("gone", None, 1, 0.8, ["good"])
    run_worker(lease=1.0)
    wait_until(lambda: state(hh, good_id) == JobState.COMPLETED, timeout=20)
    assert [a.outcome for a in hh.attempts(good_id)] == [Outcome.LOST, Outcome.COMPLETED]
    assert state(hh, bad_id) == JobState.RUNNING  # left for an operator; the log says why
    assert f"job {bad_id}: rescue failed" in caplog.text


def test_a_finished_earlier_attempt_does_not_drop_the_later_attempt_of_the_same_job(
    hh: Hourhand, run_worker, caplog: pytest.LogCaptureFixture
) -> None:
    first_may_end = threading.Event()
    second_may_end = threading.Event()
    attempts: list[int] = []

    @hh.job("twice", retry=Retry.fixed([0]))
    async def twice(ctx: JobContext) -> int:
        attempts.append(ctx.attempt)
        gate = first_may_end if ctx.attempt == 1 else second_may_end
        while not gate.is_set():
            try:
                await asyncio.sleep(0.02)
            except asyncio.CancelledError:  # attempt 1 ignores being stopped
                continue
        return ctx.attempt

    job_id = hh.enqueue("twice")
    run_worker(lease=1.5, poll_interval=0.1)
    wait_until(lambda: attempts == [1])
    # The claim is taken away (as a rescue would) and this same worker claims attempt 2
    # while attempt 1's handler is still running.
    if hh.store.dialect == "sqlite":
        sql(
            hh.database_url,
            "UPDATE hourhand_jobs SET state = 'queued', lease_expires_at = NULL WHERE id = ?",
            (job_id,),
        )
    else:
        sql(
            hh.database_url,
            "UPDATE hourhand_jobs SET state = 'queued', lease_expires_at = NULL WHERE id = %s",
            (job_id,),
        )
    wait_until(lambda: attempts == [1, 2] and hh.get_job(job_id).state == JobState.RUNNING)
    lost = f"job {job_id} attempt 1: lease lost to another worker"
    wait_until(lambda: lost in caplog.text, what="attempt 1 to be found lost")
    assert f"job {job_id} attempt 2: lease lost" not in caplog.text
    first_may_end.set()  # attempt 1 ends; attempt 2 must keep its heartbeat
    lease = hh.get_job(job_id).lease_expires_at
    assert lease is not None
    wait_until(
        lambda: (
            (j := hh.get_job(job_id)).attempt == 2
            and j.lease_expires_at is not None
            and j.lease_expires_at > lease + timedelta(seconds=1.5)
        ),
        timeout=10,
        what="the second attempt's lease to be extended",
    )
    second_may_end.set()
    wait_until(lambda: state(hh, job_id) == JobState.COMPLETED)
    assert hh.get_job(job_id).result == 2
    assert [(a.attempt, a.outcome) for a in hh.attempts(job_id)] == [(2, Outcome.COMPLETED)]


# -- 5. cancels stick ------------------------------------------------------------------------------


def test_cancel_asked_while_the_worker_is_dead_ends_the_job_cancelled(
    hh: Hourhand, run_worker
) -> None:
    ran: list[int] = []

    @hh.job("slow")
    async def slow(ctx: JobContext) -> None:
        ran.append(ctx.attempt)
        await asyncio.sleep(30)

    job_id = hh.enqueue("slow")
    hh.store.claim("killed-worker", None, 1, 0.5)  # it started the job, then was kill -9ed
    asked = hh.cancel(job_id)
    assert asked.state == JobState.RUNNING and asked.cancel_requested
    run_worker(lease=1.0)  # rescues the job: it must not run again
    wait_until(lambda: state(hh, job_id) == JobState.CANCELLED, timeout=20)
    assert ran == []
    job = hh.get_job(job_id)
    assert job.finished_at is not None and not job.cancel_requested
    assert [a.outcome for a in hh.attempts(job_id)] == [Outcome.LOST]


def test_cancel_asked_before_a_failure_is_recorded_ends_the_job_cancelled(
    hh: Hourhand, run_worker
) -> None:
    @hh.job("fails_after_cancel", retry=Retry.fixed([0.1]))
    def fails(ctx: JobContext) -> None:
        # fails as soon as the cancel is in the database, before the worker hears of it
        wait_until(lambda: hh.get_job(ctx.job_id).cancel_requested, timeout=10)
        raise RuntimeError("boom")

    job_id = hh.enqueue("fails_after_cancel")
    run_worker(lease=30)  # heartbeats (which bring cancels on SQLite) only every 10 s
    wait_until(lambda: state(hh, job_id) == JobState.RUNNING)
    hh.cancel(job_id)
    wait_until(lambda: state(hh, job_id) == JobState.CANCELLED, timeout=20)
    [attempt] = hh.attempts(job_id)
    assert attempt.outcome in (Outcome.FAILED, Outcome.CANCELLED)


# -- 10. limits follow the job's queue ----------------------------------------------------------


def test_limited_job_type_sent_to_another_queue_is_claimed(hh: Hourhand, run_worker) -> None:
    running = 0
    most = 0

    @hh.job("limited", concurrency=5)
    async def limited(ctx: JobContext) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.2)
        running -= 1

    ids = [hh.enqueue("limited", queue="other") for _ in range(3)]
    run_worker(queues=["other"], queue_limits={"other": 1}, poll_interval=0.1)
    wait_until(lambda: all(state(hh, i) == JobState.COMPLETED for i in ids), timeout=20)
    assert most == 1  # the worker's per-queue limit holds for limited types too


# -- 11. rolling deploys ------------------------------------------------------------------------


def test_worker_claims_only_job_types_it_knows(store_url: str) -> None:
    """Jobs of a type this worker's app does not define wait (queued, no attempt used) for
    a worker that knows them, instead of being dead-lettered."""
    old = Hourhand(store_url)
    new = Hourhand(store_url)

    @old.job("old:known")
    @new.job("old:known")
    async def known(ctx: JobContext) -> None:
        return None

    @new.job("new:only")
    async def only(ctx: JobContext) -> None:
        return None

    try:
        unknown_id = new.enqueue("new:only")
        known_id = new.enqueue("old:known")
        old_worker = WorkerThread(old.worker(poll_interval=0.1)).start()
        try:
            wait_until(lambda: state(old, known_id) == JobState.COMPLETED)
            waiting = old.get_job(unknown_id)
            assert (waiting.state, waiting.attempt) == (JobState.QUEUED, 0)
            assert old.attempts(unknown_id) == []
        finally:
            old_worker.stop()
        new_worker = WorkerThread(new.worker(poll_interval=0.1)).start()
        try:
            wait_until(lambda: state(new, unknown_id) == JobState.COMPLETED)
        finally:
            new_worker.stop()
        assert [a.outcome for a in new.attempts(unknown_id)] == [Outcome.COMPLETED]
    finally:
        old.close()
        new.close()


# -- 12, 14. shutdowns --------------------------------------------------------------------------


def test_handed_back_attempts_do_not_count(hh: Hourhand) -> None:
    started = threading.Event()

    @hh.job("long", max_attempts=5)
    async def long(ctx: JobContext) -> str:
        if ctx.job.handbacks < 2:
            started.set()
            await asyncio.sleep(60)
        return "done"

    job_id = hh.enqueue("long")
    for _ in range(2):  # two shutdowns while it runs
        started.clear()
        w = WorkerThread(hh.worker(grace=0, poll_interval=0.1)).start()
        assert started.wait(10)
        w.stop()
        job = hh.get_job(job_id)
        assert job.state == JobState.QUEUED
    assert (job.attempt, job.max_attempts, job.handbacks) == (0, 5, 2)
    w = WorkerThread(hh.worker(poll_interval=0.1)).start()
    try:
        wait_until(lambda: state(hh, job_id) == JobState.COMPLETED)
    finally:
        w.stop()
    job = hh.get_job(job_id)
    assert (job.attempt, job.max_attempts, job.handbacks) == (1, 5, 2)
    outcomes = [(a.attempt, a.outcome) for a in hh.attempts(job_id)]
    assert outcomes == [
        (1, Outcome.INTERRUPTED),
        (1, Outcome.INTERRUPTED),
        (1, Outcome.COMPLETED),
    ]


def test_second_stop_abandons_a_cancelled_sync_handler_that_ignores_it(
    hh: Hourhand, caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()
    contexts: list[JobContext] = []

    @hh.job("deaf")
    def deaf(ctx: JobContext) -> None:
        contexts.append(ctx)
        release.wait(60)  # never looks at ctx.cancel_event

    job_id = hh.enqueue("deaf")
    w = WorkerThread(hh.worker(grace=30, lease=1.5, poll_interval=0.1)).start()
    try:
        wait_until(lambda: contexts)
        hh.cancel(job_id)
        wait_until(lambda: contexts[0].cancelled, what="the worker to hear of the cancel")
        w.worker.stop()  # graceful: would wait 30 s
        w.worker.stop()  # the second: do not wait
        w.thread.join(10)
        assert not w.thread.is_alive(), "the worker waited for a handler that ignores cancels"
        assert w.error is None
    finally:
        release.set()
    assert state(hh, job_id) == JobState.CANCELLED  # handed back, and the cancel sticks
    assert "handing back 1 job(s) whose handlers did not stop" in caplog.text


def test_second_stop_hands_back_an_async_handler_that_ignores_cancellation(hh: Hourhand) -> None:
    release = threading.Event()
    started = threading.Event()

    @hh.job("stubborn")
    async def stubborn(ctx: JobContext) -> None:
        started.set()
        while not release.is_set():
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                continue

    job_id = hh.enqueue("stubborn")
    w = WorkerThread(hh.worker(grace=30, poll_interval=0.1)).start()
    try:
        assert started.wait(10)
        w.worker.stop()
        w.worker.stop()
        w.thread.join(10)
        assert not w.thread.is_alive()
    finally:
        release.set()
    job = hh.get_job(job_id)
    assert (job.state, job.attempt, job.handbacks) == (JobState.QUEUED, 0, 1)


# -- 15. clocks ------------------------------------------------------------------------------------


def test_worker_clock_ahead_of_the_database_does_not_busy_poll(hh: Hourhand, run_worker) -> None:
    @hh.job("later")
    async def later(ctx: JobContext) -> None:
        return None

    hh.enqueue("later", delay=120)
    store = hh.store
    calls = 0
    promote = store.promote_due

    def counting() -> tuple[int, float | None]:
        nonlocal calls
        calls += 1
        return promote()

    store.promote_due = counting  # type: ignore[method-assign]
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=5), tick=True):
        run_worker(poll_interval=0.5)
        time.sleep(2.0)  # the polling rate over a while is what is measured
    assert calls <= 8  # about one per poll interval, not one every 5 ms


# -- 13. replies lost with the connection ---------------------------------------------------------


def lose_first_reply(store: object, method: str) -> list[int]:
    """Make ``store.method`` do its work and then, the first time, fail as if the connection
    dropped before the reply arrived (the commit happened; the caller cannot know)."""
    real = getattr(store, method)
    lost: list[int] = []

    def call(*args: object) -> object:
        result = real(*args)
        if not lost:
            lost.append(1)
            raise DatabaseUnavailable("server closed the connection unexpectedly")
        return result

    setattr(store, method, call)
    return lost


def test_jobs_taken_by_a_claim_whose_reply_was_lost_are_given_back(
    hh: Hourhand, run_worker, caplog: pytest.LogCaptureFixture
) -> None:
    runs: Counter[int] = Counter()

    @hh.job("n")
    async def n(ctx: JobContext) -> None:
        runs[ctx.job_id] += 1

    ids = hh.enqueue_many("n", [{} for _ in range(3)])
    lost = lose_first_reply(hh.store, "claim")
    run_worker(lease=30, poll_interval=0.1)  # a lease that would keep them 30 s otherwise
    wait_until(lambda: all(state(hh, i) == JobState.COMPLETED for i in ids), timeout=10)
    assert lost == [1]
    assert runs == dict.fromkeys(ids, 1)
    for job_id in ids:  # the lost claim did not count as an attempt
        assert [(a.attempt, a.outcome) for a in hh.attempts(job_id)] == [(1, Outcome.COMPLETED)]
    assert "claimed for this worker by a request whose reply was lost" in caplog.text


def test_a_claim_from_the_listener_whose_reply_was_lost_gives_its_jobs_back(
    hh: Hourhand, run_worker, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker claims straight from its listener thread when work is announced (here
    while a handler blocks its event loop, so that only the listener can claim); a lost
    reply there is handled as one on the fetch loop's claims."""
    runs: Counter[int] = Counter()
    started, release = threading.Event(), threading.Event()
    # the listener leaves claims to the fetch loop once the paused queues it read are 2 s
    # old; on a loaded machine the steps below may take longer than that
    monkeypatch.setattr(gate, "PAUSED_REFRESH", 300.0)

    @hh.job("block")
    async def block(ctx: JobContext) -> None:
        started.set()
        release.wait(30)  # blocks the event loop (the point) until the test lets it go

    @hh.job("n")
    async def n(ctx: JobContext) -> None:
        runs[ctx.job_id] += 1

    worker = run_worker(lease=30, poll_interval=30)  # woken by the announcement, not a poll
    warm = hh.enqueue("n")
    wait_until(lambda: state(hh, warm) == JobState.COMPLETED)
    # the listener claims only while the paused queues the fetch loop read are fresh: the
    # notice of a (start-up) queue change makes it leave claims to the fetch loop
    gate_of = worker.worker._gate
    wait_until(lambda: not gate_of.must_read(time.monotonic()), what="the paused queues read")
    real = hh.store.claim
    first: list[str] = []
    in_flight = [0]
    lock = threading.Lock()

    def claim(*args: object) -> object:
        with lock:
            in_flight[0] += 1
        try:
            result = real(*args)  # type: ignore[arg-type]
        finally:
            with lock:
                in_flight[0] -= 1
        if not first and any(job.name == "n" for job in result):  # (not the blocker's claim)
            first.append(threading.current_thread().name)
            raise DatabaseUnavailable("server closed the connection unexpectedly")
        return result

    hh.store.claim = claim  # type: ignore[method-assign]
    blocker = hh.enqueue("block")
    try:
        assert started.wait(15), "the blocking handler did not start"
        # the event loop is blocked now: the fetch loop starts no claim; one it started
        # before (to fill its slots after the blocker's) ends first
        wait_until(lambda: in_flight[0] == 0, what="the fetch loop's last claim to end")
        ids = hh.enqueue_many("n", [{} for _ in range(3)])
        wait_until(lambda: first, timeout=10, what="a claim of the new jobs")
    finally:
        release.set()
    wait_until(lambda: all(state(hh, i) == JobState.COMPLETED for i in ids), timeout=10)
    assert state(hh, blocker) == JobState.COMPLETED
    assert first == ["hourhand-listen"]
    assert runs == dict.fromkeys([warm, *ids], 1)
    for job_id in ids:  # the lost claim did not count as an attempt
        assert [(a.attempt, a.outcome) for a in hh.attempts(job_id)] == [(1, Outcome.COMPLETED)]
    assert "claimed for this worker by a request whose reply was lost" in caplog.text
    assert worker.worker.stats.claimed == 5


def test_jobs_claimed_while_a_handler_blocks_the_loop_keep_their_lease(
    hh: Hourhand, app_workers: Callable[..., WorkerThread]
) -> None:
    """The listener thread claims while an async handler blocks the event loop; the jobs it
    claims are heartbeated from the moment they are claimed, not from the moment the loop
    starts them (found in review: they expired and were rescued as lost)."""
    runs: Counter[int] = Counter()

    @hh.job("block")
    async def block(ctx: JobContext) -> None:
        time.sleep(2.0)  # noqa: ASYNC251  (blocks the event loop: the point)

    @hh.job("n", max_attempts=1)
    async def n(ctx: JobContext) -> None:
        runs[ctx.job_id] += 1

    app_workers(hh, lease=0.6, poll_interval=30, concurrency=4)
    warm = hh.enqueue("n")
    wait_until(lambda: state(hh, warm) == JobState.COMPLETED)
    blocker = hh.enqueue("block")
    wait_until(lambda: state(hh, blocker) == JobState.RUNNING)
    job_id = hh.enqueue("n")  # claimed by the listener while the loop is blocked
    app_workers(hh, queues=["elsewhere"], lease=0.6, poll_interval=0.1)  # rescues what expires
    finished = {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED}
    wait_until(lambda: state(hh, job_id) in finished, timeout=15)
    assert state(hh, job_id) == JobState.COMPLETED and runs[job_id] == 1
    assert [(a.attempt, a.outcome) for a in hh.attempts(job_id)] == [(1, Outcome.COMPLETED)]
    wait_until(lambda: state(hh, blocker) == JobState.COMPLETED)


@pytest.mark.parametrize("method", ["complete", "end_attempt"])
def test_an_outcome_committed_before_its_reply_was_lost_is_not_reported_lost(
    hh: Hourhand, run_worker, caplog: pytest.LogCaptureFixture, method: str
) -> None:
    @hh.job("n", max_attempts=1)
    async def n(ctx: JobContext) -> None:
        if method == "end_attempt":
            raise ValueError("fails")

    job_id = hh.enqueue("n")
    lost = lose_first_reply(hh.store, method)
    run_worker(lease=30, poll_interval=0.1)
    final = JobState.COMPLETED if method == "complete" else JobState.FAILED
    wait_until(lambda: state(hh, job_id) == final)
    wait_until(lambda: lost == [1] and "works again" in caplog.text, what="the retry")
    assert len(hh.attempts(job_id)) == 1
    assert "not recorded" not in caplog.text


# -- found in review --------------------------------------------------------------------------


def test_a_sync_handler_asked_to_stop_at_shutdown_gets_time_and_its_result_is_kept(
    hh: Hourhand,
) -> None:
    """At the end of the grace period a sync handler is asked to stop (its thread cannot be
    killed) and given time; what it returns meanwhile is recorded, not run again."""
    started = threading.Event()

    @hh.job("cleanup")
    def cleanup(ctx: JobContext) -> str:
        started.set()
        ctx.cancel_event.wait(30)
        time.sleep(0.8)  # tidying up after being asked to stop
        return "tidied"

    job_id = hh.enqueue("cleanup")
    w = WorkerThread(hh.worker(grace=0.2, poll_interval=0.1)).start()
    assert started.wait(10)
    w.stop()
    job = hh.get_job(job_id)
    assert (job.state, job.result, job.handbacks) == (JobState.COMPLETED, "tidied", 0)


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no message for you")


def test_an_exception_whose_message_cannot_be_read_fails_only_its_attempt(
    hh: Hourhand, run_worker
) -> None:
    @hh.job("odd", max_attempts=1)
    async def odd(ctx: JobContext) -> None:
        raise Unprintable()

    @hh.job("fine")
    async def fine(ctx: JobContext) -> int:
        return 1

    odd_id = hh.enqueue("odd")
    run_worker(concurrency=1, poll_interval=0.1)
    wait_until(lambda: state(hh, odd_id) == JobState.FAILED)
    assert hh.get_job(odd_id).error == "Unprintable: (its message could not be read)"
    fine_id = hh.enqueue("fine")  # the worker goes on
    wait_until(lambda: state(hh, fine_id) == JobState.COMPLETED)


def test_a_cancelled_sync_handler_that_ignores_the_cancel_still_times_out(
    hh: Hourhand, run_worker
) -> None:
    release = threading.Event()
    contexts: list[JobContext] = []

    @hh.job("deaf", timeout=1.5)
    def deaf(ctx: JobContext) -> None:
        contexts.append(ctx)
        release.wait(30)  # never looks at ctx.cancel_event

    job_id = hh.enqueue("deaf")
    w = run_worker(lease=1.5, concurrency=1, poll_interval=0.1)
    try:
        wait_until(lambda: contexts)
        hh.cancel(job_id)
        wait_until(lambda: contexts[0].cancelled, what="the worker to hear of the cancel")
        # the timeout still frees the slot and ends the job, cancelled as asked
        wait_until(lambda: state(hh, job_id) == JobState.CANCELLED, timeout=10)
        assert w.worker._runs == {}
    finally:
        release.set()
