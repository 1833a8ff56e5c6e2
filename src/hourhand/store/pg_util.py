"""Small helpers of the PostgreSQL store shared by its modules (postgres.py and the mixins
pg_schedules.py and pg_stats.py): times loaded as UTC, array literals, statements run in
one round trip, which errors mean the server is unavailable, the caller's own connection."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.abc import AdaptContext
from psycopg.adapt import Loader
from psycopg.rows import dict_row
from psycopg_pool import PoolTimeout

from hourhand.errors import InvalidInput
from hourhand.jobs import NewJob

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool


def _utc(value: Any) -> datetime | None:
    return value  # type: ignore[no-any-return]  # timestamptz values load as UTC (_utc_times)


def _split(jobs: Sequence[NewJob]) -> tuple[list[int], list[int]]:
    """Positions of jobs that cannot conflict (one bulk statement) and of those that can,
    on a unique key or a fire time (inserted one by one)."""
    plain = [i for i, j in enumerate(jobs) if j.unique_key is None and j.schedule_id is None]
    keyed = [i for i, j in enumerate(jobs) if j.unique_key is not None or j.schedule_id is not None]
    return plain, keyed


_TIMESTAMPTZ = psycopg.postgres.types["timestamptz"].oid
_PSYCOPG_TIMESTAMPTZ = psycopg.adapters.get_loader(_TIMESTAMPTZ, psycopg.pq.Format.TEXT)


class _UTCTimestamptzLoader(Loader):
    """timestamptz values as UTC datetimes whatever the session's TimeZone: psycopg's own
    loader, made without a connection, parses the offset the server printed and returns
    UTC (with a connection it would convert to the session's zone)."""

    def __init__(self, oid: int, context: AdaptContext | None = None) -> None:
        super().__init__(oid, context)
        assert _PSYCOPG_TIMESTAMPTZ is not None
        # The instance attribute shadows the method below: psycopg then calls the C loader
        # directly (60 ns a value more than in a UTC session, less than a zone conversion).
        self.load = _PSYCOPG_TIMESTAMPTZ(oid, None).load  # type: ignore[method-assign]

    def load(self, data: Any) -> datetime:
        raise NotImplementedError  # replaced per instance, above


def _utc_times(conn: psycopg.Connection[Any]) -> None:
    """Make a connection load times as UTC. A direct connection asks for a UTC session (its
    startup options), so this does nothing; through PgBouncer the session has the server's
    TimeZone (startup options are refused), and values are converted as they load."""
    if conn.info.timezone is not UTC:
        conn.adapters.register_loader(_TIMESTAMPTZ, _UTCTimestamptzLoader)


def _pipelined(
    conn: psycopg.Connection[Any], settings: str, query: str, params: dict[str, Any]
) -> psycopg.Cursor[Any]:
    """Run ``settings`` (transaction-local set_config calls), then one statement, in one
    round trip. In a pipeline without an explicit transaction, the statements up to its
    end are one implicit transaction, committed at the end: the settings apply to the
    statement and to nothing after it. Read the statement's rows from the cursor returned."""
    with conn.pipeline():
        conn.execute(settings)
        cur = conn.cursor()
        cur.execute(query, params)
    return cur


def _ints(values: Iterable[int]) -> str:
    """An array literal of integers, for an ``%(x)s::bigint[]`` parameter (int's own repr:
    a subclass such as EnqueueResult may write itself otherwise)."""
    return "{" + ",".join(map(int.__repr__, values)) + "}"


def _floats(values: Iterable[float]) -> str:
    """An array literal of floats (or ints), written as repr writes them (read back
    exactly)."""
    return "{" + ",".join(map(repr, values)) + "}"


def _texts(values: Iterable[str | None]) -> str:
    """An array literal of texts and NULLs, for a ``%(x)s::text[]`` parameter."""
    return "{" + ",".join("NULL" if v is None else _quoted(v) for v in values) + "}"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _param(name: str) -> str:
    return f"%({name})s"


def _same(value: datetime) -> datetime:
    return value


def redact(url: str) -> str:
    """The URL with any password replaced, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def is_unavailable(exc: BaseException) -> bool:
    """A lost or refused connection, a server shutting down, or one refusing writes."""
    if isinstance(exc, psycopg.InterfaceError | PoolTimeout):
        return True
    if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        return True
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        return state is None or state.startswith(("08", "57P", "53"))
    return False


def _caller_connection(connection: Any) -> psycopg.Connection[Any]:
    """The caller's connection for ``enqueue(..., connection=...)``, if it is one here."""
    if not isinstance(connection, psycopg.Connection):
        raise InvalidInput(
            "connection= on PostgreSQL is an open psycopg 3 connection (psycopg.Connection) "
            f"to hourhand's database, not {type(connection).__name__}"
        )
    return connection


class _DictRows:
    """A caller's psycopg connection, its statements answering rows as dicts (whatever its
    own row factory), for the queries an insert runs on it."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.connection = connection

    def execute(self, query: Any, params: Any = None) -> psycopg.Cursor[dict[str, Any]]:
        return self.connection.cursor(row_factory=dict_row).execute(query, params)


class PgFacet:
    """The base of PostgresStore's mixins (pg_jobs.py, pg_schedules.py, pg_stats.py): what
    they use of the store, declared once for the type checker."""

    if TYPE_CHECKING:
        q: dict[str, str]

        def _connection(
            self, pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] | None = None
        ) -> AbstractContextManager[psycopg.Connection[dict[str, Any]]]: ...

        def _one(
            self, query: str, params: dict[str, Any] | None = None
        ) -> dict[str, Any] | None: ...

        def _all(
            self, query: str, params: dict[str, Any] | None = None
        ) -> list[dict[str, Any]]: ...
