"""procrastinate's side of the benchmark; runs with bench/.peers/bin/python (see bench.py).

``driver`` mode applies procrastinate's schema with its own schema manager (what
``procrastinate schema --apply`` runs), bulk-enqueues N no-op jobs with
``Task.batch_defer_async``, drains them with worker processes (``worker`` mode:
``App.run_worker_async(concurrency=...)`` with LISTEN/NOTIFY on), then measures
enqueue-to-start latency with ``defer_async`` to one idle worker. It prints its results as
JSON on the last line of stdout.
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


# -- driver ------------------------------------------------------------------------------


async def count(app: procrastinate.App, status: str) -> int:
    row = await app.connector.execute_query_one_async(
        "SELECT count(*) AS n FROM procrastinate_jobs WHERE status = %(status)s",
        status=status,
    )
    return int(row["n"])


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
    n = opts.jobs
    result: dict = {
        "system": "procrastinate",
        "store": "postgresql",
        "settings": {
            "drain_workers": opts.workers,
            "concurrency": opts.concurrency,
            "pool_max_size": opts.concurrency + 3,
            "listen_notify": True,
        },
    }
    app = build_app(opts.url, 4)
    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        noop = app.tasks["noop"]
        lat = app.tasks["lat"]

        # (a) bulk enqueue: one batch_defer_async call
        args_list: list[dict] = [{} for _ in range(n)]
        t0 = time.perf_counter()
        ids = await noop.batch_defer_async(*args_list)
        enqueue_s = time.perf_counter() - t0
        assert len(ids) == n
        result["enqueue_s"] = round(enqueue_s, 3)
        result["enqueue_per_s"] = rate(n, enqueue_s)

        # (b) drain
        cmd = [sys.executable, __file__, "worker", "--url", opts.url, "--concurrency"]
        cmd.append(str(opts.concurrency))
        workers = Workers(cmd, opts.workers, tmp, "procrastinate-drain")

        async def drained() -> bool:
            return await count(app, "succeeded") >= n

        try:
            await asyncio.to_thread(workers.wait_ready)
            go_wall = time.time()
            t0 = time.perf_counter()
            workers.go()
            await wait_for(drained, opts.drain_timeout, DRAIN_POLL_INTERVAL, workers=workers)
            poll_s = time.perf_counter() - t0
        finally:
            await asyncio.to_thread(workers.stop)
        completed = await count(app, "succeeded")
        row = await app.connector.execute_query_one_async(
            "SELECT extract(epoch FROM max(at)) AS last FROM procrastinate_events "
            "WHERE type = 'succeeded'"
        )
        result.update(drain_result(n, completed, go_wall, row["last"], poll_s))

        # (c) latency to an idle worker
        lat_file = tmp / "procrastinate-latency.txt"
        env = {LATENCY_FILE_ENV: str(lat_file)}
        workers = Workers(cmd, 1, tmp, "procrastinate-latency", env=env)

        async def seen(k: int) -> bool:
            return len(read_starts(lat_file)) >= k

        try:
            await asyncio.to_thread(workers.wait_ready)
            workers.go()
            for i in range(WARMUP_JOBS):
                await lat.defer_async(seq=-1 - i)
                await asyncio.sleep(0.05)
            await wait_for(lambda: seen(WARMUP_JOBS), 30, interval=0.05, workers=workers)
            await asyncio.sleep(0.2)
            sent: dict[int, float] = {}
            for seq in range(opts.latency_jobs):
                t = time.time()
                await lat.defer_async(seq=seq)
                sent[seq] = t
                await asyncio.sleep(opts.spacing)
            await wait_for(
                lambda: seen(WARMUP_JOBS + opts.latency_jobs), 30, interval=0.05, workers=workers
            )
            result.update(latency_stats(sent, read_starts(lat_file)))
        finally:
            await asyncio.to_thread(workers.stop)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["driver", "worker"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--latency-jobs", type=int, default=300)
    parser.add_argument("--spacing", type=float, default=0.007)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--tmp", default=".")
    parser.add_argument("--index", type=int, default=0)
    opts = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if opts.mode == "worker":
        asyncio.run(worker_main(opts.url, opts.concurrency))
    else:
        print(json.dumps(asyncio.run(driver_main(opts))), flush=True)


if __name__ == "__main__":
    main()
