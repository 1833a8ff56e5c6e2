"""Schedules on both stores: sources, per-organisation user schedules, policies, status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hourhand import Hourhand, JobContext, JobState
from hourhand.errors import InvalidCron, InvalidInput, InvalidTimeZone, UnknownJobType
from hourhand.schedules import ScheduleExists, ScheduleNotFound
from hourhand.store.base import HOLD_UNTIL
from tests.conftest import wait_until

T0 = datetime(2021, 3, 1, 12, 0, tzinfo=UTC)  # a Monday, on a minute, in the past


@pytest.fixture
def app(hh: Hourhand) -> Hourhand:
    @hh.job("report")
    def report(ctx: JobContext, kind: str = "daily", batch_size: int = 10) -> dict[str, object]:
        return {"kind": kind, "batch_size": batch_size}

    return hh


def every_minute(app: Hourhand, cron: str = "* * * * *", **options: object) -> int:
    """A user schedule due at T0, as if the scheduler last looked just before."""
    schedule = app.schedules.create("minutely", "report", cron, **options)  # type: ignore[arg-type]
    app.store.update_schedule(schedule.id, {"next_fire_at": T0})
    return schedule.id


def fire_times(app: Hourhand, schedule_id: int) -> list[datetime]:
    return sorted(j.fire_time for j in app.schedules.runs(schedule_id) if j.fire_time)


def test_user_schedules_are_per_organisation(app: Hourhand) -> None:
    a = app.schedules.create(
        "weekly", "report", "0 8 * * MON", tz="Europe/Stockholm", org_id="org_a", created_by="u_1"
    )
    b = app.schedules.create("weekly", "report", "0 9 * * MON", org_id="org_b")
    with pytest.raises(ScheduleExists, match="'weekly' already exists in organisation 'org_a'"):
        app.schedules.create("weekly", "report", "@daily", org_id="org_a")
    assert [s.id for s in app.schedules.list(org_id="org_a")] == [a.id]
    assert app.schedules.find("weekly", "org_b").id == b.id
    with pytest.raises(ScheduleNotFound):
        app.schedules.find("weekly")  # not a system schedule
    assert a.source == "user" and a.created_by == "u_1"
    nxt = a.next_fire_at
    assert nxt is not None and nxt.astimezone(a.parsed.zone).strftime("%a %H:%M") == "Mon 08:00"
    app.schedules.delete(b.id)
    assert [s.org_id for s in app.schedules.list()] == ["org_a"]


def test_update_recomputes_the_next_fire_time(app: Hourhand) -> None:
    s = app.schedules.create("r", "report", "0 8 * * *")
    changed = app.schedules.update(s.id, cron="30 6 * * *", tz="America/New_York")
    assert changed.next_fire_at != s.next_fire_at
    assert changed.next_fire_at.astimezone(changed.parsed.zone).strftime("%H:%M") == "06:30"  # type: ignore[union-attr]
    assert app.schedules.update(s.id, args={"kind": "weekly"}).args == {"kind": "weekly"}


def test_bad_schedules_are_refused_with_the_reason(app: Hourhand) -> None:
    with pytest.raises(InvalidCron, match="the hour field '25'"):
        app.schedules.create("x", "report", "0 25 * * *")
    with pytest.raises(InvalidTimeZone, match="Moon/Base"):
        app.schedules.create("x", "report", "@daily", tz="Moon/Base")
    with pytest.raises(UnknownJobType, match="'nope'"):
        app.schedules.create("x", "nope", "@daily")
    with pytest.raises(InvalidInput, match="misfire must be one of"):
        app.schedules.create("x", "report", "@daily", misfire="sometimes")
    with pytest.raises(InvalidInput, match="unknown schedule options: colour"):
        app.schedules.create("x", "report", "@daily", colour="red")
    with pytest.raises(InvalidInput, match="does not accept these arguments"):
        app.schedules.create("x", "report", "@daily", args={"nope": 1})
    assert app.schedules.list() == []


def test_on_time_fires_make_one_job_each(app: Hourhand) -> None:
    sid = every_minute(app, overlap="allow")
    sched = app.scheduler()
    for minute in range(3):
        sched.tick(T0 + timedelta(minutes=minute, seconds=1))
    sched.tick(T0 + timedelta(minutes=2, seconds=30))  # nothing new is due
    assert fire_times(app, sid) == [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    schedule = app.schedules.get(sid)
    assert schedule.last_fire_at == T0 + timedelta(minutes=2)
    assert schedule.next_fire_at == T0 + timedelta(minutes=3)


@pytest.mark.parametrize(
    ("misfire", "options", "expected"),
    [
        ("skip", {}, []),
        ("once", {}, [10]),
        ("all", {}, [0, 5, 10]),
        ("all", {"misfire_cap": 2}, [5, 10]),
        ("all", {"catchup_window": 400}, [5, 10]),
    ],
)
def test_misfire_policies_after_the_scheduler_was_down(
    app: Hourhand, misfire: str, options: dict[str, int], expected: list[int]
) -> None:
    sid = every_minute(app, "*/5 * * * *", misfire=misfire, overlap="allow", **options)
    # back 11.5 minutes after T0: the latest fire (T0+10) is 90 s late, past the grace
    app.scheduler().tick(T0 + timedelta(minutes=11, seconds=30))
    assert fire_times(app, sid) == [T0 + timedelta(minutes=m) for m in expected]
    assert app.schedules.get(sid).next_fire_at == T0 + timedelta(minutes=15)


def test_skip_still_runs_the_fire_that_is_on_time(app: Hourhand) -> None:
    sid = every_minute(app, overlap="allow")
    app.scheduler().tick(T0 + timedelta(minutes=10, seconds=5))
    assert fire_times(app, sid) == [T0 + timedelta(minutes=10)]


def test_reenabling_a_paused_schedule_fires_no_burst(app: Hourhand) -> None:
    sid = every_minute(app, misfire="all", overlap="allow")
    app.schedules.disable(sid)
    assert app.schedules.get(sid).next_fire_at is None
    enabled = app.schedules.enable(sid)  # next fire from the database's now, not from T0
    now = app.store.now()
    assert enabled.next_fire_at is not None and now < enabled.next_fire_at <= now + timedelta(
        minutes=1
    )
    app.scheduler().tick(enabled.next_fire_at + timedelta(seconds=1))
    assert len(fire_times(app, sid)) == 1


def test_overlap_skip_allow_and_queue(app: Hourhand) -> None:
    sched = app.scheduler()
    skip = every_minute(app)  # overlap 'skip' is the default
    sched.tick(T0 + timedelta(seconds=1))
    sched.tick(T0 + timedelta(minutes=1, seconds=1))  # the first run is still queued
    assert fire_times(app, skip) == [T0]
    app.schedules.delete(skip)

    queue = app.schedules.create("queued", "report", "* * * * *", overlap="queue", queue="q")
    app.store.update_schedule(queue.id, {"next_fire_at": T0})
    sched.tick(T0 + timedelta(seconds=1))
    [first] = app.store.claim("w", ["q"], 10, lease=30)  # the first run is running
    sched.tick(T0 + timedelta(minutes=1, seconds=1))  # one may wait behind it ...
    sched.tick(T0 + timedelta(minutes=2, seconds=1))  # ... but only one
    runs = app.schedules.runs(queue.id)
    assert [j.fire_time for j in runs] == [T0 + timedelta(minutes=1), T0]
    held = runs[0]
    assert held.state == JobState.SCHEDULED and held.run_at == HOLD_UNTIL
    from hourhand.store import Completion

    app.store.complete("w", [Completion(first.id, first.attempt, None, 0.5)])
    released = app.get_job(held.id)
    assert released.run_at < HOLD_UNTIL  # starts now that the first run finished
    schedule = app.schedules.get(queue.id)
    assert (schedule.last_status, schedule.last_duration) == ("completed", 0.5)


def test_jitter_delays_the_run_not_the_fire_time(app: Hourhand) -> None:
    sid = every_minute(app, jitter=30, overlap="allow")
    app.scheduler().tick(T0 + timedelta(seconds=1))
    [job] = app.schedules.runs(sid)
    assert job.fire_time == T0
    assert T0 <= job.run_at <= T0 + timedelta(seconds=30)


def test_a_code_schedule_takes_every_schedule_option(app: Hourhand) -> None:
    @app.cron(
        "0 * * * *",
        name="catch-up",
        misfire="all",
        misfire_cap=5,
        catchup_window=7200,
        overlap="allow",
        jitter=3,
    )
    def catch_up(ctx: JobContext) -> None:
        return None

    app.scheduler().sync()
    [made] = app.schedules.list()
    assert (made.misfire, made.misfire_cap, made.catchup_window) == ("all", 5, 7200)
    assert (made.overlap, made.jitter) == ("allow", 3)


def test_code_and_config_schedules_sync_and_user_ones_stay(
    app: Hourhand, tmp_path: Path, run_worker
) -> None:
    @app.cron("*/15 * * * *", name="budget-alerts", tz="Europe/Stockholm")
    def budget_alerts(ctx: JobContext) -> None:
        return None

    config = tmp_path / "hourhand.toml"
    config.write_text(
        '[schedules.DraftCleanup]\nenabled = true\ncron = "0 3 * * *"\njob = "report"\n'
        'tz = "Europe/Stockholm"\nargs = { kind = "drafts" }\nbatch_size = 100\n'
    )
    app.load_config(config)
    user = app.schedules.create("mine", "report", "@daily", org_id="org_1")
    # the app's first use of its database synced them: no scheduler has started yet
    assert sorted(s.name for s in app.schedules.list()) == ["DraftCleanup", "budget-alerts", "mine"]
    sched = app.scheduler()
    assert sched.sync().added == []  # idempotent

    config.write_text(config.read_text().replace("0 3 * * *", "0 4 * * *"))
    app.load_config(config)
    assert sched.sync().updated == ["DraftCleanup"]
    draft = app.schedules.find("DraftCleanup")
    assert draft.cron == "0 4 * * *" and draft.source == "config"
    assert draft.args == {"kind": "drafts", "batch_size": 100}

    # the free option reaches the handler
    job_id = app.schedules.trigger(draft.id)
    run_worker()
    wait_until(lambda: app.get_job(job_id).state == JobState.COMPLETED)
    assert app.get_job(job_id).result == {"kind": "drafts", "batch_size": 100}
    assert app.get_job(job_id).schedule_id == draft.id
    wait_until(lambda: app.schedules.get(draft.id).last_status == "completed")

    config.write_text("")
    app.load_config(config)
    assert sched.sync().removed == ["DraftCleanup"]
    names = sorted(s.name for s in app.schedules.list())
    assert names == ["budget-alerts", "mine"]
    assert app.schedules.get(user.id) == user  # untouched


def test_an_operators_edits_of_a_config_schedule_outlive_syncs_until_reset(
    app: Hourhand, tmp_path: Path
) -> None:
    config = tmp_path / "hourhand.toml"
    config.write_text(
        '[schedules.DraftCleanup]\ncron = "0 3 * * *"\njob = "report"\nargs = { kind = "drafts" }\n'
    )
    app.load_config(config)
    draft = app.schedules.find("DraftCleanup")
    edited = app.schedules.update(draft.id, cron="30 5 * * *", tz="Europe/Paris", overlap="allow")
    assert (edited.cron, edited.tz, edited.overlap) == ("30 5 * * *", "Europe/Paris", "allow")
    assert edited.overrides == {"cron": "30 5 * * *", "tz": "Europe/Paris", "overlap": "allow"}
    assert (
        edited.next_fire_at is not None
        and edited.next_fire_at.astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M") == "05:30"
    )
    sched = app.scheduler()
    assert sched.sync().updated == []  # the sync keeps the operator's edits
    # the file changes something the operator did not touch: that follows the file
    config.write_text(config.read_text().replace('"drafts"', '"all"'))
    app.load_config(config)
    assert sched.sync().updated == ["DraftCleanup"]
    kept = app.schedules.get(draft.id)
    assert (kept.cron, kept.tz, kept.args) == ("30 5 * * *", "Europe/Paris", {"kind": "all"})
    with pytest.raises(InvalidInput, match="defined in the config file: its job change there"):
        app.schedules.update(draft.id, job="other")
    reset = app.schedules.reset(draft.id)  # the file's values again
    assert (reset.cron, reset.tz, reset.overlap, reset.overrides) == (
        "0 3 * * *",
        "UTC",
        "skip",
        {},
    )
    assert sched.sync().updated == []


def test_bad_config_names_the_file_and_table(app: Hourhand, tmp_path: Path) -> None:
    from hourhand.errors import ConfigurationError

    config = tmp_path / "hourhand.toml"
    config.write_text('[schedules.Broken]\ncron = "0 3 * *"\njob = "report"\n')
    with pytest.raises(ConfigurationError, match=r"\[schedules.Broken\].*expected 5 fields"):
        app.load_config(config)
    config.write_text('[schedules.Broken]\njob = "report"\n')
    with pytest.raises(ConfigurationError, match="'cron' is required"):
        app.load_config(config)
    config.write_text("not = [valid")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        app.load_config(config)


def test_a_failed_run_is_the_schedules_last_status(app: Hourhand, run_worker) -> None:
    @app.job("broken", max_attempts=1)
    def broken(ctx: JobContext) -> None:
        raise RuntimeError("no")

    s = app.schedules.create("b", "broken", "@daily")
    app.schedules.trigger(s.id)
    run_worker()
    wait_until(lambda: app.schedules.get(s.id).last_status == "failed")


def test_cancelling_a_waiting_run_releases_the_run_held_behind_it(app: Hourhand) -> None:
    queue = app.schedules.create("queued", "report", "* * * * *", overlap="queue", queue="q")
    app.store.update_schedule(queue.id, {"next_fire_at": T0})
    sched = app.scheduler()
    sched.tick(T0 + timedelta(seconds=1))
    [first] = app.store.claim("w", ["q"], 10, lease=30)
    sched.tick(T0 + timedelta(minutes=1, seconds=1))  # held behind the running one
    held = app.schedules.runs(queue.id)[0]
    assert held.run_at == HOLD_UNTIL
    # the running one fails and waits to retry; then someone cancels it
    from hourhand import Outcome
    from hourhand.store import AttemptEnd

    app.store.end_attempt(
        AttemptEnd(first.id, 1, "w", Outcome.FAILED, JobState.RETRYING, error="x", retry_in=60)
    )
    assert app.get_job(held.id).run_at == HOLD_UNTIL  # still behind a run that may retry
    app.cancel(first.id)
    assert app.get_job(held.id).run_at < HOLD_UNTIL
    assert app.schedules.get(queue.id).last_status == "cancelled"


def test_a_schedule_whose_job_type_is_gone_is_moved_on_not_retried_forever(
    app: Hourhand, store_url: str
) -> None:
    sid = every_minute(app, overlap="allow")
    other = Hourhand(store_url)  # an app that no longer defines 'report'
    try:
        assert other.scheduler().tick(T0 + timedelta(seconds=1)) == []
        assert other.schedules.get(sid).next_fire_at == T0 + timedelta(minutes=1)
        assert fire_times(app, sid) == []
    finally:
        other.close()


@pytest.mark.parametrize("ending", ["completes", "fails"])
def test_a_run_ending_and_the_release_of_the_run_held_behind_it_commit_together(
    app: Hourhand, store_url: str, ending: str
) -> None:
    """A fault between the two must not leave the held run waiting forever: either both are
    recorded or neither (and the worker's retry then records both)."""
    from hourhand import Outcome
    from hourhand.store import AttemptEnd, Completion
    from tests.support.faults import fail_updates_for

    queue = app.schedules.create("queued", "report", "* * * * *", overlap="queue", queue="q")
    app.store.update_schedule(queue.id, {"next_fire_at": T0})
    sched = app.scheduler()
    sched.tick(T0 + timedelta(seconds=1))
    [first] = app.store.claim("w", ["q"], 10, lease=30)
    sched.tick(T0 + timedelta(minutes=1, seconds=1))
    held = app.schedules.runs(queue.id)[0]
    assert held.run_at == HOLD_UNTIL
    hold = HOLD_UNTIL.timestamp()
    fault = fail_updates_for(
        store_url,
        1.5,
        postgres="OLD.run_at >= '9999-01-01' AND NEW.run_at < '9999-01-01'",
        sqlite=f"OLD.run_at >= {hold} AND NEW.run_at < {hold}",
    )

    def end() -> object:
        if ending == "completes":
            return app.store.complete("w", [Completion(first.id, 1, None, 0.5)])
        return app.store.end_attempt(
            AttemptEnd(first.id, 1, "w", Outcome.FAILED, JobState.FAILED, error="no")
        )

    try:
        with pytest.raises(Exception, match="injected fault"):
            end()
        assert app.get_job(held.id).run_at == HOLD_UNTIL
        assert app.get_job(first.id).state == JobState.RUNNING  # nothing was recorded
        wait_until(lambda: app.store.now().timestamp() > fault.until, what="the fault to end")
        assert end()  # the worker's retry records both
    finally:
        fault.remove()
    assert app.get_job(first.id).state in (JobState.COMPLETED, JobState.FAILED)
    assert app.get_job(held.id).run_at < HOLD_UNTIL


NIGHTLY = '[schedules.Nightly]\ncron = "0 3 * * *"\njob = "report"\nbatch_size = 5\n'


def test_only_an_app_that_read_a_config_file_changes_config_schedules(
    app: Hourhand, tmp_path: Path, store_url: str
) -> None:
    config = tmp_path / "hourhand.toml"
    config.write_text(NIGHTLY)
    app.load_config(config)
    app.scheduler().sync()
    assert app.schedules.find("Nightly").source == "config"
    elsewhere = Hourhand(store_url)  # the same code, started where there is no config file
    elsewhere.registry.update(app.registry)
    try:
        report = elsewhere.scheduler().sync()
        assert (report.added, report.updated, report.removed) == ([], [], [])
        assert elsewhere.schedules.find("Nightly").source == "config"
    finally:
        elsewhere.close()
    config.write_text("")  # a config file that says: no schedules
    app.load_config(config)
    assert app.scheduler().sync().removed == ["Nightly"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (NIGHTLY.replace("schedules", "schedule"), r"hourhand.toml: unknown table \[schedule\]"),
        ('databse = "x"\n' + NIGHTLY, r"hourhand.toml: unknown key 'databse'"),
        ('database = "x"\n' + NIGHTLY, r"hourhand.toml: 'database': bad database URL 'x'"),
        (
            NIGHTLY.replace("batch_size", "crom"),
            r"hourhand.toml: \[schedules.Nightly\]: unknown key 'crom': not a schedule option",
        ),
        (
            NIGHTLY.replace('"report"', '"nope"'),
            r"hourhand.toml: \[schedules.Nightly\]: unknown job type 'nope'",
        ),
    ],
)
def test_config_mistakes_are_errors_naming_file_table_and_key(
    app: Hourhand, tmp_path: Path, text: str, message: str
) -> None:
    from hourhand.errors import ConfigurationError

    config = tmp_path / "hourhand.toml"
    config.write_text(text)
    with pytest.raises(ConfigurationError, match=message):
        app.load_config(config)
    assert app.config_path is None and app.config_schedules == {}


def test_an_operators_enable_or_disable_of_a_code_schedule_survives_syncs(app: Hourhand) -> None:
    from dataclasses import replace

    @app.cron("0 * * * *", name="hourly")
    def hourly(ctx: JobContext) -> None:
        return None

    app.scheduler().sync()
    sid = app.schedules.find("hourly").id
    paused = app.schedules.disable(sid)
    assert (paused.enabled, paused.defined_enabled, paused.enabled_override) == (
        False,
        True,
        False,
    )
    assert paused.next_fire_at is None
    app.scheduler().sync()  # a scheduler restarts: the pause stays
    assert app.schedules.get(sid).enabled is False

    app.code_schedules["hourly"] = replace(app.code_schedules["hourly"], enabled=False)
    app.scheduler().sync()  # the code now agrees
    now_code = app.schedules.get(sid)
    assert (now_code.enabled, now_code.defined_enabled) == (False, False)
    resumed = app.schedules.enable(sid)  # the operator wants it on anyway
    assert (resumed.enabled, resumed.enabled_override) == (True, True)
    assert resumed.next_fire_at is not None
    app.scheduler().sync()
    assert app.schedules.get(sid).enabled is True
    following = app.schedules.reset(sid)  # back to what the code says
    assert (following.enabled, following.enabled_override) == (False, None)


def test_a_user_schedule_cannot_take_a_code_schedules_name(app: Hourhand) -> None:
    @app.cron("*/15 * * * *", name="budget-alerts")
    def budget_alerts(ctx: JobContext) -> None:
        return None

    with pytest.raises(ScheduleExists, match="'budget-alerts' is defined in your app's code"):
        app.schedules.create("budget-alerts", "report", "@daily")
    mine = app.schedules.create("budget-alerts", "report", "@daily", org_id="org_1")  # own org
    with pytest.raises(ScheduleExists, match="defined in your app's code"):
        other = app.schedules.create("other", "report", "@daily")
        app.schedules.update(other.id, name="budget-alerts")
    assert app.schedules.find("budget-alerts").source == "code"  # synced at first use
    assert app.schedules.find("budget-alerts", "org_1").id == mine.id


def test_a_cancelled_run_given_back_after_a_lost_claim_releases_the_run_held_behind(
    app: Hourhand,
) -> None:
    queue = app.schedules.create("queued", "report", "* * * * *", overlap="queue", queue="q")
    app.store.update_schedule(queue.id, {"next_fire_at": T0})
    sched = app.scheduler()
    sched.tick(T0 + timedelta(seconds=1))
    [first] = app.store.claim("w", ["q"], 10, lease=30)  # its reply was lost
    sched.tick(T0 + timedelta(minutes=1, seconds=1))
    held = app.schedules.runs(queue.id)[0]
    assert held.run_at == HOLD_UNTIL
    app.cancel(first.id)
    assert app.store.release_unheld("w", []) == [first.id]
    assert app.get_job(first.id).state == JobState.CANCELLED
    assert app.get_job(held.id).run_at < HOLD_UNTIL
    assert app.schedules.get(queue.id).last_status == "cancelled"
