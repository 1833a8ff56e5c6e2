"""The PostgreSQL store: many workers on many machines share one database.

Claims take a batch with ``FOR UPDATE SKIP LOCKED`` over a partial index of queued jobs, so
claimers never wait on each other. Enqueues, hand-backs and retries ``NOTIFY`` the queue's
channel so that idle workers wake at once; workers also poll, so a lost notification only
delays work. Every time is the server's ``now()``.

Through PgBouncer in transaction mode (``pgbouncer=True``, from ``?pgbouncer=true`` in the
URL) a connection keeps no session state between transactions: no prepared statements, no
startup ``options`` (PgBouncer refuses them), a statement timeout set per transaction, and
LISTEN only on a direct connection (``listen_url``), else polling. See docs/scaling.md.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import ConnectionPool, PoolTimeout

from hourhand.checks import safe_text
from hourhand.errors import (
    DatabaseRejected,
    DatabaseUnavailable,
    HourhandError,
)
from hourhand.jobs import Job, JobState, NewJob
from hourhand.outage import first_line
from hourhand.ratelimits import RateLimit, RateUse
from hourhand.store.base import (
    CANCEL_CHANNEL,
    DONE_CHANNEL,
    HOLD_UNTIL,
    LISTEN_CHANNEL,
    MIGRATION_LOCK,
    QUEUES_CHANNEL,
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
from hourhand.store.pg_alerts import PgAlerts
from hourhand.store.pg_jobs import PgJobs
from hourhand.store.pg_listen import Listener, Polling
from hourhand.store.pg_records import PgRecords
from hourhand.store.pg_schedules import PgSchedules
from hourhand.store.pg_stats import PgStats
from hourhand.store.pg_util import (
    _caller_connection,
    _DictRows,
    _floats,
    _ints,
    _pipelined,
    _split,
    _texts,
    _utc,
    _utc_times,
    is_unavailable,
    redact,
)
from hourhand.store.rows import decode_claimed, decode_job, json_args, json_native

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10  # seconds
POOL_MAX_SIZE = 8  # connections per process
POOL_TIMEOUT = 10.0  # seconds to wait for a connection before DatabaseUnavailable
# A connection whose peer vanished without a word (a half-open socket after a network
# failover) is found dead within about 30 s instead of hanging a call for hours.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,  # milliseconds
}
POOL_CHECK_EVERY = 2.0  # seconds: after a lost connection, test the idle ones at most this often
# Claims read the ready index in claim order and stop after LIMIT rows. Right after a bulk
# enqueue into a table the statistics have not caught up with (autovacuum analyzes it
# within a minute), the planner believes few jobs are queued and prefers to fetch them all
# and sort them: per claim, a sort of every queued job (2M rows: a stall). Claims are
# planned with sorting ruled out, so the ordered index scan is the only plan left.
# Claims commit durably, like every other write. Committing them without waiting for the
# WAL flush would shorten an idle worker's pickup, but a crash of the server could then
# undo a claim whose job already runs: the job runs twice with one attempt recorded, and
# the same (job, attempt, worker) fence can be handed out twice (docs/guarantees.md).
CLAIM_PLANNING = "SELECT set_config('enable_sort', 'off', true)"
# Claims run on connections of their own that have this setting for the whole session, so
# that a claim is one statement: the shortest pickup (through PgBouncer, where a session
# setting would leak to other clients, each claim sets CLAIM_PLANNING itself).
CLAIM_SESSION = " -c enable_sort=off"
CLAIM_CONNECTIONS = 4  # at most; a worker claims one batch at a time (several workers: more)
# A statement on a batch of given jobs joins the rows (found by primary key) with the batch's
# arrays. A plan cached for many executions cannot see how long the arrays are and guesses
# ten items; it then loops over the whole batch once per row, a cost that grows with the
# square of the batch (40,000 comparisons for 200 completions, 100 million for 10,000).
# Batches are joined by hashing instead, which is linear, whatever the estimates.
# The rows are also read through the primary key in id order (no bitmap scan, whose order is
# the table's), and the batch's arrays are sorted by id, so that two statements on
# overlapping batches (a heartbeat and a completion) lock their rows in the same order and
# cannot deadlock.
BATCH_PLANNING = (
    "SELECT set_config('enable_nestloop', 'off', true), "
    "set_config('enable_bitmapscan', 'off', true)"
)


_BULK_COLUMNS = (
    "queue",
    "name",
    "args",
    "priority",
    "max_attempts",
    "run_at",
    "timeout",
    "org_id",
    "created_by",
)


class PostgresStore(PgJobs, PgSchedules, PgStats, Store):
    dialect = "postgres"

    def __init__(
        self,
        url: str,
        *,
        max_connections: int = POOL_MAX_SIZE,
        pool_timeout: float = POOL_TIMEOUT,
        statement_timeout: float | None = None,
        pgbouncer: bool = False,
        listen_url: str | None = None,
    ) -> None:
        """``url``: a libpq URL (hourhand's own ``pgbouncer=`` parameter already taken out,
        see :func:`hourhand.store.open_store`). ``pgbouncer``: the URL leads to a
        transaction-mode pooler, so connections keep no session state. ``listen_url``: a
        direct (session) connection to PostgreSQL for LISTEN; without one, LISTEN goes to
        ``url``, unless ``pgbouncer``: then workers poll."""
        self.url = url
        self.pgbouncer = pgbouncer
        self.listen_url = listen_url
        self.q = load_queries("postgres")
        # What a LISTEN connection needs; the pooled ones add their session settings.
        self._listen_kwargs: dict[str, Any] = {
            "autocommit": True,
            "row_factory": dict_row,
            "connect_timeout": CONNECT_TIMEOUT,
            **KEEPALIVES,
        }
        self._kwargs: dict[str, Any] = dict(self._listen_kwargs)
        self._local_timeout: str | None = None  # SET LOCAL before each use (PgBouncer)
        timeout_ms = None if statement_timeout is None else max(1, int(statement_timeout * 1000))
        if pgbouncer:
            # A server connection serves other clients between our transactions: nothing
            # may outlive one. No prepared statements (PgBouncer 1.18 cannot route them),
            # no startup options (it refuses them); the time zone is the server's
            # (_utc_times makes values UTC) and a statement timeout is set per transaction.
            self._kwargs["prepare_threshold"] = None
            if timeout_ms is not None:
                self._local_timeout = f"SET LOCAL statement_timeout = {timeout_ms}"
        else:
            options = "-c timezone=UTC"
            if timeout_ms is not None:
                options += f" -c statement_timeout={timeout_ms}"
            self._kwargs["options"] = options
        try:  # connect once first, so an unreachable server is a clear error, not a timeout
            psycopg.connect(url, **self._kwargs).close()
        except psycopg.Error as exc:
            raise DatabaseUnavailable(
                f"cannot connect to PostgreSQL at {redact(url)}: {first_line(exc)}"
            ) from exc
        self.pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] = ConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            kwargs=self._kwargs,
            configure=_utc_times,
            open=False,
            name="hourhand",
            timeout=pool_timeout,
        )
        # Open with the first connection made: a first caller finding the pool empty would
        # make it grow, and the process would keep two connections where it uses one.
        try:
            self.pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except PoolTimeout as exc:
            self.pool.close()
            raise DatabaseUnavailable(
                f"cannot connect to PostgreSQL at {redact(url)}: {first_line(exc)}"
            ) from exc
        self._claim_pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] | None = None
        self._pool_lock = threading.Lock()
        self._checked_at = 0.0
        self._check_lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        self._closed = True
        self.pool.close()
        with self._pool_lock:
            if self._claim_pool is not None:
                self._claim_pool.close()

    def _claims_pool(self) -> ConnectionPool[psycopg.Connection[dict[str, Any]]]:
        """The claim connections (see CLAIM_SESSION), made at the first claim: only
        workers claim. Through PgBouncer, the common pool."""
        if self.pgbouncer:
            return self.pool
        pool = self._claim_pool
        if pool is None:
            with self._pool_lock:
                if self._closed:
                    raise DatabaseUnavailable("the store is closed")
                if self._claim_pool is None:
                    kwargs = {**self._kwargs, "options": self._kwargs["options"] + CLAIM_SESSION}
                    self._claim_pool = ConnectionPool(
                        self.url,
                        min_size=1,
                        max_size=CLAIM_CONNECTIONS,
                        kwargs=kwargs,
                        configure=_utc_times,
                        open=True,
                        name="hourhand-claims",
                        timeout=self.pool.timeout,
                    )
                pool = self._claim_pool
        return pool

    @functools.cached_property
    def alerts(self) -> PgAlerts:
        return PgAlerts(self)

    @functools.cached_property
    def records(self) -> PgRecords:
        return PgRecords(self)

    def private(self, *, statement_timeout: float | None = None) -> PostgresStore:
        return PostgresStore(
            self.url,
            max_connections=1,
            pool_timeout=CONNECT_TIMEOUT,
            statement_timeout=statement_timeout,
            pgbouncer=self.pgbouncer,
            listen_url=self.listen_url,
        )

    def watch(self, *, finished: bool = False) -> Watcher:
        if self.pgbouncer and self.listen_url is None:
            return Polling()  # LISTEN through a transaction pooler would hear nothing
        work = (LISTEN_CHANNEL, CANCEL_CHANNEL, QUEUES_CHANNEL)
        url = self.listen_url or self.url
        return Listener(url, self._listen_kwargs, (DONE_CHANNEL,) if finished else work)

    # -- connections and errors -----------------------------------------------------------
    @contextlib.contextmanager
    def _connection(
        self, pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] | None = None
    ) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        """A pooled connection (of ``pool``, or the common one); driver errors become
        hourhand's (DatabaseUnavailable for a lost or refused connection, DatabaseRejected
        for a value it cannot store)."""
        try:
            with (pool or self.pool).connection() as conn:
                if self._local_timeout is None:
                    yield conn
                else:  # (PgBouncer) the timeout holds for this transaction's statements
                    with conn.transaction():
                        conn.execute(self._local_timeout)
                        yield conn
        except (psycopg.Error, UnicodeEncodeError) as exc:
            translated = self._translate(exc)
            if translated is None:
                raise
            raise translated from exc

    def _translate(self, exc: BaseException) -> HourhandError | None:
        if is_unavailable(exc):
            self._check_pool()
            return DatabaseUnavailable(
                f"PostgreSQL at {redact(self.url)} is unavailable: {first_line(exc)}"
            )
        if isinstance(exc, psycopg.DataError | UnicodeEncodeError):
            return DatabaseRejected(f"PostgreSQL cannot store a value: {first_line(exc)}")
        return None

    def _check_pool(self) -> None:
        """After a lost connection the pool's idle ones are likely broken too (a restart):
        test them in the background so that the next callers get good ones."""
        with self._check_lock:
            now = time.monotonic()
            if self._closed or now - self._checked_at < POOL_CHECK_EVERY:
                return
            self._checked_at = now

        def check() -> None:
            for pool in (self.pool, self._claim_pool):
                if pool is not None:
                    with contextlib.suppress(Exception):
                        pool.check()

        threading.Thread(target=check, name="hourhand-pool-check", daemon=True).start()

    def _one(self, query: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        with self._connection() as conn:
            return conn.execute(self.q[query], params).fetchone()

    def _all(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self._connection() as conn:
            return conn.execute(self.q[query], params).fetchall()

    def now(self) -> datetime:
        with self._connection() as conn:
            row = conn.execute("SELECT now() AS now").fetchone()
        assert row is not None
        return row["now"]  # type: ignore[no-any-return]

    # -- schema ---------------------------------------------------------------------------
    def migrate(self, *, fresh_schema: bool = True) -> list[int]:
        done: list[int] = []
        with self._connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS hourhand_migrations (version integer PRIMARY KEY, "
                "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            applied = {
                r["version"] for r in conn.execute("SELECT version FROM hourhand_migrations")
            }
            has_jobs = conn.execute("SELECT to_regclass('hourhand_jobs') AS t").fetchone()
            migrations = load_migrations("postgres")
            if not applied and has_jobs and has_jobs["t"] is None and fresh_schema:
                conn.execute(load_schema("postgres").encode())
                pending = migrations
            else:
                pending = [m for m in migrations if m[0] not in applied]
                for _, _, sql in pending:
                    conn.execute(sql.encode())
            for version, name, _ in pending:
                conn.execute(
                    "INSERT INTO hourhand_migrations (version, name) VALUES (%s, %s)",
                    (version, name),
                )
                done.append(version)
        return done

    def applied_migrations(self) -> list[int]:
        with self._connection() as conn:
            rows = conn.execute("SELECT version FROM hourhand_migrations ORDER BY version")
            return [r["version"] for r in rows]

    def schema_version(self) -> int | None:
        with self._connection() as conn:
            found = conn.execute("SELECT to_regclass('hourhand_migrations') AS t").fetchone()
            if found is None or found["t"] is None:
                return None
            row = conn.execute("SELECT max(version) AS version FROM hourhand_migrations").fetchone()
        return int(row["version"] or 0) if row is not None else 0

    def describe_schema(self) -> list[str]:
        out: list[str] = []
        with self._connection() as conn:
            for c in conn.execute(
                "SELECT table_name, column_name, data_type, is_nullable, column_default, "
                "is_identity FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name LIKE 'hourhand_%%'"
            ):
                out.append(
                    f"column {c['table_name']}.{c['column_name']} {c['data_type']} "
                    f"null={c['is_nullable']} default={c['column_default']} "
                    f"identity={c['is_identity']}"
                )
            for i in conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = current_schema() AND tablename LIKE 'hourhand_%%'"
            ):
                out.append(f"index {i['indexname']}: {i['indexdef']}")
            for f in conn.execute(
                "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint "
                "WHERE conrelid::regclass::text LIKE 'hourhand_%%'"
            ):
                out.append(f"constraint {f['conname']}: {f['def']}")
            for t in conn.execute(
                "SELECT relname, reloptions FROM pg_class WHERE relname LIKE 'hourhand_%%' "
                "AND relkind = 'r' AND reloptions IS NOT NULL"
            ):
                out.append(f"options {t['relname']}: {sorted(t['reloptions'])}")
        return sorted(out)

    # -- enqueue --------------------------------------------------------------------------
    def insert_jobs(self, jobs: Sequence[NewJob]) -> list[int]:
        ids: list[int | None] = [None] * len(jobs)
        plain, keyed = _split(jobs)
        with self._connection() as conn:
            # one statement is atomic on its own; several need a transaction
            tx = conn.transaction() if keyed and (plain or len(keyed) > 1) else nullcontext()
            with tx:
                self._insert(conn, jobs, plain, keyed, ids, [True] * len(jobs))
        return [i for i in ids if i is not None]

    def insert_job_on(self, connection: Any, job: NewJob) -> tuple[int, bool]:
        ids: list[int | None] = [None]
        created = [True]
        plain, keyed = _split([job])
        self._insert(_DictRows(_caller_connection(connection)), [job], plain, keyed, ids, created)
        assert ids[0] is not None
        return ids[0], created[0]

    def _insert(
        self,
        conn: psycopg.Connection[dict[str, Any]] | _DictRows,
        jobs: Sequence[NewJob],
        plain: list[int],
        keyed: list[int],
        ids: list[int | None],
        created: list[bool],
    ) -> None:
        if plain:
            cols: dict[str, list[Any]] = {k: [] for k in _BULK_COLUMNS}
            for i in plain:
                for key in _BULK_COLUMNS:
                    cols[key].append(getattr(jobs[i], "args_json" if key == "args" else key))
            rows = conn.execute(self.q["insert_jobs"], cols).fetchall()
            for i, row in zip(plain, rows, strict=True):
                ids[i] = row["id"]
        for i in keyed:
            params = job_params(jobs[i], lambda t: t)

            def run(query: str, params: dict[str, Any] = params) -> dict[str, Any] | None:
                return conn.execute(self.q[query], params).fetchone()

            find = "find_unique" if params["unique_key"] is not None else "find_fire"
            ids[i], created[i] = insert_or_find(run, find)

    def insert_alike(self, job: NewJob, args_json: Sequence[str]) -> list[int]:
        with self._connection() as conn:
            return self._insert_alike(conn, job, args_json)

    def insert_alike_on(self, connection: Any, job: NewJob, args_json: Sequence[str]) -> list[int]:
        return self._insert_alike(_caller_connection(connection), job, args_json)

    def _insert_alike(
        self, conn: psycopg.Connection[Any], job: NewJob, args_json: Sequence[str]
    ) -> list[int]:
        assert job.unique_key is None and job.schedule_id is None
        if not args_json:
            return []
        params = job_params(job, lambda t: t)
        params["args"] = "[" + ",".join(args_json) + "]"
        cur = conn.cursor(row_factory=tuple_row).execute(self.q["insert_alike"], params)
        return [row[0] for row in cur]

    def insert_job(self, job: NewJob) -> tuple[int, bool]:
        ids: list[int | None] = [None]
        created = [True]
        plain, keyed = _split([job])
        with self._connection() as conn:
            self._insert(conn, [job], plain, keyed, ids, created)
        assert ids[0] is not None
        return ids[0], created[0]

    # -- worker ---------------------------------------------------------------------------
    def promote_due(self) -> tuple[int, float | None]:
        row = self._one("promote_due")
        assert row is not None
        return row["moved"], row["next_in"]

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
            "names": None if names is None else list(names),
        }
        with self._claiming(transaction=queues is not None) as conn:  # (any: one statement)
            rows = claim_rows(functools.partial(self._tuples, conn), queues, limit, params)
        return self._claimed(rows)

    @contextlib.contextmanager
    def _claiming(self, *, transaction: bool) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        """A connection for claims, planned with sorting ruled out: a claim connection of
        its own (CLAIM_SESSION), in a transaction if the claim takes several statements;
        through PgBouncer a common one, in a transaction that sets CLAIM_PLANNING."""
        with self._connection(self._claims_pool()) as conn:
            if self.pgbouncer:
                with conn.pipeline(), conn.transaction():
                    conn.execute(CLAIM_PLANNING)
                    yield conn
            elif transaction:
                with conn.transaction():
                    yield conn
            else:
                yield conn

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
            "queues": None if queues is None else list(queues),
        }
        with self._claiming(transaction=True) as conn:
            locked = conn.execute(self.q["lock_name"], {"name": name}).fetchone()
            if not locked or not locked["locked"]:
                return TypeClaim([])  # another worker is claiming this type right now
            rows, free_in = claim_of_type(
                functools.partial(self._rows, conn),
                functools.partial(self._tuples, conn),
                name,
                limit,
                max_running,
                rate,
                params,
            )
        return TypeClaim(self._claimed(rows), free_in)

    def _rows(
        self, conn: psycopg.Connection[dict[str, Any]], query: str, params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        cur = conn.execute(self.q[query], params)
        return cur.fetchall() if cur.description is not None else []

    def _tuples(
        self, conn: psycopg.Connection[dict[str, Any]], query: str, params: dict[str, Any]
    ) -> list[tuple[Any, ...]]:
        return conn.cursor(row_factory=tuple_row).execute(self.q[query], params).fetchall()

    def rate_use(self, name: str) -> RateUse | None:
        with self._connection() as conn:
            return read_rate_use(functools.partial(self._rows, conn), name, _utc)

    def _claimed(self, rows: list[tuple[Any, ...]]) -> list[Job]:
        jobs = [decode_claimed(r, _utc, json_args) for r in rows]  # (args as text)
        jobs.sort(key=lambda j: (-j.priority, j.run_at, j.id))
        return jobs

    def heartbeat(
        self, worker_id: str, jobs: Sequence[tuple[int, int]], lease: float
    ) -> HeartbeatResult:
        result = HeartbeatResult()
        if not jobs:
            return result
        jobs = sorted(jobs)  # rows are locked in id order (see BATCH_PLANNING)
        params = {
            "worker_id": worker_id,
            "lease": lease,
            "ids": [j[0] for j in jobs],
            "attempts": [j[1] for j in jobs],
        }
        for row in self._batch("heartbeat", params):
            pair = (row["id"], row["attempt"])
            result.alive.add(pair)
            if row["cancel_requested"]:
                result.cancel_requested.add(pair)
        return result

    def complete(self, worker_id: str, items: Sequence[Completion]) -> list[int]:
        if not items:
            return []
        items = sorted(items, key=lambda i: (i.job_id, i.attempt))  # see BATCH_PLANNING
        params = {  # (arrays as literals: psycopg's array dumping cost ~1.4 µs a job)
            "worker_id": worker_id,
            "ids": _ints(i.job_id for i in items),
            "attempts": _ints(i.attempt for i in items),
            "results": _texts(i.result_json for i in items),
            "durations": _floats(i.duration for i in items),
            "hold": HOLD_UNTIL,
        }
        return [r["job_id"] for r in self._batch("complete", params)]

    def _batch(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run a statement on a batch of given jobs, planned so that its cost is linear in
        the batch (see BATCH_PLANNING)."""
        with self._connection() as conn:
            return _pipelined(conn, BATCH_PLANNING, self.q[query], params).fetchall()

    def end_attempt(self, end: AttemptEnd) -> JobState | None:
        params = {
            "id": end.job_id,
            "attempt": end.attempt,
            "worker_id": end.worker_id,
            "new_state": str(end.new_state),
            "retry_in": end.retry_in,
            "error": safe_text(end.error),
            "traceback": safe_text(end.traceback),
            "outcome": str(end.outcome),
            "duration": end.duration,
            "require_expired": end.require_expired,
            "hold": HOLD_UNTIL,
        }
        row = self._one("end_attempt", params)
        return None if row is None else JobState(row["state"])

    def expired(self, limit: int) -> list[Job]:
        return [decode_job(r, _utc, json_native) for r in self._all("expired", {"limit": limit})]

    def release_unheld(self, worker_id: str, held: Sequence[int]) -> list[int]:
        params = {"worker_id": worker_id, "held": list(held), "hold": HOLD_UNTIL}
        rows = self._all("release_unheld", params)
        return [r["id"] for r in rows]

    def recorded(self, worker_id: str, pairs: Sequence[tuple[int, int]], outcome: str) -> set[int]:
        if not pairs:
            return set()
        params = {
            "worker_id": worker_id,
            "ids": [p[0] for p in pairs],
            "attempts": [p[1] for p in pairs],
            "outcome": outcome,
        }
        return {r["job_id"] for r in self._all("recorded", params)}

    def set_progress(
        self, worker_id: str, job_id: int, attempt: int, percent: float, message: str | None
    ) -> bool:
        with self._connection() as conn:
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
