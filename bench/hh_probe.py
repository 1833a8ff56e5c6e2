"""Cheap reads of hourhand's jobs table for the benchmark drivers, on one open connection.

The drain is polled every 0.1 s; a connection per poll would cost the server a fork and a
backend start each time (and land in its CPU figures), so the probe keeps one open.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

# Two counts, each through its partial index (queued, running): as cheap as PgQueuer's count
# of its queue table, whatever history the table keeps. (One count of `state IN (...)` is
# not matched to the partial indexes: it scans the table, 0.3 s with 2M finished jobs, ten
# times a second, which took a core from the drain it measured.)
LEFT_SQL = (
    "SELECT (SELECT count(*) FROM hourhand_jobs WHERE state = 'queued')"
    " + (SELECT count(*) FROM hourhand_jobs WHERE state = 'running')"
)
COMPLETED_SQL = "SELECT count(*) FROM hourhand_jobs WHERE state = 'completed'"


def sqlite_path(url: str) -> str:
    return url.split("://", 1)[1][1:]


class Probe:
    """One connection to an hourhand store (PostgreSQL or SQLite), in autocommit."""

    def __init__(self, url: str) -> None:
        self.sqlite = url.startswith("sqlite:")
        self._conn: Any
        if self.sqlite:
            self._conn = sqlite3.connect(sqlite_path(url), isolation_level=None)
        else:
            self._conn = psycopg.connect(url, autocommit=True)

    def scalar(self, sql: str) -> Any:
        row = self._conn.execute(sql).fetchone()
        return None if row is None else row[0]

    def left(self) -> int:
        """Jobs not yet completed: as cheap as PgQueuer's ``count(*)`` of its live queue
        table (both count through partial indexes), unlike ``hh.counts()``, which counts
        the history."""
        return int(self.scalar(LEFT_SQL))

    def completed(self) -> int:
        return int(self.scalar(COMPLETED_SQL))

    def last_finished(self) -> float | None:
        """Epoch seconds of the last completion, read from the jobs table."""
        if self.sqlite:
            value = self.scalar(
                "SELECT max(finished_at) FROM hourhand_jobs WHERE state = 'completed'"
            )
        else:
            value = self.scalar(
                "SELECT extract(epoch FROM max(finished_at)) FROM hourhand_jobs "
                "WHERE state = 'completed'"
            )
        return None if value is None else float(value)

    def checkpoint(self) -> None:
        """Write the dirty pages out before a timed phase: PostgreSQL's CHECKPOINT (the
        whole server), or SQLite's WAL folded into the database file."""
        if self.sqlite:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        else:
            self._conn.execute("CHECKPOINT")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
