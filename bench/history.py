"""Benchmark: a history of completed jobs, on both stores; what it costs new work.

Run from the repo root: ``.venv/bin/python bench/history.py [--history-jobs 2000000]``.

For each store and each history size (none, 100,000 and 2,000,000 completed jobs), in a
fresh database (or SQLite file):

1. the history is made through the public path: ``enqueue_many`` in chunks (100,000 by
   default), then a drain with 2 worker processes (concurrency 200 each). This drain once
   stopped for good on PostgreSQL after 1.2M completions (a ``complete`` statement whose
   plan scanned every running job), so every second it counts what is left and fails if
   nothing completes for STALL seconds; it reports its rate and its slowest 10-second
   window;
2. in that same database, each timed phase after a checkpoint: (a) ``enqueue_many`` of
   100,000 jobs in one call; (b) their drain by 2 worker processes, warm (from "go") and
   cold (from just before the processes are spawned); (c) ``hh.counts()``, the median of 5
   calls. Each with its CPU per job, client and server, as in bench.py.

Each figure is reported next to the same figure on the empty table, from the same run, as a
ratio history/empty (for the rates, below 1 means slower with the history; for counts, the
ratio of the times, above 1 means slower). PostgreSQL runs at its default durability
settings; SQLite at ``synchronous=FULL``. Results: tables on stdout and
bench/results/history-latest.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "src"))  # this tree's hourhand

from tests.support.pgserver import PgServer  # noqa: E402

from bench import hh_drain, hh_enqueue, hourhand_source, table  # noqa: E402
from harness import postmaster_pid, rate, slowest_window  # noqa: E402
from hh_jobs import build_app  # noqa: E402
from hh_probe import Probe, sqlite_path  # noqa: E402

RESULTS = BENCH / "results" / "history-latest.json"
HISTORY_JOBS = 2_000_000  # completed jobs already in the table
SMALL_HISTORY = 100_000  # the smaller variant
JOBS = 100_000  # jobs enqueued and drained in the timed phases
CHUNK = 100_000  # jobs per enqueue_many call while making the history
WORKERS = 2
CONCURRENCY = 200
STALL = 120.0  # seconds without a completion: the drain has stalled
WINDOW = 10.0  # seconds: the slowest window's rate is reported
BUILD_TIMEOUT = 3600.0  # seconds for the history's drain (the stall check ends it sooner)
COUNTS_CALLS = 5  # hh.counts() calls timed; the median is reported

# figure -> (key in the results, True if higher is better)
FIGURES = {
    "enqueue": ("enqueue_per_s", True),
    "drain warm": ("drain_per_s", True),
    "drain cold": ("drain_cold_per_s", True),
    "counts": ("counts_ms", False),
}


def make_history(url: str, h: int, chunk: int, tmp: Path, postmaster: int | None) -> dict:
    """h completed jobs through the public path: enqueue_many in chunks, then a drain."""
    hh = build_app(url)
    try:
        t0 = time.perf_counter()
        for start in range(0, h, chunk):
            hh.enqueue_many("noop", [{} for _ in range(min(chunk, h - start))])
        enqueue_s = time.perf_counter() - t0
    finally:
        hh.close()
    drained = hh_drain(
        url,
        h,
        WORKERS,
        CONCURRENCY,
        postmaster,
        tmp,
        f"history-build-{h}",
        enqueue=False,
        interval=1.0,
        timeout=BUILD_TIMEOUT,
        stall=STALL,
    )
    if not drained["drain_complete"]:
        raise RuntimeError(f"history drain incomplete: {drained['completed']} of {h}")
    settle_s = settle(url) if not url.startswith("sqlite:") else 0.0
    return {
        "settle_s": settle_s,
        "build_enqueue_per_s": rate(h, enqueue_s),
        "build_drain_per_s": drained["drain_per_s"],
        "build_slowest_10s_per_s": slowest_window(drained["progress"], WINDOW),
        "build_drain_s": drained["drain_s"],
    }


SETTLE_TIMEOUT = 300.0  # seconds to wait for autovacuum after making a history


def settle(url: str) -> float:
    """PostgreSQL: wait until autovacuum has been through the jobs table since the history
    was made, as it has in a deployment whose history built up over days. (Right after a
    drain of millions, the last minute's claims have left dead entries in the ready index
    that every claim walks until a vacuum removes them: that is the cost of the burst that
    has just ended, not of the history.) Autovacuum alone does it, on hourhand's table
    settings (vacuum after a fixed number of changed rows); nothing here runs VACUUM.
    Returns the seconds waited."""
    import psycopg

    t0 = time.perf_counter()
    sql = (
        "SELECT coalesce(last_autovacuum > %s, false), n_dead_tup FROM pg_stat_user_tables "
        "WHERE relname = 'hourhand_jobs'"
    )
    with psycopg.connect(url, autocommit=True) as conn:
        [since] = conn.execute("SELECT now()").fetchone() or [None]
        while time.perf_counter() - t0 < SETTLE_TIMEOUT:
            row = conn.execute(sql, (since,)).fetchone()
            if row is not None and row[0] and row[1] < VACUUM_THRESHOLD:
                return round(time.perf_counter() - t0, 1)
            time.sleep(1.0)
    raise RuntimeError(f"autovacuum did not visit hourhand_jobs within {SETTLE_TIMEOUT:.0f}s")


VACUUM_THRESHOLD = 20_000  # hourhand_jobs' autovacuum_vacuum_threshold (migration 0006)


def measure(url: str, n: int, tmp: Path, postmaster: int | None) -> dict[str, Any]:
    """The timed phases on top of whatever the table holds."""
    result = hh_enqueue(url, n, 0, postmaster)
    tag = "history-measure"
    drained = hh_drain(
        url, n, WORKERS, CONCURRENCY, postmaster, tmp, tag, enqueue=False, stall=STALL
    )
    result.update({k: v for k, v in drained.items() if k not in ("progress", "worker_outputs")})
    hh = build_app(url)
    try:
        hh.counts()  # the connection opened outside the clock
        with Probe(url) as probe:
            probe.checkpoint()
        times = []
        for _ in range(COUNTS_CALLS):
            t0 = time.perf_counter()
            counts = hh.counts()
            times.append(time.perf_counter() - t0)
        result["counts_ms"] = round(statistics.median(times) * 1000, 2)
        result["counts_ms_all"] = [round(t * 1000, 2) for t in times]
        result["counts_completed"] = counts.get("completed")
    finally:
        hh.close()
    return result


def run_store(store: str, opts: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    sizes = sorted({0, min(SMALL_HISTORY, opts.history_jobs), opts.history_jobs})
    server = PgServer(fast=False).start() if store == "postgresql" else None
    postmaster = postmaster_pid(server.data) if server else None
    results = []
    try:
        for h in sizes:
            print(f"history: {store}, {h:,} completed jobs ...", file=sys.stderr, flush=True)
            if server is not None:
                url = server.create_database(f"history_{h}")
            else:
                url = f"sqlite:///{tmp / f'history-{h}.db'}"
            try:
                r: dict[str, Any] = {"store": store, "history": h, "jobs": opts.jobs}
                if h:
                    r.update(make_history(url, h, opts.chunk, tmp, postmaster))
                r.update(measure(url, opts.jobs, tmp, postmaster))
            finally:
                if server is not None:
                    server.sql(f'DROP DATABASE IF EXISTS "history_{h}" WITH (FORCE)')
                else:
                    for suffix in ("", "-wal", "-shm"):
                        Path(sqlite_path(url) + suffix).unlink(missing_ok=True)
            print(f"history: {json.dumps(r)}", file=sys.stderr, flush=True)
            results.append(r)
    finally:
        if server is not None:
            server.stop()
    empty = results[0]
    for r in results[1:]:
        r["vs_empty"] = {
            name: round(r[key] / empty[key], 3) if empty.get(key) else None
            for name, (key, _) in FIGURES.items()
        }
    return results


def report(results: list[dict[str, Any]]) -> None:
    rows = [
        (
            r["store"],
            f"{r['history']:,}",
            f"{r['build_enqueue_per_s']:,.0f}",
            f"{r['build_drain_per_s']:,.0f}",
            f"{r['build_slowest_10s_per_s']:,}" if r["build_slowest_10s_per_s"] else "-",
        )
        for r in results
        if r["history"]
    ]
    if rows:
        print("\nmaking the history (enqueue_many in chunks, then 2 worker processes)")
        table(("store", "jobs", "enqueue/s", "drain/s", "slowest 10 s"), rows)

    def us(r: dict[str, Any], prefix: str) -> str:
        c, s = r.get(f"{prefix}_client_us_per_job"), r.get(f"{prefix}_server_us_per_job")
        return f"{c or 0:.1f} / " + ("n/a" if s is None else f"{s:.1f}")

    rows = []
    for r in results:
        ratio = r.get("vs_empty", {})

        def shown(name: str, value: str, ratio: dict[str, Any] = ratio) -> str:
            return value + (f" ({ratio[name]:.2f}x)" if ratio.get(name) else "")

        rows.append(
            (
                r["store"],
                f"{r['history']:,}",
                shown("enqueue", f"{r['enqueue_per_s']:,.0f}"),
                us(r, "enqueue"),
                shown("drain warm", f"{r['drain_per_s']:,.0f}"),
                shown("drain cold", f"{r['drain_cold_per_s']:,.0f}"),
                us(r, "drain"),
                shown("counts", f"{r['counts_ms']:,.1f}"),
            )
        )
    print(f"\n{results[0]['jobs']:,} jobs on top of the history; (history/empty) in brackets")
    header = ("store", "history", "enqueue/s", "client/server µs", "drain warm/s")
    table((*header, "drain cold/s", "client/server µs (warm)", "counts ms"), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history-jobs", type=int, default=HISTORY_JOBS)
    parser.add_argument("--jobs", type=int, default=JOBS, help="enqueued and drained, timed")
    parser.add_argument("--chunk", type=int, default=CHUNK)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    opts = parser.parse_args()
    stores = {"postgres": ["postgresql"], "sqlite": ["sqlite"]}.get(
        opts.store, ["postgresql", "sqlite"]
    )
    started = datetime.now(UTC)
    results = []
    with tempfile.TemporaryDirectory(prefix="hourhand-history-") as tmp:
        for store in stores:
            results += run_store(store, opts, Path(tmp))
    report(results)
    RESULTS.parent.mkdir(exist_ok=True)
    doc = {
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join([".venv/bin/python", "bench/history.py", *sys.argv[1:]]),
        "hourhand": hourhand_source(),
        "results": results,
    }
    RESULTS.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwritten: {RESULTS.relative_to(BENCH.parent)}")


if __name__ == "__main__":
    main()
