"""The chaos suite's workload: one job type whose body first records that it ran.

Each execution appends one line ``job_id attempt pid`` to ``exec-<pid>.log`` in the folder
named by ``CHAOS_LOG_DIR``, with a single ``os.write`` on a file opened with ``O_APPEND``:
the line is in the kernel once the call returns, so it survives ``kill -9`` of the worker.
The tests read those files to count how many times each job's body ran, and where.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from hourhand import Hourhand, JobContext, Retry

hh = Hourhand()  # the database comes from --database / HOURHAND_DATABASE

_log: tuple[int, int] | None = None  # (pid, fd) of this process's execution log


def record(job_id: int, attempt: int) -> None:
    global _log
    pid = os.getpid()
    if _log is None or _log[0] != pid:
        folder = os.environ["CHAOS_LOG_DIR"]
        fd = os.open(f"{folder}/exec-{pid}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        _log = (pid, fd)
    os.write(_log[1], f"{job_id} {attempt} {pid}\n".encode())


@hh.job("chaos:work", max_attempts=10, retry=Retry.fixed([0.2]))
async def work(ctx: JobContext, ms: int) -> None:
    record(ctx.job_id, ctx.attempt)
    await asyncio.sleep(ms / 1000)


def executions(folder: Path) -> list[tuple[int, int, int]]:
    """Every recorded execution: (job_id, attempt, pid)."""
    out: list[tuple[int, int, int]] = []
    for path in sorted(folder.glob("exec-*.log")):
        for line in path.read_text().splitlines():
            job_id, attempt, pid = line.split()
            out.append((int(job_id), int(attempt), int(pid)))
    return out
