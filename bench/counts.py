"""Benchmark: ``hh.counts()`` and ``hh.stats()`` over a long history, on both stores.

Run from the repo root: ``.venv/bin/python bench/counts.py [--history-jobs 1000000]``.

The history is written straight into the tables (not through workers: only its size
matters here): N completed jobs with their attempts, 1,000 failed ones and 100 queued; and
the job statistics of a busy system at their largest: two days of minute rows (what the
scheduler keeps) for 2 job types, each minute written by 16 workers (shards; SQLite has
one), plus the compacted totals. The median of 20 calls of each read, in milliseconds,
before and after a compaction as the scheduler runs it (which merges the shards of
minutes that ended over 5 minutes ago).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH.parent / "src"))  # this tree's hourhand

from tests.support.pgserver import PgServer  # noqa: E402

from hourhand import Hourhand  # noqa: E402

HISTORY_JOBS = 1_000_000
MINUTES = 2 * 24 * 60  # minute rows kept before compaction
SHARDS = 16
CALLS = 20

PG_HISTORY = """
INSERT INTO hourhand_jobs (queue, name, state, max_attempts, run_at, attempt, started_at,
                           finished_at, worker_id)
SELECT 'default', 'noop', 'completed', 5, now(), 1, now(), now(), 'w'
FROM generate_series(1, %(n)s);
INSERT INTO hourhand_attempts (job_id, attempt, worker_id, finished_at, outcome, duration)
SELECT id, 1, 'w', now(), 'completed', 0.001 FROM hourhand_jobs;
INSERT INTO hourhand_jobs (queue, name, state, max_attempts, run_at, attempt, finished_at)
SELECT 'default', 'noop', 'failed', 5, now(), 5, now() FROM generate_series(1, 1000);
INSERT INTO hourhand_jobs (queue, name, state, max_attempts, run_at)
SELECT 'default', 'noop', 'queued', 5, now() FROM generate_series(1, 100);
INSERT INTO hourhand_job_stats (minute, queue, name, shard, completed, duration_sum, b0)
SELECT date_trunc('minute', now()) - m * interval '1 minute', 'default', t, s, 10, 0.01, 10
FROM generate_series(0, %(minutes)s - 1) m, generate_series(0, %(shards)s - 1) s,
     unnest(ARRAY['noop', 'other']) t;
INSERT INTO hourhand_job_stats (minute, queue, name, shard, completed)
VALUES ('epoch', 'default', 'noop', 0, %(n)s);
"""

SQLITE_HISTORY = """
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :n)
INSERT INTO hourhand_jobs (queue, name, state, max_attempts, run_at, attempt, started_at,
                           finished_at, worker_id, created_at)
SELECT 'default', 'noop', 'completed', 5, 0, 1, 0, 0, 'w', 0 FROM s;
INSERT INTO hourhand_attempts (job_id, attempt, worker_id, finished_at, outcome, duration)
SELECT id, 1, 'w', 0, 'completed', 0.001 FROM hourhand_jobs;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 1000)
INSERT INTO hourhand_jobs (queue, name, state, max_attempts, run_at, attempt, finished_at,
                           created_at)
SELECT 'default', 'noop', 'failed', 5, 0, 5, 0, 0 FROM s;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100)
INSERT INTO hourhand_jobs (queue, name, state, max_attempts, run_at, created_at)
SELECT 'default', 'noop', 'queued', 5, 0, 0 FROM s;
WITH RECURSIVE m(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM m WHERE i < :minutes - 1),
     sh(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM sh WHERE k < :shards - 1),
     t(name) AS (VALUES ('noop'), ('other'))
INSERT INTO hourhand_job_stats (minute, queue, name, shard, completed, duration_sum, b0)
SELECT (CAST(unixepoch() / 60 AS INTEGER) - m.i) * 60, 'default', t.name, sh.k, 10, 0.01, 10
FROM m, sh, t;
INSERT INTO hourhand_job_stats (minute, queue, name, shard, completed)
VALUES (0, 'default', 'noop', 0, :n);
"""


def median_us(call: object) -> float:
    times = []
    for _ in range(CALLS):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def compacted(hh: Hourhand) -> int:
    return hh.store.compact_stats(hh.store.now() - timedelta(days=2))


def measure(hh: Hourhand, label: str) -> None:
    hh.counts()  # connections opened outside the clock
    counts_us = median_us(hh.counts)
    stats_us = median_us(lambda: hh.stats(hours=24))
    stats_1h_us = median_us(lambda: hh.stats(hours=1, name="noop"))
    counts = hh.counts()
    print(
        f"{label:<22} counts {counts_us / 1000:7.2f} ms   stats(24 h) {stats_us / 1000:7.2f} ms"
        f"   stats(1 h, one type) {stats_1h_us / 1000:7.2f} ms   completed={counts['completed']:,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history-jobs", type=int, default=HISTORY_JOBS)
    parser.add_argument("--store", choices=["postgres", "sqlite", "both"], default="both")
    opts = parser.parse_args()
    params = {"n": opts.history_jobs, "minutes": MINUTES, "shards": SHARDS}
    if opts.store in ("postgres", "both"):
        server = PgServer(fast=False).start()
        try:
            url = server.create_database("counts")
            hh = Hourhand(url)
            hh.counts()  # the schema
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                for stmt in PG_HISTORY.strip().split(";\n"):
                    conn.execute(stmt, params)
                conn.execute("VACUUM ANALYZE")
            measure(hh, "postgresql")
            print(f"  compaction folded {compacted(hh):,} rows")
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE hourhand_job_stats")
            measure(hh, "postgresql, compacted")
            hh.close()
        finally:
            server.stop()
    if opts.store in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="hourhand-counts-") as tmp:
            hh = Hourhand(f"sqlite:///{tmp}/counts.db")
            hh.counts()
            import sqlite3

            conn = sqlite3.connect(f"{tmp}/counts.db")
            for stmt in SQLITE_HISTORY.strip().split(";\n"):
                conn.execute(stmt, {**params, "shards": 1})
            conn.commit()
            conn.execute("ANALYZE")
            conn.close()
            measure(hh, "sqlite")
            hh.close()


if __name__ == "__main__":
    main()
