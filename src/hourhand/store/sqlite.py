"""The SQLite store: one file shared by the processes of one machine.

WAL lets readers run beside the one writer; ``BEGIN IMMEDIATE`` takes the write lock up
front so two claimers never both read the same queued rows; ``busy_timeout`` makes a
writer wait for the lock instead of failing; ``synchronous=FULL`` makes a commit durable
when it returns. Times are REAL Unix seconds computed by SQLite itself (the database clock).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from hourhand.checks import safe_text
from hourhand.errors import (
    DatabaseNotFound,
    DatabaseUnavailable,
    HourhandError,
    InvalidInput,
)
from hourhand.jobs import Job, JobState, NewJob, Outcome
from hourhand.ratelimits import RateLimit, RateUse
from hourhand.store.base import (
    AttemptEnd,
    Completion,
    HeartbeatResult,
    Store,
    TypeClaim,
    Watcher,
    claim_of_type,
    claim_rows,
    insert_or_find,
    job_params,
    load_migrations,
    load_queries,
    load_schema,
    read_rate_use,
)
from hourhand.store.rows import (
    datetime_to_epoch,
    decode_claimed,
    decode_job,
    epoch_to_datetime,
    json_args,
    json_text,
)
from hourhand.store.sqlite_alerts import SQLiteAlerts
from hourhand.store.sqlite_jobs import SQLiteJobs
from hourhand.store.sqlite_records import SQLiteRecords
from hourhand.store.sqlite_schedules import SQLiteSchedules
from hourhand.store.sqlite_stats import SQLiteStats
from hourhand.store.sqlite_util import NOW_SQL, _Count, _first, _one
from hourhand.store.sqlite_watch import ChangeWatcher

logger = logging.getLogger(__name__)

BUSY_TIMEOUT = 30.0  # seconds a writer waits for the lock before giving up
MAX_IDLE_CONNECTIONS = 8  # connections kept open for reuse; more are closed after use
# Errors that mean the file cannot be used right now (not a bug, not a conflict).
UNAVAILABLE = (
    "database is locked",
    "disk i/o error",
    "unable to open",
    "disk is full",
    "readonly database",
    "closed database",
)
WAITING = ("scheduled", "queued", "running", "retrying")


def _caller_connection(connection: Any) -> sqlite3.Connection:
    """The caller's connection for ``enqueue(..., connection=...)``, if it is one here."""
    if not isinstance(connection, sqlite3.Connection):
        raise InvalidInput(
            "connection= on SQLite is an open sqlite3 connection to hourhand's database "
            f"file, not {type(connection).__name__}"
        )
    return connection


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {col[0]: value for col, value in zip(cursor.description, row, strict=True)}


def _statements(script: str) -> Iterator[str]:
    """Split a script into complete statements (executescript would commit early)."""
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                yield buf
            buf = ""
    if buf.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in buf.splitlines()
    ):
        yield buf


FAILED_OUTCOMES = frozenset({Outcome.FAILED, Outcome.TIMEOUT, Outcome.LOST})  # rollup's "failed"


class SQLiteStore(SQLiteJobs, SQLiteSchedules, SQLiteStats, Store):
    dialect = "sqlite"

    def __init__(self, path: str, *, synchronous: str = "FULL", create: bool = True) -> None:
        """``create=False``: the file must exist (DatabaseNotFound otherwise), and it is
        opened read-write with ``mode=rw``, so that it is never created."""
        if path in ("", ":memory:"):
            raise DatabaseUnavailable(
                "SQLite needs a file (sqlite:///path/to/file.db): an in-memory database "
                "cannot be shared between connections"
            )
        self.path = path
        self.synchronous = synchronous
        self.create = create
        # The file as sqlite3.connect is given it: without creating, a URI in mode=rw
        # (a file deleted after the check below is then an error, not a new empty file).
        self._target = path if create else f"file:{quote(os.path.abspath(path))}?mode=rw"
        if not create and not os.path.isfile(path):
            raise DatabaseNotFound(f"no database at {os.path.abspath(path)}")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise DatabaseUnavailable(f"cannot open SQLite database {path!r}: no folder {folder}")
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self.q = {k: v.replace("NOW()", NOW_SQL) for k, v in load_queries("sqlite").items()}
        self._give(self._open())  # fail now, with a clear message, if the file cannot be opened

    # -- connections ----------------------------------------------------------------------
    # Connections are borrowed for one operation and given back, so the number open is the
    # number of operations in flight (at most MAX_IDLE_CONNECTIONS stay open when idle),
    # however many threads ever used the store.
    def _open(self) -> sqlite3.Connection:
        if self._closed:
            raise DatabaseUnavailable("the store is closed")
        try:
            conn = sqlite3.connect(
                self._target,
                timeout=BUSY_TIMEOUT,
                isolation_level=None,
                check_same_thread=False,
                uri=not self.create,
            )
            conn.row_factory = _dict_row
            # The journal mode is kept in the file. One that may not be created is
            # hourhand's (in WAL since it was made) or not ours to change.
            if self.create:
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise DatabaseUnavailable(f"cannot open SQLite database {self.path!r}: {exc}") from exc
        return conn

    def _take(self) -> sqlite3.Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._open()

    def _give(self, conn: sqlite3.Connection) -> None:
        """Return a connection for reuse, unless it is still inside a transaction (a COMMIT
        or ROLLBACK failed) or enough are idle: then it is closed."""
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        with self._lock:
            if (
                not conn.in_transaction
                and not self._closed
                and len(self._idle) < MAX_IDLE_CONNECTIONS
            ):
                self._idle.append(conn)
                return
        with contextlib.suppress(sqlite3.Error):
            conn.close()

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection for one operation; errors that mean the file cannot be used now
        become DatabaseUnavailable."""
        conn = self._take()
        try:
            yield conn
        except sqlite3.Error as exc:
            translated = self._translate(exc)
            if translated is None:
                raise
            raise translated from exc
        finally:
            self._give(conn)

    def _translate(self, exc: sqlite3.Error) -> HourhandError | None:
        text = str(exc).lower()
        if isinstance(exc, sqlite3.OperationalError | sqlite3.ProgrammingError) and any(
            phrase in text for phrase in UNAVAILABLE
        ):
            return DatabaseUnavailable(f"SQLite database {self.path!r} is unavailable: {exc}")
        return None

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the database's write lock from its start. A failed
        COMMIT is rolled back: no connection is left inside a transaction."""
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise

    def _read(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self._connection() as conn:
            return conn.execute(sql, params or {}).fetchall()

    def _read_one(self, sql: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        rows = self._read(sql, params)
        return rows[0] if rows else None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns, self._idle = self._idle, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    @functools.cached_property
    def alerts(self) -> SQLiteAlerts:
        return SQLiteAlerts(self, NOW_SQL)

    @functools.cached_property
    def records(self) -> SQLiteRecords:
        return SQLiteRecords(self, NOW_SQL)

    def private(self, *, statement_timeout: float | None = None) -> SQLiteStore:
        # busy_timeout bounds it
        return SQLiteStore(self.path, synchronous=self.synchronous, create=self.create)

    def watch(self, *, finished: bool = False) -> Watcher:
        return ChangeWatcher(self)  # any commit wakes it: ends of jobs too

    def now(self) -> datetime:
        row = self._read_one(f"SELECT {NOW_SQL} AS now")
        assert row is not None
        value = epoch_to_datetime(row["now"])
        assert value is not None
        return value

    # -- schema ---------------------------------------------------------------------------
    def migrate(self, *, fresh_schema: bool = True) -> list[int]:
        done: list[int] = []
        with self._write() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS hourhand_migrations (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
            applied = {
                r["version"] for r in conn.execute("SELECT version FROM hourhand_migrations")
            }
            migrations = load_migrations("sqlite")
            has_jobs = _first(
                conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'hourhand_jobs'")
            )
            if not applied and not has_jobs and fresh_schema:
                for stmt in _statements(load_schema("sqlite")):
                    conn.execute(stmt)
                pending = migrations
            else:
                pending = [m for m in migrations if m[0] not in applied]
                for _, _, sql in pending:
                    for stmt in _statements(sql):
                        conn.execute(stmt)
            for version, name, _ in pending:
                conn.execute(
                    f"INSERT INTO hourhand_migrations VALUES (?, ?, {NOW_SQL})", (version, name)
                )
                done.append(version)
        return done

    def applied_migrations(self) -> list[int]:
        rows = self._read("SELECT version FROM hourhand_migrations ORDER BY version")
        return [r["version"] for r in rows]

    def schema_version(self) -> int | None:
        with self._connection() as conn:
            found = _first(
                conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' "
                    "AND name = 'hourhand_migrations'"
                )
            )
            if found is None:
                return None
            row = _one(conn.execute("SELECT max(version) AS version FROM hourhand_migrations"))
        return int(row["version"] or 0)

    def describe_schema(self) -> list[str]:
        out: list[str] = []
        with self._connection() as conn:
            tables = conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'hourhand_%'"
            ).fetchall()
            for t in tables:
                for col in conn.execute(f"PRAGMA table_info({t['name']})"):
                    out.append(
                        f"column {t['name']}.{col['name']} {col['type']} "
                        f"notnull={col['notnull']} default={col['dflt_value']} pk={col['pk']}"
                    )
                for fk in conn.execute(f"PRAGMA foreign_key_list({t['name']})"):
                    out.append(f"fk {t['name']}.{fk['from']} -> {fk['table']}.{fk['to']}")
            for idx in conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            ):
                out.append(f"index {idx['name']}: {' '.join(idx['sql'].split())}")
        return sorted(out)

    # -- enqueue --------------------------------------------------------------------------
    def insert_jobs(self, jobs: Sequence[NewJob]) -> list[int]:
        with self._write() as conn:
            return [self._insert(conn, job)[0] for job in jobs]

    def insert_alike(self, job: NewJob, args_json: Sequence[str]) -> list[int]:
        with self._write() as conn:
            return self._insert_alike(conn, job, args_json)

    def insert_alike_on(self, connection: Any, job: NewJob, args_json: Sequence[str]) -> list[int]:
        return self._insert_alike(_caller_connection(connection), job, args_json)

    def _insert_alike(
        self, conn: sqlite3.Connection, job: NewJob, args_json: Sequence[str]
    ) -> list[int]:
        assert job.unique_key is None and job.schedule_id is None
        if not args_json:
            return []
        params = job_params(job, datetime_to_epoch)
        params["args"] = "[" + ",".join(args_json) + "]"
        cur = conn.cursor()
        cur.row_factory = None
        ids = [row[0] for row in cur.execute(self.q["insert_alike"], params)]
        ids.sort()  # (RETURNING's order is not promised; the ids follow the array's order)
        return ids

    def insert_job(self, job: NewJob) -> tuple[int, bool]:
        with self._write() as conn:
            return self._insert(conn, job)

    def insert_job_on(self, connection: Any, job: NewJob) -> tuple[int, bool]:
        return self._insert(_caller_connection(connection), job)

    def _insert(self, conn: sqlite3.Connection, job: NewJob) -> tuple[int, bool]:
        params = job_params(job, datetime_to_epoch)

        def run(query: str) -> dict[str, Any] | None:
            cursor = conn.cursor()  # rows as dicts, whatever the connection's row factory
            cursor.row_factory = _dict_row
            return _first(cursor.execute(self.q[query], params))

        find = "find_unique" if job.unique_key is not None else "find_fire"
        return insert_or_find(run, find)

    # -- worker ---------------------------------------------------------------------------
    def promote_due(self) -> tuple[int, float | None]:
        with self._write() as conn:
            moved = conn.execute(self.q["promote_due"]).rowcount
            row = _one(conn.execute(self.q["next_due"]))
        return moved, row["next_in"]

    def claim(
        self,
        worker_id: str,
        queues: Sequence[str] | None,
        limit: int,
        lease: float,
        names: Sequence[str] | None = None,
    ) -> list[Job]:
        params: dict[str, Any] = {
            "worker_id": worker_id,
            "lease": lease,
            "names": None if names is None else json.dumps(list(names)),
        }
        with self._write() as conn:
            rows = claim_rows(functools.partial(self._tuples, conn), queues, limit, params)
        return self._claimed(rows)

    def claim_limited(
        self,
        worker_id: str,
        queues: Sequence[str] | None,
        name: str,
        limit: int,
        lease: float,
        max_running: int | None = None,
        rate: RateLimit | None = None,
    ) -> TypeClaim:
        params = {
            "worker_id": worker_id,
            "lease": lease,
            "queues": None if queues is None else json.dumps(list(queues)),
        }
        with self._write() as conn:  # the write lock: the only claimer of this type
            rows, free_in = claim_of_type(
                lambda query, p: conn.execute(self.q[query], p).fetchall(),
                functools.partial(self._tuples, conn),
                name,
                limit,
                max_running,
                rate,
                params,
            )
        return TypeClaim(self._claimed(rows), free_in)

    def rate_use(self, name: str) -> RateUse | None:
        with self._connection() as conn:
            return read_rate_use(
                lambda query, p: conn.execute(self.q[query], p).fetchall(), name, epoch_to_datetime
            )

    def _tuples(
        self, conn: sqlite3.Connection, query: str, params: dict[str, Any]
    ) -> list[tuple[Any, ...]]:
        cur = conn.cursor()
        cur.row_factory = None  # plain tuples (see decode_claimed)
        return cur.execute(self.q[query], params).fetchall()

    def _claimed(self, rows: list[tuple[Any, ...]]) -> list[Job]:
        jobs = [decode_claimed(r, epoch_to_datetime, json_args) for r in rows]
        jobs.sort(key=lambda j: (-j.priority, j.run_at, j.id))
        return jobs

    def heartbeat(
        self, worker_id: str, jobs: Sequence[tuple[int, int]], lease: float
    ) -> HeartbeatResult:
        result = HeartbeatResult()
        if not jobs:
            return result
        with self._write() as conn:
            for job_id, attempt in jobs:
                row = _first(
                    conn.execute(
                        self.q["heartbeat"],
                        {"id": job_id, "attempt": attempt, "worker_id": worker_id, "lease": lease},
                    )
                )
                if row is not None:
                    result.alive.add((job_id, attempt))
                    if row["cancel_requested"]:
                        result.cancel_requested.add((job_id, attempt))
        return result

    def complete(self, worker_id: str, items: Sequence[Completion]) -> list[int]:
        done: list[int] = []
        counts: dict[tuple[str, str], _Count] = {}
        with self._write() as conn:
            for item in items:
                row = _first(
                    conn.execute(
                        self.q["complete"],
                        {
                            "id": item.job_id,
                            "attempt": item.attempt,
                            "worker_id": worker_id,
                            "result": item.result_json,
                        },
                    )
                )
                if row is None:
                    continue
                if row["schedule_id"] is not None:
                    self._schedule_ran(
                        conn,
                        row["schedule_id"],
                        "completed",
                        item.duration,
                        True,
                        row["id"],
                        row["finished_at"],
                    )
                conn.execute(
                    self.q["insert_attempt"],
                    {
                        "job_id": item.job_id,
                        "attempt": item.attempt,
                        "worker_id": worker_id,
                        "started_at": row["started_at"],
                        "finished_at": row["finished_at"],
                        "outcome": "completed",
                        "duration": item.duration,
                        "error": None,
                        "traceback": None,
                    },
                )
                done.append(item.job_id)
                count = counts.setdefault((row["queue"], row["name"]), _Count())
                count.completed += 1
                count.add_duration(item.duration)
            for (queue, name), count in counts.items():
                self._count(conn, queue, name, count)
        return done

    def _count(self, conn: sqlite3.Connection, queue: str, name: str, count: _Count) -> None:
        """Add to the rollup's row of this minute for (queue, job type)."""
        params: dict[str, Any] = {
            "queue": queue,
            "name": name,
            "completed": count.completed,
            "failed": count.failed,
            "dead": count.dead,
            "cancelled": count.cancelled,
            "duration_sum": count.duration_sum,
        }
        params.update({f"b{i}": n for i, n in enumerate(count.buckets)})
        conn.execute(self.q["count_stats"], params)

    def end_attempt(self, end: AttemptEnd) -> JobState | None:
        error = safe_text(end.error)
        with self._write() as conn:
            row = _first(
                conn.execute(
                    self.q["end_attempt"],
                    {
                        "id": end.job_id,
                        "attempt": end.attempt,
                        "worker_id": end.worker_id,
                        "new_state": str(end.new_state),
                        "retry_in": end.retry_in,
                        "error": error,
                        "require_expired": int(end.require_expired),
                    },
                )
            )
            if row is None:
                return None
            state = JobState(row["state"])
            started = row["started_at"]
            duration = end.duration
            if duration is None and started is not None:
                duration = max(0.0, row["now"] - started)
            if row["schedule_id"] is not None and state != JobState.QUEUED:
                final = state in (JobState.FAILED, JobState.CANCELLED)
                self._schedule_ran(
                    conn, row["schedule_id"], str(state), duration, final, row["id"], row["now"]
                )
            count = _Count(
                dead=int(state == JobState.FAILED), cancelled=int(state == JobState.CANCELLED)
            )
            if end.outcome in FAILED_OUTCOMES:
                count.failed = 1
                count.add_duration(duration)
            if count.failed or count.dead or count.cancelled:
                self._count(conn, row["queue"], row["name"], count)
            conn.execute(
                self.q["insert_attempt"],
                {
                    "job_id": end.job_id,
                    "attempt": end.attempt,
                    "worker_id": end.worker_id,
                    "started_at": started,
                    "finished_at": row["now"],
                    "outcome": str(end.outcome),
                    "duration": duration,
                    "error": error,
                    "traceback": safe_text(end.traceback),
                },
            )
        return state

    def expired(self, limit: int) -> list[Job]:
        rows = self._read(self.q["expired"], {"limit": limit})
        return [decode_job(r, epoch_to_datetime, json_text) for r in rows]

    def release_unheld(self, worker_id: str, held: Sequence[int]) -> list[int]:
        with self._write() as conn:
            rows = conn.execute(
                self.q["release_unheld"],
                {"worker_id": worker_id, "held": json.dumps(list(held))},
            ).fetchall()
            for row in rows:
                if row["state"] == "cancelled" and row["schedule_id"] is not None:
                    self._schedule_ran(
                        conn,
                        row["schedule_id"],
                        "cancelled",
                        None,
                        True,
                        row["id"],
                        row["finished_at"],
                    )
                if row["state"] == "cancelled":
                    self._count(conn, row["queue"], row["name"], _Count(cancelled=1))
        return [r["id"] for r in rows]

    def recorded(self, worker_id: str, pairs: Sequence[tuple[int, int]], outcome: str) -> set[int]:
        found: set[int] = set()
        with self._connection() as conn:
            for job_id, attempt in pairs:
                params = {
                    "job_id": job_id,
                    "attempt": attempt,
                    "worker_id": worker_id,
                    "outcome": outcome,
                }
                if _first(conn.execute(self.q["recorded"], params)) is not None:
                    found.add(job_id)
        return found

    def set_progress(
        self, worker_id: str, job_id: int, attempt: int, percent: float, message: str | None
    ) -> bool:
        with self._write() as conn:
            cur = conn.execute(
                self.q["set_progress"],
                {
                    "id": job_id,
                    "attempt": attempt,
                    "worker_id": worker_id,
                    "percent": percent,
                    "message": safe_text(message),
                },
            )
            return cur.rowcount == 1
