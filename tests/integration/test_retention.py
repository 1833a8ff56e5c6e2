"""Retention on both stores: the [retention] policy as a system schedule (once per fire
time however many schedulers run), pruning by state and queue ages in batches, counts and
statistics unchanged, the dry run, and a policy from the variables alone."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hourhand import Hourhand, JobContext, JobState, Outcome
from hourhand.errors import Forbidden
from hourhand.ops import Actor, Role
from hourhand.retention import RETENTION, Pruner, Rule
from hourhand.scheduler import Scheduler
from hourhand.store import AttemptEnd, Completion
from tests.conftest import WorkerThread, wait_until

T0 = datetime(2021, 3, 1, 12, 15, tzinfo=UTC)  # a fire time of "15 * * * *", in the past
ADMIN = Actor("key", "admin", Role.ADMIN)
POLICY = """
[retention]
completed_days = 7
failed_days = 30
cancelled_days = 30
batch_size = 2
pause = 0.01

[retention.queues.reports]
completed_days = 1
"""


def make_app(url: str) -> Hourhand:
    app = Hourhand(url)

    @app.job("noop")
    def noop(ctx: JobContext) -> None:
        return None

    @app.job("report", queue="reports")
    def report(ctx: JobContext) -> None:
        return None

    return app


@pytest.fixture
def app(store_url: str) -> Iterator[Hourhand]:
    made = make_app(store_url)
    yield made
    made.close()


def backdate(app: Hourhand, job_id: int, days: float) -> None:
    """Make a job look created and finished ``days`` ago (tests only: straight SQL)."""
    seconds = days * 86400
    url = app.database_url
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute(
                "UPDATE hourhand_jobs SET created_at = created_at - ?, "
                "finished_at = finished_at - ? WHERE id = ?",
                (seconds, seconds, job_id),
            )
        return
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE hourhand_jobs SET created_at = created_at - make_interval(secs => %s), "
            "finished_at = finished_at - make_interval(secs => %s) WHERE id = %s",
            (seconds, seconds, job_id),
        )


def finished(app: Hourhand, name: str, state: str, days: float) -> int:
    """A job of type ``name`` that ended ``state`` ``days`` ago."""
    store = app.store
    job_id = int(app.enqueue(name))
    if state == "cancelled":
        app.cancel(job_id)
    else:
        [job] = store.claim("w", None, 1, lease=30)
        assert job.id == job_id
        if state == "completed":
            assert store.complete("w", [Completion(job_id, 1, None, 0.01)])
        else:
            end = AttemptEnd(job_id, 1, "w", Outcome.FAILED, JobState.FAILED, error="boom")
            assert store.end_attempt(end) == JobState.FAILED
    backdate(app, job_id, days)
    return job_id


def history(app: Hourhand) -> dict[str, int]:
    """Jobs of every age, oldest first (ids follow creation, as in real life)."""
    return {
        "old-completed": finished(app, "noop", "completed", 40),
        "old-failed": finished(app, "noop", "failed", 40),
        "old-cancelled": finished(app, "noop", "cancelled", 40),
        "old-report-failed": finished(app, "report", "failed", 40),
        "completed-10d": finished(app, "noop", "completed", 10),
        "failed-10d": finished(app, "noop", "failed", 10),
        "report-completed-2d": finished(app, "report", "completed", 2),
        "completed-2d": finished(app, "noop", "completed", 2),
        "report-completed-12h": finished(app, "report", "completed", 0.5),
        "waiting": int(app.enqueue("noop", delay=3600)),
    }


PRUNED = {"old-completed", "old-failed", "old-cancelled", "old-report-failed"}
PRUNED |= {"completed-10d", "report-completed-2d"}


def remaining(app: Hourhand, ids: dict[str, int]) -> set[str]:
    return {name for name, job_id in ids.items() if app.store.get_job(job_id) is not None}


def race(
    first: Scheduler, second: Scheduler, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> list[int]:
    """Both schedulers tick at ``now``, each having read the due schedules before either
    fires them: the job ids they made."""
    both_read = threading.Barrier(2)
    for scheduler in (first, second):
        store = scheduler.app.store
        read = store.due_schedules

        def due(now: datetime, limit: int, read: Any = read) -> Any:
            found = read(now, limit)
            both_read.wait(10)
            return found

        monkeypatch.setattr(store, "due_schedules", due)
    ids: list[list[int]] = [[], []]
    threads = [
        threading.Thread(target=lambda i=i, s=s: ids[i].extend(s.tick(now)))
        for i, s in enumerate((first, second))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return ids[0] + ids[1]


def test_the_retention_schedule_fires_once_with_two_schedulers_and_prunes_by_state_and_queue(
    app: Hourhand,
    store_url: str,
    tmp_path: Path,
    app_workers: Callable[..., WorkerThread],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tmp_path / "hourhand.toml"
    config.write_text(POLICY)
    other = make_app(store_url)  # a second scheduler, elsewhere, with the same config
    try:
        app.load_config(config)
        other.load_config(config)
        first, second = app.scheduler(), other.scheduler()
        first.sync()
        assert second.sync().added == []
        [schedule] = [s for s in app.schedules.list() if s.name == RETENTION]
        assert (schedule.source, schedule.job, schedule.cron) == ("config", RETENTION, "15 * * * *")
        assert schedule.args["queues"] == {"reports": {"completed_days": 1.0}}
        listed = app.ops.schedules.list(ADMIN)
        assert RETENTION in [s.name for s in listed]  # shown like any other schedule

        ids = history(app)
        counts, stats = app.counts(), app.stats(hours=24 * 60)
        app.store.update_schedule(schedule.id, {"next_fire_at": T0})
        fired = sorted(set(race(first, second, T0 + timedelta(seconds=1), monkeypatch)))
        assert len(fired) == 1  # one run for the fire time, whichever scheduler made it
        assert [j.id for j in app.schedules.runs(schedule.id)] == fired

        app_workers(app, poll_interval=0.1)
        job = wait_until(
            lambda: (j := app.get_job(fired[0])).state == JobState.COMPLETED and j,
            what="the retention job",
        )
        assert remaining(app, ids) == set(ids) - PRUNED
        for name in PRUNED:
            assert app.store.list_attempts(ids[name]) == []  # their attempts went with them
        result = job.result
        assert result["deleted"] == len(PRUNED)
        assert result["batches"] >= 4 and result["longest_batch_s"] < 1.0
        by_rule = {(tuple(r["states"]), r["queue"]): r["deleted"] for r in result["rules"]}
        assert by_rule == {
            (("completed",), None): 2,  # 40 and 10 days old, outside reports
            (("completed",), "reports"): 1,  # 2 days old: reports keeps them a day
            (("failed",), None): 2,  # 40 days old, in either queue
            (("cancelled",), None): 1,
        }
        assert result["alerts"] == {"older_than_days": 90.0, "deleted": 0}
        # counts and statistics keep what they counted; the dead-letter set lost two
        after = app.counts()
        assert after["failed"] == counts["failed"] - 2
        assert {k: v for k, v in after.items() if k != "failed"} == {
            k: v for k, v in counts.items() if k != "failed"
        } | {"completed": counts["completed"] + 1}  # + the retention job itself
        kept = [t for t in app.stats(hours=24 * 60).totals if t.name != RETENTION]
        assert kept == stats.totals
    finally:
        other.close()


def test_the_retention_schedule_is_disabled_and_triggered_like_any_other(
    app: Hourhand, tmp_path: Path
) -> None:
    config = tmp_path / "hourhand.toml"
    config.write_text(POLICY)
    app.load_config(config)
    scheduler = app.scheduler()
    scheduler.sync()
    schedule = app.schedules.find(RETENTION)
    app.ops.schedules.disable(ADMIN, schedule.id)
    scheduler.sync()  # an operator's disable survives a sync
    assert not app.schedules.get(schedule.id).enabled
    job = app.ops.schedules.trigger(ADMIN, schedule.id)
    assert (job.name, job.schedule_id, job.args["completed_days"]) == (RETENTION, schedule.id, 7.0)


def test_a_dry_run_of_the_policy_counts_rule_by_rule_and_deletes_nothing(
    app: Hourhand, tmp_path: Path
) -> None:
    config = tmp_path / "hourhand.toml"
    config.write_text(POLICY)
    app.load_settings(config)
    ids = history(app)
    report = app.ops.retention.apply_policy(ADMIN, dry_run=True)
    assert report.dry_run and report.deleted == 0
    assert report.matched == {"completed": 3, "failed": 2, "cancelled": 1}
    assert remaining(app, ids) == set(ids)
    done = app.ops.retention.apply_policy(ADMIN)
    assert done.deleted == len(PRUNED) and remaining(app, ids) == set(ids) - PRUNED
    [entry] = app.ops.audit.list(ADMIN, action="jobs.prune")
    assert entry.details["deleted"] == len(PRUNED)


def test_a_policy_from_the_variables_alone_makes_the_schedule(
    app: Hourhand, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOURHAND_RETENTION_COMPLETED_DAYS", "3")
    monkeypatch.setenv("HOURHAND_RETENTION_SCHEDULE", "0 4 * * *")
    schedule = app.schedules.find(RETENTION)  # no config file read: the app's first use
    assert app.scheduler().sync().added == []  # of its database added it
    assert (schedule.cron, schedule.args["completed_days"]) == ("0 4 * * *", 3.0)
    monkeypatch.setenv("HOURHAND_RETENTION_COMPLETED_DAYS", "5")
    changed = make_app(store_url)
    try:
        assert changed.scheduler().sync().updated == [RETENTION]
        assert changed.schedules.find(RETENTION).args["completed_days"] == 5.0
    finally:
        changed.close()
    monkeypatch.delenv("HOURHAND_RETENTION_COMPLETED_DAYS")
    monkeypatch.delenv("HOURHAND_RETENTION_SCHEDULE")
    bare = make_app(store_url)  # no file and no variables: it leaves the schedule alone
    try:
        assert bare.scheduler().sync().removed == []
        config = tmp_path / "hourhand.toml"
        config.write_text("")  # a config file without [retention]: no policy
        bare.load_config(config)
        assert bare.scheduler().sync().removed == [RETENTION]
    finally:
        bare.close()


def test_pruning_stops_between_batches_when_asked_and_goes_on_next_time(app: Hourhand) -> None:
    ids = [finished(app, "noop", "completed", 2) for _ in range(5)]
    waits = []

    def stop_at_the_second_pause(seconds: float) -> bool:
        waits.append(seconds)
        return len(waits) == 2

    rule = Rule(("completed",), 86400.0)
    pruner = Pruner(app.store, batch_size=2, pause=0.5, wait=stop_at_the_second_pause)
    report = pruner.prune([rule])
    assert (report.stopped, report.deleted, report.batches, waits) == (True, 4, 2, [0.5, 0.5])
    assert [app.store.get_job(i) is None for i in ids] == [True] * 4 + [False]
    again = Pruner(app.store, batch_size=2, pause=0).prune([rule])
    assert (again.stopped, again.deleted) == (False, 1)


def test_only_an_admin_outside_any_organisation_runs_the_retention_job(app: Hourhand) -> None:
    org_admin = Actor("key", "a-admin", Role.ADMIN, org_id="org_a")
    operator = Actor("key", "operator", Role.OPERATOR)
    for actor in (org_admin, operator):  # it deletes every organisation's jobs
        with pytest.raises(Forbidden, match=RETENTION):
            app.ops.jobs.enqueue(actor, RETENTION, {"completed_days": 0.001})
    with pytest.raises(Forbidden, match=RETENTION):
        app.ops.schedules.create(org_admin, "prune-all", RETENTION, "@hourly")
    made = app.ops.schedules.create(org_admin, "mine", "noop", "@hourly")
    with pytest.raises(Forbidden, match=RETENTION):
        app.ops.schedules.update(org_admin, made.id, job=RETENTION)
    with pytest.raises(Forbidden, match=RETENTION):
        app.ops.jobs.enqueue(ADMIN, RETENTION, {}, org_id="org_a")
    assert app.ops.jobs.enqueue(ADMIN, RETENTION, {}).job.name == RETENTION
