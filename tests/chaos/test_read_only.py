"""Chaos: the database refuses writes for a few seconds in the middle of a drain.

PostgreSQL: ``default_transaction_read_only = on`` server-wide (ALTER SYSTEM and a reload,
on the chaos suite's own server), so every write fails at once. SQLite: a connection of the
test holds ``BEGIN EXCLUSIVE``, so every writer waits for the lock.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hourhand import Hourhand
from tests.chaos.harness import (
    Figures,
    Fleet,
    account,
    poll,
    store_of,
    verdict,
    wait_drained,
)
from tests.conftest import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

JOBS = 600
WORKERS = 2
CONCURRENCY = 10
LEASE = 10.0  # longer than the outage: workers keep their jobs through it
REFUSE_FOR = 4.0  # seconds
DRAIN_TIMEOUT = 60.0


@contextmanager
def postgres_read_only(request: pytest.FixtureRequest) -> Iterator[None]:
    server = request.getfixturevalue("chaos_pg")

    def setting() -> str:
        return str(server.sql("SHOW default_transaction_read_only")[0][0])

    server.sql("ALTER SYSTEM SET default_transaction_read_only = on")
    try:
        server.sql("SELECT pg_reload_conf()")
        wait_until(lambda: setting() == "on", timeout=10, what="read-only to take effect")
        yield
    finally:
        server.sql("ALTER SYSTEM RESET default_transaction_read_only")
        server.sql("SELECT pg_reload_conf()")
        wait_until(lambda: setting() == "off", timeout=10, what="read-only to be lifted")


@contextmanager
def sqlite_write_lock(url: str) -> Iterator[None]:
    conn = sqlite3.connect(url.split(":///", 1)[1], timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def test_database_refuses_writes_for_seconds_during_a_drain(
    chaos_url: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    apps: Callable[[str], Hourhand],
    record_figures: Callable[[Figures], None],
) -> None:
    sqlite = chaos_url.startswith("sqlite")
    what = "BEGIN EXCLUSIVE held" if sqlite else "server read-only"
    figures = Figures(f"{what} {REFUSE_FOR:.0f}s", store_of(chaos_url))
    app = apps(chaos_url)
    rng = random.Random()
    # 600 jobs of 100-150 ms on 20 slots: at least 3.7 s of work.
    ids = app.enqueue_many("chaos:work", [{"ms": rng.randint(100, 150)} for _ in range(JOBS)])
    fleet = Fleet(chaos_url, tmp_path, concurrency=CONCURRENCY, lease=LEASE)
    problems: list[str] = []
    started = time.time()
    try:
        fleet.start(WORKERS)
        poll(
            lambda: app.counts()["completed"] >= JOBS // 6,
            30,
            "the drain to be under way",
            problems,
        )
        fault = sqlite_write_lock(chaos_url) if sqlite else postgres_read_only(request)
        with fault:
            figures.faults += 1
            at_start = app.counts()["completed"]
            time.sleep(REFUSE_FOR)  # the fault itself
            during = app.counts()["completed"] - at_start
        last_fault = time.time()
        drained = wait_drained(app, JOBS, DRAIN_TIMEOUT)
        fleet.check(replace=False)
        fleet.stop()
    except BaseException:
        fleet.kill_all()
        raise

    figures.notes.append(f"jobs completed while writes were refused: {during}")
    figures.problems += problems
    account(figures, app, fleet, started=started, last_fault=last_fault, expected=ids)
    if not drained:
        figures.problems.append(f"the drain did not finish {DRAIN_TIMEOUT:.0f}s after the fault")
    if during > WORKERS * CONCURRENCY:
        figures.problems.append(
            f"{during} jobs completed while writes were refused: the fault did not take hold"
        )
    if figures.recover_s is None or figures.recover_s <= 0:
        figures.problems.append("no job was left to run after the fault: the run proves little")
    record_figures(figures)

    assert not figures.problems, verdict(figures, fleet)
    assert figures.lost == 0
    assert figures.failed == 0
    assert figures.duplicates == 0
    assert figures.bad_exits == 0
