"""SQLite's connections: bounded however many threads use the store, never left inside a
transaction."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from hourhand import Hourhand, JobContext
from hourhand.store.sqlite import MAX_IDLE_CONNECTIONS, SQLiteStore


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_many_short_lived_threads_do_not_keep_connections_open(tmp_path: Path) -> None:
    hh = Hourhand(f"sqlite:///{tmp_path}/h.db")

    @hh.job("x")
    async def x(ctx: JobContext) -> None:
        return None

    try:
        hh.enqueue("x")
        before = open_files()
        after: list[int] = []
        for _ in range(2):
            for _ in range(10):  # 300 threads, 30 at a time, each enqueueing once and ending
                threads = [threading.Thread(target=hh.enqueue, args=("x",)) for _ in range(30)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
            after.append(open_files() - before)
        assert hh.counts()["queued"] == 601
        # A connection holds the database and its WAL (and SQLite keeps some closed ones'
        # files open for reuse): bounded by the pool, not by the threads that came and went.
        assert after[1] <= after[0] + 3
        assert after[1] <= 4 * (MAX_IDLE_CONNECTIONS + 30)
    finally:
        hh.close()


def test_a_failed_commit_leaves_no_connection_inside_a_transaction(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    store = SQLiteStore(path)
    try:
        store.migrate()
        with store._write() as conn:
            conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
            conn.execute(
                "CREATE TABLE child (pid INTEGER REFERENCES parent (id) "
                "DEFERRABLE INITIALLY DEFERRED)"
            )
        with pytest.raises(sqlite3.IntegrityError), store._write() as conn:
            conn.execute("INSERT INTO child VALUES (42)")  # checked at COMMIT, which fails
        with store._write() as conn:  # the next write starts cleanly
            conn.execute("INSERT INTO parent VALUES (1)")
        other = sqlite3.connect(path)
        try:  # and no lock was left behind
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        finally:
            other.close()
    finally:
        store.close()
