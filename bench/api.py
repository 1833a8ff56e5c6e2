"""Benchmark: the API's reads on a large history, on both stores.

Run from the repo root: ``.venv/bin/python bench/api.py [--history-jobs 1000000]``.

For each store, in a fresh database (or SQLite file):

1. a history of completed jobs: ``enqueue_many`` in chunks, then (setup only, not the
   public path: a drain of a million jobs would take minutes and measure nothing here) one
   UPDATE marks them completed; then a real worker runs 5,000 more jobs, 1,000 of which fail
   for good, so the rollup, the attempts and the dead-letter set are real; and two days of
   per-minute statistics for 10 job types, as a compacting scheduler leaves them;
2. ``hourhand web`` in a subprocess (uvicorn, one process), with an admin key;
3. each route below called 100 times in a row over HTTP/1.1 keep-alive (after 5 warm-up
   calls): p50, p95 and max in milliseconds. The goal is p95 under 50 ms.

Results: a table on stdout and bench/results/api-latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))  # this tree's hourhand

from tests.support.pgserver import PgServer  # noqa: E402

from hourhand import Hourhand, JobContext  # noqa: E402
from hourhand.ops import Actor  # noqa: E402
from hourhand.scheduler import COUNT_LAG, STATS_KEPT  # noqa: E402

RESULTS = BENCH / "results" / "api-latest.json"
HISTORY_JOBS = 1_000_000
CHUNK = 50_000
REAL_JOBS = 5_000
REAL_FAILURES = 1_000
STATS_DAYS = 2  # days of per-minute statistics (the scheduler folds older ones)
STATS_TYPES = 10  # job types with statistics every minute
CALLS = 100
WARMUP = 5
GOAL_MS = 50.0
ROUTES = ["/v1/jobs?state=failed", "/v1/queues", "/v1/stats", "/metrics"]


def build_app(url: str) -> Hourhand:
    app = Hourhand(url)

    @app.job("bench:noop", queue="default")
    def noop(ctx: JobContext, i: int = 0) -> None:
        return None

    @app.job("bench:fail", queue="mail", max_attempts=1)
    def fail(ctx: JobContext, i: int = 0) -> None:
        raise RuntimeError(f"bench failure {i}")

    return app


def make_history(url: str, history: int) -> dict[str, float]:
    app = build_app(url)
    started = time.perf_counter()
    for start in range(0, history, CHUNK):
        app.enqueue_many(
            "bench:noop", [{"i": i} for i in range(start, min(history, start + CHUNK))]
        )
    enqueued = time.perf_counter() - started
    mark_completed(url)
    for i in range(REAL_JOBS - REAL_FAILURES):
        app.enqueue("bench:noop", {"i": i})
    app.enqueue_many("bench:fail", [{"i": i} for i in range(REAL_FAILURES)])
    worker = app.worker(concurrency=100, poll_interval=0.05)
    thread = threading.Thread(target=worker.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 600
    while app.counts()["failed"] < REAL_FAILURES or app.counts()["queued"]:
        if time.monotonic() > deadline:
            raise RuntimeError("the real jobs did not finish in 10 minutes")
        time.sleep(0.2)
    worker.stop()
    thread.join(60)
    fill_stats(url)
    now = app.store.now()
    app.store.compact_stats(now - STATS_KEPT, now - COUNT_LAG)  # as the scheduler does
    analyze(url)
    app.close()
    return {"enqueue_s": round(enqueued, 1)}


def fill_stats(url: str) -> None:
    """Setup only: two days of per-minute statistics for STATS_TYPES job types, as a busy
    cluster leaves them (shard 0, the last minutes sharded); then the scheduler's
    compaction runs over them."""
    now = int(time.time()) // 60 * 60
    rows = []
    for minute in range(now - STATS_DAYS * 86400, now, 60):
        shards = range(16) if now - minute <= 300 else range(1)
        for t in range(STATS_TYPES):
            for shard in shards:
                rows.append((minute, "default", f"stats:type{t}", shard, 50, 2, 1, 0, 12.5))
    columns = "(minute, queue, name, shard, completed, failed, dead, cancelled, duration_sum)"
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        with conn:
            conn.executemany(
                f"INSERT INTO hourhand_job_stats {columns} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        conn.close()
        return
    import psycopg

    with (
        psycopg.connect(url) as conn,
        conn.cursor() as cur,
        cur.copy(f"COPY hourhand_job_stats {columns} FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row((datetime.fromtimestamp(row[0], UTC), *row[1:]))


def mark_completed(url: str) -> None:
    """Setup only: the history's jobs become completed without being run."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        with conn:
            conn.execute(
                "UPDATE hourhand_jobs SET state = 'completed', attempt = 1, "
                "started_at = run_at, finished_at = run_at WHERE state = 'queued'"
            )
        conn.close()
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE hourhand_jobs SET state = 'completed', attempt = 1, "
            "started_at = run_at, finished_at = run_at WHERE state = 'queued'"
        )


def analyze(url: str) -> None:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.execute("ANALYZE")
        conn.close()
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(url: str, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT}")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hourhand",
            "--database",
            url,
            "--log-level",
            "WARNING",
            "web",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )


def measure(url: str) -> dict[str, Any]:
    app = Hourhand(url)
    _, key = app.ops.keys.create(Actor.cli(), "bench", "admin")
    app.close()
    port = free_port()
    server = serve(url, port)
    out: dict[str, Any] = {}
    try:
        with httpx2.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        ) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx2.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("hourhand web did not start")
                time.sleep(0.1)
            for route in ROUTES:
                for _ in range(WARMUP):
                    client.get(route).raise_for_status()
                times = []
                for _ in range(CALLS):
                    t0 = time.perf_counter()
                    response = client.get(route)
                    times.append((time.perf_counter() - t0) * 1000)
                    response.raise_for_status()
                times.sort()
                out[route] = {
                    "p50_ms": round(statistics.median(times), 2),
                    "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
                    "max_ms": round(times[-1], 2),
                    "bytes": len(response.content),
                }
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history-jobs", type=int, default=HISTORY_JOBS)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    opts = parser.parse_args()
    stores = ["sqlite", "postgres"] if opts.store == "both" else [opts.store]
    results: dict[str, Any] = {"history_jobs": opts.history_jobs, "calls": CALLS}
    with tempfile.TemporaryDirectory() as tmp:
        for store in stores:
            server = PgServer(fast=False).start() if store == "postgres" else None
            try:
                url = (
                    server.create_database("api_bench")
                    if server is not None
                    else f"sqlite:///{Path(tmp) / 'api.db'}"
                )
                print(f"api: {store}: making {opts.history_jobs:,} jobs ...", file=sys.stderr)
                built = make_history(url, opts.history_jobs)
                results[store] = {"setup": built, "routes": measure(url)}
            finally:
                if server is not None:
                    server.stop()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{opts.history_jobs:,} jobs in the table; {CALLS} calls each; goal p95 < {GOAL_MS} ms")
    print(f"{'store':<10} {'route':<24} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for store in stores:
        for route, r in results[store]["routes"].items():
            mark = "" if r["p95_ms"] < GOAL_MS else "  over the goal"
            print(
                f"{store:<10} {route:<24} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['max_ms']:>8}{mark}"
            )


if __name__ == "__main__":
    main()
