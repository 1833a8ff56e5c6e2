"""Pausing and resuming queues: claims stop at once, workers resume at once, the state is
in the database (it survives restarts), running jobs finish."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hourhand import Hourhand, InvalidInput, JobContext, JobState
from tests.conftest import WorkerThread, wait_until

SLOW_POLL = 30.0  # seconds: workers that only a notification (or data_version) can wake


def register(app: Hourhand, release: threading.Event | None = None) -> None:
    @app.job("task", queue="a")
    def task(ctx: JobContext, i: int) -> None:
        if release is not None and i < 0:
            release.wait(15)

    @app.job("probe", queue="b")
    def probe(ctx: JobContext, i: int) -> None:
        return None


@pytest.fixture
def apps(store_url: str) -> Iterator[Callable[..., Hourhand]]:
    made: list[Hourhand] = []

    def make(release: threading.Event | None = None) -> Hourhand:
        app = Hourhand(store_url)
        register(app, release)
        made.append(app)
        return app

    yield make
    for app in made:
        app.close()


@pytest.fixture
def workers(app_workers: Callable[..., WorkerThread]) -> Callable[..., WorkerThread]:
    """Worker threads that only a notification (or the file's change) wakes promptly."""

    def start(app: Hourhand, **options: Any) -> WorkerThread:
        return app_workers(app, **{"poll_interval": SLOW_POLL, **options})

    return start


def done(app: Hourhand, job_id: int) -> bool:
    return app.get_job(job_id).state == JobState.COMPLETED


def test_pause_resume_and_list(apps: Callable[..., Hourhand]) -> None:
    app = apps()
    assert [(q.name, q.paused, q.ready) for q in app.queues()] == [
        ("a", False, 0),
        ("b", False, 0),
    ]
    app.enqueue_many("task", [{"i": i} for i in range(3)])
    app.store.claim("w", ["a"], 1, 30)
    paused = app.pause_queue("a")
    assert (paused.name, paused.paused, paused.ready, paused.running) == ("a", True, 2, 1)
    assert paused.changed_at is not None
    empty = app.pause_queue("nothing-here-yet")  # a queue without jobs: allowed
    assert (empty.paused, empty.ready, empty.running) == (True, 0, 0)
    assert [(q.name, q.paused) for q in app.queues()] == [
        ("a", True),
        ("b", False),
        ("nothing-here-yet", True),
    ]
    assert app.store.paused_queues() == {"a", "nothing-here-yet"}
    resumed = app.resume_queue("a")
    assert (resumed.paused, resumed.ready) == (False, 2)
    assert app.store.paused_queues() == {"nothing-here-yet"}
    assert app.queue("unknown").paused is False
    for bad in ["", "x" * 201, "nul\x00"]:
        with pytest.raises(InvalidInput, match="queue"):
            app.pause_queue(bad)


def test_claims_never_take_jobs_of_a_paused_queue(apps: Callable[..., Hourhand]) -> None:
    app = apps()

    @app.job("limited", queue="a", concurrency=5)
    def limited(ctx: JobContext) -> None:
        return None

    app.enqueue_many("task", [{"i": i} for i in range(3)])
    app.enqueue("limited")
    probe = app.enqueue("probe", {"i": 0})
    app.pause_queue("a")
    store = app.store
    assert store.claim("w", ["a"], 10, 30) == []  # however a worker asks
    assert [j.id for j in store.claim("w", None, 10, 30)] == [probe]
    assert store.claim_limited("w", None, "limited", 5, 30, 5).jobs == []
    assert store.ready_queues() == ["a"]
    app.resume_queue("a")
    assert len(store.claim("w", None, 10, 30, ["task"])) == 3
    assert len(store.claim_limited("w", ["a"], "limited", 5, 30, 5).jobs) == 1


@pytest.mark.parametrize("served", [None, ["a", "b"]], ids=["all-queues", "listed-queues"])
def test_paused_at_once_running_jobs_finish_resumed_at_once(
    apps: Callable[..., Hourhand],
    workers: Callable[..., WorkerThread],
    served: list[str] | None,
) -> None:
    release = threading.Event()
    app = apps(release)
    workers(app, queues=served)
    running = app.enqueue("task", {"i": -1})  # waits for `release`
    wait_until(lambda: app.get_job(running).state == JobState.RUNNING)

    app.pause_queue("a")
    held = app.enqueue_many("task", [{"i": i} for i in range(3)])
    # the worker wakes for each job below; had it been claiming from "a", it would have
    # taken the jobs enqueued before them
    for i in range(3):
        probe = app.enqueue("probe", {"i": i})
        wait_until(lambda: done(app, probe), what="a job of the other queue")  # noqa: B023
    assert [app.get_job(i).state for i in held] == [JobState.QUEUED] * 3
    release.set()
    wait_until(lambda: done(app, running), what="the running job to finish")
    assert [app.get_job(i).state for i in held] == [JobState.QUEUED] * 3

    resumed_at = time.monotonic()
    app.resume_queue("a")  # with a 30 s poll interval: only the notice wakes the worker
    wait_until(lambda: all(done(app, i) for i in held), timeout=5, what="the resumed jobs")
    assert time.monotonic() - resumed_at < 1.0


def test_a_pause_survives_a_new_app_and_worker(
    apps: Callable[..., Hourhand], workers: Callable[..., WorkerThread]
) -> None:
    first = apps()
    first.pause_queue("a")
    first.close()

    app = apps()  # a new process, as far as the database is concerned
    assert [q.name for q in app.queues() if q.paused] == ["a"]
    held = app.enqueue("task", {"i": 1})
    workers(app)
    probe = app.enqueue("probe", {"i": 0})
    wait_until(lambda: done(app, probe))
    assert app.get_job(held).state == JobState.QUEUED
    app.resume_queue("a")
    wait_until(lambda: done(app, held), timeout=5)


def test_a_worker_of_a_paused_queue_does_not_ask_for_it(
    apps: Callable[..., Hourhand], workers: Callable[..., WorkerThread]
) -> None:
    app = apps()
    app.pause_queue("a")
    store = app.store
    asked: list[Any] = []
    turns: list[float] = []
    claim, promote_due = store.claim, store.promote_due

    def counting_claim(*args: Any, **kwargs: Any) -> Any:
        asked.append(args[1])  # the queues asked for
        return claim(*args, **kwargs)

    def counting_turn() -> Any:
        turns.append(time.monotonic())
        return promote_due()

    store.claim = counting_claim  # type: ignore[method-assign]  # counts the real calls
    store.promote_due = counting_turn  # type: ignore[method-assign]  # once a loop turn
    workers(app, queues=["a"], poll_interval=0.05)
    for i in range(5):  # each enqueue wakes the worker too
        app.enqueue("task", {"i": i})
    wait_until(lambda: len(turns) >= 20, what="twenty turns of the worker's loop")
    assert asked == []
    assert app.counts()["queued"] == 5


def test_the_watcher_reports_pauses_and_resumes_not_other_changes(
    apps: Callable[..., Hourhand],
) -> None:
    app, other = apps(), apps()
    app.enqueue("probe", {"i": 0})  # the schema exists before the watcher's first look
    watcher = app.store.watch()
    try:
        watcher.wait(0.05)
        watcher.queues_changed()  # the first call says "read them": nothing is known yet

        def sees_change() -> bool:
            watcher.wait(0.05)
            return watcher.queues_changed()

        other.pause_queue("a")
        wait_until(sees_change, timeout=5, what="the pause to be reported")
        other.enqueue("probe", {"i": 1})  # new work wakes the watcher, but is no pause
        wait_until(lambda: watcher.wait(0.05), timeout=5, what="the enqueue to wake it")
        assert not watcher.queues_changed()
        other.resume_queue("a")
        wait_until(sees_change, timeout=5, what="the resume to be reported")
    finally:
        watcher.close()


def test_ready_queues_probe_the_ready_index_once_per_queue(apps: Callable[..., Hourhand]) -> None:
    app = apps()
    for queue in ("a", "b", "c"):
        app.enqueue_many("probe", [{"i": i} for i in range(2000)], queue=queue)
    app.store.claim("w", ["b"], 2000, 30)
    assert app.store.ready_queues() == ["a", "c"]
    store: Any = app.store
    with store._connection() as conn:
        if store.dialect == "sqlite":
            rows = conn.execute("EXPLAIN QUERY PLAN " + store.q["ready_queues"]).fetchall()
            plan = " | ".join(r["detail"] for r in rows)
        else:
            rows = conn.execute("EXPLAIN " + store.q["ready_queues"]).fetchall()
            plan = " | ".join(next(iter(r.values())) for r in rows)
    assert "hourhand_jobs_ready" in plan, plan
    # never a read of the whole table: the index, from the start or from the last queue
    assert not re.search(r"SCAN hourhand_jobs(?! USING INDEX)|Seq Scan on hourhand_jobs", plan)
