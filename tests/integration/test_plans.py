"""Statements on one job or a batch of ids find their rows by primary key, whatever the
planner's statistics say, so that their cost grows with the batch, not with the running jobs.

The statistics are made as misleading as they get in production: the table is analyzed
while nothing runs (as autovacuum does after a bulk enqueue), then 10,000 jobs start."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from hourhand import Hourhand, JobContext
from hourhand.store.base import HOLD_UNTIL
from hourhand.store.postgres import BATCH_PLANNING, CLAIM_PLANNING
from tests.conftest import reset_postgres

BATCH = 10_000
# Indexes a statement on given ids must never scan instead of the primary key.
WRONG_INDEXES = {
    "hourhand_jobs_running",
    "hourhand_jobs_ready",
    "hourhand_jobs_ready_any",
    "hourhand_jobs_dead",
    "hourhand_jobs_unique",
}


@pytest.fixture(scope="module")
def running(pg_base_url: str) -> Iterator[tuple[Hourhand, list[int]]]:
    hh = noop_app(pg_base_url)
    hh.enqueue_many("noop", [{} for _ in range(3 * BATCH)])
    with psycopg.connect(pg_base_url, autocommit=True) as conn:
        conn.execute("ANALYZE hourhand_jobs")  # statistics: no job is running
    jobs = hh.store.claim("w", None, BATCH, 600.0)
    assert len(jobs) == BATCH
    yield hh, [j.id for j in jobs]
    hh.close()


def noop_app(url: str) -> Hourhand:
    """An app with one no-op job type, on an emptied PostgreSQL database."""
    reset_postgres(url)
    hh = Hourhand(url)

    @hh.job("noop")
    async def noop(ctx: JobContext) -> None:
        return None

    return hh


def scans(plan: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    found = [(plan["Node Type"], plan.get("Relation Name"), plan.get("Index Name"))]
    for child in plan.get("Plans", []):
        found += scans(child)
    return found


def plan_of(
    url: str, statement: str, params: dict[str, Any], mode: str, *settings: str
) -> list[Any]:
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute(f"SET LOCAL plan_cache_mode = {mode}")
        for setting in settings:  # what the store sets for this statement
            conn.execute(setting)
        row = conn.execute("EXPLAIN (FORMAT JSON) " + statement, params).fetchone()
    assert row is not None
    return scans(row[0][0]["Plan"])


@pytest.mark.parametrize("mode", ["force_custom_plan", "force_generic_plan"])
@pytest.mark.parametrize(
    "query", ["complete", "heartbeat", "end_attempt", "set_progress", "request_cancel"]
)
def test_statements_on_given_jobs_use_the_primary_key(
    running: tuple[Hourhand, list[int]], query: str, mode: str
) -> None:
    hh, ids = running
    n = len(ids)
    params: dict[str, Any] = {
        "worker_id": "w",
        "ids": ids,
        "attempts": [1] * n,
        "results": [None] * n,
        "durations": [0.0] * n,
        "lease": 30.0,
        "hold": HOLD_UNTIL,
        "id": ids[n // 2],
        "attempt": 1,
        "new_state": "retrying",
        "retry_in": 1.0,
        "error": "x",
        "traceback": None,
        "outcome": "failed",
        "duration": 0.1,
        "require_expired": False,
        "percent": 50.0,
        "message": None,
    }
    store = hh.store
    batch = query in ("complete", "heartbeat")
    settings = [BATCH_PLANNING] if batch else []
    nodes = plan_of(hh.database_url, store.q[query], params, mode, *settings)  # type: ignore[attr-defined]
    on_jobs = [(kind, index) for kind, rel, index in nodes if rel == "hourhand_jobs" or index]
    assert ("Seq Scan", None) not in on_jobs, nodes
    assert not {index for _, index in on_jobs} & WRONG_INDEXES, nodes
    assert any(index == "hourhand_jobs_pkey" for _, index in on_jobs), nodes
    if batch:  # joined with the batch by hashing: no loop over the batch per row
        assert not any(kind == "Nested Loop" for kind, _, _ in nodes), nodes
        # and rows read by primary key in id order, so that batches lock in one order
        assert not any(kind.startswith("Bitmap") for kind, _, _ in nodes), nodes


def test_sqlite_statements_on_given_jobs_use_the_primary_key(tmp_path: Any) -> None:
    hh = Hourhand(f"sqlite:///{tmp_path}/p.db")
    try:
        store = hh.store
        params = {
            "id": 1,
            "attempt": 1,
            "worker_id": "w",
            "lease": 30.0,
            "result": None,
            "new_state": "retrying",
            "retry_in": 1.0,
            "error": None,
            "require_expired": 0,
            "percent": 1.0,
            "message": None,
        }
        for query in ("complete", "heartbeat", "end_attempt", "set_progress", "request_cancel"):
            with store._connection() as conn:  # type: ignore[attr-defined]
                rows = conn.execute(
                    "EXPLAIN QUERY PLAN " + store.q[query],  # type: ignore[attr-defined]
                    params,
                ).fetchall()
            details = [r["detail"] for r in rows]
            assert any("USING INTEGER PRIMARY KEY" in d for d in details), (query, details)
            assert not any(d.startswith("SCAN hourhand_jobs") for d in details), (query, details)
    finally:
        hh.close()


def test_claims_read_the_ready_index_in_order_right_after_a_bulk_enqueue(pg_base_url: str) -> None:
    """Before autovacuum has analyzed a new table, the planner would sort every queued job
    for each claim; claims are planned with sorting ruled out."""
    hh = noop_app(pg_base_url)
    try:
        hh.enqueue_many("noop", [{} for _ in range(BATCH)])  # never analyzed
        params = {
            "worker_id": "w",
            "lease": 30.0,
            "names": ["noop"],
            "limit": 200,
            "queue": "default",
        }
        for query in ("claim_any", "claim_queue"):
            for mode in ("force_custom_plan", "force_generic_plan"):
                statement = hh.store.q[query]  # type: ignore[attr-defined]
                nodes = plan_of(pg_base_url, statement, params, mode, CLAIM_PLANNING)
                assert not any(kind == "Sort" for kind, _, _ in nodes), (query, mode, nodes)
                ready = {index for _, _, index in nodes} & {
                    "hourhand_jobs_ready",
                    "hourhand_jobs_ready_any",
                }
                assert ready, (query, mode, nodes)
    finally:
        hh.close()


def test_heartbeats_and_completions_of_overlapping_batches_do_not_deadlock(
    pg_base_url: str,
) -> None:
    """A worker heartbeats the jobs whose completions it is recording, on another connection:
    both statements lock the same rows, and must lock them in the same order."""
    import random
    import threading

    from hourhand.store import Completion

    hh = noop_app(pg_base_url)
    try:
        hh.enqueue_many("noop", [{} for _ in range(3000)])
        jobs = hh.store.claim("w", None, 3000, 600.0)
        pairs = [(j.id, j.attempt) for j in jobs]
        errors: list[BaseException] = []
        beats = hh.store.private()

        def heartbeat() -> None:
            try:
                for _ in range(10):
                    shuffled = random.sample(pairs, len(pairs))
                    beats.heartbeat("w", shuffled, 600.0)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=heartbeat)
        thread.start()
        shuffled = random.sample(jobs, len(jobs))
        for start in range(0, len(shuffled), 300):
            chunk = shuffled[start : start + 300]
            hh.store.complete("w", [Completion(j.id, j.attempt, None, 0.0) for j in chunk])
        thread.join()
        beats.close()
        assert errors == []
        assert hh.counts()["completed"] == 3000
    finally:
        hh.close()


def test_array_literals_of_batches_read_back_exactly(pg_base_url: str) -> None:
    """Completions send their arrays as literals; any text, integer and float must come
    back as it went, whatever the characters."""
    import psycopg

    from hourhand.store.pg_util import _floats, _ints, _texts

    texts: list[str | None] = [
        " leading and trailing ",
        "NULL",
        "null",
        "",
        "trailing backslash \\",
        'a "quote" and \\" both',
        "{braces},commas",
        "é \u2603 \U0001f600",
        "tab\there\nnewline",
        None,
    ]
    ints = [0, -1, 2**62, EnqueueResultLike(7)]
    floats = [0.1, 1e-300, 123456.789, 2.5e10, -0.0]
    with psycopg.connect(pg_base_url) as conn:
        row = conn.execute(
            "SELECT %s::text[], %s::bigint[], %s::float8[]",
            (_texts(texts), _ints(ints), _floats(floats)),
        ).fetchone()
    assert row == (texts, [0, -1, 2**62, 7], floats)


class EnqueueResultLike(int):
    """An int subclass that writes itself otherwise (as EnqueueResult does)."""

    def __repr__(self) -> str:
        return f"EnqueueResultLike({int(self)})"


@pytest.mark.parametrize("mode", ["force_custom_plan", "force_generic_plan"])
def test_ending_a_job_reads_the_ledger_by_job_and_only_for_a_schedules_runs(
    pg_base_url: str, mode: str
) -> None:
    """The statements that end jobs copy a schedule's run's outcome onto its ledger row:
    through the index on job_id, never a scan of the ledger, which grows by a row per fire
    time. For other jobs the ids looked up are none (the hot path of a drain)."""
    hh = noop_app(pg_base_url)
    try:
        schedule = hh.schedules.create("often", "noop", "* * * * *")
        ids = hh.enqueue_many("noop", [{} for _ in range(100)])
        jobs = hh.store.claim("w", None, 100, 600.0)
        with psycopg.connect(pg_base_url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO hourhand_schedule_fires (schedule_id, fire_time, status, job_id, "
                "outcome, finished_at) SELECT %s, 'epoch'::timestamptz + n * interval '1 minute', "
                "'enqueued', 1000000 + n, 'completed', now() FROM generate_series(1, 50000) n",
                (schedule.id,),
            )
            conn.execute("ANALYZE hourhand_schedule_fires")
        n = len(jobs)
        params: dict[str, Any] = {
            "worker_id": "w",
            "ids": [j.id for j in jobs],
            "attempts": [1] * n,
            "results": [None] * n,
            "durations": [0.0] * n,
            "hold": HOLD_UNTIL,
            "id": ids[0],
            "attempt": 1,
            "new_state": "failed",
            "retry_in": 0.0,
            "error": "x",
            "traceback": None,
            "outcome": "failed",
            "duration": 0.1,
            "require_expired": False,
            "held": [],
        }
        for query, settings in (
            ("complete", [BATCH_PLANNING]),
            ("end_attempt", []),
            ("release_unheld", []),
            ("cancel_waiting", []),
        ):
            statement = hh.store.q[query]  # type: ignore[attr-defined]
            nodes = plan_of(pg_base_url, statement, params, mode, *settings)
            on_ledger = [
                (kind, index) for kind, rel, index in nodes if rel == LEDGER and "Scan" in kind
            ]
            assert on_ledger, (query, nodes)
            assert all(index == "hourhand_schedule_fires_job" for _, index in on_ledger), (
                query,
                nodes,
            )
    finally:
        hh.close()


LEDGER = "hourhand_schedule_fires"
