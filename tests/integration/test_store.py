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
    assert store.heartbeat("worker-b", [(job_id, 2)], 30).alive == {(job_id, 2)}
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


@pytest.mark.parametrize("new_state", [JobState.RETRYING, JobState.FAILED, JobState.QUEUED])
def test_a_requested_cancel_wins_over_any_other_end(app: Hourhand, new_state: JobState) -> None:
    """Retry, failure, hand-back or rescue: a job whose cancel was asked ends cancelled."""
    store = app.store
    job_id = app.enqueue("noop")
    store.claim("w", None, 1, lease=30)
    app.cancel(job_id)
    end = AttemptEnd(job_id, 1, "w", Outcome.FAILED, new_state, error="boom", retry_in=0.0)
    assert store.end_attempt(end) == JobState.CANCELLED
    job = app.get_job(job_id)
    assert (job.state, job.cancel_requested) == (JobState.CANCELLED, False)
    assert job.finished_at is not None
    assert store.promote_due()[0] == 0 and store.claim("w2", None, 1, lease=30) == []


def test_lost_claim_replies_are_given_back_and_recorded_ends_are_found(app: Hourhand) -> None:
    store = app.store
    ids = app.enqueue_many("noop", [{} for _ in range(3)])
    store.claim("w", None, 3, lease=30)  # the reply of this claim never reached worker w
    app.cancel(ids[2])
    assert sorted(store.release_unheld("w", [ids[0]])) == ids[1:]
    assert [app.get_job(i).state for i in ids] == [
        JobState.RUNNING,
        JobState.QUEUED,
        JobState.CANCELLED,
    ]
    assert app.get_job(ids[1]).attempt == 0  # the lost claim does not count
    assert store.recorded("w", [(ids[0], 1)], "completed") == set()
    assert store.complete("w", [Completion(ids[0], 1, None, 0.1)]) == [ids[0]]
    # a retry of that completion finds it done: it is recorded, not lost
    assert store.complete("w", [Completion(ids[0], 1, None, 0.1)]) == []
    assert store.recorded("w", [(ids[0], 1), (ids[1], 1)], "completed") == {ids[0]}
    assert store.recorded("w", [(ids[0], 1)], "failed") == set()


def test_next_due_is_measured_by_the_database_clock(app: Hourhand) -> None:
    app.enqueue("noop", delay=60)
    moved, next_in = app.store.promote_due()
    assert moved == 0
    assert next_in is not None and 55 < next_in <= 60


def test_a_claimed_job_equals_its_row_read_back(app: Hourhand) -> None:
    """Claims send back only what the worker needs and fill in what a claim sets; the job a
    worker gets must still equal the row, whichever claim statement took it."""

    @app.job("limited", concurrency=2)
    async def limited(ctx: JobContext) -> None:
        return None

    @app.job("full")
    async def full_job(ctx: JobContext, n: int, text: str) -> None:
        return None

    store = app.store
    full = app.enqueue(
        "full",
        {"n": 1, "text": "é"},
        queue="q1",
        priority=3,
        max_attempts=4,
        timeout=12.5,
        unique_key="k",
        org_id="org-a",
        created_by="user-1",
    )
    [first] = store.claim("worker-a", ["q1"], 10, lease=30)
    assert first.id == full and first == store.get_job(full)
    failed = AttemptEnd(
        full, 1, "worker-a", Outcome.FAILED, JobState.RETRYING, retry_in=0.0, error="boom"
    )
    assert store.end_attempt(failed)  # to be retried, with the attempt's error kept
    wait_until(lambda: store.promote_due()[0] == 1, what="the retry to become due")
    [again] = store.claim("worker-b", None, 10, lease=30)
    assert again == store.get_job(full)
    assert (again.attempt, again.error, again.state) == (2, "boom", JobState.RUNNING)

    other = app.enqueue("limited", {}, queue="q2")
    took = store.claim_limited("worker-c", None, "limited", 5, 30, max_running=2)
    assert [j.id for j in took.jobs] == [other]
    assert took.jobs[0] == store.get_job(other)


def test_jobs_inserted_alike_keep_their_order_args_and_options(app: Hourhand) -> None:
    @app.job("typed")
    async def typed(ctx: JobContext, value: object) -> None:
        return None

    big = 12345678901234567890123  # kept exactly (not through a float)
    values: list[object] = [{"nested": [1, 2.5, None]}, 'é " \\ \u2603', big, [], True]
    ids = app.enqueue_many(
        "typed", [{"value": v} for v in values], priority=4, org_id="o", created_by="u"
    )
    assert ids == sorted(ids) and len(set(ids)) == len(values)
    jobs = app.store.get_jobs(ids)
    by_id = {j.id: j for j in jobs}
    assert [by_id[i].args for i in ids] == [{"value": v} for v in values]
    assert {(j.state, j.priority, j.org_id, j.created_by) for j in jobs} == {
        (JobState.QUEUED, 4, "o", "u")
    }
    later = app.enqueue_many("typed", [{"value": 1}, {"value": 2}], delay=3600)
    assert {j.state for j in app.store.get_jobs(later)} == {JobState.SCHEDULED}
    assert app.enqueue_many("typed", []) == []


def test_completed_results_keep_every_character(app: Hourhand) -> None:
    """Completions send their batch as array literals: quotes, backslashes, braces, commas,
    the word NULL and non-ASCII text must come back as they went."""
    import json

    store = app.store
    results: list[object] = ['a "quoted" \\ back\\slash', "{,}", "NULL", "", "é\u2603", None, [1]]
    ids = app.enqueue_many("noop", [{} for _ in results])
    claimed = store.claim("worker-a", None, len(ids), lease=30)
    by_id = {j.id: j for j in claimed}
    items = [
        Completion(i, by_id[i].attempt, None if r is None else json.dumps(r), 0.25 + n)
        for n, (i, r) in enumerate(zip(ids, results, strict=True))
    ]
    assert sorted(store.complete("worker-a", items)) == sorted(ids)
    assert [app.get_job(i).result for i in ids] == results
    assert [a.duration for i in ids for a in store.list_attempts(i)] == [
        0.25 + n for n in range(len(ids))
    ]
