"""hourhand's job types for the benchmark, importable from the worker processes."""

from __future__ import annotations

import os

from harness import StartRecorder
from hourhand import Hourhand, JobContext

LATENCY_FILE_ENV = "HH_BENCH_LATENCY_FILE"


def build_app(url: str) -> Hourhand:
    """The benchmark's app: a no-op job for throughput, a recording one for latency."""
    hh = Hourhand(url)
    recorder = StartRecorder(os.environ.get(LATENCY_FILE_ENV))

    @hh.job("noop")
    async def noop(ctx: JobContext) -> None:
        return None

    @hh.job("lat")
    async def lat(ctx: JobContext, seq: int) -> None:
        recorder.record(seq)

    return hh
