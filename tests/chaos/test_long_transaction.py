"""Chaos: a transaction left open (a forgotten session, a long report) through a whole drain.

PostgreSQL: ``BEGIN; SELECT count(*) FROM hourhand_jobs`` and the session stays idle in
transaction: it holds a lock on the table and keeps every row version the drain makes dead
from being cleaned up. SQLite: an open read transaction, which keeps the WAL from being
checkpointed past its snapshot.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hourhand import Hourhand
from tests.chaos.harness import Figures, Fleet, account, store_of, verdict, wait_drained

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

JOBS = 3000
WORKERS = 2
CONCURRENCY = 10
LEASE = 10.0
DRAIN_TIMEOUT = 90.0


class OpenTransaction:
    """A session of the test that begins a transaction, reads the jobs table, and idles."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: Any
        if url.startswith("sqlite"):
            self.conn = sqlite3.connect(url.split(":///", 1)[1], isolation_level=None)
        else:
            self.conn = psycopg.connect(url, autocommit=True)
        self.conn.execute("BEGIN")
        self.seen = self.conn.execute("SELECT count(*) FROM hourhand_jobs").fetchone()[0]

    def still_open(self) -> str | None:
        """None if the transaction is still open and idle, else what became of it."""
        if isinstance(self.conn, sqlite3.Connection):
            return None if self.conn.in_transaction else "the SQLite transaction ended"
        status = self.conn.info.transaction_status
        if status != psycopg.pq.TransactionStatus.INTRANS:
            return f"the PostgreSQL session is {status.name}, not idle in transaction"
        pid = self.conn.info.backend_pid
        with psycopg.connect(self.url, autocommit=True) as other:
            row = other.execute(
                "SELECT state FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
        if row is None or row[0] != "idle in transaction":
            return f"the session's backend is {row[0] if row else 'gone'}"
        return None

    def close(self) -> None:
        try:
            self.conn.execute("ROLLBACK")
        finally:
            self.conn.close()


def test_transaction_left_open_through_a_drain(
    chaos_url: str,
    tmp_path: Path,
    apps: Callable[[str], Hourhand],
    record_figures: Callable[[Figures], None],
) -> None:
    sqlite = chaos_url.startswith("sqlite")
    what = "read transaction" if sqlite else "idle in transaction"
    figures = Figures(f"open {what}", store_of(chaos_url))
    app = apps(chaos_url)
    app.counts()  # the schema exists before the transaction reads the table
    rng = random.Random()
    fleet = Fleet(chaos_url, tmp_path, concurrency=CONCURRENCY, lease=LEASE)
    started = time.time()
    txn = OpenTransaction(chaos_url)
    figures.faults = 1
    try:
        # Enqueued with the transaction open: a bulk insert, then 3000 jobs of 10-30 ms on
        # 20 slots, at least 3 s of work.
        ids = app.enqueue_many("chaos:work", [{"ms": rng.randint(10, 30)} for _ in range(JOBS)])
        fleet.start(WORKERS)
        drained = wait_drained(app, JOBS, DRAIN_TIMEOUT)
        ended = txn.still_open()
        fleet.check(replace=False)
        fleet.stop()
        if sqlite:
            wal = Path(chaos_url.split(":///", 1)[1] + "-wal")
            size = wal.stat().st_size if wal.exists() else 0
            figures.notes.append(f"WAL at the end of the drain: {size / 1e6:.1f} MB")
    except BaseException:
        fleet.kill_all()
        raise
    finally:
        txn.close()

    # The fault lasts through the whole drain: "recover" is from the transaction's start.
    account(figures, app, fleet, started=started, last_fault=started, expected=ids)
    if not drained:
        figures.problems.append(f"the drain did not finish within {DRAIN_TIMEOUT:.0f}s")
    if ended is not None:
        figures.problems.append(f"the long transaction did not last the drain: {ended}")
    record_figures(figures)

    assert not figures.problems, verdict(figures, fleet)
    assert figures.lost == 0
    assert figures.failed == 0
    assert figures.duplicates == 0
    assert figures.bad_exits == 0
