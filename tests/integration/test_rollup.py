"""Job statistics kept as jobs finish (hourhand_job_stats): counts, series, totals, their
compaction, and pruning of finished jobs, on both stores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from hourhand import Hourhand, InvalidInput, JobContext, JobState, Outcome, Retry
from hourhand.scheduler import Scheduler
from hourhand.stats import BUCKETS, StatsTotal, bucket_of
from hourhand.store import AttemptEnd, Completion
from hourhand.store.pg_jobs import COUNT_PLANNING
from tests.conftest import WorkerThread, wait_until


@pytest.fixture
def app(hh: Hourhand) -> Hourhand:
    @hh.job("noop")
    async def noop(ctx: JobContext) -> None:
        return None

    @hh.job("other", queue="mail")
    async def other(ctx: JobContext) -> None:
        return None

    return hh


def total(app: Hourhand, name: str = "noop") -> StatsTotal:
    found = [t for t in app.store.stats_totals() if t.name == name]
    assert len(found) == 1, found
    return found[0]


def series_sums(app: Hourhand) -> tuple[int, int, int, int, int]:
    points = app.stats(hours=1).series
    return (
        sum(p.completed for p in points),
        sum(p.failed for p in points),
        sum(p.dead for p in points),
        sum(p.cancelled for p in points),
        sum(p.durations for p in points),
    )


def fail(job_id: int, attempt: int, state: JobState, **more: Any) -> AttemptEnd:
    return AttemptEnd(job_id, attempt, "w", Outcome.FAILED, state, error="boom", **more)


def test_counts_and_stats_follow_every_end(app: Hourhand) -> None:
    store = app.store
    done1, done2, flaky, waiting, running = app.enqueue_many("noop", [{} for _ in range(5)])
    assert app.counts()["queued"] == 5
    app.cancel(waiting)  # a waiting job cancelled: counted at once
    claimed = {j.id: j for j in store.claim("w", None, 10, lease=30)}
    assert set(claimed) == {done1, done2, flaky, running}
    assert app.counts()["running"] == 4
    assert store.complete("w", [Completion(done1, 1, None, 0.005), Completion(done2, 1, None, 2.0)])
    # a failure retried, then a failure that ends the job (dead)
    assert store.end_attempt(fail(flaky, 1, JobState.RETRYING, retry_in=0.0, duration=0.2))
    assert app.counts()["retrying"] == 1
    store.promote_due()
    [again] = store.claim("w", None, 1, lease=30)
    assert again.id == flaky
    assert store.end_attempt(fail(flaky, 2, JobState.FAILED, duration=40.0)) == JobState.FAILED
    # a running job cancelled: it ends cancelled when its attempt ends
    app.cancel(running)
    end = AttemptEnd(running, 1, "w", Outcome.CANCELLED, JobState.CANCELLED, duration=1.0)
    assert store.end_attempt(end) == JobState.CANCELLED

    counts = app.counts()
    assert set(counts) == {str(s) for s in JobState}
    assert counts == {
        "scheduled": 0,
        "queued": 0,
        "running": 0,
        "retrying": 0,
        "completed": 2,
        "failed": 1,
        "cancelled": 2,
    }
    t = total(app)
    assert (t.queue, t.completed, t.failed, t.dead, t.cancelled) == ("default", 2, 2, 1, 2)
    assert t.duration_sum == pytest.approx(0.005 + 2.0 + 0.2 + 40.0)
    expected = [0] * len(BUCKETS)
    for d in (0.005, 2.0, 0.2, 40.0):  # the cancelled attempt's duration is not counted
        expected[bucket_of(d)] += 1
    assert list(t.buckets) == expected and t.durations == 4
    assert series_sums(app) == (2, 2, 1, 2, 4)
    stats = app.stats(hours=1, name="noop")
    assert stats.totals == [t]
    assert app.stats(hours=1, queue="mail").series == []
    assert app.stats(hours=1, queue="mail").totals == []


def test_duration_buckets_hold_their_upper_bound(app: Hourhand) -> None:
    durations = [0.0, 0.01, 0.0100001, 0.05, 1.0, 1800.0, 1800.5, 1e9]
    ids = app.enqueue_many("noop", [{} for _ in durations])
    jobs = app.store.claim("w", None, len(ids), lease=30)
    by_id = dict(zip(ids, durations, strict=True))
    app.store.complete("w", [Completion(j.id, j.attempt, None, by_id[j.id]) for j in jobs])
    assert list(total(app).buckets) == [2, 2, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2]
    assert [bucket_of(d) for d in durations] == [0, 0, 1, 1, 4, 10, 11, 11]


def test_fenced_writes_that_do_not_apply_are_not_counted_and_a_rescue_is(app: Hourhand) -> None:
    store = app.store
    job_id = app.enqueue("noop")
    store.claim("worker-a", None, 1, lease=0.3)
    wait_until(lambda: store.expired(10), what="the lease to expire by the database clock")
    lost = AttemptEnd(
        job_id, 1, "worker-a", Outcome.LOST, JobState.RETRYING, error="lost", require_expired=True
    )
    assert store.end_attempt(lost) == JobState.RETRYING
    t = total(app)
    assert (t.completed, t.failed, t.dead, t.durations) == (0, 1, 0, 1)
    assert t.duration_sum >= 0.3  # measured by the database: claim to rescue
    store.promote_due()
    assert [j.attempt for j in store.claim("worker-b", None, 1, lease=30)] == [2]
    # the stalled worker's writes change nothing, and count nothing
    assert store.complete("worker-a", [Completion(job_id, 1, None, 0.1)]) == []
    assert not store.end_attempt(fail(job_id, 1, JobState.FAILED))
    assert not store.end_attempt(lost)
    assert total(app) == t
    assert store.complete("worker-b", [Completion(job_id, 2, None, 0.1)]) == [job_id]
    assert store.complete("worker-b", [Completion(job_id, 2, None, 0.1)]) == []  # once only
    assert (total(app).completed, app.counts()["completed"]) == (1, 1)


def test_jobs_given_back_after_a_lost_claim_count_only_when_cancelled(app: Hourhand) -> None:
    ids = app.enqueue_many("noop", [{} for _ in range(3)])
    app.store.claim("w", None, 3, lease=30)
    app.cancel(ids[2])
    assert sorted(app.store.release_unheld("w", [ids[0]])) == ids[1:]
    counts = app.counts()
    assert (counts["running"], counts["queued"], counts["cancelled"]) == (1, 1, 1)
    t = total(app)
    assert (t.completed, t.failed, t.cancelled) == (0, 0, 1)


def test_a_redriven_dead_job_leaves_the_dead_letter_set_and_its_history_counted(
    app: Hourhand,
) -> None:
    store = app.store
    job_id = app.enqueue("noop")
    store.claim("w", None, 1, lease=30)
    store.end_attempt(fail(job_id, 1, JobState.FAILED, duration=0.5))
    assert app.counts()["failed"] == 1
    app.retry(job_id)
    counts = app.counts()
    assert (counts["failed"], counts["queued"]) == (0, 1)
    [job] = store.claim("w", None, 1, lease=30)
    store.complete("w", [Completion(job_id, job.attempt, None, 0.1)])
    counts = app.counts()
    assert (counts["failed"], counts["completed"]) == (0, 1)
    t = total(app)
    assert (t.completed, t.failed, t.dead) == (1, 1, 1)  # events: the death happened


def test_a_worker_keeps_the_rollup(app: Hourhand, run_worker: Callable[..., WorkerThread]) -> None:
    tries: dict[int, int] = {}

    @app.job("flaky", max_attempts=3, retry=Retry.fixed([0.05]))
    def flaky(ctx: JobContext) -> None:
        tries[ctx.job.id] = tries.get(ctx.job.id, 0) + 1
        if tries[ctx.job.id] < 2:
            raise RuntimeError("first try fails")

    @app.job("doomed", max_attempts=2, retry=Retry.fixed([0.05]))
    def doomed(ctx: JobContext) -> None:
        raise RuntimeError("always")

    app.enqueue_many("noop", [{} for _ in range(20)])
    app.enqueue_many("flaky", [{} for _ in range(3)])
    app.enqueue("doomed")
    run_worker()
    wait_until(
        lambda: app.counts()["completed"] == 23 and app.counts()["failed"] == 1,
        what="the jobs to end",
    )
    assert (total(app).completed, total(app).durations) == (20, 20)
    f = total(app, "flaky")
    assert (f.completed, f.failed, f.dead, f.durations) == (3, 3, 0, 6)
    d = total(app, "doomed")
    assert (d.completed, d.failed, d.dead) == (0, 2, 1)
    assert series_sums(app)[:3] == (23, 5, 1)


def test_pruning_deletes_old_finished_jobs_and_leaves_counts_and_totals(app: Hourhand) -> None:
    store = app.store
    ids = app.enqueue_many("noop", [{} for _ in range(5)])
    dead, cancelled, waiting = app.enqueue_many("other", [{} for _ in range(3)])
    app.cancel(cancelled)
    jobs = store.claim("w", ["default"], 10, lease=30)
    store.complete("w", [Completion(j.id, j.attempt, None, 0.1) for j in jobs])
    [d] = store.claim("w", ["mail"], 1, lease=30)
    assert d.id == dead
    store.end_attempt(fail(dead, 1, JobState.FAILED, duration=0.1))
    before = (app.counts(), store.stats_totals(), app.stats(hours=1).series)
    assert before[0]["failed"] == 1

    assert app.prune(timedelta(hours=1)) == 0  # none finished an hour ago
    with pytest.raises(InvalidInput):
        app.prune(0, states=("completed", "queued"))
    assert app.prune(0, states=["cancelled"]) == 1
    assert app.prune(0.0, batch=2) == 6  # three batches; the waiting job stays
    for job_id in [*ids, dead, cancelled]:
        assert store.get_job(job_id) is None
        assert store.list_attempts(job_id) == []
    assert store.get_job(waiting) is not None
    counts, totals, series = app.counts(), store.stats_totals(), app.stats(hours=1).series
    assert totals == before[1] and series == before[2]
    assert {k: v for k, v in counts.items() if k != "failed"} == {
        k: v for k, v in before[0].items() if k != "failed"
    }
    assert counts["failed"] == 0  # the dead-letter set is what is left of it


def test_compaction_keeps_totals_and_recent_minutes(app: Hourhand) -> None:
    store = app.store
    app.enqueue_many("noop", [{} for _ in range(3)])
    jobs = store.claim("w", None, 3, lease=30)
    store.complete("w", [Completion(j.id, j.attempt, None, 0.2) for j in jobs])
    totals, counts = store.stats_totals(), app.counts()
    series = app.stats(hours=1).series
    now = store.now()
    assert store.compact_stats(now - timedelta(hours=1)) == 0  # nothing that old
    assert app.stats(hours=1).series == series
    # a mark asked for in the future stops at this minute's start: what this minute
    # already holds, and what is added to it next, still counts once
    store.compact_stats(now - timedelta(hours=1), upto=now + timedelta(hours=1))
    assert store.stats_totals() == totals and app.counts() == counts
    assert app.stats(hours=1).series == series
    app.enqueue("noop")
    [job] = store.claim("w", None, 1, lease=30)
    store.complete("w", [Completion(job.id, job.attempt, None, 0.2)])
    assert total(app).completed == 4 and app.counts()["completed"] == 4
    assert sum(p.completed for p in app.stats(hours=1).series) == 4


def test_compaction_counts_old_minutes_once_and_drops_those_past_two_days(
    app: Hourhand,
) -> None:
    """Minutes before the mark are summed once into the totals; their rows stay for the
    series until they are older than ``before``; totals and counts never change."""
    store: Any = app.store
    app.counts()  # the schema
    now = store.now().replace(second=0, microsecond=0)
    ages = [timedelta(days=3), timedelta(hours=5), timedelta(hours=2), timedelta(minutes=10)]
    for n, age in enumerate(ages, 1):
        add_minute(store, now - age, completed=n)
    totals, counts = store.stats_totals(), app.counts()
    assert total(app).completed == 1 + 2 + 3 + 4
    series = app.stats(hours=24).series
    assert [p.completed for p in series] == [2, 3, 4]
    # count everything over an hour old; drop what is over two days old
    dropped = store.compact_stats(now - timedelta(days=2), now - timedelta(hours=1))
    assert dropped == 1
    assert store.stats_totals() == totals and app.counts() == counts
    assert app.stats(hours=24).series == series
    # again, later: nothing is counted twice
    store.compact_stats(now - timedelta(days=2), now - timedelta(minutes=30))
    assert store.stats_totals() == totals and app.counts() == counts
    store.compact_stats(now - timedelta(hours=3), now - timedelta(minutes=5))
    assert store.stats_totals() == totals and app.counts() == counts
    assert [p.completed for p in app.stats(hours=24).series] == [3, 4]


def add_minute(store: Any, minute: datetime, completed: int) -> None:
    """A row of the rollup for a past minute, as a worker would have left it."""
    if store.dialect == "sqlite":
        with store._write() as conn:
            conn.execute(
                "INSERT INTO hourhand_job_stats (minute, queue, name, shard, completed, b0) "
                "VALUES (?, 'default', 'noop', 0, ?, ?)",
                (minute.timestamp(), completed, completed),
            )
        return
    with store._connection() as conn:
        conn.execute(
            "INSERT INTO hourhand_job_stats (minute, queue, name, shard, completed, b0) "
            "VALUES (%s, 'default', 'noop', 0, %s, %s)",
            (minute, completed, completed),
        )


def test_the_scheduler_compacts_at_most_once_an_hour(app: Hourhand) -> None:
    scheduler = Scheduler(app)
    now = app.store.now()
    assert scheduler.compact_stats(now) == 0
    assert scheduler.compact_stats(now + timedelta(minutes=59)) is None
    assert scheduler.compact_stats(now + timedelta(minutes=61)) == 0


def test_count_by_state_reads_no_history(app: Hourhand, store_url: str) -> None:
    store: Any = app.store
    app.enqueue_many("noop", [{} for _ in range(50)])
    if store.dialect == "sqlite":
        with store._connection() as conn:
            rows = conn.execute("EXPLAIN QUERY PLAN " + store.q["count_by_state"]).fetchall()
        details = [r["detail"] for r in rows]
        scans = [d for d in details if d.startswith(("SCAN", "SEARCH"))]
        on_jobs = [d for d in scans if "hourhand_jobs " in d + " " and "job_stats" not in d]
        assert on_jobs and all("INDEX" in d for d in on_jobs), details
        return
    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute("ANALYZE hourhand_jobs")  # statistics: every job is queued
        with conn.transaction():
            conn.execute(COUNT_PLANNING)
            row = conn.execute("EXPLAIN (FORMAT JSON) " + store.q["count_by_state"]).fetchone()
    assert row is not None
    nodes = _nodes(row[0][0]["Plan"])
    on_jobs = [(kind, index) for kind, rel, index in nodes if rel == "hourhand_jobs"]
    assert on_jobs and all(kind != "Seq Scan" for kind, _ in on_jobs), nodes
    assert {index for _, index in on_jobs} <= {
        "hourhand_jobs_ready",
        "hourhand_jobs_ready_any",
        "hourhand_jobs_due",
        "hourhand_jobs_running",
        "hourhand_jobs_failed",
    }, nodes


def _nodes(plan: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    found = [(plan["Node Type"], plan.get("Relation Name"), plan.get("Index Name"))]
    for child in plan.get("Plans", []):
        found += _nodes(child)
    return found


def test_compaction_merges_the_shards_of_minutes_no_worker_writes_to(
    app: Hourhand, store_url: str
) -> None:
    """PostgreSQL: each worker writes a shard of its own; a minute over 5 minutes old is
    merged into one row, so that counts and totals sum about a row per minute and type.
    SQLite has one writer at a time: every row is shard 0."""
    if app.store.dialect == "sqlite":
        for worker in ("w1", "w2", "w3"):
            app.enqueue("noop")
            [job] = app.store.claim(worker, None, 1, lease=30)
            app.store.complete(worker, [Completion(job.id, job.attempt, None, 0.1)])
        with app.store._connection() as conn:  # type: ignore[attr-defined]
            rows = conn.execute("SELECT shard, completed FROM hourhand_job_stats").fetchall()
        assert [(r["shard"], r["completed"]) for r in rows] == [(0, 3)]
        return
    app.counts()  # the schema
    with psycopg.connect(store_url, autocommit=True) as conn:
        for minutes_ago, shard in [(30, 3), (30, 7), (30, 0), (2, 5), (2, 6)]:
            conn.execute(
                "INSERT INTO hourhand_job_stats (minute, queue, name, shard, completed, b0) "
                "VALUES (date_trunc('minute', now()) - %s * interval '1 minute', "
                "'default', 'noop', %s, %s, 1)",
                (minutes_ago, shard, shard + 1),
            )
    totals, series = app.store.stats_totals(), app.stats(hours=1).series
    assert [p.completed for p in series] == [1 + 4 + 8, 6 + 7]
    assert app.store.compact_stats(app.store.now() - timedelta(days=2)) == 2
    assert app.store.stats_totals() == totals and app.stats(hours=1).series == series
    with psycopg.connect(store_url) as conn:
        shards = conn.execute(
            "SELECT shard FROM hourhand_job_stats ORDER BY minute, shard"
        ).fetchall()
    assert [s for (s,) in shards] == [0, 5, 6]


def test_migration_0007_starts_the_totals_from_the_history(app: Hourhand, store_url: str) -> None:
    """A database upgraded to 0007 keeps counting its completed and cancelled jobs."""
    store = app.store
    ids = app.enqueue_many("noop", [{} for _ in range(4)])
    jobs = store.claim("w", None, 3, lease=30)
    store.complete("w", [Completion(j.id, j.attempt, None, 0.2) for j in jobs[:2]])
    store.end_attempt(fail(jobs[2].id, 1, JobState.FAILED, duration=3.0))
    app.cancel(ids[3])
    counts, totals = app.counts(), store.stats_totals()
    # back to 0006: as if the history had been made before the rollup existed
    undo = [
        "DROP TABLE hourhand_job_stats",
        "DROP TABLE hourhand_stats_mark",
        "DROP INDEX hourhand_jobs_failed",
        "DELETE FROM hourhand_migrations WHERE version = 7",
    ]
    if store.dialect == "sqlite":
        with store._connection() as conn:  # type: ignore[attr-defined]
            for statement in undo:
                conn.execute(statement)
    else:
        with psycopg.connect(store_url, autocommit=True) as conn:
            for statement in undo:
                conn.execute(statement)
    assert 7 in store.migrate()
    assert app.counts() == counts
    [seeded] = store.stats_totals()
    [kept] = totals
    assert seeded == kept
