"""PostgreSQL going away and coming back: the listener backs off and says so once, callers
get hourhand's DatabaseUnavailable, and nothing needs restarting. (A server of this module's
own, since it is stopped and started; the chaos suite does the same under load.)"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from hourhand import DatabaseUnavailable, Hourhand, JobContext
from hourhand.store.postgres import PostgresStore
from tests.conftest import wait_until
from tests.support.pgserver import PgServer


@pytest.fixture(scope="module")
def server() -> Iterator[PgServer]:
    pg = PgServer().start()
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture
def url(server: PgServer) -> str:
    return server.create_database("outages")


def test_listener_backs_off_while_the_database_is_down_and_logs_once(
    server: PgServer, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hourhand")
    store = PostgresStore(url)
    watcher = store.watch()
    try:
        watcher.wait(0.05)  # connected and listening
        server.halt()
        try:
            calls = 0
            started = time.monotonic()
            while time.monotonic() - started < 3.0:  # a worker's listener loop, for 3 s
                watcher.wait(0.25)
                calls += 1
            assert calls <= 30, f"{calls} waits in 3 s: the listener spins"
            lost = [r for r in caplog.records if "lost the notification connection" in r.message]
            assert len(lost) == 1
        finally:
            server.resume()
        wait_until(lambda: watcher.wait(0.25), timeout=20, what="the listener to reconnect")
        restored = [r for r in caplog.records if "notification connection restored" in r.message]
        assert len(restored) == 1
    finally:
        watcher.close()
        store.close()


def test_enqueue_across_a_restart_raises_database_unavailable_then_works(
    server: PgServer, url: str
) -> None:
    hh = Hourhand(url)

    @hh.job("x")
    async def x(ctx: JobContext) -> None:
        return None

    try:
        hh.enqueue("x")  # the pool holds a connection now
        server.restart("fast")  # which the restart closed under it
        with pytest.raises(DatabaseUnavailable, match=r"PostgreSQL at .* is unavailable"):
            hh.enqueue("x")

        def enqueued() -> bool:
            try:
                hh.enqueue("x")
            except DatabaseUnavailable:
                return False
            return True

        wait_until(enqueued, timeout=20, what="enqueue to work again")
        assert hh.counts()["queued"] >= 2
    finally:
        hh.close()
