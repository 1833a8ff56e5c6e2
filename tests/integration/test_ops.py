"""The operations layer on both stores: listings by filter with a cursor, organisation
scope (another organisation's ids are not found), roles, bulk redrive with a dry run and a
rate, search, queue counts, schedule edits in the audit log, the cron preview's DST notes."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hourhand import Hourhand, JobContext, JobState
from hourhand.errors import Forbidden, InvalidInput, JobNotFound, JobStateError
from hourhand.ops import Actor, JobQuery, Role
from hourhand.schedule_model import ScheduleNotFound
from hourhand.store import JobFilter
from tests.conftest import WorkerThread, wait_until

ADMIN = Actor("key", "admin", Role.ADMIN)
OPERATOR = Actor("key", "operator", Role.OPERATOR)
VIEWER = Actor("key", "viewer", Role.VIEWER)
ORG_A = Actor("key", "a-operator", Role.OPERATOR, org_id="org_a")
ORG_B = Actor("key", "b-operator", Role.OPERATOR, org_id="org_b")


@pytest.fixture
def app(store_url: str) -> Iterator[Hourhand]:
    app = Hourhand(store_url)

    @app.job("echo", queue="a")
    def echo(ctx: JobContext, text: str = "") -> str:
        return text

    @app.job("boom", queue="b", max_attempts=1)
    def boom(ctx: JobContext, why: str = "bad") -> None:
        raise ValueError(why)

    yield app
    app.close()


def fail_jobs(app: Hourhand, count: int, *, why: str = "bad", org_id: str | None = None) -> None:
    """``count`` boom jobs, run by a worker until each has failed."""
    for i in range(count):
        app.enqueue("boom", {"why": f"{why} {i}"}, org_id=org_id)
    run_until(app, lambda: app.counts()["failed"] >= count)


def run_until(app: Hourhand, done: Callable[[], bool]) -> None:
    worker = WorkerThread(app.worker(poll_interval=0.05)).start()
    try:
        wait_until(done, timeout=30)
    finally:
        worker.stop()


def test_list_pages_with_a_cursor_newest_first(app: Hourhand) -> None:
    ids = [app.enqueue("echo", {"text": str(i)}) for i in range(7)]
    seen: list[int] = []
    cursor = None
    while True:
        page = app.ops.jobs.list(VIEWER, JobQuery(limit=3, cursor=cursor))
        seen += [job.id for job in page.jobs]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)


def test_list_filters_by_state_type_queue_and_creation_time(app: Hourhand) -> None:
    early = app.enqueue("echo", {})
    later = app.enqueue("echo", {}, delay=3600)
    created = app.get_job(later).created_at
    by_state = app.ops.jobs.list(VIEWER, JobQuery(state=JobState.SCHEDULED))
    assert [j.id for j in by_state.jobs] == [later]
    assert [j.id for j in app.ops.jobs.list(VIEWER, JobQuery(type="boom")).jobs] == []
    assert len(app.ops.jobs.list(VIEWER, JobQuery(queue="a")).jobs) == 2
    since = created - timedelta(milliseconds=1)  # SQLite keeps times as float seconds
    after = app.ops.jobs.list(VIEWER, JobQuery(created_after=since)).jobs
    assert later in [j.id for j in after]
    before = app.ops.jobs.list(VIEWER, JobQuery(created_before=created + timedelta(hours=1)))
    assert {j.id for j in before.jobs} == {early, later}


def test_bad_query_values_name_the_problem(app: Hourhand) -> None:
    with pytest.raises(InvalidInput, match="unknown state"):
        app.ops.jobs.list(VIEWER, JobQuery(state="bogus"))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="bad cursor"):
        app.ops.jobs.list(VIEWER, JobQuery(cursor="abc"))
    with pytest.raises(InvalidInput, match="time zone"):
        app.ops.jobs.list(VIEWER, JobQuery(created_after=datetime(2026, 1, 1)))


def test_an_organisation_sees_only_its_own_jobs(app: Hourhand) -> None:
    mine = app.ops.jobs.enqueue(ORG_A, "echo", {"text": "a"}).job
    theirs = app.ops.jobs.enqueue(ORG_B, "echo", {"text": "b"}).job
    system = app.enqueue("echo", {})
    assert mine.org_id == "org_a"
    listed = app.ops.jobs.list(ORG_A).jobs
    assert [j.id for j in listed] == [mine.id]
    assert app.ops.jobs.list(ORG_A, JobQuery(org_id="org_b")).jobs == []
    for job_id in (theirs.id, system):
        with pytest.raises(JobNotFound):
            app.ops.jobs.get(ORG_A, job_id)
        with pytest.raises(JobNotFound):
            app.ops.jobs.cancel(ORG_A, job_id)
        with pytest.raises(JobNotFound):
            app.ops.jobs.retry(ORG_A, job_id)
        with pytest.raises(JobNotFound):
            app.ops.jobs.delete(ORG_A, job_id)
    with pytest.raises(JobNotFound):
        app.ops.jobs.enqueue(ORG_A, "echo", {}, org_id="org_b")
    assert app.get_job(theirs.id).state == JobState.QUEUED  # untouched


def test_a_viewer_reads_but_cannot_act(app: Hourhand) -> None:
    job_id = app.enqueue("echo", {})
    assert app.ops.jobs.get(VIEWER, job_id).job.id == job_id
    for action in (
        lambda: app.ops.jobs.enqueue(VIEWER, "echo", {}),
        lambda: app.ops.jobs.cancel(VIEWER, job_id),
        lambda: app.ops.jobs.retry(VIEWER, job_id),
        lambda: app.ops.jobs.delete(VIEWER, job_id),
        lambda: app.ops.jobs.bulk_cancel(VIEWER, JobQuery(state=JobState.QUEUED)),
        lambda: app.ops.queues.pause(VIEWER, "a"),
        lambda: app.ops.queues.pause(OPERATOR, "a"),  # queues are for admins
    ):
        with pytest.raises(Forbidden):
            action()
    assert app.get_job(job_id).state == JobState.QUEUED


def test_delete_removes_a_finished_job_and_refuses_a_running_one(app: Hourhand) -> None:
    job_id = app.enqueue("echo", {})
    app.cancel(job_id)
    app.ops.jobs.delete(OPERATOR, job_id)
    with pytest.raises(JobNotFound):
        app.get_job(job_id)
    assert app.store.list_attempts(job_id) == []
    running = app.enqueue("echo", {})
    app.store.claim("w1", ["a"], 1, 60.0)
    assert app.get_job(running).state == JobState.RUNNING
    with pytest.raises(JobStateError, match="cancel it first"):
        app.ops.jobs.delete(OPERATOR, running)


def test_bulk_retry_dry_run_then_redrive_matching_error_class_and_text(app: Hourhand) -> None:
    fail_jobs(app, 4, why="timeout talking to bank")
    app.enqueue("boom", {"why": "other"})
    run_until(app, lambda: app.counts()["failed"] >= 5)
    query = JobQuery(error_class="ValueError", error="bank")
    dry = app.ops.jobs.bulk_retry(OPERATOR, query, dry_run=True)
    assert (dry.matched, dry.changed, dry.dry_run) == (4, 0, True)
    assert all("bank" in (job.error or "") for job in dry.sample)
    assert app.counts()["failed"] == 5  # a dry run changes nothing
    done = app.ops.jobs.bulk_retry(OPERATOR, query)
    assert done.changed == 4 and len(done.job_ids) == 4
    assert {app.get_job(i).state for i in done.job_ids} == {JobState.QUEUED}
    assert app.counts()["failed"] == 1
    assert app.ops.jobs.bulk_retry(OPERATOR, JobQuery(error_class="KeyError")).matched == 0


def test_bulk_retry_with_a_rate_spaces_the_requeued_jobs(app: Hourhand) -> None:
    fail_jobs(app, 5)
    done = app.ops.jobs.bulk_retry(OPERATOR, JobQuery(), rate=1.0)
    jobs = sorted((app.get_job(i) for i in done.job_ids), key=lambda j: j.run_at)
    assert jobs[0].state == JobState.QUEUED
    assert all(j.state == JobState.SCHEDULED for j in jobs[1:])
    gaps = [(b.run_at - a.run_at).total_seconds() for a, b in itertools.pairwise(jobs)]
    assert all(0.9 <= gap <= 1.5 for gap in gaps), gaps


def test_bulk_retry_counts_jobs_a_worker_claims_at_once(app: Hourhand) -> None:
    """A redriven job may be claimed before the bulk action reads it back: still retried."""
    fail_jobs(app, 6)
    worker = WorkerThread(app.worker(poll_interval=0.01)).start()
    try:
        done = app.ops.jobs.bulk_retry(OPERATOR, JobQuery())
        assert (done.matched, done.changed, len(done.job_ids)) == (6, 6, 6)
        wait_until(lambda: all(len(app.attempts(i)) == 2 for i in done.job_ids), timeout=30)
    finally:
        worker.stop()


def test_bulk_cancel_needs_a_cancellable_state(app: Hourhand) -> None:
    ids = [app.enqueue("echo", {}) for _ in range(3)]
    with pytest.raises(InvalidInput, match="state"):
        app.ops.jobs.bulk_cancel(OPERATOR, JobQuery())
    done = app.ops.jobs.bulk_cancel(OPERATOR, JobQuery(state=JobState.QUEUED))
    assert sorted(done.job_ids) == sorted(ids)
    assert {app.get_job(i).state for i in ids} == {JobState.CANCELLED}


def test_bulk_delete_needs_a_finished_state_and_deletes_only_its_scope(app: Hourhand) -> None:
    ours = [app.enqueue("echo", {}, org_id="org_a") for _ in range(3)]
    theirs = app.enqueue("echo", {}, org_id="org_b")
    waiting = app.enqueue("echo", {}, org_id="org_a")
    for job_id in [*ours, theirs]:
        app.cancel(job_id)
    with pytest.raises(InvalidInput, match="finished state"):
        app.ops.jobs.bulk_delete(ORG_A, JobQuery(state=JobState.QUEUED))
    dry = app.ops.jobs.bulk_delete(ORG_A, JobQuery(state=JobState.CANCELLED), dry_run=True)
    assert (dry.matched, dry.changed) == (3, 0)
    with pytest.raises(Forbidden):
        app.ops.jobs.bulk_delete(VIEWER, JobQuery(state=JobState.CANCELLED))
    done = app.ops.jobs.bulk_delete(ORG_A, JobQuery(state=JobState.CANCELLED))
    assert sorted(done.job_ids) == sorted(ours)
    for job_id in ours:
        with pytest.raises(JobNotFound):
            app.get_job(job_id)
    assert app.get_job(theirs).state == JobState.CANCELLED
    assert app.get_job(waiting).state == JobState.QUEUED


def test_search_finds_by_id_and_by_text_in_args_or_errors(app: Hourhand) -> None:
    wanted = app.enqueue("echo", {"text": "invoice-4711"})
    app.enqueue("echo", {"text": "other"})
    other_org = app.enqueue("echo", {"text": "invoice-4712"}, org_id="org_b")
    assert [j.id for j in app.ops.jobs.search(VIEWER, str(wanted))] == [wanted]
    assert {j.id for j in app.ops.jobs.search(VIEWER, "INVOICE-47")} == {wanted, other_org}
    assert app.ops.jobs.search(ORG_A, "invoice") == []
    assert app.ops.jobs.search(VIEWER, "100%_") == []  # wildcards are text
    fail_jobs(app, 2, why="disk full")
    failed = {j.id for j in app.ops.jobs.search(VIEWER, "valueerror")}  # the error's class
    assert len(failed) == 2 and wanted not in failed
    both = app.ops.jobs.search(VIEWER, "disk full")  # in the args and the error: once each
    assert [j.id for j in both] == sorted(failed, reverse=True)


def test_queues_count_each_state_and_the_oldest_ready_job(app: Hourhand) -> None:
    fail_jobs(app, 2)
    app.enqueue("echo", {})
    app.enqueue("echo", {}, delay=600)
    queues = {q.name: q for q in app.ops.queues.list(VIEWER)}
    a, b = queues["a"], queues["b"]
    assert (a.ready, a.scheduled, a.running, a.failed) == (1, 1, 0, 0)
    assert a.oldest_ready_at is not None and a.oldest_ready_at <= datetime.now(UTC)
    assert (b.ready, b.failed) == (0, 2)


def test_listing_a_state_uses_its_partial_index(app: Hourhand) -> None:
    """The dead-letter listing must not walk the history (both dialects' plans)."""
    app.enqueue("echo", {})
    store = app.store
    flt = JobFilter(state=JobState.FAILED, limit=50)
    from hourhand.store.listing import list_jobs_sql

    if store.dialect == "postgres":
        sql, params = list_jobs_sql(flt, lambda n: f"%({n})s", lambda t: t, "args::text")
        with store._connection() as conn:  # type: ignore[attr-defined]
            conn.execute("SET enable_seqscan = off")
            plan = conn.execute(("EXPLAIN " + sql).encode(), params).fetchall()
            conn.execute("RESET enable_seqscan")
        text = "\n".join(str(next(iter(row.values()))) for row in plan)
        assert "hourhand_jobs_dead" in text or "hourhand_jobs_failed" in text, text
    else:
        sql, params = list_jobs_sql(flt, lambda n: f":{n}", lambda t: t, "args")
        rows = store._read("EXPLAIN QUERY PLAN " + sql, params)  # type: ignore[attr-defined]
        text = "\n".join(str(row["detail"]) for row in rows)
        assert "USING INDEX hourhand_jobs_" in text and "SCAN hourhand_jobs\n" not in text, text


def test_schedules_are_scoped_and_their_edits_audited(app: Hourhand) -> None:
    mine = app.ops.schedules.create(ORG_A, "nightly", "echo", "0 3 * * *")
    assert mine.org_id == "org_a"
    with pytest.raises(ScheduleNotFound):
        app.ops.schedules.get(ORG_B, mine.id)
    with pytest.raises(ScheduleNotFound):
        app.ops.schedules.update(ORG_B, mine.id, cron="0 4 * * *")
    assert app.ops.schedules.list(ORG_B) == []
    with pytest.raises(Forbidden):
        app.ops.schedules.create(OPERATOR, "system-one", "echo", "0 3 * * *")
    changed = app.ops.schedules.update(ORG_A, mine.id, cron="30 4 * * *", tz="Europe/Oslo")
    assert (changed.cron, changed.tz) == ("30 4 * * *", "Europe/Oslo")
    entries = app.ops.audit.list(ORG_A, target_kind="schedule", target_id=str(mine.id))
    update = next(e for e in entries if e.action == "schedule.update")
    assert update.details["before"] == {"cron": "0 3 * * *", "tz": "UTC"}
    assert update.details["after"] == {"cron": "30 4 * * *", "tz": "Europe/Oslo"}
    assert update.actor == "a-operator"
    job = app.ops.schedules.trigger(ORG_A, mine.id)
    assert job.schedule_id == mine.id and job.org_id == "org_a"
    [run] = app.ops.schedules.runs(ORG_A, mine.id).runs  # the ledger: a run made by hand
    assert (run.fire.status, run.fire.job_id, run.state) == ("triggered", job.id, "queued")
    with pytest.raises(ScheduleNotFound):
        app.ops.schedules.runs(ORG_B, mine.id)


def test_a_schedules_runs_page_through_its_ledger_with_the_jobs_as_they_are(
    app: Hourhand,
) -> None:
    """What became of each fire time, newest first, a page at a time; a run whose job was
    deleted keeps the outcome the ledger copied."""
    s = app.ops.schedules.create(ORG_A, "minutely", "echo", "* * * * *", overlap="allow")
    start = datetime(2021, 3, 1, 12, tzinfo=UTC)
    app.store.update_schedule(s.id, {"next_fire_at": start})
    sched = app.scheduler()
    for minute in range(5):
        sched.tick(start + timedelta(minutes=minute, seconds=1))
    run_until(app, lambda: app.counts()["completed"] >= 5)
    oldest = app.ops.schedules.runs(ORG_A, s.id, limit=5).runs[-1]
    app.ops.jobs.delete(ORG_A, oldest.fire.job_id)  # type: ignore[arg-type]
    seen = []
    cursor = None
    for _ in range(3):
        page = app.ops.schedules.runs(ORG_A, s.id, limit=2, cursor=cursor)
        seen += page.runs
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [r.fire.fire_time for r in seen] == [
        start + timedelta(minutes=m) for m in range(4, -1, -1)
    ]
    assert [r.state for r in seen] == ["completed"] * 5
    assert [r.job is None for r in seen] == [False] * 4 + [True]  # deleted: the copy stays
    with pytest.raises(InvalidInput, match="bad cursor"):
        app.ops.schedules.runs(ORG_A, s.id, cursor="yesterday")
    with pytest.raises(ScheduleNotFound):
        app.ops.schedules.runs(ORG_B, s.id)


def test_cron_preview_marks_the_fires_a_dst_change_moves(app: Hourhand) -> None:
    start = datetime(2026, 3, 28, 12, tzinfo=UTC)
    spring = app.ops.schedules.preview("30 2 * * *", "Europe/Stockholm", 3, start)
    notes = [f.dst for f in spring.fires]
    assert notes[0] is not None and "skipped" in notes[0]  # 29 March: 02:30 does not exist
    assert notes[1:] == [None, None]
    assert spring.description
    autumn = app.ops.schedules.preview(
        "30 2 * * *", "Europe/Stockholm", 2, datetime(2026, 10, 24, 12, tzinfo=UTC)
    )
    assert autumn.fires[0].dst is not None and "runs once" in autumn.fires[0].dst
    # an hourly schedule runs in both of the repeated hours, and the preview says so
    hourly = app.ops.schedules.preview(
        "0 * * * *", "Europe/Stockholm", 4, datetime(2026, 10, 24, 23, 30, tzinfo=UTC)
    )
    twice = [f for f in hourly.fires if f.dst is not None]
    assert [f"{f.local:%H:%M %Z}" for f in twice] == ["02:00 CEST", "02:00 CET"]
    assert all("runs in both hours" in (f.dst or "") for f in twice)
    with pytest.raises(InvalidInput):
        app.ops.schedules.preview("61 * * * *")
    with pytest.raises(InvalidInput):
        app.ops.schedules.preview("* * * * *", "Mars/Olympus")


ORG_ADMIN = Actor("key", "a-admin", Role.ADMIN, org_id="org_a")
ORG_VIEWER = Actor("key", "a-viewer", Role.VIEWER, org_id="org_a")


def test_queues_are_the_clusters_an_organisation_neither_reads_nor_pauses_them(
    app: Hourhand,
) -> None:
    app.enqueue("echo", {})
    for action in (
        lambda: app.ops.queues.pause(ORG_ADMIN, "a"),
        lambda: app.ops.queues.resume(ORG_ADMIN, "a"),
        lambda: app.ops.queues.list(ORG_VIEWER),
        lambda: app.ops.queues.get(ORG_VIEWER, "a"),
    ):
        with pytest.raises(Forbidden, match="outside any organisation"):
            action()
    assert not app.queue("a").paused
    assert [q.name for q in app.ops.queues.list(VIEWER)] == ["a", "b"]


def test_a_schedule_name_not_found_does_not_say_which_organisations_have_it(
    app: Hourhand,
) -> None:
    app.ops.schedules.create(ORG_B, "nightly", "echo", "0 3 * * *")
    with pytest.raises(ScheduleNotFound) as found:
        app.ops.schedules.find(ORG_A, "nightly")
    assert "org_b" not in str(found.value) and found.value.elsewhere == []
    with pytest.raises(ScheduleNotFound, match="org_b"):  # a cluster actor is told where
        app.ops.schedules.find(ADMIN, "nightly")


def test_the_audit_log_keeps_a_schedules_arg_names_not_their_values(app: Hourhand) -> None:
    made = app.ops.schedules.create(
        ORG_A, "ping", "echo", "0 3 * * *", args={"text": "token-s3cret"}
    )
    app.ops.schedules.update(ORG_A, made.id, args={"text": "token-n3w"})
    entries = app.ops.audit.list(ORG_A, target_kind="schedule", target_id=str(made.id))
    assert entries and "s3cret" not in repr(entries) and "n3w" not in repr(entries)
    created = next(e for e in entries if e.action == "schedule.create")
    assert created.details["after"]["args"] == ["text"]


def test_a_preview_stops_at_the_calendars_ends(app: Hourhand) -> None:
    end = datetime(9999, 12, 31, 23, 57, tzinfo=UTC)
    fires = app.ops.schedules.preview("* * * * *", "UTC", 5, end).fires
    assert [f.utc for f in fires] == [end + timedelta(minutes=1), end + timedelta(minutes=2)]
    start = datetime(1, 1, 1, tzinfo=UTC)
    early = app.ops.schedules.preview("0 0 * * *", "America/New_York", 2, start).fires
    assert len(early) == 2 and early[0].utc > start


def test_only_finished_jobs_are_deleted(app: Hourhand) -> None:
    waiting = app.enqueue("echo", {}, delay=600)
    with pytest.raises(JobStateError, match="cancel it first"):
        app.ops.jobs.delete(OPERATOR, waiting)
    assert app.get_job(waiting).state == JobState.SCHEDULED


def test_a_retry_expecting_a_state_leaves_a_job_in_another_alone(app: Hourhand) -> None:
    fail_jobs(app, 1)
    [job] = app.list_jobs(state="failed")
    assert app.store.retry_job(job.id, 60.0, expect=JobState.FAILED) is not None
    assert app.get_job(job.id).state == JobState.SCHEDULED
    # a second, overlapping redrive of the dead-letter set: the job is no longer failed
    assert app.store.retry_job(job.id, 0.0, expect=JobState.FAILED) is None
    assert app.get_job(job.id).state == JobState.SCHEDULED


def test_a_bad_value_in_an_edit_changes_nothing_not_even_enabled(app: Hourhand) -> None:
    made = app.ops.schedules.create(ORG_A, "nightly", "echo", "0 3 * * *")
    with pytest.raises(InvalidInput):
        app.ops.schedules.update(ORG_A, made.id, enabled=False, cron="bad cron")
    assert app.ops.schedules.get(ORG_A, made.id).enabled


def test_prune_counts_first_then_deletes_and_the_counts_stay(app: Hourhand) -> None:
    fail_jobs(app, 2)
    done = app.enqueue("echo", {})
    run_until(app, lambda: app.get_job(done).state == JobState.COMPLETED)
    waiting = app.enqueue("echo", {}, delay=600)
    counts = app.counts()
    dry = app.ops.retention.prune(ADMIN, 0, dry_run=True)
    assert (dry.matched, dry.deleted, dry.dry_run) == ({"failed": 2, "completed": 1}, 0, True)
    assert app.counts() == counts
    assert app.ops.retention.prune(ADMIN, 3600).deleted == 0  # nothing that old
    for actor in (OPERATOR, ORG_ADMIN):
        with pytest.raises(Forbidden):
            app.ops.retention.prune(actor, 0)
    only_failed = app.ops.retention.prune(ADMIN, 0, ("failed",))
    assert only_failed.deleted == 2 and app.get_job(done).state == JobState.COMPLETED
    assert app.ops.retention.prune(ADMIN, 0).deleted == 1
    with pytest.raises(JobNotFound):
        app.get_job(done)
    assert app.get_job(waiting).state == JobState.SCHEDULED  # never a waiting job
    after = app.counts()
    assert after["completed"] == counts["completed"]  # the statistics keep what they counted
    assert after["failed"] == 0  # the dead-letter set is what is left of it
    audit = app.ops.audit.list(ADMIN, action="jobs.prune")
    assert [e.details["deleted"] for e in audit] == [1, 2, 0]
    with pytest.raises(InvalidInput, match="only finished jobs"):
        app.ops.retention.prune(ADMIN, 0, ("queued",))


def test_an_edit_checked_first_changes_nothing_and_shows_the_result(app: Hourhand) -> None:
    made = app.ops.schedules.create(ORG_A, "nightly", "echo", "0 3 * * *", args={"text": "a"})
    would = app.ops.schedules.check_update(
        ORG_A, made.id, cron="30 4 * * *", tz="Europe/Oslo", args={"text": "b"}
    )
    assert (would.cron, would.tz, would.args) == ("30 4 * * *", "Europe/Oslo", {"text": "b"})
    assert app.ops.schedules.get(ORG_A, made.id) == made  # nothing changed
    with pytest.raises(InvalidInput):
        app.ops.schedules.check_update(ORG_A, made.id, args={"nope": 1})  # not echo's
    with pytest.raises(InvalidInput):
        app.ops.schedules.check_update(ORG_A, made.id, cron="61 * * * *")
    with pytest.raises(Forbidden):
        app.ops.schedules.check_update(VIEWER, made.id, cron="0 4 * * *")
    with pytest.raises(ScheduleNotFound):
        app.ops.schedules.check_update(ORG_B, made.id, cron="0 4 * * *")
    assert not app.ops.schedules.check_update(ORG_A, made.id, enabled=False).enabled
    assert app.ops.schedules.get(ORG_A, made.id).enabled


def test_success_rates_count_the_finished_runs_of_the_newest_ledger_entries(
    app: Hourhand,
) -> None:
    good = app.ops.schedules.create(ORG_A, "good", "echo", "0 3 * * *")
    bad = app.ops.schedules.create(ORG_A, "bad", "boom", "0 3 * * *")
    idle = app.ops.schedules.create(ORG_A, "idle", "echo", "0 3 * * *")
    for schedule in (good, good, good, bad):
        app.ops.schedules.trigger(ORG_A, schedule.id)
    run_until(app, lambda: app.counts()["completed"] + app.counts()["failed"] >= 4)
    app.ops.schedules.trigger(ORG_A, good.id)  # waiting: not finished, not counted
    rates = app.ops.schedules.success_rates(ORG_A, [good, bad, idle])
    assert (rates[good.id].finished, rates[good.id].percent) == (3, 100.0)
    assert (rates[bad.id].finished, rates[bad.id].percent) == (1, 0.0)
    assert rates[idle.id].percent is None
    assert app.ops.schedules.success_rates(ORG_B, [good]) == {}  # not ORG_B's to see


def test_channels_are_listed_without_secrets_or_webhook_paths(
    app: Hourhand, tmp_path: Path
) -> None:
    config = tmp_path / "hourhand.toml"
    config.write_text(
        '[smtp]\nhost = "127.0.0.1"\nsender = "hh@example.com"\npassword = "smtp-pw-1"\n'
        '[channels.hook]\nkind = "webhook"\nurl = "https://hooks.example.com/T0/B0/tok-42"\n'
        'secret = "sign-secret-1"\nformat = "slack"\norgs = ["org_a"]\n'
        '[channels.mail]\nkind = "email"\nto = ["ops@example.com"]\n'
    )
    app.load_alerting(config)
    hook, mail = app.ops.alerts.channels(VIEWER)
    assert (hook.name, hook.kind, hook.target, hook.format) == (
        "hook",
        "webhook",
        "https://hooks.example.com",
        "slack",
    )
    assert hook.signed and hook.orgs == ("org_a",)
    assert (mail.kind, mail.target) == ("email", "ops@example.com")
    text = repr(app.ops.alerts.channels(VIEWER))
    assert "tok-42" not in text and "secret-1" not in text and "pw-1" not in text
    assert [c.name for c in app.ops.alerts.channels(ORG_A)] == ["hook"]  # open to org_a
    assert app.ops.alerts.channels(ORG_B) == []


def test_where_an_audited_request_came_from_is_shown_to_admins_only(app: Hourhand) -> None:
    from_somewhere = Actor("key", "a-operator", Role.OPERATOR, org_id="org_a", address="10.1.2.3")
    made = app.ops.schedules.create(from_somewhere, "nightly", "echo", "0 3 * * *")
    org_admin = Actor("key", "a-admin", Role.ADMIN, org_id="org_a")
    org_viewer = Actor("key", "a-viewer", Role.VIEWER, org_id="org_a")
    [seen_by_admin] = app.ops.audit.list(org_admin, "schedule", made.id)
    [seen_by_viewer] = app.ops.audit.list(org_viewer, "schedule", made.id)
    assert seen_by_admin.address == "10.1.2.3"
    assert seen_by_viewer.address is None
    assert seen_by_viewer.action == "schedule.create" and seen_by_viewer.actor == "a-operator"


def test_operators_trigger_enable_and_disable_cluster_schedules_admins_change_them(
    app: Hourhand,
) -> None:
    made = app.ops.schedules.create(ADMIN, "nightly", "echo", "0 3 * * *")
    assert made.org_id is None
    assert app.ops.schedules.disable(OPERATOR, made.id).enabled is False
    assert app.ops.schedules.update(OPERATOR, made.id, enabled=True).enabled is True
    assert app.ops.schedules.trigger(OPERATOR, made.id).schedule_id == made.id
    with pytest.raises(Forbidden):
        app.ops.schedules.update(OPERATOR, made.id, cron="0 4 * * *")
    with pytest.raises(Forbidden):
        app.ops.schedules.delete(OPERATOR, made.id)
    with pytest.raises(Forbidden):
        app.ops.schedules.trigger(VIEWER, made.id)
    assert app.ops.schedules.update(ADMIN, made.id, cron="0 4 * * *").cron == "0 4 * * *"
