"""Rate limits of job types: at most N starts in any period, across workers, on both stores,
without asking the database again while the limit is reached."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hourhand import Hourhand, InvalidInput, JobContext, JobState, RateLimit
from hourhand.store import Store, TypeClaim
from tests.conftest import WorkerThread, wait_until


def register(app: Hourhand, rate: Any, *, pause: float = 0.0) -> None:
    @app.job("mail:send", rate_limit=rate)
    def send(ctx: JobContext, i: int) -> None:
        time.sleep(pause)

    @app.job("other")
    def other(ctx: JobContext, i: int) -> None:
        return None


@pytest.fixture
def apps(store_url: str) -> Iterator[Callable[[], Hourhand]]:
    """Apps of their own (own connections, as separate processes would have)."""
    made: list[Hourhand] = []

    def make() -> Hourhand:
        app = Hourhand(store_url)
        made.append(app)
        return app

    yield make
    for app in made:
        app.close()


def starts_of(app: Hourhand, ids: list[int]) -> list[float]:
    """When each job's (only) attempt started, by the database's clock, in order."""
    return sorted(app.get_job(i).started_at.timestamp() for i in ids)  # type: ignore[union-attr]


def test_rate_limit_forms_and_bad_values() -> None:
    app = Hourhand("sqlite:///unused.db")
    for value in [(100, 60), RateLimit(100, per=60), "100/m", "100/min", "100/60s", [100, 60]]:
        assert RateLimit.parse(value) == RateLimit(100, 60.0)
    assert RateLimit.parse("10/s") == RateLimit(10, 1.0)
    assert RateLimit.parse("500 / 2 hours") == RateLimit(500, 7200.0)
    assert str(RateLimit(100, 60)) == "100 per minute"
    bad = {
        (0, 60): "starts must be an integer from 1",
        (10, 0): "per must be a finite number of seconds",
        (10, float("inf")): "per must be a finite number of seconds",
        "100/fortnight": "cannot read '100/fortnight'",
        "lots": "cannot read 'lots'",
        42: "rate_limit must be (starts, seconds)",
    }
    for value, message in bad.items():
        with pytest.raises(InvalidInput, match=r"job 'mail:send': rate_limit") as caught:
            app.job("mail:send", rate_limit=value)(lambda ctx: None)
        assert message in str(caught.value)
        assert "\n" not in str(caught.value)
    assert "mail:send" not in app.registry


def test_a_claim_stops_at_the_limit_and_says_when_it_frees(apps: Callable[[], Hourhand]) -> None:
    app = apps()
    register(app, (3, 60))
    ids = app.enqueue_many("mail:send", [{"i": i} for i in range(5)])
    rate = RateLimit(3, 60)

    first = app.store.claim_limited("w1", None, "mail:send", 10, 30, None, rate)
    assert [j.id for j in first.jobs] == ids[:3]
    assert first.free_in is not None and 59 < first.free_in <= 60  # full now: frees in 60 s

    # another worker, with connections of its own, gets nothing and the same answer
    other = apps()
    second = other.store.claim_limited("w2", None, "mail:send", 10, 30, None, rate)
    assert second.jobs == [] and second.free_in is not None and 58 < second.free_in <= 60
    assert app.get_job(ids[3]).state == JobState.QUEUED

    use = other.rate_use("mail:send")
    assert use is not None and (use.limit, use.used, use.reached) == (rate, 3, True)
    assert other.rate_use("other") is None  # nothing logged for an unlimited type


def test_many_claimers_at_once_never_exceed_the_limit(apps: Callable[[], Hourhand]) -> None:
    app = apps()
    register(app, "10/m")
    app.enqueue_many("mail:send", [{"i": i} for i in range(60)])
    stores = [apps().store for _ in range(6)]
    go = threading.Barrier(len(stores))
    claimed: list[int] = []
    lock = threading.Lock()

    def claim(store: Store, index: int) -> None:
        go.wait()
        for _ in range(20):
            got: TypeClaim = store.claim_limited(
                f"w{index}", None, "mail:send", 3, 30, None, RateLimit(10, 60)
            )
            with lock:
                claimed.extend(j.id for j in got.jobs)

    threads = [threading.Thread(target=claim, args=(s, i)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(claimed) == len(set(claimed)) == 10
    assert app.counts()["running"] == 10 and app.counts()["queued"] == 50


def test_at_most_n_starts_per_period_across_two_workers(apps: Callable[[], Hourhand]) -> None:
    per, n = 1.0, 4
    workers = []
    for _ in range(2):
        app = apps()
        register(app, (n, per), pause=0.2)
        workers.append(WorkerThread(app.worker(concurrency=3, poll_interval=0.1)).start())
    app = apps()
    register(app, (n, per))
    ids = app.enqueue_many("mail:send", [{"i": i} for i in range(3 * n)])
    try:
        wait_until(
            lambda: all(app.get_job(i).state == JobState.COMPLETED for i in ids),
            timeout=30,
            what="every job to complete",
        )
    finally:
        for w in workers:
            w.stop()
    starts = starts_of(app, ids)
    # any n + 1 starts in a row span at least the period: never more than n in one period
    gaps = [starts[i + n] - starts[i] for i in range(len(starts) - n)]
    assert min(gaps) >= per - 0.001, gaps
    assert starts[-1] - starts[0] < 3 * per + 1.5  # and the limit lets n start per period
    ran_on = {app.get_job(i).worker_id for i in ids}
    assert len(ran_on) == 2  # both workers took part


def test_a_limited_worker_does_not_poll_and_runs_other_types(
    apps: Callable[[], Hourhand],
) -> None:
    app = apps()
    register(app, (2, 1.5))
    store = app.store
    calls: list[float] = []
    claim_limited = store.claim_limited

    def counting(*args: Any, **kwargs: Any) -> TypeClaim:
        calls.append(time.monotonic())
        return claim_limited(*args, **kwargs)

    store.claim_limited = counting  # type: ignore[method-assign]  # counts the real calls
    limited = app.enqueue_many("mail:send", [{"i": i} for i in range(4)])
    worker = WorkerThread(app.worker(poll_interval=0.05)).start()
    try:
        wait_until(lambda: app.counts()["completed"] == 2, what="the first two sends")
        assert [app.get_job(i).state for i in limited[2:]] == [JobState.QUEUED] * 2
        limited_at = len(calls)
        # while limited: wake-ups (enqueues) and polls every 50 ms; other types run at once
        for i in range(10):
            other = app.enqueue("other", {"i": i})
            wait_until(lambda: app.get_job(other).state == JobState.COMPLETED)  # noqa: B023
        assert len(calls) == limited_at  # not one claim of the limited type meanwhile
        wait_until(lambda: app.counts()["completed"] == 14, what="the window to free")
        first, last = starts_of(app, limited[:2]), starts_of(app, limited[2:])
        assert min(last) - max(first) >= 1.5 - 0.001
        assert len(calls) <= limited_at + 2  # asked again when it freed, not before
    finally:
        worker.stop()


def test_concurrency_and_rate_limit_together(apps: Callable[[], Hourhand]) -> None:
    app = apps()
    register(app, (1, 60))
    release = threading.Event()

    @app.job("export", concurrency=1, rate_limit=(5, 60))
    def export(ctx: JobContext, i: int) -> None:
        release.wait(10)

    ids = app.enqueue_many("export", [{"i": i} for i in range(7)])
    worker = WorkerThread(app.worker(poll_interval=0.05)).start()
    try:
        wait_until(lambda: app.counts()["running"] == 1)
        other = app.enqueue("other", {"i": 0})  # a few turns of the worker's loop
        wait_until(lambda: app.get_job(other).state == JobState.COMPLETED)
        assert app.counts()["running"] == 1  # the concurrency limit holds
        release.set()
        wait_until(lambda: app.counts()["completed"] == 6, what="five exports")
        use = app.rate_use("export")
        assert use is not None and use.used == 5 and use.reached
        assert [app.get_job(i).state for i in ids[5:]] == [JobState.QUEUED] * 2
    finally:
        worker.stop()
