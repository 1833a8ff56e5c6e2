"""``hourhand.sql``: one SQL statement, or a call of a database function, on a database
named in the settings (``[databases.NAME]``; ``default`` is the app's own), with a
statement timeout.

::

    hh.enqueue("hourhand.sql", {"function": "budget_alert_worker"})   # SELECT * FROM ...()
    hh.enqueue("hourhand.sql", {
        "database": "reports",
        "sql": "DELETE FROM drafts WHERE created_at < now() - %(age)s::interval",
        "params": {"age": "30 days"},
        "timeout": 120,
    })

Parameters use the driver's placeholders: ``%s`` and ``%(name)s`` on PostgreSQL
(psycopg), ``?`` and ``:name`` on SQLite. The statement runs in a transaction of its own,
committed when it succeeds. The result is ``rows_affected`` for a statement that returns no
rows, else ``columns`` and ``rows`` (lists, JSON-safe values), at most ``max_rows`` of them
with ``truncated`` set when there were more. The store owns hourhand's own SQL; this kind
runs the *user's* statement on a connection of its own.
"""

from __future__ import annotations

import math
import os
import re
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from pydantic import Field

from hourhand.builtin.common import (
    KindFailed,
    invalid,
    json_safe,
    resolve_secret,
    secret_problem,
)
from hourhand.builtin.config import DEFAULT_DATABASE_NAME, DEFAULT_STATEMENT_TIMEOUT
from hourhand.errors import ConfigurationError
from hourhand.jobs import CheckDepth, JobContext, JobSpec
from hourhand.store import locate, split_pooler_param

if TYPE_CHECKING:
    from hourhand.app import Hourhand

NAME = "hourhand.sql"
DEFAULT_MAX_ROWS = 100  # rows a result keeps
MAX_ROWS = 10_000
MAX_TIMEOUT = 24 * 3600.0  # seconds
CONNECT_TIMEOUT = 30  # seconds at most to connect (PostgreSQL)
FUNCTION_NAME = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$"
PROGRESS_STEPS = 1000  # SQLite VM steps between checks of the deadline

Statement = Annotated[str, Field(min_length=1, max_length=100_000, description="one statement")]
Function = Annotated[
    str, Field(pattern=FUNCTION_NAME, max_length=200, description="a function's name")
]
DatabaseName = Annotated[str, Field(min_length=1, max_length=200)]
Timeout = Annotated[float, Field(gt=0, le=MAX_TIMEOUT, description="statement timeout, seconds")]
MaxRows = Annotated[int, Field(ge=0, le=MAX_ROWS)]


class StatementFailed(KindFailed):
    """The database could not be reached, refused the statement, or it ran too long."""


@dataclass(frozen=True)
class Target:
    """A database a statement runs on, as the settings name it."""

    name: str
    url: str  # password included: for connecting only
    masked: str  # for messages
    dialect: str  # "postgres" or "sqlite"
    path: str | None  # SQLite: the file
    timeout: float  # seconds: the statement timeout when the job sets none
    read_only: bool


def make_spec(app: Hourhand) -> JobSpec:
    """The ``hourhand.sql`` job type of ``app`` (databases read from the app's settings
    when a job runs)."""

    def run_sql(
        ctx: JobContext,
        sql: Statement | None = None,
        function: Function | None = None,
        params: list[Any] | dict[str, Any] | None = None,
        database: DatabaseName = DEFAULT_DATABASE_NAME,
        timeout: Timeout | None = None,
        max_rows: MaxRows = DEFAULT_MAX_ROWS,
    ) -> dict[str, Any]:
        """Run one SQL statement (or call a database function) on a named database, with
        a statement timeout; the result is the rows affected or the rows returned."""
        return execute(
            app,
            ctx,
            sql=sql,
            function=function,
            params=params,
            database=database,
            timeout=timeout,
            max_rows=max_rows,
        )

    def check(args: Mapping[str, Any], depth: CheckDepth) -> None:
        if (args.get("sql") is None) == (args.get("function") is None):
            raise invalid(NAME, "give either 'sql' (a statement) or 'function' (a name)")
        if args.get("function") is not None and isinstance(args.get("params"), Mapping):
            raise invalid(NAME, "a function takes its arguments as a list ('params': [...])")
        if depth != "args":
            name = args.get("database", DEFAULT_DATABASE_NAME)
            problem = database_problem(app, name, secrets=depth == "all")
            if problem:
                raise invalid(NAME, f"argument 'database': {problem}")

    return JobSpec(name=NAME, handler=run_sql, check=check, admin_only=True)


def database_problem(app: Hourhand, name: str, *, secrets: bool = True) -> str | None:
    """Why this process could not run a statement on database ``name`` (``secrets``: a
    URL kept as a secret must be set here too), or None."""
    settings = app.builtin.databases.get(name)
    if settings is None:
        if name == DEFAULT_DATABASE_NAME:
            return None
        known = ", ".join(sorted({DEFAULT_DATABASE_NAME, *app.builtin.databases}))
        return f"unknown database {name!r} (databases: {known}; add a [databases.{name}] table)"
    if isinstance(settings.url, str) or not secrets:
        return None
    return secret_problem(app, settings.url.secret)


def target(app: Hourhand, name: str) -> Target:
    """Where database ``name`` is, now; StatementFailed if the settings do not say."""
    problem = database_problem(app, name)
    if problem is not None:
        raise StatementFailed(f"database {name!r}: {problem}")
    settings = app.builtin.databases.get(name)
    if settings is None:
        url, timeout, read_only = app.database_url, DEFAULT_STATEMENT_TIMEOUT, False
    else:
        raw = settings.url
        url = raw if isinstance(raw, str) else resolve_secret(app, raw.secret)
        timeout, read_only = settings.timeout, settings.read_only
    try:
        where = locate(url)
    except ConfigurationError:  # a secret holding something else than a URL: never shown
        raise StatementFailed(f"database {name!r}: its URL is not a database URL") from None
    return Target(name, url, where.masked, where.dialect, where.path, timeout, read_only)


def execute(
    app: Hourhand,
    ctx: JobContext,
    *,
    sql: str | None,
    function: str | None,
    params: list[Any] | dict[str, Any] | None,
    database: str,
    timeout: float | None,
    max_rows: int,
) -> dict[str, Any]:
    db = target(app, database)
    limit = timeout if timeout is not None else db.timeout
    if sql is None:
        if function is None or not re.match(FUNCTION_NAME, function):
            raise StatementFailed("give either 'sql' (a statement) or 'function' (a name)")
        count = len(params) if isinstance(params, list) else 0
        sql = call_text(function, count, db.dialect)
    started = time.monotonic()
    if db.dialect == "postgres":
        result = _postgres(db, sql, params, limit, max_rows)
    else:
        result = _sqlite(db, sql, params, limit, max_rows, ctx)
    safe: dict[str, Any] = json_safe(
        {"database": db.name, **result, "elapsed": round(time.monotonic() - started, 3)}
    )
    return safe


def call_text(function: str, count: int, dialect: str) -> str:
    """The statement that calls a function (its name checked against FUNCTION_NAME)."""
    if dialect == "postgres":
        return f"SELECT * FROM {function}({', '.join(['%s'] * count)})"
    return f"SELECT {function}({', '.join(['?'] * count)})"


def _rows(cursor: Any, max_rows: int) -> dict[str, Any]:
    if cursor.description is None:
        count = cursor.rowcount
        return {"rows_affected": count if count is not None and count >= 0 else None}
    columns = [column[0] for column in cursor.description]
    rows = cursor.fetchmany(max_rows + 1)
    return {
        "columns": columns,
        "rows": [list(row) for row in rows[:max_rows]],
        "row_count": min(len(rows), max_rows),
        "truncated": len(rows) > max_rows,
    }


def _postgres(
    db: Target, sql: str, params: list[Any] | dict[str, Any] | None, limit: float, max_rows: int
) -> dict[str, Any]:
    import psycopg

    conninfo, _ = split_pooler_param(db.url)
    connect_timeout = max(2, min(CONNECT_TIMEOUT, math.ceil(limit)))
    try:
        with psycopg.connect(
            conninfo, connect_timeout=connect_timeout, application_name=NAME
        ) as conn:
            with conn.cursor() as cur:
                if db.read_only:
                    cur.execute("SET TRANSACTION READ ONLY")
                milliseconds = max(1, math.ceil(limit * 1000))
                cur.execute("SELECT set_config('statement_timeout', %s, true)", [str(milliseconds)])
                # In a pipeline, psycopg sends the statement with the extended protocol,
                # which takes one statement only (the simple one would run several).
                with conn.pipeline():
                    cur.execute(sql, params)
                result = _rows(cur, max_rows)
            conn.commit()
    except psycopg.errors.QueryCanceled:
        raise StatementFailed(
            f"statement timeout: it ran over {limit:g}s on database {db.name!r}"
        ) from None
    except psycopg.OperationalError as exc:
        raise StatementFailed(
            f"database {db.name!r} ({db.masked}): {type(exc).__name__}: {_text(exc)}"
        ) from None
    except psycopg.Error as exc:
        raise StatementFailed(f"database {db.name!r}: {type(exc).__name__}: {_text(exc)}") from None
    return result


def _sqlite(
    db: Target,
    sql: str,
    params: list[Any] | dict[str, Any] | None,
    limit: float,
    max_rows: int,
    ctx: JobContext,
) -> dict[str, Any]:
    path = db.path
    if not path or path == ":memory:" or not os.path.isfile(path):
        raise StatementFailed(f"database {db.name!r}: no SQLite file at {path}")
    mode = "ro" if db.read_only else "rw"
    deadline = time.monotonic() + limit
    try:
        conn = sqlite3.connect(
            f"file:{quote(path)}?mode={mode}", uri=True, timeout=limit, isolation_level=None
        )
    except sqlite3.Error as exc:
        raise StatementFailed(f"database {db.name!r}: {type(exc).__name__}: {exc}") from None
    conn.set_progress_handler(
        lambda: int(ctx.cancelled or time.monotonic() > deadline), PROGRESS_STEPS
    )
    try:
        conn.execute("BEGIN")
        cursor = conn.execute(sql, () if params is None else params)
        result = _rows(cursor, max_rows)
        cursor.close()
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        conn.set_progress_handler(None, 0)  # the rollback must not be interrupted too
        if conn.in_transaction:
            conn.rollback()
        if isinstance(exc, sqlite3.OperationalError) and str(exc) == "interrupted":
            if ctx.cancelled:
                raise StatementFailed("the statement was stopped: the job was cancelled") from None
            raise StatementFailed(
                f"statement timeout: it ran over {limit:g}s on database {db.name!r}"
            ) from None
        raise StatementFailed(f"database {db.name!r}: {type(exc).__name__}: {exc}") from None
    finally:
        conn.close()
    return result


def _text(exc: BaseException) -> str:
    return str(exc).strip() or "no detail"
