"""Fixtures shared by the suite: a real PostgreSQL server started for the session, real
SQLite files, and every ``store_url``-using test run on both."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hourhand import Hourhand, Worker
from tests.support.pgbouncer import PgBouncer
from tests.support.pgserver import PgServer

REPO = Path(__file__).resolve().parent.parent
pytest_plugins = ["tests.support.servers"]  # receiver (webhooks) and smtp (e-mail) fixtures


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The multi-process tests (marked slow) first: most of their time is waiting on real
    clocks and subprocesses, which the other test process fills with the rest of the suite
    instead of idling at the end; the longest (two real minute boundaries)
    before them."""
    longest = "tests/integration/test_scheduler_processes.py"
    items.sort(
        key=lambda item: (
            not item.nodeid.startswith(longest),
            item.get_closest_marker("slow") is None,
        )
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Captured output as text that survives the trip from a pytest-xdist worker (which
    sends UTF-8): tests of bad input log lone surrogates on purpose."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    report.sections = [
        (title, text.encode("utf-8", "backslashreplace").decode("utf-8"))
        for title, text in report.sections
    ]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_base_url(pg_server: PgServer) -> str:
    return pg_server.create_database("hourhand_test")


BOUNCER_DATABASE = "hourhand_bouncer"  # the database the PgBouncer tests use
BOUNCER_TINY_POOL = "hourhand_bouncer_tiny"  # an alias of it with one server connection


@pytest.fixture(scope="session")
def pgbouncer(pg_server: PgServer) -> Iterator[PgBouncer]:
    """PgBouncer in transaction mode in front of the session's server: 4 server
    connections per database, 1 through the alias BOUNCER_TINY_POOL."""
    bouncer = PgBouncer(
        pg_server, pool_size=4, pools={BOUNCER_TINY_POOL: (BOUNCER_DATABASE, 1)}
    ).start()
    try:
        yield bouncer
    finally:
        bouncer.stop()


def reset_postgres(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/hourhand.db"
    url: str = request.getfixturevalue("pg_base_url")
    reset_postgres(url)
    return url


@pytest.fixture
def hh(store_url: str) -> Iterator[Hourhand]:
    app = Hourhand(store_url)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[Hourhand]:
    """An app on an SQLite file only, for tests of what does not depend on the store."""
    app = Hourhand(f"sqlite:///{tmp_path}/lite.db")
    try:
        yield app
    finally:
        app.close()


def wait_until(
    predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.02, what: str = ""
) -> Any:
    """Poll until ``predicate()`` is truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


class WorkerThread:
    """A worker running in a thread of the test process."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.worker.run(install_signals=False)
        except BaseException as exc:
            self.error = exc

    def start(self) -> WorkerThread:
        self.thread.start()
        assert self.worker.started.wait(15), "worker did not start"
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self.worker.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "worker did not stop"
        if self.error is not None:
            raise self.error


@pytest.fixture
def app_workers() -> Iterator[Callable[..., WorkerThread]]:
    """``start(app, **options)``: a worker thread of ``app``, stopped at the end."""
    started: list[WorkerThread] = []

    def start(app: Hourhand, **options: Any) -> WorkerThread:
        w = WorkerThread(app.worker(**options)).start()
        started.append(w)
        return w

    yield start
    for w in started:
        if w.thread.is_alive():
            w.stop()


@pytest.fixture
def run_worker(
    hh: Hourhand, app_workers: Callable[..., WorkerThread]
) -> Callable[..., WorkerThread]:
    """``start(**options)``: a worker thread of the ``hh`` app (polling every 0.2 s)."""

    def start(**options: Any) -> WorkerThread:
        return app_workers(hh, **{"poll_interval": 0.2, **options})

    return start


@pytest.fixture
def lite_worker(
    lite: Hourhand, app_workers: Callable[..., WorkerThread]
) -> Callable[..., WorkerThread]:
    """``start(**options)``: a worker thread of the ``lite`` app (polling every 0.2 s)."""

    def start(**options: Any) -> WorkerThread:
        return app_workers(lite, **{"poll_interval": 0.2, **options})

    return start


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env
