"""Small helpers of the SQLite store shared by its modules (sqlite.py and its mixins):
NOW_SQL, cursor reads, parameters, and what a transaction adds to the rollup."""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hourhand.stats import BUCKETS, bucket_of

NOW_SQL = "((julianday('now') - 2440587.5) * 86400.0)"


def _first(cursor: sqlite3.Cursor) -> dict[str, Any] | None:
    """The first row, after stepping the statement to its end (an unfinished statement
    would keep the transaction from committing)."""
    rows = cursor.fetchall()
    return rows[0] if rows else None


def _one(cursor: sqlite3.Cursor) -> dict[str, Any]:
    row = _first(cursor)
    assert row is not None, "query returned no row"
    return row


def _param(name: str) -> str:
    return f":{name}"


@dataclass
class _Count:
    """What one write transaction adds to the rollup for one (queue, job type)."""

    completed: int = 0
    failed: int = 0
    dead: int = 0
    cancelled: int = 0
    duration_sum: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))

    def add_duration(self, duration: float | None) -> None:
        if duration is not None:
            self.duration_sum += duration
            self.buckets[bucket_of(duration)] += 1


class SQLiteFacet:
    """The base of SQLiteStore's mixins (sqlite_jobs.py, sqlite_schedules.py,
    sqlite_stats.py): what they use of the store, declared once for the type checker."""

    if TYPE_CHECKING:
        q: dict[str, str]

        def _write(self) -> AbstractContextManager[sqlite3.Connection]: ...

        def _read(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...

        def _read_one(
            self, sql: str, params: dict[str, Any] | None = None
        ) -> dict[str, Any] | None: ...
