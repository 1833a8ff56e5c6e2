"""Benchmark: hourhand (PostgreSQL, SQLite) against PgQueuer and procrastinate.

Run from the repo root: ``.venv/bin/python bench/bench.py [--jobs N] [--quick]``.

For each system and store: bulk-enqueue N no-op jobs (enqueue jobs/s), drain them with 2
worker processes (drain jobs/s, from "go" until all N are completed), then enqueue single
jobs one at a time to an idle worker and measure enqueue-to-start latency (p50/p99).
The peers run in their own virtualenv (bench/.peers, made here if missing) through
bench/peer_*.py, on the same PostgreSQL server (its default durability settings), each
in a database of its own. Results: a table on stdout and bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from tests.support.pgserver import PgServer  # noqa: E402

from harness import (  # noqa: E402
    DRAIN_POLL_INTERVAL,
    Workers,
    drain_result,
    latency_stats,
    rate,
    read_starts,
    wait_until,
)
from hh_jobs import LATENCY_FILE_ENV, build_app  # noqa: E402

PEERS_VENV = BENCH / ".peers"
PEERS_PYTHON = PEERS_VENV / "bin" / "python"
PEER_PACKAGES = ["pgqueuer", "procrastinate", "psycopg[binary]", "asyncpg"]
RESULTS = BENCH / "results" / "latest.json"

DRAIN_WORKERS = 2  # worker processes for the drain (the machine has 2 cores)
HH_CONCURRENCY = 200  # jobs running at once per hourhand worker process
HH_POLL_INTERVAL = 1.0  # seconds; wake-ups come from NOTIFY / data_version well before
PGQ_BATCH_SIZE = 1000  # PgQueuer dequeue batch size
PROC_CONCURRENCY = 10  # procrastinate worker concurrency (per process)
DRAIN_TIMEOUT = 300.0  # seconds, per system
WARMUP_JOBS = 5  # latency jobs run (and not counted) before measuring
SETTINGS: dict[str, int] = {}  # the above, as overridden on the command line


def ensure_peers() -> None:
    """Create bench/.peers with the peers from PyPI, unless it is already there."""
    check = [str(PEERS_PYTHON), "-c", "import pgqueuer, procrastinate, asyncpg, psycopg"]
    if PEERS_PYTHON.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return
    print("bench: installing the peers into bench/.peers ...", file=sys.stderr, flush=True)
    uv = [sys.executable if _has_uv(sys.executable) else "python3", "-m", "uv"]
    subprocess.run([*uv, "venv", "-q", str(PEERS_VENV)], check=True)
    subprocess.run(
        [*uv, "pip", "install", "-q", "--python", str(PEERS_PYTHON), *PEER_PACKAGES], check=True
    )


def _has_uv(python: str) -> bool:
    return subprocess.run([python, "-m", "uv", "--version"], capture_output=True).returncode == 0


def peer_versions() -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json;"
        "print(json.dumps({p: m.version(p) for p in ('pgqueuer', 'procrastinate', 'asyncpg',"
        " 'psycopg')}))"
    )
    out = subprocess.run([str(PEERS_PYTHON), "-c", code], capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else {}


def checkpoint(server: PgServer) -> None:
    """Flush the previous system's dirty pages so its checkpoint does not land in the next."""
    import psycopg

    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute("CHECKPOINT")


# -- hourhand ----------------------------------------------------------------------------


def bench_hourhand(
    store: str, url: str, n: int, lat_jobs: int, spacing: float, tmp: Path
) -> dict[str, Any]:
    tag = f"hourhand-{store}"
    hh = build_app(url)
    hh.store  # noqa: B018  open and migrate outside the timings
    result: dict[str, Any] = {
        "system": "hourhand",
        "store": store,
        "settings": {
            "drain_workers": DRAIN_WORKERS,
            "concurrency": SETTINGS["hh_concurrency"],
            "poll_interval": HH_POLL_INTERVAL,
        },
    }
    try:
        # (a) bulk enqueue
        args_list: list[dict[str, Any]] = [{} for _ in range(n)]
        t0 = time.perf_counter()
        ids = hh.enqueue_many("noop", args_list)
        enqueue_s = time.perf_counter() - t0
        assert len(ids) == n, len(ids)
        result["enqueue_s"] = round(enqueue_s, 3)
        result["enqueue_per_s"] = rate(n, enqueue_s)

        # (b) drain with worker processes
        cmd = [
            sys.executable,
            str(BENCH / "hh_worker.py"),
            "--url",
            url,
            "--concurrency",
            str(SETTINGS["hh_concurrency"]),
            "--poll-interval",
            str(HH_POLL_INTERVAL),
        ]
        workers = Workers(cmd, DRAIN_WORKERS, tmp, f"{tag}-drain")
        try:
            workers.wait_ready()
            go_wall = time.time()
            t0 = time.perf_counter()
            workers.go()
            wait_until(
                lambda: left(url) == 0,
                DRAIN_TIMEOUT,
                interval=DRAIN_POLL_INTERVAL,
                on_poll=workers.check_alive,
            )
            poll_s = time.perf_counter() - t0
        finally:
            outputs = workers.stop()
        completed = hh.counts()["completed"]
        result.update(drain_result(n, completed, go_wall, last_finished(url), poll_s))
        result["worker_stats"] = [_last_json(o) for o in outputs]

        # (c) latency to an idle worker
        lat_file = tmp / f"{tag}-latency.txt"
        env = {LATENCY_FILE_ENV: str(lat_file)}
        workers = Workers(cmd, 1, tmp, f"{tag}-latency", env=env)
        try:
            workers.wait_ready()
            workers.go()
            result.update(_hh_latency(hh, lat_file, lat_jobs, spacing, workers))
        finally:
            workers.stop()
    finally:
        hh.close()
    return result


def _scalar(url: str, sql: str) -> Any:
    if url.startswith("sqlite:"):
        import sqlite3

        with contextlib.closing(sqlite3.connect(url.split("://", 1)[1][1:])) as conn:
            return conn.execute(sql).fetchone()[0]
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
    return None if row is None else row[0]


def left(url: str) -> int:
    """Jobs not yet completed: as cheap as PgQueuer's ``count(*)`` of its live queue table
    (both count through partial indexes), unlike ``hh.counts()``, which counts the history."""
    sql = "SELECT count(*) FROM hourhand_jobs WHERE state IN ('queued', 'running')"
    return int(_scalar(url, sql))


def last_finished(url: str) -> float | None:
    """Epoch seconds of hourhand's last completion, read from its jobs table."""
    sql = "SELECT max(finished_at) FROM hourhand_jobs WHERE state = 'completed'"
    if url.startswith("sqlite:"):
        import sqlite3

        with contextlib.closing(sqlite3.connect(url.split("://", 1)[1][1:])) as conn:
            row = conn.execute(sql).fetchone()
        return None if row[0] is None else float(row[0])
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(sql.replace("max(finished_at)", "extract(epoch FROM max(finished_at))"))
        value = row.fetchone()
    return None if value is None or value[0] is None else float(value[0])


def _hh_latency(
    hh: Any, lat_file: Path, count: int, spacing: float, workers: Workers
) -> dict[str, Any]:
    for i in range(WARMUP_JOBS):  # warm the worker up: connections, notification listener
        hh.enqueue("lat", {"seq": -1 - i})
        time.sleep(0.05)
    if not wait_until(lambda: len(read_starts(lat_file)) >= WARMUP_JOBS, 30):
        raise RuntimeError("hourhand latency warm-up jobs did not run")
    time.sleep(0.2)
    sent: dict[int, float] = {}
    for seq in range(count):
        t = time.time()
        hh.enqueue("lat", {"seq": seq})
        sent[seq] = t
        time.sleep(spacing)
    wait_until(
        lambda: len(read_starts(lat_file)) >= WARMUP_JOBS + count,
        30,
        on_poll=workers.check_alive,
    )
    return latency_stats(sent, read_starts(lat_file))


def _last_json(output: str) -> Any:
    for line in reversed(output.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


# -- peers -------------------------------------------------------------------------------


def bench_peer(
    name: str, url: str, n: int, lat_jobs: int, spacing: float, tmp: Path
) -> dict[str, Any]:
    script = BENCH / f"peer_{name}.py"
    cmd = [
        str(PEERS_PYTHON),
        str(script),
        "driver",
        "--url",
        url,
        "--jobs",
        str(n),
        "--latency-jobs",
        str(lat_jobs),
        "--spacing",
        str(spacing),
        "--workers",
        str(DRAIN_WORKERS),
        "--tmp",
        str(tmp),
        "--drain-timeout",
        str(DRAIN_TIMEOUT),
    ]
    if name == "pgqueuer":
        cmd += ["--batch-size", str(SETTINGS["pgq_batch_size"])]
    else:
        cmd += ["--concurrency", str(SETTINGS["proc_concurrency"])]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, cwd=ROOT, timeout=DRAIN_TIMEOUT + 300
    )
    found = _last_json(proc.stdout)
    if proc.returncode != 0 or not isinstance(found, dict):
        raise RuntimeError(
            f"{name} run failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return found


# -- report ------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def report(results: list[dict[str, Any]]) -> dict[str, Any]:
    header = ("system", "store", "enqueue jobs/s", "drain jobs/s", "p50 ms", "p99 ms")
    rows = [
        (
            r["system"],
            r["store"],
            _fmt(r.get("enqueue_per_s")),
            _fmt(r.get("drain_per_s")) + ("" if r.get("drain_complete", True) else " (timeout)"),
            _fmt(r.get("p50_ms"), 1),
            _fmt(r.get("p99_ms"), 1),
        )
        for r in results
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    print()
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))

    by = {(r["system"], r["store"]): r for r in results}
    hh_pg = by.get(("hourhand", "postgresql"))
    ratios: dict[str, Any] = {}
    if hh_pg:
        for peer in ("pgqueuer", "procrastinate"):
            other = by.get((peer, "postgresql"))
            if not other:
                continue
            for what in ("drain", "enqueue"):
                a, b = hh_pg.get(f"{what}_per_s"), other.get(f"{what}_per_s")
                if a and b:
                    ratios[f"{what}_vs_{peer}"] = round(a / b, 2)
    hh_lite = by.get(("hourhand", "sqlite"))
    print()
    for key, value in ratios.items():
        what, peer = key.split("_vs_")
        print(f"hourhand(PostgreSQL) {what} / {peer}: {value:.2f}x")
    if hh_lite:
        print(f"hourhand(SQLite) drain: {_fmt(hh_lite.get('drain_per_s'))} jobs/s")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=None, help="jobs to enqueue/drain (20000)")
    parser.add_argument("--quick", action="store_true", help="small run: 2000 jobs, 100 latency")
    parser.add_argument("--latency-jobs", type=int, default=None, help="single enqueues (300)")
    parser.add_argument("--spacing", type=float, default=0.007, help="seconds between them")
    parser.add_argument(
        "--only",
        default="hourhand-pg,hourhand-sqlite,pgqueuer,procrastinate",
        help="comma-separated subset of: hourhand-pg, hourhand-sqlite, pgqueuer, procrastinate",
    )
    parser.add_argument("--hh-concurrency", type=int, default=HH_CONCURRENCY)
    parser.add_argument("--pgq-batch-size", type=int, default=PGQ_BATCH_SIZE)
    parser.add_argument("--proc-concurrency", type=int, default=PROC_CONCURRENCY)
    opts = parser.parse_args()
    SETTINGS.update(
        hh_concurrency=opts.hh_concurrency,
        pgq_batch_size=opts.pgq_batch_size,
        proc_concurrency=opts.proc_concurrency,
    )
    n = opts.jobs or (2000 if opts.quick else 20000)
    lat_jobs = opts.latency_jobs or (100 if opts.quick else 300)
    only = {s.strip() for s in opts.only.split(",") if s.strip()}

    if only & {"pgqueuer", "procrastinate"}:
        ensure_peers()
    results: list[dict[str, Any]] = []
    started = datetime.now(UTC)
    server = PgServer(fast=False).start()
    try:
        with tempfile.TemporaryDirectory(prefix="hourhand-bench-") as tmp_name:
            tmp = Path(tmp_name)
            plan = [
                ("hourhand-pg", "postgresql"),
                ("hourhand-sqlite", "sqlite"),
                ("pgqueuer", "postgresql"),
                ("procrastinate", "postgresql"),
            ]
            for key, store in plan:
                if key not in only:
                    continue
                print(f"bench: {key} ({n} jobs) ...", file=sys.stderr, flush=True)
                checkpoint(server)
                t0 = time.monotonic()
                if key == "hourhand-pg":
                    url = server.create_database("bench_hourhand")
                    r = bench_hourhand(store, url, n, lat_jobs, opts.spacing, tmp)
                elif key == "hourhand-sqlite":
                    url = f"sqlite:///{tmp / 'bench.db'}"
                    r = bench_hourhand(store, url, n, lat_jobs, opts.spacing, tmp)
                else:
                    url = server.create_database(f"bench_{key}")
                    r = bench_peer(key, url, n, lat_jobs, opts.spacing, tmp)
                r["wall_s"] = round(time.monotonic() - t0, 1)
                results.append(r)
                print(f"bench: {key}: {json.dumps(r)}", file=sys.stderr, flush=True)
    finally:
        server.stop()

    ratios = report(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join([".venv/bin/python", "bench/bench.py", *sys.argv[1:]]),
        "jobs": n,
        "latency_jobs": lat_jobs,
        "spacing_s": opts.spacing,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "peers": peer_versions() if only & {"pgqueuer", "procrastinate"} else {},
        "results": results,
        "ratios": ratios,
    }
    RESULTS.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwritten: {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
