"""An app for worker subprocesses in tests: handlers record each execution in a table of
the jobs database itself, so the test can count executions exactly."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import psycopg

from hourhand import Hourhand, JobContext, Retry

hh = Hourhand(auto_migrate=True)  # database from HOURHAND_DATABASE

_conn: Any = None


def connect(url: str) -> Any:
    if url.startswith("sqlite"):
        return sqlite3.connect(url.split(":///", 1)[1], timeout=30, isolation_level=None)
    return psycopg.connect(url, autocommit=True)


def create_executions_table(url: str) -> None:
    conn = connect(url)
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS test_executions "
            "(job_id bigint NOT NULL, attempt int NOT NULL, pid int NOT NULL)"
        )
    finally:
        conn.close()


def executions(url: str) -> list[tuple[int, int, int]]:
    conn = connect(url)
    try:
        rows = conn.execute("SELECT job_id, attempt, pid FROM test_executions").fetchall()
        return [tuple(r) for r in rows]
    finally:
        conn.close()


def record(ctx: JobContext) -> None:
    global _conn
    if _conn is None:
        _conn = connect(hh.database_url)
    placeholder = "?" if hh.database_url.startswith("sqlite") else "%s"
    _conn.execute(
        f"INSERT INTO test_executions VALUES ({placeholder}, {placeholder}, {placeholder})",
        (ctx.job_id, ctx.attempt, os.getpid()),
    )


@hh.job("count")
async def count(ctx: JobContext) -> None:
    record(ctx)


@hh.job("sleepy", retry=Retry.fixed([0.1]))
async def sleepy(ctx: JobContext, first: float, later: float = 0.0) -> int:
    """Runs ``first`` seconds on its first attempt and ``later`` seconds after that."""
    record(ctx)
    await asyncio.sleep(first if ctx.attempt == 1 else later)
    return os.getpid()


@hh.job("gated", retry=Retry.fixed([0.1]))
def gated(ctx: JobContext, gate: str) -> int:
    """Runs until the file ``gate`` exists (or it is cancelled)."""
    record(ctx)
    while not Path(gate).exists() and not ctx.cancel_event.is_set():
        time.sleep(0.01)
    return os.getpid()
