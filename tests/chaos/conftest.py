"""Fixtures of the chaos suite: its own PostgreSQL server with durable commits (the shared
one runs with fsync and synchronous_commit off, which a crash test cannot use), a fresh
database of each kind per test, and the figures table at the end of the run."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hourhand import Hourhand
from tests.chaos.harness import FIGURES, Figures, open_app, table
from tests.support.pgserver import PgServer

_databases = itertools.count()


@pytest.fixture(scope="session")
def chaos_pg() -> Iterator[PgServer]:
    """A PostgreSQL server of the chaos suite's own: durable commits, and free to be
    restarted, set read-only or reconfigured by a test."""
    server = PgServer(fast=False).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def chaos_pg_url(chaos_pg: PgServer) -> str:
    """A fresh, empty database on the chaos server."""
    return chaos_pg.create_database(f"chaos_{next(_databases)}")


@pytest.fixture(params=["sqlite", "postgres"])
def chaos_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/chaos.db"
    url: str = request.getfixturevalue("chaos_pg_url")
    return url


@pytest.fixture
def apps() -> Iterator[Callable[[str], Hourhand]]:
    """Opens Hourhand apps that know the workload's job types; closes them at the end."""
    opened: list[Hourhand] = []

    def open_(url: str) -> Hourhand:
        app = open_app(url)
        opened.append(app)
        return app

    yield open_
    for app in opened:
        with contextlib.suppress(Exception):
            app.close()


@pytest.fixture
def record_figures() -> Callable[[Figures], None]:
    return FIGURES.append


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    terminalreporter.write_sep("=", "chaos figures")
    for line in table(FIGURES):
        terminalreporter.write_line(line)
