"""PgQueuer's side of the benchmark; runs with bench/.peers/bin/python (see bench.py).

One timed phase per run, in a fresh database that bench.py made for it; PgQueuer's schema
is installed with its own ``Queries.install()``. The phases:

- ``enqueue``: N no-op jobs with ``Queries.enqueue([...], [...], [...])``, in calls of
  ``--batch`` jobs (0: one call of N).
- ``drain``: N jobs enqueued in one call, then drained by ``--procs`` worker processes of
  ``--managers`` PgQueuer instances each (``worker`` mode below).
- ``latency``: one idle worker; single enqueues, from the call's return (and from just
  before it) to the handler's first line.

A worker process runs ``--managers`` PgQueuer instances, each on its own asyncpg
connection, together on one uvloop event loop: what PgQueuer's own benchmark
(``tools/benchmark.py --dequeue K``) does to use more than one manager in a process. Each
instance runs ``PgQueuer.run(batch_size=...)``, as ``pgq run`` does. The result is JSON on
the last line of stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg
import psycopg
import uvloop
from pgqueuer import PgQueuer
from pgqueuer.db import AsyncpgDriver
from pgqueuer.models import Job
from pgqueuer.queries import Queries

from harness import (
    EnqueueMeter,
    StartRecorder,
    Workers,
    latency_stats,
    read_starts,
    run_drain,
    wait_until,
    worker_ready_then_wait_go,
)

LATENCY_FILE_ENV = "PGQ_BENCH_LATENCY_FILE"
WARMUP_JOBS = 5


# -- worker process ----------------------------------------------------------------------


async def worker_main(url: str, batch_size: int, managers: int) -> None:
    recorder = StartRecorder(os.environ.get(LATENCY_FILE_ENV))
    pgqs = []
    for _ in range(managers):
        pgq = PgQueuer(AsyncpgDriver(await asyncpg.connect(url)))

        @pgq.entrypoint("noop")
        async def noop(job: Job) -> None:
            return None

        @pgq.entrypoint("lat")
        async def lat(job: Job) -> None:
            recorder.record(int(job.payload or b"0"))

        pgqs.append(pgq)

    await asyncio.to_thread(worker_ready_then_wait_go)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: [p.shutdown.set() for p in pgqs])
    await asyncio.gather(*(p.run(batch_size=batch_size) for p in pgqs))


# -- phases ------------------------------------------------------------------------------


async def install(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await Queries(AsyncpgDriver(conn)).install()
    finally:
        await conn.close()


async def enqueue(url: str, n: int, batch: int, postmaster: int | None) -> dict:
    """Enqueue n no-op jobs in calls of ``batch`` (0: one call); timed and metered."""
    conn = await asyncpg.connect(url)
    queries = Queries(AsyncpgDriver(conn))
    size = batch or n
    await conn.execute("CHECKPOINT")
    with EnqueueMeter(postmaster) as meter:
        for start in range(0, n, size):
            k = min(size, n - start)
            ids = await queries.enqueue(["noop"] * k, [None] * k, [0] * k)
            assert len(ids) == k
    await conn.close()
    return meter.result(n)


def drain(opts: argparse.Namespace) -> dict:
    uvloop.run(enqueue(opts.url, opts.jobs, 0, None))
    with psycopg.connect(opts.url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")

        def left() -> int:
            return int(conn.execute("SELECT count(*) FROM pgqueuer").fetchone()[0])

        # completed = logged as successful (a failed job leaves the queue table too)
        done_sql = "FROM pgqueuer_log WHERE status = 'successful'"
        cmd = [sys.executable, __file__, "worker", "--url", opts.url]
        cmd += ["--batch-size", str(opts.batch_size), "--managers", str(opts.managers)]
        result = run_drain(
            cmd,
            opts.procs,
            opts.jobs,
            left=left,
            last_finish=lambda: conn.execute(
                f"SELECT extract(epoch FROM max(created)) {done_sql}"
            ).fetchone()[0],
            completed=lambda: int(conn.execute(f"SELECT count(*) {done_sql}").fetchone()[0]),
            log_dir=Path(opts.tmp),
            tag=f"pgqueuer-drain-{opts.procs}x{opts.managers}-b{opts.batch_size}",
            postmaster=opts.postmaster,
            timeout=opts.drain_timeout,
        )
        rows = conn.execute("SELECT status::text, count(*) FROM pgqueuer_log GROUP BY 1")
        result["log_statuses"] = dict(rows.fetchall())
    return result


async def latency(opts: argparse.Namespace) -> dict:
    tmp = Path(opts.tmp)
    conn = await asyncpg.connect(opts.url)
    queries = Queries(AsyncpgDriver(conn))
    lat_file = tmp / "pgqueuer-latency.txt"
    cmd = [sys.executable, __file__, "worker", "--url", opts.url]
    cmd += ["--batch-size", str(opts.batch_size), "--managers", "1"]
    workers = Workers(cmd, 1, tmp, "pgqueuer-latency", env={LATENCY_FILE_ENV: str(lat_file)})
    try:
        await asyncio.to_thread(workers.wait_ready)
        workers.go()
        for i in range(WARMUP_JOBS):
            await queries.enqueue("lat", str(-1 - i).encode(), 0)
            await asyncio.sleep(0.05)
        await wait_seen(lat_file, WARMUP_JOBS, workers)
        await idle(conn)
        called: dict[int, float] = {}
        returned: dict[int, float] = {}
        for seq in range(opts.latency_jobs):
            called[seq] = time.time()
            await queries.enqueue("lat", str(seq).encode(), 0)
            returned[seq] = time.time()
            await asyncio.sleep(opts.spacing)
        await wait_seen(lat_file, WARMUP_JOBS + opts.latency_jobs, workers)
        return latency_stats(called, returned, read_starts(lat_file))
    finally:
        await asyncio.to_thread(workers.stop)
        await conn.close()


async def wait_seen(path: Path, count: int, workers: Workers) -> None:
    def seen() -> bool:
        workers.check_alive()
        return len(read_starts(path)) >= count

    await asyncio.to_thread(wait_until, seen, 30)


async def idle(conn: asyncpg.Connection) -> None:
    """Until the queue is empty (the warm-up jobs done and logged), then a quiet moment."""
    deadline = time.monotonic() + 30
    while await conn.fetchval("SELECT count(*) FROM pgqueuer") and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["worker", "enqueue", "drain", "latency"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--batch-size", type=int, default=1000, help="dequeue batch size")
    parser.add_argument("--managers", type=int, default=1, help="PgQueuer instances a process")
    parser.add_argument("--procs", type=int, default=2, help="worker processes (drain)")
    parser.add_argument("--batch", type=int, default=0, help="enqueue batch; 0: one call")
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--latency-jobs", type=int, default=300)
    parser.add_argument("--spacing", type=float, default=0.007)
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--postmaster", type=int, default=None, help="for the server's CPU")
    parser.add_argument("--tmp", default=".")
    parser.add_argument("--index", type=int, default=0)
    opts = parser.parse_args()
    if opts.mode == "worker":
        uvloop.run(worker_main(opts.url, opts.batch_size, opts.managers))
        return
    uvloop.run(install(opts.url))
    if opts.mode == "enqueue":
        result = uvloop.run(enqueue(opts.url, opts.jobs, opts.batch, opts.postmaster))
    elif opts.mode == "drain":
        result = drain(opts)
    else:
        result = uvloop.run(latency(opts))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
