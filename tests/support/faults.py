"""Direct SQL for tests: run a statement on a store's database, and inject faults into it.

A fault is a trigger on ``hourhand_jobs`` that makes matching updates fail for a while (by
the database's own clock), so that a test can make one statement fail and the retry after
the window succeed, without touching hourhand's code.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def connect(url: str) -> Any:
    if is_sqlite(url):
        return sqlite3.connect(url.split(":///", 1)[1], timeout=30, isolation_level=None)
    return psycopg.connect(url, autocommit=True)


def sql(url: str, statement: str, params: Any = ()) -> list[tuple[Any, ...]]:
    """Run one statement (``?`` placeholders on SQLite, ``%s`` on PostgreSQL)."""
    conn = connect(url)
    try:
        cur = conn.execute(statement, params)
        return list(cur.fetchall()) if cur.description else []
    finally:
        conn.close()


@dataclass
class Fault:
    until: float  # Unix time the fault ends (by the database's clock, on this machine)
    remove: Callable[[], Any]


def fail_updates_for(url: str, seconds: float, *, postgres: str, sqlite: str) -> Fault:
    """Make updates of ``hourhand_jobs`` rows matching a condition (on OLD and NEW) fail for
    ``seconds``."""
    until = time.time() + seconds
    if is_sqlite(url):
        sql(
            url,
            "CREATE TRIGGER test_fault BEFORE UPDATE ON hourhand_jobs "
            f"WHEN (julianday('now') - 2440587.5) * 86400.0 < {until} AND ({sqlite}) "
            "BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
        )
        return Fault(until, lambda: sql(url, "DROP TRIGGER IF EXISTS test_fault"))
    sql(
        url,
        "CREATE OR REPLACE FUNCTION test_fault() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF clock_timestamp() < to_timestamp({until}) AND ({postgres}) THEN "
        "RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$",
    )
    sql(
        url,
        "CREATE TRIGGER test_fault BEFORE UPDATE ON hourhand_jobs "
        "FOR EACH ROW EXECUTE FUNCTION test_fault()",
    )
    return Fault(until, lambda: sql(url, "DROP TRIGGER IF EXISTS test_fault ON hourhand_jobs"))
