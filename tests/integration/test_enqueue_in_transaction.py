"""``hh.enqueue(..., connection=conn)``: a job inserted in the caller's own transaction, on
both stores: it exists when the caller commits, never if it rolls back, and a worker runs
it once committed."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

import psycopg
import pytest

from hourhand import Hourhand, InvalidInput, JobContext, JobState
from hourhand.errors import JobNotFound
from hourhand.store import locate
from tests.conftest import WorkerThread


@pytest.fixture
def app(hh: Hourhand) -> Iterator[Hourhand]:
    @hh.job("receipt")
    def receipt(ctx: JobContext, order: int) -> int:
        return order

    hh.migrate()
    yield hh


def own_connection(app: Hourhand) -> Any:
    """A connection of the application's own, to hourhand's database, with a table of its
    own (an "orders" table beside hourhand's)."""
    url = app.database_url
    if url.startswith("sqlite"):
        conn: Any = sqlite3.connect(str(locate(url).path), timeout=30)
    else:
        conn = psycopg.connect(url)
    conn.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, total INTEGER)")
    conn.commit()
    return conn


def test_a_job_enqueued_in_a_transaction_commits_or_rolls_back_with_it(
    app: Hourhand, app_workers: Callable[..., WorkerThread]
) -> None:
    with closing(own_connection(app)) as conn:
        conn.execute("INSERT INTO orders (id, total) VALUES (1, 100)")
        kept = app.enqueue("receipt", {"order": 1}, connection=conn)
        with pytest.raises(JobNotFound):  # not committed: nobody else sees it yet
            app.get_job(kept)
        conn.commit()
        assert app.get_job(kept).state == JobState.QUEUED

        conn.execute("INSERT INTO orders (id, total) VALUES (2, 200)")
        dropped = app.enqueue("receipt", {"order": 2}, connection=conn)
        conn.rollback()
        with pytest.raises(JobNotFound):  # rolled back with the order
            app.get_job(dropped)
        assert [o for (o,) in conn.execute("SELECT id FROM orders").fetchall()] == [1]

        # a unique key held inside the transaction is held for it too
        first = app.enqueue("receipt", {"order": 3}, unique_key="o3", connection=conn)
        again = app.enqueue("receipt", {"order": 3}, unique_key="o3", connection=conn)
        assert (again, again.created) == (first, False)
        conn.commit()
    app_workers(app)
    assert app.wait(kept, timeout=15).result == 1
    assert app.wait(first, timeout=15).result == 3


def test_many_jobs_enqueued_in_a_transaction_commit_or_roll_back_with_it(app: Hourhand) -> None:
    with closing(own_connection(app)) as conn:
        assert len(app.enqueue_many("receipt", [{"order": 1}, {"order": 2}], connection=conn)) == 2
        conn.rollback()
        kept = app.enqueue_many("receipt", [{"order": 3}, {"order": 4}], connection=conn)
        conn.commit()
    assert sorted(j.id for j in app.list_jobs()) == sorted(kept)  # (SQLite may reuse ids)
    assert [app.get_job(i).args["order"] for i in kept] == [3, 4]


def test_a_connection_of_the_wrong_kind_is_refused_by_name(app: Hourhand) -> None:
    with pytest.raises(InvalidInput, match="connection="):
        app.enqueue("receipt", {"order": 1}, connection=object())
    assert app.list_jobs() == []
