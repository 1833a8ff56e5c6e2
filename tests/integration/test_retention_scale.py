"""Pruning a table of 1M old jobs in batches keeps a concurrent drain running: no batch
holds its locks for more than a second, no statement of the drain waits on a lock that
long, the drain completes and the counts are right (PostgreSQL; issue 10's test)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import psycopg
import pytest

from hourhand import Hourhand, JobContext, JobState
from hourhand.retention import RETENTION
from tests.conftest import WorkerThread, reset_postgres, wait_until

pytestmark = pytest.mark.slow

OLD_JOBS = 1_000_000
FIRST_WAVE = 5_000  # fresh jobs queued before the pruning starts
WAVE = 400  # then this many more ...
WAVE_EVERY = 0.2  # ... this often (seconds), for as long as the pruning runs
SAMPLE_EVERY = 0.02  # seconds between looks at the server and at the drain
LIMIT = 1.0  # seconds: the longest a batch may hold its locks, a drain may stall

HISTORY = [
    """
    INSERT INTO hourhand_jobs (queue, name, state, max_attempts, run_at, attempt, started_at,
                               finished_at, worker_id, created_at)
    SELECT 'default', 'noop', 'completed', 5, t, 1, t, t, 'w', t
    FROM (SELECT now() - interval '30 days' AS t) AS month_ago, generate_series(1, %(n)s)
    """,
    """
    INSERT INTO hourhand_attempts (job_id, attempt, worker_id, finished_at, outcome, duration)
    SELECT id, 1, 'w', finished_at, 'completed', 0.001 FROM hourhand_jobs
    """,
    # what the rollup would have counted as these jobs completed
    """
    INSERT INTO hourhand_job_stats (minute, queue, name, shard, completed, duration_sum, b0)
    VALUES ('epoch', 'default', 'noop', 0, %(n)s, %(n)s * 0.001, %(n)s)
    """,
]
# the transactions of pruning batches still open, and statements waiting on a lock
PRUNING = """
SELECT coalesce(max(extract(epoch FROM clock_timestamp() - xact_start)), 0) AS open_for
FROM pg_stat_activity
WHERE pid <> pg_backend_pid() AND xact_start IS NOT NULL
  AND query LIKE '%%WITH batch AS%%DELETE FROM hourhand_jobs%%'
"""
WAITING = """
SELECT coalesce(max(extract(epoch FROM clock_timestamp() - query_start)), 0) AS waiting_for
FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND wait_event_type = 'Lock'
"""


@dataclass
class Watch:
    """What a thread saw every SAMPLE_EVERY seconds while the drain and the pruning ran."""

    longest_batch_transaction: float = 0.0  # seconds, seen in pg_stat_activity
    batches_seen: int = 0  # samples that caught a pruning batch's transaction open
    longest_lock_wait: float = 0.0  # seconds, any statement waiting on a lock
    longest_stall: float = 0.0  # seconds without a completed job while jobs were queued
    samples: int = 0
    busy: int = 0  # samples with jobs queued (the stall is measured over those)
    stopped: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def app(pg_base_url: str) -> Iterator[Hourhand]:
    reset_postgres(pg_base_url)
    made = Hourhand(pg_base_url)

    @made.job("noop")
    async def noop(ctx: JobContext) -> None:
        return None

    made.migrate()
    yield made
    made.close()


def watch(app: Hourhand, url: str, seen: Watch) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        last_done, last_progress = -1, time.monotonic()
        while not seen.stopped.is_set():
            row = conn.execute(PRUNING).fetchone()
            assert row is not None
            seen.longest_batch_transaction = max(seen.longest_batch_transaction, float(row[0]))
            seen.batches_seen += row[0] > 0
            row = conn.execute(WAITING).fetchone()
            assert row is not None
            seen.longest_lock_wait = max(seen.longest_lock_wait, float(row[0]))
            counts = app.counts()
            now = time.monotonic()
            seen.busy += counts["queued"] > 0
            if counts["completed"] != last_done or counts["queued"] == 0:
                last_done, last_progress = counts["completed"], now
            seen.longest_stall = max(seen.longest_stall, now - last_progress)
            seen.samples += 1
            seen.stopped.wait(SAMPLE_EVERY)


def enqueue_waves(app: Hourhand, until: Callable[[], bool], made: list[int]) -> None:
    while not until():
        made.append(len(app.enqueue_many("noop", [{} for _ in range(WAVE)])))
        time.sleep(WAVE_EVERY)


def test_pruning_a_million_old_jobs_keeps_a_drain_running_and_the_counts_right(
    app: Hourhand, pg_base_url: str, app_workers: Callable[..., WorkerThread]
) -> None:
    started = time.monotonic()
    with psycopg.connect(pg_base_url, autocommit=True) as conn:
        for statement in HISTORY:
            conn.execute(statement, {"n": OLD_JOBS} if "%(n)s" in statement else None)
    filled = time.monotonic() - started
    assert app.counts()["completed"] == OLD_JOBS

    app.enqueue_many("noop", [{} for _ in range(FIRST_WAVE)])
    seen = Watch()
    watcher = threading.Thread(target=watch, args=(app, pg_base_url, seen), daemon=True)
    watcher.start()
    app_workers(app, concurrency=50, poll_interval=0.1)
    wait_until(lambda: app.counts()["completed"] > OLD_JOBS, what="the drain's first job")

    policy = {"completed_days": 7, "batch_size": 1000, "pause": 0.01}
    retention = int(app.enqueue(RETENTION, policy))
    waves: list[int] = []
    pruned = lambda: app.get_job(retention).state == JobState.COMPLETED  # noqa: E731
    enqueuer = threading.Thread(target=enqueue_waves, args=(app, pruned, waves), daemon=True)
    enqueuer.start()
    job = wait_until(lambda: pruned() and app.get_job(retention), timeout=120, what="pruning")
    enqueuer.join(10)
    fresh = FIRST_WAVE + sum(waves)
    wait_until(
        lambda: app.counts()["completed"] == OLD_JOBS + fresh + 1, timeout=60, what="the drain"
    )
    seen.stopped.set()
    watcher.join(10)
    took = time.monotonic() - started

    result = job.result
    print(
        f"\n1M old jobs written in {filled:.1f} s; pruned in {result['seconds']:.1f} s, "
        f"{result['batches']} batches, the longest {result['longest_batch_s']:.3f} s "
        f"(seen open {seen.batches_seen} times, at most {seen.longest_batch_transaction:.3f} s); "
        f"{fresh} fresh jobs "
        f"drained meanwhile, the longest stall {seen.longest_stall:.3f} s, the longest lock "
        f"wait {seen.longest_lock_wait:.3f} s; {seen.samples} samples ({seen.busy} with jobs "
        f"queued); {took:.1f} s in all"
    )
    assert result["deleted"] == OLD_JOBS and not result["stopped"]
    assert result["batches"] >= OLD_JOBS // 1000
    assert result["longest_batch_s"] < LIMIT  # every batch's transaction, timed by the job
    assert seen.samples > 50 and seen.busy > 20 and sum(waves) > 0  # a drain all along
    assert seen.batches_seen > 0 and seen.longest_batch_transaction < LIMIT
    assert seen.longest_lock_wait < LIMIT
    assert seen.longest_stall < LIMIT

    # what is left: the fresh jobs and the retention job, with their attempts; counts and
    # statistics still count the million
    with psycopg.connect(pg_base_url, autocommit=True) as conn:
        jobs = conn.execute("SELECT count(*) FROM hourhand_jobs").fetchone()
        attempts = conn.execute("SELECT count(*) FROM hourhand_attempts").fetchone()
    assert jobs is not None and attempts is not None
    assert jobs[0] == attempts[0] == fresh + 1
    counts = app.counts()
    assert counts["completed"] == OLD_JOBS + fresh + 1
    assert {k: v for k, v in counts.items() if k != "completed"} == {
        "scheduled": 0,
        "queued": 0,
        "running": 0,
        "retrying": 0,
        "failed": 0,
        "cancelled": 0,
    }
    [noop] = [t for t in app.stats(hours=1).totals if t.name == "noop"]
    assert noop.completed == OLD_JOBS + fresh
