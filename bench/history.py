"""Benchmark: a drain of millions of jobs must finish, at a steady rate, on both stores.

Run from the repo root: ``.venv/bin/python bench/history.py [--jobs 2000000] [--store both]``.

It enqueues N no-op jobs with ``enqueue_many`` in chunks (100,000 by default), then drains
them with 2 worker processes (concurrency 200 each), as the engine-correctness issue asked:
this exact run once stopped for good on PostgreSQL after 1.2M completions (a ``complete``
statement whose plan scanned every running job). Every second it counts what is left, so
that a stall (no progress for STALL seconds) ends the run with an error, and it reports
the drain rate overall and its slowest 10-second window. PostgreSQL runs at its default
durability settings; SQLite at ``synchronous=FULL``. Results: a table on stdout and
bench/results/history-latest.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from tests.support.pgserver import PgServer  # noqa: E402

from bench import last_finished, left  # noqa: E402
from harness import Workers, rate  # noqa: E402
from hh_jobs import build_app  # noqa: E402

RESULTS = BENCH / "results" / "history-latest.json"
WORKERS = 2
CONCURRENCY = 200
STALL = 120.0  # seconds without a completion: the drain has stalled
WINDOW = 10  # seconds: the slowest window's rate is reported


def run(store: str, url: str, n: int, chunk: int, tmp: Path) -> dict[str, Any]:
    hh = build_app(url)
    result: dict[str, Any] = {"store": store, "jobs": n, "chunk": chunk}
    try:
        t0 = time.perf_counter()
        for start in range(0, n, chunk):
            hh.enqueue_many("noop", [{} for _ in range(min(chunk, n - start))])
        result["enqueue_per_s"] = rate(n, time.perf_counter() - t0)
        cmd = [sys.executable, str(BENCH / "hh_worker.py"), "--url", url]
        cmd += ["--concurrency", str(CONCURRENCY)]
        workers = Workers(cmd, WORKERS, tmp, f"history-{store}")
        progress: list[tuple[float, int]] = []
        try:
            workers.wait_ready()
            go_wall = time.time()
            started = time.monotonic()
            workers.go()
            while True:
                remaining = left(url)
                now = time.monotonic() - started
                progress.append((now, remaining))
                if remaining == 0:
                    break
                workers.check_alive()
                since = [t for t, r in progress if r > remaining]
                if now - (since[-1] if since else 0.0) > STALL:
                    raise RuntimeError(f"stalled at {remaining} jobs left after {now:.0f}s")
                time.sleep(1.0)
        finally:
            workers.stop()
        finished = last_finished(url)
        assert finished is not None
        drain_s = finished - go_wall
        result["drain_s"] = round(drain_s, 1)
        result["drain_per_s"] = rate(n, drain_s)
        windows = [
            (progress[i][1] - progress[i + WINDOW][1]) / (progress[i + WINDOW][0] - progress[i][0])
            for i in range(0, len(progress) - WINDOW)
            if progress[i + WINDOW][1] > 0
        ]
        result["slowest_10s_per_s"] = round(min(windows)) if windows else None
        counts = hh.counts()
        result["completed"] = counts["completed"]
        result["not_completed"] = n - counts["completed"]
    finally:
        hh.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2_000_000)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    stores = ["postgres", "sqlite"] if args.store == "both" else [args.store]
    results = []
    with tempfile.TemporaryDirectory(prefix="hourhand-history-") as tmp:
        for store in stores:
            if store == "sqlite":
                url = f"sqlite:///{tmp}/history.db"
                results.append(run(store, url, args.jobs, args.chunk, Path(tmp)))
                continue
            server = PgServer(fast=False).start()
            try:
                url = server.create_database("history")
                results.append(run(store, url, args.jobs, args.chunk, Path(tmp)))
            finally:
                server.stop()
    print(f"{'store':<10} {'jobs':>10} {'enqueue/s':>10} {'drain/s':>9} {'slowest 10 s':>13}")
    for r in results:
        print(
            f"{r['store']:<10} {r['jobs']:>10,} {r['enqueue_per_s']:>10,.0f} "
            f"{r['drain_per_s']:>9,.0f} {r['slowest_10s_per_s'] or 0:>13,}"
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps({"when": datetime.now(UTC).isoformat(), "results": results}, indent=2)
    )


if __name__ == "__main__":
    main()
