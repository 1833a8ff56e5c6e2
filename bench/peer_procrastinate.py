"""procrastinate's side of the benchmark; runs with bench/.peers/bin/python (see bench.py).

One timed phase per run, in a fresh database that bench.py made for it; the schema is
applied with procrastinate's own schema manager (what ``procrastinate schema --apply``
runs). The phases:

- ``enqueue``: N no-op jobs with one ``Task.batch_defer_async`` call.
- ``drain``: N jobs enqueued so, then drained by ``--procs`` worker processes (``worker``
  mode: ``App.run_worker_async(concurrency=...)`` with LISTEN/NOTIFY on).
- ``latency``: one idle worker; ``defer_async`` one job at a time, from the call's return
  (and from just before it) to the handler's first line.

The result is JSON on the last line of stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import procrastinate
import psycopg

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

LATENCY_FILE_ENV = "PROC_BENCH_LATENCY_FILE"
WARMUP_JOBS = 5


def build_app(url: str, pool_size: int) -> procrastinate.App:
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=url, min_size=min(4, pool_size), max_size=pool_size
        )
    )
    recorder = StartRecorder(os.environ.get(LATENCY_FILE_ENV))

    @app.task(name="noop")
    async def noop() -> None:
        return None

    @app.task(name="lat")
    async def lat(seq: int) -> None:
        recorder.record(seq)

    return app


# -- worker process ----------------------------------------------------------------------


async def worker_main(url: str, concurrency: int) -> None:
    # one connection per job slot, plus the listener's and the side tasks'
    app = build_app(url, concurrency + 3)
    async with app.open_async():
        await asyncio.to_thread(worker_ready_then_wait_go)
        await app.run_worker_async(
            concurrency=concurrency,
            install_signal_handlers=True,
            listen_notify=True,
        )


# -- phases ------------------------------------------------------------------------------


async def install(url: str) -> None:
    app = build_app(url, 2)
    async with app.open_async():
        await app.schema_manager.apply_schema_async()


async def enqueue(url: str, n: int, postmaster: int | None) -> dict:
    app = build_app(url, 4)
    async with app.open_async():
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
        args_list: list[dict] = [{} for _ in range(n)]
        with EnqueueMeter(postmaster) as meter:
            ids = await app.tasks["noop"].batch_defer_async(*args_list)
        assert len(ids) == n
    return meter.result(n)


def drain(opts: argparse.Namespace) -> dict:
    asyncio.run(enqueue(opts.url, opts.jobs, None))
    with psycopg.connect(opts.url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")

        def scalar(sql: str) -> object:
            return conn.execute(sql).fetchone()[0]

        cmd = [sys.executable, __file__, "worker", "--url", opts.url]
        cmd += ["--concurrency", str(opts.concurrency)]
        result = run_drain(
            cmd,
            opts.procs,
            opts.jobs,
            left=lambda: int(
                scalar("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")
            ),
            last_finish=lambda: scalar(
                "SELECT extract(epoch FROM max(at)) FROM procrastinate_events "
                "WHERE type = 'succeeded'"
            ),
            completed=lambda: int(
                scalar("SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'")
            ),
            log_dir=Path(opts.tmp),
            tag=f"procrastinate-drain-c{opts.concurrency}",
            postmaster=opts.postmaster,
            timeout=opts.drain_timeout,
        )
    result["pool_max_size"] = opts.concurrency + 3
    return result


async def latency(opts: argparse.Namespace) -> dict:
    tmp = Path(opts.tmp)
    lat_file = tmp / "procrastinate-latency.txt"
    cmd = [sys.executable, __file__, "worker", "--url", opts.url]
    cmd += ["--concurrency", str(opts.concurrency)]
    app = build_app(opts.url, 4)
    async with app.open_async():
        lat = app.tasks["lat"]
        env = {LATENCY_FILE_ENV: str(lat_file)}
        workers = Workers(cmd, 1, tmp, "procrastinate-latency", env=env)
        try:
            await asyncio.to_thread(workers.wait_ready)
            workers.go()
            for i in range(WARMUP_JOBS):
                await lat.defer_async(seq=-1 - i)
                await asyncio.sleep(0.05)
            await wait_seen(lat_file, WARMUP_JOBS, workers)
            await asyncio.to_thread(idle, opts.url)
            called: dict[int, float] = {}
            returned: dict[int, float] = {}
            for seq in range(opts.latency_jobs):
                called[seq] = time.time()
                await lat.defer_async(seq=seq)
                returned[seq] = time.time()
                await asyncio.sleep(opts.spacing)
            await wait_seen(lat_file, WARMUP_JOBS + opts.latency_jobs, workers)
            return latency_stats(called, returned, read_starts(lat_file))
        finally:
            await asyncio.to_thread(workers.stop)


async def wait_seen(path: Path, count: int, workers: Workers) -> None:
    def seen() -> bool:
        workers.check_alive()
        return len(read_starts(path)) >= count

    await asyncio.to_thread(wait_until, seen, 30)


def idle(url: str) -> None:
    """Until no job is left to do (the warm-up jobs finished), then a quiet moment."""
    sql = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
    with psycopg.connect(url, autocommit=True) as conn:
        wait_until(lambda: conn.execute(sql).fetchone()[0] == 0, 30)
    time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["worker", "enqueue", "drain", "latency"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--procs", type=int, default=2, help="worker processes (drain)")
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--latency-jobs", type=int, default=300)
    parser.add_argument("--spacing", type=float, default=0.007)
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--postmaster", type=int, default=None, help="for the server's CPU")
    parser.add_argument("--tmp", default=".")
    parser.add_argument("--index", type=int, default=0)
    opts = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if opts.mode == "worker":
        asyncio.run(worker_main(opts.url, opts.concurrency))
        return
    asyncio.run(install(opts.url))
    if opts.mode == "enqueue":
        result = asyncio.run(enqueue(opts.url, opts.jobs, opts.postmaster))
    elif opts.mode == "drain":
        result = drain(opts)
    else:
        result = asyncio.run(latency(opts))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
