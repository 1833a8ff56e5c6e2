"""hourhand through PgBouncer in transaction mode (a real PgBouncer, from Debian's package, in
front of the session's PostgreSQL server; nothing mocked).

The database's TimeZone is set to Asia/Kathmandu (+05:45): through PgBouncer the session keeps
the server's zone (startup options are refused), so every time read back must still be UTC.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from hourhand import Hourhand, JobContext, JobState, Outcome
from hourhand.errors import ConfigurationError
from hourhand.store import open_store, split_pooler_param
from hourhand.store.postgres import PostgresStore
from tests.conftest import (
    BOUNCER_DATABASE,
    BOUNCER_TINY_POOL,
    WorkerThread,
    reset_postgres,
    subprocess_env,
    wait_until,
)
from tests.support.pgbouncer import PgBouncer
from tests.support.pgserver import PgServer

SERVER_ZONE = "Asia/Kathmandu"  # +05:45: a zone no one rounds to by accident
LISTEN_APP_NAME = "hourhand-direct-listen"  # application_name of the direct LISTEN connection


@pytest.fixture(scope="session")
def bouncer_database(pg_server: PgServer, pgbouncer: PgBouncer) -> str:
    """The direct URL of the PgBouncer tests' database (its default TimeZone not UTC)."""
    url = pg_server.create_database(BOUNCER_DATABASE)
    pg_server.sql(f"ALTER DATABASE {BOUNCER_DATABASE} SET timezone TO '{SERVER_ZONE}'")
    return url


class Urls:
    def __init__(self, direct: str, bouncer: PgBouncer) -> None:
        self.direct = direct  # to PostgreSQL itself
        self.bouncer = bouncer

    def pooled(self, dbname: str = BOUNCER_DATABASE) -> str:
        """Through PgBouncer, with hourhand's pgbouncer switch."""
        return self.bouncer.url(dbname) + "?pgbouncer=true"

    @property
    def listen(self) -> str:
        """Direct, named so the test can find it in pg_stat_activity."""
        return f"{self.direct}?application_name={LISTEN_APP_NAME}"


@pytest.fixture
def urls(bouncer_database: str, pgbouncer: PgBouncer) -> Urls:
    reset_postgres(bouncer_database)
    return Urls(bouncer_database, pgbouncer)


@pytest.fixture
def apps() -> Iterator[Callable[..., Hourhand]]:
    """``make(url, **options)``: an app with a ``count`` job type recording each run in
    ``app.runs`` (job id -> executions); closed at the end."""
    made: list[Hourhand] = []

    def make(url: str, **options: object) -> Hourhand:
        app = Hourhand(url, **options)  # type: ignore[arg-type]
        runs: Counter[int] = Counter()
        lock = threading.Lock()

        @app.job("count")
        def count(ctx: JobContext, n: int = 0) -> int:
            with lock:
                runs[ctx.job_id] += 1
            return n

        app.runs = runs  # type: ignore[attr-defined]
        made.append(app)
        return app

    yield make
    for app in made:
        app.close()


@pytest.fixture
def workers(app_workers: Callable[..., WorkerThread]) -> Callable[..., WorkerThread]:
    return app_workers


def start_two(
    url: str,
    jobs: int,
    apps: Callable[..., Hourhand],
    workers: Callable[..., WorkerThread],
    listen_database: str | None = None,
    **options: float,
) -> tuple[Hourhand, Hourhand, list[int]]:
    """Two apps on ``url``, ``jobs`` jobs enqueued, a worker thread of each (``options``:
    the workers')."""
    one, two = (apps(url, listen_database=listen_database) for _ in range(2))
    ids = one.enqueue_many("count", [{"n": i} for i in range(jobs)])
    for app in (one, two):
        workers(app, concurrency=20, **options)
    return one, two, ids


def ran_once_each(ids: list[int], *apps: Hourhand) -> bool:
    total: Counter[int] = Counter()
    for app in apps:
        total.update(app.runs)  # type: ignore[attr-defined]
    return sorted(total) == sorted(ids) and set(total.values()) == {1}


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What hourhand logged at WARNING or above (a worker rides out errors, logging them)."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def direct_sql(url: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query.encode())
        return cur.fetchall() if cur.description else []


def listeners(url: str) -> list[str]:
    """application_name of the database's backends whose last statement was a LISTEN."""
    rows = direct_sql(
        url,
        "SELECT application_name FROM pg_stat_activity "
        f"WHERE datname = '{BOUNCER_DATABASE}' AND query LIKE 'LISTEN %'",
    )
    return [str(r[0]) for r in rows]


# -- draining -----------------------------------------------------------------------------------


def test_two_workers_drain_through_pgbouncer_woken_over_a_direct_listen_connection(
    urls: Urls,
    apps: Callable[..., Hourhand],
    workers: Callable[..., WorkerThread],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    # polling every 60 s: only a notification can start the late job below in time
    one, two, ids = start_two(
        urls.pooled(), 300, apps, workers, listen_database=urls.listen, poll_interval=60
    )
    wait_until(lambda: ran_once_each(ids, one, two), timeout=60, what="300 jobs run once each")
    wait_until(lambda: one.counts()["completed"] == 300, what="300 completions recorded")
    assert {LISTEN_APP_NAME} == set(listeners(urls.direct))  # LISTEN went direct, not pooled

    late = one.enqueue("count", {"n": -1})  # both workers are idle, waiting for NOTIFY
    assert one.wait(late, timeout=20).state == JobState.COMPLETED  # hh.wait: woken too
    assert ran_once_each([*ids, late], one, two)
    for job_id in (ids[0], ids[-1], late):  # each run once, recorded once
        assert [a.outcome for a in one.attempts(job_id)] == [Outcome.COMPLETED]
    assert warnings_logged(caplog) == []


def test_without_a_direct_connection_workers_poll_through_pgbouncer(
    urls: Urls,
    apps: Callable[..., Hourhand],
    workers: Callable[..., WorkerThread],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    one, two, ids = start_two(urls.pooled(), 300, apps, workers, poll_interval=0.2)
    wait_until(lambda: ran_once_each(ids, one, two), timeout=60, what="300 jobs run once each")
    late = one.enqueue("count", {"n": -1})
    assert one.wait(late, timeout=20).state == JobState.COMPLETED  # found by polling
    assert ran_once_each([*ids, late], one, two)
    assert listeners(urls.direct) == []  # no LISTEN was sent through the pooler
    assert warnings_logged(caplog) == []


def test_a_pool_smaller_than_the_workers_connections_still_drains(
    urls: Urls,
    apps: Callable[..., Hourhand],
    workers: Callable[..., WorkerThread],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    tiny = urls.pooled(BOUNCER_TINY_POOL)  # one server connection for every client
    one, two, ids = start_two(tiny, 200, apps, workers, poll_interval=0.2, lease=3)
    seen: list[tuple[int, int]] = []  # (clients, server connections) of the tiny pool

    def drained() -> bool:
        clients = [c for c in urls.bouncer.show("CLIENTS") if c["database"] == BOUNCER_TINY_POOL]
        servers = [s for s in urls.bouncer.show("SERVERS") if s["database"] == BOUNCER_TINY_POOL]
        seen.append((len(clients), len(servers)))
        return ran_once_each(ids, one, two)

    wait_until(drained, timeout=90, interval=0.1, what="200 jobs run once each")
    assert max(servers for _, servers in seen) == 1
    assert max(clients for clients, _ in seen) >= 4  # each worker: pool + heartbeats
    assert warnings_logged(caplog) == []


def test_clients_sharing_a_server_connection_prepare_no_statements(urls: Urls) -> None:
    """psycopg prepares a statement run five times; on a server connection that other
    clients share, the second client's name clashes (or the statement is missing)."""
    stores = [open_store(urls.pooled(BOUNCER_TINY_POOL)) for _ in range(2)]
    try:
        stores[0].migrate()
        for _ in range(8):
            for store in stores:
                assert store.count_by_state()["queued"] == 0
    finally:
        for store in stores:
            store.close()


# -- what a pooled connection may not rely on ------------------------------------------------


def test_times_read_back_as_utc_whatever_the_servers_time_zone(
    urls: Urls, apps: Callable[..., Hourhand]
) -> None:
    with psycopg.connect(urls.bouncer.url(BOUNCER_DATABASE)) as conn:  # the premise
        assert conn.execute("SHOW timezone").fetchone() == (SERVER_ZONE,)
    app = apps(urls.pooled())
    when = datetime(2031, 7, 4, 9, 15, 30, 123456, tzinfo=ZoneInfo("America/New_York"))
    job = app.get_job(app.enqueue("count", run_at=when))
    assert job.run_at == when and job.run_at.tzinfo is UTC
    assert job.created_at.tzinfo is UTC
    assert abs(job.created_at - datetime.now(UTC)) < timedelta(minutes=5)
    now = app.store.now()
    assert now.tzinfo is UTC and abs(now - datetime.now(UTC)) < timedelta(minutes=5)
    direct = apps(urls.direct)  # and the same values as a direct connection reads
    assert direct.get_job(job.id) == job


def test_a_statement_timeout_holds_per_transaction_and_does_not_leak(urls: Urls) -> None:
    store = open_store(urls.pooled(BOUNCER_TINY_POOL))
    timed = store.private(statement_timeout=0.2)
    try:
        assert isinstance(timed, PostgresStore)
        with pytest.raises(psycopg.errors.QueryCanceled), timed._connection() as conn:
            conn.execute("SELECT pg_sleep(3)")
        # the only server connection of the pool served that; the timeout went with it
        with store._connection() as conn:
            assert conn.execute("SHOW statement_timeout").fetchone() == {"statement_timeout": "0"}
        store.migrate()
        app = Hourhand(urls.pooled(BOUNCER_TINY_POOL))
        try:

            @app.job("count")
            def count(ctx: JobContext) -> None: ...

            job_id = app.enqueue("count")
        finally:
            app.close()
        (claimed,) = store.claim("w1", None, 1, 30)
        assert claimed.id == job_id
        beat = timed.heartbeat("w1", [(claimed.id, claimed.attempt)], 30)  # as the leases do
        assert beat.alive == {(claimed.id, claimed.attempt)}
    finally:
        timed.close()
        store.close()


def test_the_cli_takes_the_switch_in_its_url_and_the_listen_database_from_the_env(
    urls: Urls,
) -> None:
    env = subprocess_env(HOURHAND_LISTEN_DATABASE=urls.listen)
    cli = [sys.executable, "-m", "hourhand", "--app", "tests.apps.cli_app:hh"]
    cli += ["--database", urls.pooled()]
    enqueue = ["enqueue", "greet", "--args", '{"name": "Ada"}', "--wait", "20"]
    done = subprocess.run([*cli, "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    worker = subprocess.Popen([*cli, "worker"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        done = subprocess.run([*cli, *enqueue], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr  # run, and waited for
    finally:
        worker.terminate()
        _, log = worker.communicate(timeout=30)
    assert worker.returncode == 0, log
    done = subprocess.run([*cli, "jobs", "list", "--json"], env=env, capture_output=True, text=True)
    (job,) = json.loads(done.stdout)
    assert job["state"] == "completed" and job["created_at"].endswith("+00:00")
    assert Hourhand(urls.pooled()).listen_database is None
    with pytest.MonkeyPatch.context() as env_vars:
        env_vars.setenv("HOURHAND_LISTEN_DATABASE", urls.listen)
        assert Hourhand(urls.pooled()).listen_database == urls.listen


def test_the_pgbouncer_switch_is_taken_out_of_the_url() -> None:
    url = "postgresql://u:pw@h:6432/db?sslmode=require&pgbouncer=true&options=-c%20x%3Dy"
    assert split_pooler_param(url) == (
        "postgresql://u:pw@h:6432/db?sslmode=require&options=-c%20x%3Dy",
        True,
    )
    assert split_pooler_param("postgresql://h/db?pgbouncer=0") == ("postgresql://h/db", False)
    assert split_pooler_param("postgresql://h/db") == ("postgresql://h/db", False)
    with pytest.raises(ConfigurationError, match="pgbouncer= takes true or false"):
        Hourhand("postgresql://h/db?pgbouncer=maybe")
    with pytest.raises(ConfigurationError, match="LISTEN needs a session connection"):
        open_store("postgresql://h/db", listen_url="postgresql://h/db?pgbouncer=true")
    with pytest.raises(ConfigurationError, match="for PostgreSQL only"):
        open_store("sqlite:///x.db", listen_url="postgresql://h/db")


# -- the scheduler -------------------------------------------------------------------------------


def test_two_schedulers_through_pgbouncer_fire_a_due_time_once(
    urls: Urls, apps: Callable[..., Hourhand], workers: Callable[..., WorkerThread]
) -> None:
    app = apps(urls.pooled())

    @app.cron("* * * * *", name="minutely")
    def minutely(ctx: JobContext) -> None: ...

    other = apps(urls.pooled())
    other.cron("* * * * *", name="minutely")(minutely)
    schedule = app.schedules.find("minutely")  # added at first use
    due = app.store.now().replace(second=0, microsecond=0)  # this minute: on time
    app.store.update_schedule(schedule.id, {"next_fire_at": due})
    schedulers = [a.scheduler(poll_interval=0.1) for a in (app, other)]
    threads = [threading.Thread(target=s.run, daemon=True) for s in schedulers]
    for t in threads:
        t.start()
    try:
        workers(app, poll_interval=0.2)

        def fired() -> list[JobState]:
            runs = app.schedules.runs(schedule.id)
            return [j.state for j in runs if j.fire_time == due]

        wait_until(lambda: fired() == [JobState.COMPLETED], timeout=30, what="one run, done")
        assert app.schedules.get(schedule.id).next_fire_at > due  # moved on
    finally:
        for s in schedulers:
            s.stop()
        for t in threads:
            t.join(10)
    times = [j.fire_time for j in app.schedules.runs(schedule.id)]
    assert Counter(times).most_common(1)[0][1] == 1  # no fire time twice
