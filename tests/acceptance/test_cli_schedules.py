"""``hourhand cron`` and ``hourhand schedules``, run as a user would."""

from __future__ import annotations

import json

import pytest

from tests.acceptance.test_cli import hourhand

APP = "tests.apps.cli_app:hh"
ARGS = ("--args", '{"name": "team"}')


def test_cron_preview_json_gives_utc_fire_times() -> None:
    out = hourhand(
        "cron",
        "30 2 * * *",
        "--tz",
        "Europe/Stockholm",
        "--after",
        "2026-03-28T00:00:00Z",
        "--count",
        "3",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["fires"] == [
        "2026-03-28T01:30:00Z",
        "2026-03-29T01:00:00Z",
        "2026-03-30T00:30:00Z",
    ]  # the gap day fires right after it
    assert data["description"].startswith("At 02:30")


def test_cron_preview_table_shows_local_and_utc() -> None:
    out = hourhand(
        "cron",
        "0 8 * * MON",
        "--tz",
        "America/New_York",
        "--after",
        "2026-11-23T00:00:00Z",
        "--count",
        "2",
    )
    assert out.returncode == 0
    assert "At 08:00 on Monday" in out.stdout
    assert "2026-11-23 08:00 EST" in out.stdout and "2026-11-23 13:00" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cron", "0 8 * * MONDAY"], "the day-of-week field 'MONDAY' is not valid"),
        (["cron", "0 8 * *"], "expected 5 fields"),
        (["cron", "@daily", "--tz", "Nowhere/Town"], "unknown time zone 'Nowhere/Town'"),
        (["cron", "@daily", "--after", "yesterday"], "not an ISO-8601 time"),
        (
            ["cron", "@daily", "--tz", "PST"],
            "unknown time zone 'PST': use an IANA name such as America/Los_Angeles",
        ),
    ],
)
def test_cron_bad_input(args: list[str], message: str) -> None:
    out = hourhand(*args)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_schedules_add_list_next_disable_enable_trigger_delete(store_url: str) -> None:
    base = ["--app", APP, "--database", store_url, "schedules"]
    added = hourhand(
        *base,
        "add",
        "weekly-mail",
        "--job",
        "greet",
        "--cron",
        "0 8 * * MON",
        "--tz",
        "Europe/Stockholm",
        "--args",
        '{"name": "team"}',
        "--org",
        "org_1",
        "--json",
    )
    assert added.returncode == 0, added.stderr
    schedule = json.loads(added.stdout)
    assert (schedule["source"], schedule["org_id"], schedule["args"]) == (
        "user",
        "org_1",
        {"name": "team"},
    )

    listed = json.loads(hourhand(*base, "list", "--org", "org_1", "--json").stdout)
    assert [s["name"] for s in listed] == ["weekly-mail"]

    nxt = hourhand(*base, "next", "weekly-mail", "--org", "org_1", "--count", "3", "--json")
    fires = json.loads(nxt.stdout)["fires"]
    assert len(fires) == 3 and all(f.endswith(("06:00:00Z", "07:00:00Z")) for f in fires)
    table = hourhand(*base, "next", "weekly-mail", "--org", "org_1")
    assert "Europe/Stockholm" in table.stdout and "Mon" in table.stdout

    assert "disabled" in hourhand(*base, "disable", "weekly-mail", "--org", "org_1").stdout
    assert "enabled" in hourhand(*base, "enable", "weekly-mail", "--org", "org_1").stdout
    triggered = hourhand(*base, "trigger", "weekly-mail", "--org", "org_1")
    assert triggered.returncode == 0 and "enqueued job" in triggered.stdout
    assert "deleted" in hourhand(*base, "delete", "weekly-mail", "--org", "org_1").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "x", "--job", "greet", "--cron", "0 99 * * *"], "the hour field '99'"),
        (["add", "x", "--job", "nope", "--cron", "@daily"], "unknown job type 'nope'"),
        (
            ["add", "x", "--job", "greet", "--cron", "@daily", "--tz", "Mars/Base"],
            "unknown time zone",
        ),
        (["add", "x", "--job", "greet", "--cron", "@daily", "--args", "{"], "not valid JSON"),
        (["next", "missing"], "no schedule named 'missing'"),
        (["enable", "missing", "--org", "o"], "no schedule named 'missing' in organisation 'o'"),
    ],
)
def test_schedules_bad_input(db: str, args: list[str], message: str) -> None:
    out = hourhand("--app", APP, "--database", db, "schedules", *args)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert message in out.stderr and "Traceback" not in out.stderr


def test_enable_disable_list_next_of_a_code_schedule_need_no_app(store_url: str) -> None:
    from hourhand import Hourhand
    from tests.apps import scheduled

    app = Hourhand(store_url)
    app.registry.update(scheduled.hh.registry)
    app.code_schedules.update(scheduled.hh.code_schedules)
    try:
        app.scheduler().sync()  # what a scheduler of the app does at start
    finally:
        app.close()
    base = ["--database", store_url, "schedules"]  # no --app
    paused = hourhand(*base, "disable", "tick")
    assert paused.returncode == 0, paused.stderr
    assert "disabled (overrides its code, which says enabled)" in paused.stdout
    [row] = json.loads(hourhand(*base, "list", "--json").stdout)
    assert (row["name"], row["enabled"], row["defined_enabled"], row["enabled_override"]) == (
        "tick",
        False,
        True,
        False,
    )
    assert "no (operator; code: yes)" in hourhand(*base, "list").stdout
    assert len(json.loads(hourhand(*base, "next", "tick", "--json").stdout)["fires"]) == 5
    resumed = hourhand(*base, "enable", "tick")
    assert resumed.returncode == 0 and "enabled: next run" in resumed.stdout


def test_scheduler_says_which_config_file_it_read_and_refuses_a_bad_one(
    store_url: str, tmp_path
) -> None:
    import signal
    import subprocess
    import sys

    from tests.conftest import subprocess_env, wait_until

    bad = tmp_path / "bad.toml"
    bad.write_text('[schedule.tick]\ncron = "@daily"\njob = "tick"\n')
    app = ["--app", "tests.apps.scheduled:hh", "--database", store_url]
    out = hourhand(*app, "scheduler", "--config", str(bad))
    assert out.returncode == 2 and "bad.toml: unknown table [schedule]" in out.stderr

    log = tmp_path / "scheduler.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hourhand", *app, "scheduler"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,  # no hourhand.toml here
            env=subprocess_env(),
        )
    try:
        wait_until(lambda: "scheduler started" in log.read_text(), timeout=30)
        assert "no config file read; config schedules in the database are left" in (log.read_text())
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_a_name_used_in_several_organisations_is_listed_with_a_hint_to_pass_org(db: str) -> None:
    base = ["--app", APP, "--database", db, "schedules"]
    for name, org in (("weekly", "org_b"), ("weekly", "org_a"), ("solo", "org_a")):
        added = hourhand(
            *base, "add", name, "--job", "greet", "--cron", "0 8 * * MON", "--org", org, *ARGS
        )
        assert added.returncode == 0, added.stderr
    out = hourhand(*base, "next", "weekly")
    assert out.returncode == 2
    assert out.stderr == (
        "error: no schedule named 'weekly'; 2 organisations have one: 'org_a', 'org_b': "
        "pass --org ORG, e.g. --org org_a\n"
    )
    one = hourhand(*base, "disable", "solo")
    assert one.stderr == (
        "error: no schedule named 'solo'; 1 organisation has one: 'org_a': pass --org org_a\n"
    )
    elsewhere = hourhand(*base, "next", "solo", "--org", "org_b")
    assert "no schedule named 'solo' in organisation 'org_b'; 1 organisation has one" in (
        elsewhere.stderr
    )
    picked = hourhand(*base, "next", "weekly", "--org", "org_b", "--json", "--count", "1")
    assert picked.returncode == 0 and len(json.loads(picked.stdout)["fires"]) == 1


@pytest.mark.parametrize(
    ("tz", "fire", "suggestion"),
    [
        ("EST", "2026-07-01T13:00:00Z", "America/New_York"),
        ("MST", "2026-07-01T15:00:00Z", "America/Denver"),
        ("HST", "2026-07-01T18:00:00Z", "Pacific/Honolulu"),
        ("Etc/GMT+5", "2026-07-01T13:00:00Z", "America/New_York"),
    ],
)
def test_cron_preview_takes_a_fixed_offset_zone_but_warns_it_has_no_dst(
    tz: str, fire: str, suggestion: str
) -> None:
    out = hourhand(
        "cron", "0 8 * * *", "--tz", tz, "--after", "2026-07-01T00:00:00Z", "--count", "1", "--json"
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["fires"] == [fire]  # summer, and no daylight saving time
    [warning] = out.stderr.splitlines()
    assert warning.startswith(f"warning: time zone {tz!r} is a fixed offset, UTC-")
    assert "with no daylight saving time" in warning and f"e.g. {suggestion}" in warning


def test_a_zone_with_dst_gets_no_warning() -> None:
    out = hourhand("cron", "0 8 * * *", "--tz", "America/New_York", "--count", "1")
    assert out.returncode == 0 and out.stderr == ""


def test_schedules_add_takes_a_fixed_offset_zone_but_warns_it_has_no_dst(db: str) -> None:
    out = hourhand(
        *("--app", APP, "--database", db, "schedules", "add", "early", "--job", "greet"),
        *("--cron", "0 6 * * *", "--tz", "Etc/GMT-2", "--json", *ARGS),
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["tz"] == "Etc/GMT-2"
    assert out.stderr.startswith("warning: time zone 'Etc/GMT-2' is a fixed offset, UTC+02:00")
    assert "(mind the sign: Etc/GMT-2 is 2 hours ahead of UTC)" in out.stderr


def test_schedules_list_is_plain_when_piped(db: str) -> None:
    base = ["--app", APP, "--database", db, "schedules"]
    hourhand(*base, "add", "weekly", "--job", "greet", "--cron", "0 8 * * MON", "--org", "o", *ARGS)
    lines = hourhand(*base, "list").stdout.splitlines()
    assert lines[0] == "1 schedule"
    assert lines[1].split()[:4] == ["id", "name", "org", "source"]
    assert lines[2].split()[:7] == ["1", "weekly", "o", "user", "greet", "0", "8"]


def test_schedules_runs_shows_the_ledger_a_page_at_a_time(db: str) -> None:
    """``schedules runs`` lists what became of each fire time, newest first, as a table that
    ends with the command for the next page, or as JSON."""
    import shlex
    from datetime import UTC, datetime, timedelta

    from hourhand import Hourhand
    from tests.apps import cli_app

    t0 = datetime(2021, 3, 1, 12, tzinfo=UTC)
    app = Hourhand(db)
    try:
        app.registry.update(cli_app.hh.registry)
        schedule = app.schedules.create("minutely", "greet", "* * * * *", args={"name": "x"})
        app.store.update_schedule(schedule.id, {"next_fire_at": t0})
        sched = app.scheduler()
        for minute in (0, 1, 2):  # overlap 'skip': the first run still waits
            sched.tick(t0 + timedelta(minutes=minute, seconds=1))
        [job] = app.schedules.runs(schedule.id)
    finally:
        app.close()

    base = ["--database", db, "schedules", "runs"]  # no --app: it reads the database
    data = json.loads(hourhand(*base, "minutely", "--json").stdout)
    assert [(r["fire_time"], r["status"], r["job_id"], r["state"]) for r in data] == [
        ("2021-03-01T12:02:00+00:00", "skipped_overlap", None, None),
        ("2021-03-01T12:01:00+00:00", "skipped_overlap", None, None),
        ("2021-03-01T12:00:00+00:00", "enqueued", job.id, "queued"),
    ]
    assert data[2]["enqueued_at"] == data[2]["recorded_at"] and data[2]["unlisted"] == 0

    first = hourhand(*base, str(schedule.id), "--limit", "2")
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == "minutely: 2 fire times"
    assert lines[1].split()[:4] == ["fire", "time", "(UTC)", "status"]
    assert lines[2].split()[:4] == ["2021-03-01", "12:02:00", "skipped_overlap", "-"]
    assert lines[-1].startswith("next page: hourhand --database ")
    second = hourhand(*shlex.split(lines[-1].removeprefix("next page: "))[1:])
    assert second.returncode == 0, second.stderr
    row = second.stdout.splitlines()[2].split()
    assert row[:5] == ["2021-03-01", "12:00:00", "enqueued", str(job.id), "queued"]
    assert "next page" not in second.stdout

    bad = hourhand(*base, "minutely", "--before", "yesterday")
    assert bad.returncode == 2 and "--before 'yesterday' is not an ISO-8601 time" in bad.stderr
