"""The store's guarantees, driven directly: fencing, rescue, the database clock."""

from __future__ import annotations

import pytest

from hourhand import Hourhand, JobContext, JobState, Outcome
from hourhand.store import AttemptEnd, Completion
from tests.conftest import wait_until


@pytest.fixture
def app(hh: Hourhand) -> Hourhand:
    @hh.job("noop")
    async def noop(ctx: JobContext) -> None:
        return None

    return hh


def test_a_worker_that_lost_its_claim_changes_nothing(app: Hourhand) -> None:
    store = app.store
    job_id = app.enqueue("noop")
    [first] = store.claim("worker-a", None, 10, lease=0.3)
    assert (first.id, first.attempt, first.worker_id) == (job_id, 1, "worker-a")
    wait_until(lambda: store.expired(10), what="the lease to expire by the database clock")
    lost = AttemptEnd(
        job_id,
        1,
        "worker-a",
        Outcome.LOST,
        JobState.RETRYING,
        error="worker lost",
        require_expired=True,
    )
    assert store.end_attempt(lost)
    store.promote_due()
    [second] = store.claim("worker-b", None, 10, lease=30)
    assert (second.attempt, second.worker_id) == (2, "worker-b")

    # every write of the stalled worker is refused
    assert store.complete("worker-a", [Completion(job_id, 1, '"stale"', 0.1)]) == []
    assert store.heartbeat("worker-a", [(job_id, 1)], 30).alive == set()
    assert not store.set_progress("worker-a", job_id, 1, 50.0, "stale")
    stale_fail = AttemptEnd(job_id, 1, "worker-a", Outcome.FAILED, JobState.FAILED, error="x")
    assert not store.end_attempt(stale_fail)
    assert store.get_job(job_id) == second
    assert [a.outcome for a in store.list_attempts(job_id)] == [Outcome.LOST]

    # while the holder's own writes apply
    assert store.heartbeat("worker-b", [(job_id, 2)], 30).alive == {job_id}
    assert store.complete("worker-b", [Completion(job_id, 2, '"fresh"', 0.1)]) == [job_id]
    assert app.get_job(job_id).result == "fresh"


def test_rescue_leaves_a_job_whose_lease_is_alive(app: Hourhand) -> None:
    store = app.store
    job_id = app.enqueue("noop")
    store.claim("worker-a", None, 1, lease=30)
    assert store.expired(10) == []
    early = AttemptEnd(
        job_id,
        1,
        "worker-a",
        Outcome.LOST,
        JobState.RETRYING,
        error="worker lost",
        require_expired=True,
    )
    assert not store.end_attempt(early)
    assert app.get_job(job_id).state == JobState.RUNNING


def test_claim_skips_jobs_already_claimed(app: Hourhand) -> None:
    ids = app.enqueue_many("noop", [{} for _ in range(5)])
    a = app.store.claim("a", None, 3, lease=30)
    b = app.store.claim("b", None, 3, lease=30)
    assert len(a) == 3 and len(b) == 2
    assert sorted(j.id for j in a + b) == ids


def test_database_clock_is_aware_utc(app: Hourhand) -> None:
    now = app.store.now()
    assert now.utcoffset() is not None and now.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
