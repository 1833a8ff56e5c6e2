"""Small helpers of the SQLite store shared by its modules (sqlite.py and the mixins
sqlite_schedules.py and sqlite_stats.py)."""

from __future__ import annotations

import sqlite3
from typing import Any

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
