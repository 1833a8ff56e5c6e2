"""PgQueuer's side of the benchmark; runs with bench/.peers/bin/python (see bench.py).

``driver`` mode installs PgQueuer's schema with its own ``Queries.install()``, bulk-enqueues
N no-op jobs with ``Queries.enqueue([...], [...], [...])``, drains them with worker
processes (``worker`` mode: ``PgQueuer(AsyncpgDriver).run(batch_size=...)`` on uvloop, as
``pgq run`` does), then measures enqueue-to-start latency with single enqueues to one idle
worker. It prints its results as JSON on the last line of stdout.
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
import uvloop
from pgqueuer import PgQueuer
from pgqueuer.db import AsyncpgDriver
from pgqueuer.models import Job
from pgqueuer.queries import Queries

from harness import (
    DRAIN_POLL_INTERVAL,
    StartRecorder,
    Workers,
    drain_result,
    latency_stats,
    rate,
    read_starts,
    worker_ready_then_wait_go,
)

LATENCY_FILE_ENV = "PGQ_BENCH_LATENCY_FILE"
WARMUP_JOBS = 5


# -- worker process ----------------------------------------------------------------------


async def worker_main(url: str, batch_size: int) -> None:
    conn = await asyncpg.connect(url)
    pgq = PgQueuer(AsyncpgDriver(conn))
    recorder = StartRecorder(os.environ.get(LATENCY_FILE_ENV))

    @pgq.entrypoint("noop")
    async def noop(job: Job) -> None:
        return None

    @pgq.entrypoint("lat")
    async def lat(job: Job) -> None:
        recorder.record(int(job.payload or b"0"))

    await asyncio.to_thread(worker_ready_then_wait_go)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, pgq.shutdown.set)
    await pgq.run(batch_size=batch_size)


# -- driver ------------------------------------------------------------------------------


async def queued(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM pgqueuer"))


async def wait_for(check, timeout: float, interval: float, workers: Workers) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        workers.check_alive()
        await asyncio.sleep(interval)
    return bool(await check())


async def driver_main(opts: argparse.Namespace) -> dict:
    tmp = Path(opts.tmp)
    conn = await asyncpg.connect(opts.url)
    queries = Queries(AsyncpgDriver(conn))
    await queries.install()
    n = opts.jobs
    result: dict = {
        "system": "pgqueuer",
        "store": "postgresql",
        "settings": {
            "drain_workers": opts.workers,
            "batch_size": opts.batch_size,
            "driver": "asyncpg",
            "loop": "uvloop",
        },
    }

    # (a) bulk enqueue: one call with lists
    entrypoints, payloads, priorities = ["noop"] * n, [None] * n, [0] * n
    t0 = time.perf_counter()
    ids = await queries.enqueue(entrypoints, payloads, priorities)
    enqueue_s = time.perf_counter() - t0
    assert len(ids) == n
    result["enqueue_s"] = round(enqueue_s, 3)
    result["enqueue_per_s"] = rate(n, enqueue_s)

    # (b) drain: completed jobs leave the queue table (and go to pgqueuer_log)
    cmd = [sys.executable, __file__, "worker", "--url", opts.url, "--batch-size"]
    cmd.append(str(opts.batch_size))
    workers = Workers(cmd, opts.workers, tmp, "pgqueuer-drain")
    try:
        await asyncio.to_thread(workers.wait_ready)
        go_wall = time.time()
        t0 = time.perf_counter()
        workers.go()
        await wait_for(
            lambda: _empty(conn), opts.drain_timeout, DRAIN_POLL_INTERVAL, workers=workers
        )
        poll_s = time.perf_counter() - t0
    finally:
        await asyncio.to_thread(workers.stop)
    # completed = logged as successful (a failed job is deleted from the queue table too)
    completed, last = await conn.fetchrow(
        "SELECT count(*), extract(epoch FROM max(created)) FROM pgqueuer_log "
        "WHERE status = 'successful'"
    )
    result["log_statuses"] = dict(
        await conn.fetch("SELECT status::text, count(*) FROM pgqueuer_log GROUP BY status")
    )
    result.update(drain_result(n, completed, go_wall, last, poll_s))

    # (c) latency to an idle worker
    lat_file = tmp / "pgqueuer-latency.txt"
    workers = Workers(cmd, 1, tmp, "pgqueuer-latency", env={LATENCY_FILE_ENV: str(lat_file)})
    try:
        await asyncio.to_thread(workers.wait_ready)
        workers.go()
        for i in range(WARMUP_JOBS):
            await queries.enqueue("lat", str(-1 - i).encode(), 0)
            await asyncio.sleep(0.05)
        await wait_for(lambda: _seen(lat_file, WARMUP_JOBS), 30, interval=0.05, workers=workers)
        await asyncio.sleep(0.2)
        sent: dict[int, float] = {}
        for seq in range(opts.latency_jobs):
            t = time.time()
            await queries.enqueue("lat", str(seq).encode(), 0)
            sent[seq] = t
            await asyncio.sleep(opts.spacing)
        await wait_for(
            lambda: _seen(lat_file, WARMUP_JOBS + opts.latency_jobs),
            30,
            interval=0.05,
            workers=workers,
        )
        result.update(latency_stats(sent, read_starts(lat_file)))
    finally:
        await asyncio.to_thread(workers.stop)
    await conn.close()
    return result


async def _empty(conn: asyncpg.Connection) -> bool:
    return await queued(conn) == 0


async def _seen(path: Path, count: int) -> bool:
    return len(read_starts(path)) >= count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["driver", "worker"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--latency-jobs", type=int, default=300)
    parser.add_argument("--spacing", type=float, default=0.007)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--tmp", default=".")
    parser.add_argument("--index", type=int, default=0)
    opts = parser.parse_args()
    if opts.mode == "worker":
        uvloop.run(worker_main(opts.url, opts.batch_size))
    else:
        print(json.dumps(uvloop.run(driver_main(opts))), flush=True)


if __name__ == "__main__":
    main()
