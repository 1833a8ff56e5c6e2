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
    reset_postgres(pg_base_url)
    hh = Hourhand(pg_base_url)

    @hh.job("noop")
    async def noop(ctx: JobContext) -> None:
        return None

    hh.enqueue_many("noop", [{} for _ in range(3 * BATCH)])
    with psycopg.connect(pg_base_url, autocommit=True) as conn:
        conn.execute("ANALYZE hourhand_jobs")  # statistics: no job is running
    jobs = hh.store.claim("w", None, BATCH, 600.0)
    assert len(jobs) == BATCH
    yield hh, [j.id for j in jobs]
    hh.close()


def scans(plan: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    found = [(plan["Node Type"], plan.get("Relation Name"), plan.get("Index Name"))]
    for child in plan.get("Plans", []):
        found += scans(child)
    return found


def plan_of(url: str, statement: str, params: dict[str, Any], mode: str) -> list[Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"SET plan_cache_mode = {mode}")
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
    nodes = plan_of(hh.database_url, store.q[query], params, mode)  # type: ignore[attr-defined]
    on_jobs = [(kind, index) for kind, rel, index in nodes if rel == "hourhand_jobs" or index]
    assert ("Seq Scan", None) not in on_jobs, nodes
    assert not {index for _, index in on_jobs} & WRONG_INDEXES, nodes
    assert any(index == "hourhand_jobs_pkey" for _, index in on_jobs), nodes


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
