"""Benchmark: every page of the dashboard (``PAGES``) over a long history, on both stores.

Run from the repo root: ``.venv/bin/python bench/dashboard.py [--jobs 1000000]``
(``--jobs 10000`` for a quick look; ``--store sqlite|postgres|both``; ``--calls 20``).

The history is written straight into the tables (as bench/counts.py does: only its size
matters): N jobs over the last N/2 seconds in four queues, three job types and two
organisations, each with its attempt: 1% failed (with an error and a traceback), 0.5%
cancelled, the rest completed; plus 1,000 queued, 100 scheduled, 100 retrying and 50
running jobs, a day of per-minute statistics (the overview's charts) with the all-time
totals, 20 schedules, a firing alert and an admin user. Each page of ``PAGES`` (and a few
filtered listings) is then fetched through Starlette's TestClient, signed in as the admin
(who sees everything), once to warm up and ``--calls`` times on the clock: the p50 and
p95 in milliseconds, and whether the p95 is under the goal of 200 ms.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH.parent / "src"))  # this tree's hourhand

from fastapi.testclient import TestClient  # noqa: E402
from tests.browser import seed  # noqa: E402
from tests.browser.signin import sign_in  # noqa: E402
from tests.support.pgserver import PgServer  # noqa: E402

from hourhand import Hourhand  # noqa: E402
from hourhand.web.dashboard.pages import PAGES  # noqa: E402

JOBS = 1_000_000
CALLS = 20
GOAL_MS = 200.0
PREFIX = "/dashboard"
# filtered listings, besides the pages as registered
EXTRA = [
    ("jobs?state=failed", "/jobs?state=failed"),
    ("jobs?queue&type", "/jobs?queue=mail&type=emails:send"),
    ("jobs?org", "/jobs?org=org_a"),
    ("search (text)", "/search?q=timed+out"),
]

PG_HISTORY = """
INSERT INTO hourhand_jobs (queue, name, args, state, max_attempts, run_at, attempt,
                           started_at, finished_at, worker_id, created_at, result, error,
                           org_id)
SELECT (ARRAY['default', 'mail', 'reports', 'slow'])[1 + i %% 4],
       (ARRAY['noop', 'emails:send', 'reports:generate'])[1 + i %% 3],
       jsonb_build_object('n', i, 'to', 'user' || i || '@example.com'),
       CASE WHEN i %% 100 = 7 THEN 'failed' WHEN i %% 200 = 11 THEN 'cancelled'
            ELSE 'completed' END,
       5, t, 1, t, t + interval '0.2 second', 'worker-' || i %% 8, t,
       CASE WHEN i %% 100 = 7 OR i %% 200 = 11 THEN NULL ELSE '{"ok": true}'::jsonb END,
       CASE WHEN i %% 100 = 7 THEN 'TimeoutError: the mail server timed out after 30 s' END,
       CASE WHEN i %% 10 = 3 THEN 'org_a' WHEN i %% 10 = 4 THEN 'org_b' END
FROM generate_series(1, %(n)s) i,
     LATERAL (SELECT now() - (%(n)s - i) * interval '0.5 second' AS t) s;
INSERT INTO hourhand_attempts (job_id, attempt, worker_id, started_at, finished_at, outcome,
                               duration, error, traceback)
SELECT id, 1, worker_id, started_at, finished_at,
       CASE state WHEN 'completed' THEN 'completed' WHEN 'failed' THEN 'failed'
                  ELSE 'cancelled' END,
       0.2, error,
       CASE WHEN error IS NOT NULL THEN 'Traceback (most recent call last):' || chr(10) ||
            '  File "/srv/app/mail.py", line 12, in send' || chr(10) || error END
FROM hourhand_jobs;
INSERT INTO hourhand_jobs (queue, name, state, max_attempts, run_at, attempt, created_at)
SELECT (ARRAY['default', 'mail', 'reports', 'slow'])[1 + i %% 4], 'noop',
       CASE WHEN i <= 1000 THEN 'queued' WHEN i <= 1100 THEN 'scheduled'
            ELSE 'retrying' END,
       5, CASE WHEN i <= 1000 THEN now() ELSE now() + interval '1 hour' END,
       CASE WHEN i > 1100 THEN 1 ELSE 0 END, now()
FROM generate_series(1, 1200) i;
INSERT INTO hourhand_jobs (queue, name, state, max_attempts, run_at, attempt, started_at,
                           worker_id, lease_expires_at, created_at, progress,
                           progress_message)
SELECT 'slow', 'reports:generate', 'running', 5, now(), 1, now(), 'worker-' || i %% 8,
       now() + interval '1 hour', now(), 40, 'page 4 of 10'
FROM generate_series(1, 50) i;
INSERT INTO hourhand_job_stats (minute, queue, name, shard, completed, failed, duration_sum,
                                b2)
SELECT date_trunc('minute', now()) - m * interval '1 minute', 'default', t, 0, 100, 1, 20, 101
FROM generate_series(0, 24 * 60 - 1) m, unnest(ARRAY['noop', 'emails:send']) t;
INSERT INTO hourhand_job_stats (minute, queue, name, shard, completed, failed)
VALUES ('epoch', 'default', 'noop', 0, %(n)s, %(n)s / 100);
"""

SQLITE_HISTORY = """
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :n)
INSERT INTO hourhand_jobs (queue, name, args, state, max_attempts, run_at, attempt,
                           started_at, finished_at, worker_id, created_at, result, error,
                           org_id)
SELECT CASE i % 4 WHEN 0 THEN 'default' WHEN 1 THEN 'mail' WHEN 2 THEN 'reports'
                  ELSE 'slow' END,
       CASE i % 3 WHEN 0 THEN 'noop' WHEN 1 THEN 'emails:send' ELSE 'reports:generate' END,
       json_object('n', i, 'to', 'user' || i || '@example.com'),
       CASE WHEN i % 100 = 7 THEN 'failed' WHEN i % 200 = 11 THEN 'cancelled'
            ELSE 'completed' END,
       5, t, 1, t, t + 0.2, 'worker-' || i % 8, t,
       CASE WHEN i % 100 = 7 OR i % 200 = 11 THEN NULL ELSE '{"ok":true}' END,
       CASE WHEN i % 100 = 7 THEN 'TimeoutError: the mail server timed out after 30 s' END,
       CASE WHEN i % 10 = 3 THEN 'org_a' WHEN i % 10 = 4 THEN 'org_b' END
FROM (SELECT i, :now - (:n - i) * 0.5 AS t FROM s);
INSERT INTO hourhand_attempts (job_id, attempt, worker_id, started_at, finished_at, outcome,
                               duration, error, traceback)
SELECT id, 1, worker_id, started_at, finished_at,
       CASE state WHEN 'completed' THEN 'completed' WHEN 'failed' THEN 'failed'
                  ELSE 'cancelled' END,
       0.2, error,
       CASE WHEN error IS NOT NULL THEN 'Traceback (most recent call last):' || char(10) ||
            '  File "/srv/app/mail.py", line 12, in send' || char(10) || error END
FROM hourhand_jobs;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 1200)
INSERT INTO hourhand_jobs (queue, name, state, max_attempts, run_at, attempt, created_at)
SELECT CASE i % 4 WHEN 0 THEN 'default' WHEN 1 THEN 'mail' WHEN 2 THEN 'reports'
                  ELSE 'slow' END, 'noop',
       CASE WHEN i <= 1000 THEN 'queued' WHEN i <= 1100 THEN 'scheduled' ELSE 'retrying' END,
       5, :now + CASE WHEN i <= 1000 THEN 0 ELSE 3600 END,
       CASE WHEN i > 1100 THEN 1 ELSE 0 END, :now
FROM s;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 50)
INSERT INTO hourhand_jobs (queue, name, state, max_attempts, run_at, attempt, started_at,
                           worker_id, lease_expires_at, created_at, progress,
                           progress_message)
SELECT 'slow', 'reports:generate', 'running', 5, :now, 1, :now,
       'worker-' || i % 8, :now + 3600, :now, 40, 'page 4 of 10'
FROM s;
WITH RECURSIVE m(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM m WHERE i < 24 * 60 - 1),
     t(name) AS (VALUES ('noop'), ('emails:send'))
INSERT INTO hourhand_job_stats (minute, queue, name, shard, completed, failed, duration_sum,
                                b2)
SELECT (CAST(:now / 60 AS INTEGER) - m.i) * 60, 'default', t.name, 0, 100, 1, 20, 101
FROM m, t;
INSERT INTO hourhand_job_stats (minute, queue, name, shard, completed, failed)
VALUES (0, 'default', 'noop', 0, :n, :n / 100);
"""


def percentile(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def furnish(hh: Hourhand) -> dict[str, int]:
    """What the history lacks, through the operations: schedules, an alert, the admin;
    the ids that fill the pages' placeholders."""
    seed.define(hh)
    schedule_id = 0
    for i in range(20):
        schedule_id = seed.schedule(hh, f"report-{i:02d}", cron=f"{i} 3 * * *")
    alert_id = seed.alert(hh)
    seed.user(hh, "admin", "admin")
    [failed] = hh.list_jobs(state="failed", limit=1)
    return {"job_id": failed.id, "schedule_id": schedule_id, "alert_id": alert_id}


def measure(hh: Hourhand, ids: dict[str, int], label: str, calls: int) -> list[str]:
    """The table's rows for one store; each a page: p50, p95 (ms)."""
    rows = []
    slow = []
    with TestClient(hh.asgi_app(), raise_server_exceptions=True) as client:
        sign_in(client, PREFIX, "admin", seed.PASSWORD)
        urls = [(p.name, p.fill(**ids)) for p in PAGES] + EXTRA
        for name, path in urls:
            url = PREFIX + path

            def fetch(url: str = url) -> None:
                r = client.get(url, follow_redirects=False)
                assert r.status_code == 200, f"{url}: {r.status_code} {r.text[:200]}"

            times = timed(fetch, calls)
            p50, p95 = percentile(times, 0.5) * 1000, percentile(times, 0.95) * 1000
            mark = "ok" if p95 < GOAL_MS else "SLOW"
            if p95 >= GOAL_MS:
                slow.append(name)
            rows.append(f"{label:<11} {name:<18} {p50:8.1f} {p95:8.1f}   {mark}")
    if slow:
        rows.append(f"{label:<11} over {GOAL_MS:.0f} ms at p95: {', '.join(slow)}")
    return rows


def timed(call: Callable[[], None], calls: int) -> list[float]:
    call()  # warm: connections, caches, the template's compilation
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def run_postgres(n: int, calls: int) -> list[str]:
    import psycopg

    server = PgServer(fast=False).start()
    try:
        url = server.create_database("dashboard")
        hh = Hourhand(url)
        hh.counts()  # the schema
        started = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            for stmt in PG_HISTORY.strip().split(";\n"):
                conn.execute(stmt, {"n": n})
            conn.execute("VACUUM ANALYZE")
        print(f"postgresql: {n:,} jobs written in {time.perf_counter() - started:.0f} s")
        ids = furnish(hh)
        try:
            return measure(hh, ids, "postgresql", calls)
        finally:
            hh.close()
    finally:
        server.stop()


def run_sqlite(n: int, calls: int) -> list[str]:
    import sqlite3

    with tempfile.TemporaryDirectory(prefix="hourhand-dashboard-") as tmp:
        path = f"{tmp}/dashboard.db"
        hh = Hourhand(f"sqlite:///{path}")
        hh.counts()
        started = time.perf_counter()
        conn = sqlite3.connect(path)
        for stmt in SQLITE_HISTORY.strip().split(";\n"):
            conn.execute(stmt, {"n": n, "now": time.time()})
        conn.commit()
        conn.execute("ANALYZE")
        conn.close()
        print(f"sqlite: {n:,} jobs written in {time.perf_counter() - started:.0f} s")
        ids = furnish(hh)
        try:
            return measure(hh, ids, "sqlite", calls)
        finally:
            hh.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=JOBS)
    parser.add_argument("--calls", type=int, default=CALLS)
    parser.add_argument("--store", choices=["postgres", "sqlite", "both"], default="both")
    opts = parser.parse_args()
    rows = [f"{'store':<11} {'page':<18} {'p50 ms':>8} {'p95 ms':>8}   goal {GOAL_MS:.0f} ms"]
    if opts.store in ("postgres", "both"):
        rows += run_postgres(opts.jobs, opts.calls)
    if opts.store in ("sqlite", "both"):
        rows += run_sqlite(opts.jobs, opts.calls)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
