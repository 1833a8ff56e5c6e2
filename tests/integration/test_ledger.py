"""The ledger of fire times, on both stores: every status arises from the scheduler driven
by an injected clock, the runs' outcomes are copied as they end, several schedulers racing
on one fire time leave one entry, a long outage writes a bounded number of entries."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from hourhand import Hourhand, JobContext, JobState, Outcome
from hourhand.scheduler import LEDGER_ROWS
from hourhand.store import AttemptEnd, Completion, FireRecord
from hourhand.store.base import HOLD_UNTIL

T0 = datetime(2021, 3, 1, 12, 0, tzinfo=UTC)  # a Monday, on a minute, in the past
MINUTE = timedelta(minutes=1)


@pytest.fixture
def app(hh: Hourhand) -> Hourhand:
    @hh.job("report")
    def report(ctx: JobContext) -> None:
        return None

    return hh


def schedule_at_t0(app: Hourhand, cron: str = "* * * * *", **options: object) -> int:
    """A user schedule due at T0, as if the scheduler last looked just before."""
    schedule = app.schedules.create("minutely", "report", cron, **options)  # type: ignore[arg-type]
    app.store.update_schedule(schedule.id, {"next_fire_at": T0})
    return schedule.id


def ledger(app: Hourhand, schedule_id: int, limit: int = 1000) -> list[FireRecord]:
    return app.store.schedule_fires(schedule_id, limit)


def statuses(app: Hourhand, schedule_id: int) -> dict[datetime, str]:
    return {f.fire_time: f.status for f in ledger(app, schedule_id)}


def fired_jobs(app: Hourhand, schedule_id: int) -> dict[datetime, int]:
    return {j.fire_time: j.id for j in app.schedules.runs(schedule_id, 1000) if j.fire_time}


def test_an_on_time_fire_is_enqueued_and_its_completion_copied(app: Hourhand) -> None:
    sid = schedule_at_t0(app, jitter=30)
    before = app.store.now()
    app.scheduler().tick(T0 + timedelta(seconds=1))
    [entry] = ledger(app, sid)
    job = app.get_job(entry.job_id)  # type: ignore[arg-type]
    assert (entry.fire_time, entry.status, job.fire_time) == (T0, "enqueued", T0)
    assert entry.due_at == job.run_at and T0 <= job.run_at <= T0 + timedelta(seconds=30)
    assert entry.enqueued_at == entry.recorded_at and entry.recorded_at >= before
    assert (entry.outcome, entry.finished_at, entry.unlisted) == (None, None, 0)
    assert app.store.last_successes() == {}

    [claimed] = app.store.claim("w", None, 10, lease=30)
    app.store.complete("w", [Completion(claimed.id, claimed.attempt, None, 0.5)])
    [done] = ledger(app, sid)
    finished = app.get_job(claimed.id).finished_at
    assert (done.outcome, done.finished_at) == ("completed", finished)
    assert app.store.last_successes() == {sid: finished}
    assert app.store.last_successes([sid + 1]) == {}
    assert app.store.latest_fires([sid]) == {sid: done}


def test_failures_retries_and_cancels_are_copied_when_the_run_ends_for_good(
    app: Hourhand,
) -> None:
    sid = schedule_at_t0(app, overlap="allow")
    sched = app.scheduler()
    for minute in range(4):
        sched.tick(T0 + minute * MINUTE + timedelta(seconds=1))
    jobs = fired_jobs(app, sid)
    failing, waiting, running, lost = (jobs[T0 + m * MINUTE] for m in range(4))
    app.cancel(waiting)  # not started: cancelled at once
    claimed = {j.id for j in app.store.claim("w", None, 10, lease=30)}
    assert claimed == {failing, running, lost}
    end = app.store.end_attempt

    end(AttemptEnd(failing, 1, "w", Outcome.FAILED, JobState.RETRYING, error="x", retry_in=60))
    assert ledger(app, sid)[-1].outcome is None  # it will run again: not over
    app.retry(failing)
    [again] = app.store.claim("w", None, 10, lease=30)
    end(AttemptEnd(failing, again.attempt, "w", Outcome.FAILED, JobState.FAILED, error="no"))
    app.cancel(running)  # running: its worker ends it cancelled, whatever it asks
    end(AttemptEnd(running, 1, "w", Outcome.FAILED, JobState.RETRYING, error="stop", retry_in=5))
    app.cancel(lost)
    assert app.store.release_unheld("w", []) == [lost]  # its claim's reply was lost

    by_time = {f.fire_time: f for f in ledger(app, sid)}
    outcomes = [by_time[T0 + m * MINUTE].outcome for m in range(4)]
    assert outcomes == ["failed", "cancelled", "cancelled", "cancelled"]
    for entry in by_time.values():
        assert entry.finished_at == app.get_job(entry.job_id).finished_at  # type: ignore[arg-type]
    assert app.store.last_successes() == {}

    app.retry(failing)  # an operator redrives the dead run, and it completes
    [redriven] = [j for j in app.store.claim("w", None, 10, lease=30) if j.id == failing]
    app.store.complete("w", [Completion(failing, redriven.attempt, None, 0.1)])
    assert {f.fire_time: f.outcome for f in ledger(app, sid)}[T0] == "completed"
    assert set(app.store.last_successes()) == {sid}


@pytest.mark.parametrize(
    ("misfire", "options", "expected"),
    [
        ("skip", {}, {0: "scheduler_down", 5: "scheduler_down", 10: "scheduler_down"}),
        ("once", {}, {0: "merged", 5: "merged", 10: "enqueued"}),
        ("all", {"misfire_cap": 2}, {0: "skipped_misfire", 5: "enqueued", 10: "enqueued"}),
        ("all", {"catchup_window": 400}, {0: "skipped_misfire", 5: "enqueued", 10: "enqueued"}),
    ],
)
def test_missed_fire_times_say_what_the_misfire_policy_did(
    app: Hourhand, misfire: str, options: dict[str, int], expected: dict[int, str]
) -> None:
    sid = schedule_at_t0(app, "*/5 * * * *", misfire=misfire, overlap="allow", **options)
    app.scheduler().tick(T0 + timedelta(minutes=11, seconds=30))  # T0+10 is 90 s late
    assert statuses(app, sid) == {T0 + m * MINUTE: s for m, s in expected.items()}
    jobs = fired_jobs(app, sid)
    for entry in ledger(app, sid):
        if entry.status == "enqueued":
            assert entry.job_id == jobs[entry.fire_time]
        elif entry.status == "merged":  # folded into the one run
            assert entry.job_id == jobs[T0 + 10 * MINUTE] and entry.due_at is None
        else:
            assert entry.job_id is None and entry.fire_time not in jobs
    assert len(jobs) == sum(s == "enqueued" for s in expected.values())


def test_the_overlap_policy_skips_holds_and_merges(app: Hourhand) -> None:
    sched = app.scheduler()
    skip = schedule_at_t0(app)  # overlap 'skip'
    sched.tick(T0 + timedelta(seconds=1))
    sched.tick(T0 + MINUTE + timedelta(seconds=1))  # the first run still waits
    assert statuses(app, skip) == {T0: "enqueued", T0 + MINUTE: "skipped_overlap"}
    app.schedules.delete(skip)
    assert ledger(app, skip) == []  # the ledger goes with its schedule

    queue = app.schedules.create("queued", "report", "* * * * *", overlap="queue", queue="q")
    app.store.update_schedule(queue.id, {"next_fire_at": T0})
    sched.tick(T0 + timedelta(seconds=1))
    [first] = app.store.claim("w", ["q"], 10, lease=30)
    sched.tick(T0 + MINUTE + timedelta(seconds=1))  # held behind the running one
    sched.tick(T0 + 2 * MINUTE + timedelta(seconds=1))  # one is held already
    entries = {f.fire_time: f for f in ledger(app, queue.id)}
    assert [entries[T0 + m * MINUTE].status for m in range(3)] == [
        "enqueued",
        "held",
        "skipped_overlap",
    ]
    held = entries[T0 + MINUTE]
    assert held.due_at is None and app.get_job(held.job_id).run_at == HOLD_UNTIL  # type: ignore[arg-type]
    app.store.complete("w", [Completion(first.id, first.attempt, None, 0.2)])
    released = {f.fire_time: f for f in ledger(app, queue.id)}[T0 + MINUTE]
    assert released.status == "held" and released.due_at is not None
    assert released.due_at == app.get_job(held.job_id).run_at  # type: ignore[arg-type]

    # misfire 'all' with overlap 'skip': the catch-up runs collapse into one
    caught = app.schedules.create("caught", "report", "*/5 * * * *", misfire="all")
    app.store.update_schedule(caught.id, {"next_fire_at": T0})
    sched.tick(T0 + timedelta(minutes=11, seconds=30))
    run = fired_jobs(app, caught.id)[T0 + 10 * MINUTE]
    assert statuses(app, caught.id) == {
        T0: "merged",
        T0 + 5 * MINUTE: "merged",
        T0 + 10 * MINUTE: "enqueued",
    }
    assert {f.job_id for f in ledger(app, caught.id)} == {run}
    # again, while that run still waits: the overlap policy drops what would have run
    sched.tick(T0 + timedelta(minutes=21, seconds=30))
    later = {f.fire_time: f.status for f in ledger(app, caught.id)}
    assert [later[T0 + m * MINUTE] for m in (15, 20)] == ["skipped_overlap", "skipped_overlap"]

    # misfire 'once' whose one run the overlap policy drops: the missed times it would
    # have stood for were dropped with it
    once = app.schedules.create("once", "report", "* * * * *", misfire="once")
    app.store.update_schedule(once.id, {"next_fire_at": T0})
    sched.tick(T0 + timedelta(seconds=1))
    sched.tick(T0 + timedelta(minutes=3, seconds=30))  # T0+1, T0+2 missed; the run waits
    assert statuses(app, once.id) == {
        T0: "enqueued",
        T0 + MINUTE: "skipped_overlap",
        T0 + 2 * MINUTE: "skipped_overlap",
        T0 + 3 * MINUTE: "skipped_overlap",
    }


def test_the_fire_times_of_a_disabled_schedule_are_recorded_once_it_fires_again(
    app: Hourhand,
) -> None:
    sid = schedule_at_t0(app, "*/10 * * * *")
    assert app.schedules.get(sid).disabled_at is None
    paused = app.schedules.disable(sid)
    assert paused.disabled_at is not None  # since when (the database's clock)
    assert app.schedules.disable(sid).disabled_at == paused.disabled_at  # the first time
    resumed = app.schedules.enable(sid)
    assert resumed.disabled_at == paused.disabled_at  # kept until the scheduler used it
    # as if disabled just after T0 and enabled again at T0+35
    app.store.update_schedule(
        sid, {"disabled_at": T0 + timedelta(seconds=5), "next_fire_at": T0 + 40 * MINUTE}
    )
    app.scheduler().tick(T0 + 40 * MINUTE + timedelta(seconds=1))
    assert statuses(app, sid) == {
        T0 + 10 * MINUTE: "disabled",
        T0 + 20 * MINUTE: "disabled",
        T0 + 30 * MINUTE: "disabled",
        T0 + 40 * MINUTE: "enqueued",
    }
    assert app.schedules.get(sid).disabled_at is None  # recorded: not again
    made = app.schedules.create("made-off", "report", "@daily", enabled=False)
    assert made.disabled_at is not None


def test_a_job_type_the_scheduler_does_not_know_is_an_error_entry(
    app: Hourhand, store_url: str
) -> None:
    sid = schedule_at_t0(app, overlap="allow")
    other = Hourhand(store_url)  # an app that does not define 'report'
    try:
        assert other.scheduler().tick(T0 + timedelta(seconds=1)) == []
    finally:
        other.close()
    assert statuses(app, sid) == {T0: "error"}
    assert app.schedules.get(sid).next_fire_at == T0 + MINUTE


def test_a_long_outage_writes_a_bounded_number_of_entries_and_counts_the_rest(
    app: Hourhand,
) -> None:
    sid = schedule_at_t0(app)  # every minute, misfire 'skip'
    days = 3
    app.store.update_schedule(sid, {"disabled_at": T0 - timedelta(days=2, seconds=30)})
    app.scheduler().tick(T0 + timedelta(days=days, seconds=30))
    entries = ledger(app, sid, 100_000)
    assert len(entries) <= LEDGER_ROWS + 3
    by_status: dict[str, int] = {}
    for entry in entries:
        by_status[entry.status] = by_status.get(entry.status, 0) + 1 + entry.unlisted
    missed = days * 24 * 60  # the last fire time is 30 s late: on time
    assert by_status == {"enqueued": 1, "scheduler_down": missed, "disabled": 2 * 24 * 60}
    newest = entries[: LEDGER_ROWS - 1]  # the newest are listed one by one
    assert [e.fire_time for e in newest] == [
        T0 + timedelta(days=days) - m * MINUTE for m in range(LEDGER_ROWS - 1)
    ]
    assert all(e.unlisted == 0 for e in newest)
    counting = [e for e in entries if e.unlisted]
    assert {e.status for e in counting} == {"scheduler_down", "disabled"}
    for entry in counting:  # the listed entries of its status are all later than it
        later = [e for e in entries if e.status == entry.status and e is not entry]
        assert all(e.fire_time > entry.fire_time for e in later)


def test_a_scheduler_that_lost_the_race_for_a_fire_time_writes_nothing(
    app: Hourhand, store_url: str
) -> None:
    sid = schedule_at_t0(app)  # overlap 'skip': the loser would see the winner's run waiting
    now = T0 + timedelta(seconds=1)
    stale = app.store.due_schedules(now, 10)  # what the loser read before the winner fired
    other = Hourhand(store_url)
    other.registry.update(app.registry)
    try:
        [won] = app.scheduler().tick(now)
        assert other.scheduler()._fire(stale[0], now) == []  # its decision is not applied
    finally:
        other.close()
    [entry] = ledger(app, sid)
    assert (entry.status, entry.job_id) == ("enqueued", won)
    assert list(fired_jobs(app, sid).values()) == [won]


def test_two_schedulers_racing_leave_one_job_and_one_entry_per_fire_time(
    app: Hourhand, store_url: str
) -> None:
    sid = schedule_at_t0(app, overlap="allow")
    other = Hourhand(store_url)
    other.registry.update(app.registry)
    schedulers = [app.scheduler(), other.scheduler()]
    rounds = 10
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def race(n: int) -> None:
        try:
            for minute in range(rounds):
                barrier.wait(30)
                schedulers[n].tick(T0 + minute * MINUTE + timedelta(seconds=1))
                barrier.wait(30)
        except BaseException as exc:  # reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=race, args=(n,)) for n in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        other.close()
    assert not errors, errors
    entries = ledger(app, sid)
    jobs = fired_jobs(app, sid)
    assert [e.fire_time for e in reversed(entries)] == [T0 + m * MINUTE for m in range(rounds)]
    assert {e.fire_time: e.job_id for e in entries} == jobs
    assert len(app.schedules.runs(sid, 1000)) == rounds
    assert {e.status for e in entries} == {"enqueued"}


def test_a_run_made_by_hand_is_in_the_ledger_but_not_the_latest_fire(app: Hourhand) -> None:
    sid = schedule_at_t0(app)
    app.scheduler().tick(T0 + timedelta(seconds=1))
    [cron_entry] = ledger(app, sid)
    job_id = app.schedules.trigger(sid)
    job = app.get_job(job_id)
    newest = ledger(app, sid)[0]
    assert (newest.status, newest.job_id, job.fire_time) == ("triggered", job_id, None)
    assert abs(newest.fire_time - job.created_at) <= timedelta(microseconds=1)  # (SQLite: µs)
    assert newest.due_at == job.run_at
    assert app.store.latest_fires() == {sid: cron_entry}  # the schedule's own timing
    claimed = {j.id: j for j in app.store.claim("w", None, 10, lease=30)}
    app.store.complete("w", [Completion(job_id, claimed[job_id].attempt, None, 0.1)])
    assert app.store.last_successes() == {sid: app.get_job(job_id).finished_at}
    # a page of the ledger starts below the last fire time of the previous one
    [first] = app.store.schedule_fires(sid, 1)
    assert app.store.schedule_fires(sid, 10, before=first.fire_time) == [cron_entry]


def test_migration_0009_starts_the_ledger_from_the_jobs(app: Hourhand, store_url: str) -> None:
    """A database upgraded to 0009 has an entry for each schedule run its jobs table holds."""
    sid = schedule_at_t0(app, overlap="allow")
    sched = app.scheduler()
    for minute in range(2):
        sched.tick(T0 + minute * MINUTE + timedelta(seconds=1))
    triggered = app.schedules.trigger(sid)
    [claimed] = [j for j in app.store.claim("w", None, 10, lease=30) if j.fire_time == T0]
    app.store.complete("w", [Completion(claimed.id, claimed.attempt, None, 0.1)])
    app.schedules.disable(sid)
    before = {(f.fire_time, f.status, f.job_id, f.outcome) for f in ledger(app, sid)}
    undo = [
        "DROP TABLE hourhand_schedule_fires",
        "ALTER TABLE hourhand_schedules DROP COLUMN disabled_at",
        "DELETE FROM hourhand_migrations WHERE version = 9",
    ]
    store = app.store
    if store.dialect == "sqlite":
        with store._connection() as conn:  # type: ignore[attr-defined]
            for statement in undo:
                conn.execute(statement)
    else:
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as conn:
            for statement in undo:
                conn.execute(statement)
    assert 9 in store.migrate()
    after = {(f.fire_time, f.status, f.job_id, f.outcome) for f in ledger(app, sid)}
    assert after == before and len(after) == 3
    assert any(status == "triggered" and job == triggered for _, status, job, _ in after)
    assert app.schedules.get(sid).disabled_at is not None


def test_retention_prunes_old_ledger_entries_but_keeps_the_last_success(app: Hourhand) -> None:
    from hourhand.retention import prune_ledger

    sid = schedule_at_t0(app, overlap="allow")
    scheduler = app.scheduler()
    scheduler.tick(T0 + timedelta(seconds=1))
    [claimed] = app.store.claim("w", None, 10, lease=30)
    app.store.complete("w", [Completion(claimed.id, claimed.attempt, None, 0.5)])
    for minute in range(1, 5):  # four more runs, none of which completes
        scheduler.tick(T0 + minute * MINUTE + timedelta(seconds=1))
    assert len(ledger(app, sid)) == 5
    success = app.store.last_successes()[sid]
    report = prune_ledger(app.store, 1, 2, lambda pause: False, 0)  # batches of 2
    assert report == {"older_than_days": 1, "deleted": 4}
    [kept] = ledger(app, sid)
    assert (kept.fire_time, kept.outcome) == (T0, "completed")
    assert app.store.last_successes() == {sid: success}


def test_runs_made_by_hand_in_one_instant_each_keep_an_entry(app: Hourhand) -> None:
    sid = schedule_at_t0(app)
    jobs = [app.schedules.trigger(sid) for _ in range(20)]  # SQLite's clock: milliseconds
    entries = ledger(app, sid)
    assert sorted(e.job_id for e in entries if e.job_id is not None) == sorted(jobs)
    assert all(e.status == "triggered" for e in entries)
