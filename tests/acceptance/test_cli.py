"""The ``hourhand`` command, run as a user would run it."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import shlex
import sqlite3
import struct
import subprocess
import sys
import termios
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hourhand import Hourhand
from hourhand.store import latest_migration
from tests.apps import cli_app
from tests.conftest import WorkerThread, subprocess_env, wait_until

APP = "tests.apps.cli_app:hh"


def hourhand(
    *args: str, timeout: float = 60, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the command with stdout and stderr piped (so not a terminal)."""
    environ = subprocess_env(COLUMNS="200", **env)
    for name in ("HOURHAND_DATABASE", "HOURHAND_APP"):
        if name not in env:
            environ.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "hourhand", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environ,
        cwd=cwd,
    )


def test_enqueue_list_show_cancel_retry(db: str) -> None:
    out = hourhand(
        "--app",
        APP,
        "--database",
        db,
        "enqueue",
        "greet",
        "--args",
        '{"name": "ada"}',
        "--delay",
        "3600",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    job_id = json.loads(out.stdout)["id"]

    listed = hourhand("--database", db, "jobs", "list", "--json")
    [job] = json.loads(listed.stdout)
    assert (job["id"], job["state"], job["queue"], job["args"]) == (
        job_id,
        "scheduled",
        "mail",
        {"name": "ada"},
    )

    table = hourhand("--database", db, "jobs", "list", "--state", "scheduled")
    assert "greet" in table.stdout and "scheduled" in table.stdout

    shown = json.loads(hourhand("--database", db, "jobs", "show", str(job_id), "--json").stdout)
    assert shown["id"] == job_id and shown["attempts"] == []

    cancelled = hourhand("--database", db, "jobs", "cancel", str(job_id))
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    retried = hourhand("--database", db, "jobs", "retry", str(job_id))
    assert retried.returncode == 0 and "queued" in retried.stdout


def test_worker_command_runs_jobs_until_sigterm_with_options_after_the_command(db: str) -> None:
    app = Hourhand(db)
    try:
        app.registry.update(__import__("tests.apps.cli_app", fromlist=["hh"]).hh.registry)
        job_id = app.enqueue("greet", {"name": "bob"})
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hourhand",
                "--log-level",
                "ERROR",
                "worker",  # the options after the command win over the group's
                "--app",
                APP,
                "--database",
                db,
                "--log-level",
                "INFO",
                "--queues",
                "mail",
                "--concurrency",
                "2",
                "--poll-interval",
                "0.1",
            ],
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            from tests.conftest import wait_until

            wait_until(lambda: app.get_job(job_id).state == "completed")
        finally:
            proc.terminate()
            output, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert app.get_job(job_id).result == "hello bob"
        assert b"worker" in output and b"stopped" in output  # logged at INFO
    finally:
        app.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--app", APP, "enqueue", "nope"], "unknown job type 'nope'"),
        (["--app", APP, "enqueue", "greet", "--args", "{bad json"], "--args is not valid JSON"),
        (["--app", APP, "enqueue", "greet", "--args", "[1]"], "must be a JSON object"),
        (
            ["--app", APP, "enqueue", "greet", "--args", '{"name": "x"}', "--delay", "-5"],
            "delay must be a finite number of seconds, from 0 up to ten years, got -5",
        ),
        *(
            (
                ["--app", APP, "enqueue", "greet", "--args", '{"name": "x"}', "--delay", v],
                f"delay must be a finite number of seconds, from 0 up to ten years, got {v}",
            )
            for v in ("nan", "inf", "1e+300")
        ),
        (
            ["--app", APP, "enqueue", "greet", "--args", '{"name": "a\\u0000b"}'],
            "arguments cannot be stored: a string contains a NUL character",
        ),
        (["jobs", "show", "99999999999999999999"], "no job with id 99999999999999999999"),
        (["--app", APP, "worker", "--lease", "nan"], "lease must be a finite number"),
        (["--app", APP, "worker", "--concurrency", "0"], "concurrency must be an integer"),
        (["enqueue", "greet"], "needs your app"),
        (["--app", "no_such_module:hh", "enqueue", "greet"], "cannot import 'no_such_module'"),
        (
            ["--app", "tests.apps.cli_app:missing", "enqueue", "greet"],
            "bad --app 'tests.apps.cli_app:missing': tests.apps.cli_app has no attribute 'missing'",
        ),
        (
            ["enqueue", "greet", "--app", "tests.apps.cli_app:greet"],
            "greet is the function greet(), not an Hourhand instance",
        ),
        (
            ["--app", "tests.apps:cli_app", "worker"],
            "tests.apps.cli_app is a module: write tests.apps.cli_app:ATTRIBUTE",
        ),
        (
            ["--app", APP, "enqueue", "greet", "--args", '{"name": "x"}', "--run-at", "2030-01-01"],
            "--run-at '2030-01-01' has no offset: add one, e.g. 2030-01-01Z for UTC",
        ),
        (
            ["--app", APP, "enqueue", "greet", "--args", '{"name": "x"}', "--run-at", "soon"],
            "--run-at 'soon' is not an ISO-8601 time",
        ),
        (
            ["--app", APP, "enqueue", "greet", "--args", '{"name": "x"}', "--timeout", "-1"],
            "timeout",
        ),
        (["jobs", "show", "999999"], "no job with id 999999"),
        (["jobs", "retry", "999999"], "no job with id 999999"),
        (["--app", APP, "worker", "--queues", "a:zero"], "bad queue limit"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(db: str, args: list[str], message: str) -> None:
    out = hourhand("--database", db, *args)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("url", ["mysql://localhost/x", "postgresql://u:pw@127.0.0.1:1/x"])
def test_bad_or_unreachable_database(url: str) -> None:
    out = hourhand("--database", url, "jobs", "list")
    assert out.returncode == 2
    assert out.stderr.startswith("error: ") and "Traceback" not in out.stderr
    assert "pw@" not in out.stderr


def test_migrate_reports_the_schema_version(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    first = hourhand("--database", url, "migrate")
    assert first.returncode == 0 and "applied migrations 1" in first.stdout
    again = hourhand("--database", url, "migrate")
    assert again.returncode == 0 and "up to date" in again.stdout


def test_migrate_with_an_app_syncs_its_code_schedules_not_the_files(tmp_path: Path) -> None:
    """(A migrate step may run an app with only some of the job types the file names.)"""
    url = f"sqlite:///{tmp_path}/m.db"
    (tmp_path / "hourhand.toml").write_text(
        '[schedules.elsewhere]\njob = "reports:elsewhere"\ncron = "0 8 * * *"\n'
    )
    out = hourhand("--app", "tests.apps.scheduled:hh", "--database", url, "migrate", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    listed = hourhand("--database", url, "schedules", "list", "--json")
    assert [(s["name"], s["source"]) for s in json.loads(listed.stdout)] == [("tick", "code")]


def test_demo_runs_its_jobs_to_the_end(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    out = hourhand("--database", url, "--log-level", "WARNING", "demo", timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Done." in out.stdout
    app = Hourhand(url)
    try:
        counts = app.counts()
        assert counts["failed"] == 1  # the cleanup with bad input, in the dead-letter set
        assert counts["completed"] == sum(counts.values()) - 1
    finally:
        app.close()


# -- which database ---------------------------------------------------------------------------

NO_DATABASE = (
    'error: no database at {path} (run "hourhand migrate" to create it, or pass --database / '
    "set HOURHAND_DATABASE)\n"
)


@pytest.mark.parametrize(
    "command",
    [
        ["jobs", "list"],
        ["jobs", "show", "1"],
        ["jobs", "retry", "1"],
        ["jobs", "cancel", "1"],
        ["schedules", "list"],
        ["schedules", "next", "weekly"],
        ["schedules", "disable", "weekly"],
    ],
    ids=" ".join,
)
def test_reading_commands_in_an_empty_folder_create_no_database(
    tmp_path: Path, command: list[str]
) -> None:
    folder = tmp_path.resolve()
    out = hourhand(*command, cwd=folder)
    assert out.returncode == 2, out.stdout
    assert out.stderr == NO_DATABASE.format(path=folder / "hourhand.db")
    assert list(folder.iterdir()) == []


def test_info_in_an_empty_folder_says_the_file_does_not_exist_and_creates_none(
    tmp_path: Path,
) -> None:
    folder = tmp_path.resolve()
    out = hourhand("info", "--json", cwd=folder)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["database"] == {
        "url": "sqlite:///hourhand.db",
        "from": "default",
        "dialect": "sqlite",
        "path": str(folder / "hourhand.db"),
        "exists": False,
    }
    assert data["schema"]["version"] is None and data["app"] is None
    human = hourhand("info", cwd=folder)
    assert f"{folder / 'hourhand.db'}: does not exist" in human.stdout
    assert list(folder.iterdir()) == []


def test_reading_commands_refuse_a_database_without_hourhand_tables(
    store_url: str, tmp_path: Path
) -> None:
    if store_url.startswith("sqlite"):
        other = sqlite3.connect(store_url.removeprefix("sqlite:///"))
        other.execute("CREATE TABLE invoices (id integer)")
        other.close()
    out = hourhand("--database", store_url, "jobs", "list")
    assert out.returncode == 2
    assert 'has no hourhand tables (run "hourhand migrate" to create it' in out.stderr
    assert len(out.stderr.splitlines()) == 1
    info = hourhand("--database", store_url, "info")
    assert "no hourhand tables" in info.stdout
    data = json.loads(hourhand("--database", store_url, "info", "--json").stdout)
    assert data["database"]["exists"] is True and data["schema"]["version"] is None
    untouched = Hourhand(store_url, create=False, auto_migrate=False)
    try:
        assert untouched.database_info().schema_version is None  # still no tables
    finally:
        untouched.close()
    if store_url.startswith("sqlite"):  # not even switched to WAL
        other = sqlite3.connect(store_url.removeprefix("sqlite:///"))
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        other.close()


def test_commands_that_add_jobs_create_the_database(tmp_path: Path) -> None:
    folder = tmp_path.resolve()
    out = hourhand("--app", APP, "enqueue", "greet", "--args", '{"name": "a"}', cwd=folder)
    assert out.returncode == 0, out.stderr
    assert (folder / "hourhand.db").is_file()
    [job] = json.loads(hourhand("jobs", "list", "--json", cwd=folder).stdout)
    assert job["name"] == "greet"


def test_info_on_a_new_database_says_it_is_empty(db: str) -> None:
    dialect = "sqlite" if db.startswith("sqlite") else "postgres"
    latest = latest_migration(dialect)
    out = hourhand("info", "--database", db)
    assert out.returncode == 0, out.stderr
    assert f"version {latest} (up to date)" in out.stdout
    assert "none: a new, empty database" in out.stdout
    data = json.loads(hourhand("info", "--database", db, "--json").stdout)
    assert data["database"]["from"] == "--database"
    assert data["database"]["dialect"] == dialect
    assert data["schema"] == {"version": latest, "latest": latest, "up_to_date": True}
    assert data["empty"] is True and set(data["jobs"].values()) == {0}

    hourhand("--app", APP, "--database", db, "enqueue", "greet", "--args", '{"name": "a"}')
    again = hourhand("info", "--database", db)
    assert "1 job: 1 queued" in again.stdout
    assert json.loads(hourhand("info", "--database", db, "--json").stdout)["empty"] is False


def test_info_says_which_app_and_config_file_and_where_they_came_from(
    db: str, tmp_path: Path
) -> None:
    folder = tmp_path.resolve()
    (folder / "hourhand.toml").write_text('[schedules.daily]\njob = "greet"\ncron = "@daily"\n')
    (folder / "configured.py").write_text(
        "from hourhand import Hourhand\n"
        "hh = Hourhand()\n"
        "@hh.job('greet')\n"
        "def greet(ctx, name='x'): ...\n"
        "hh.load_config('hourhand.toml')\n"
    )
    env = {"HOURHAND_APP": APP, "HOURHAND_DATABASE": db}
    data = json.loads(hourhand("info", "--json", cwd=folder, **env).stdout)
    assert data["app"] == {
        "path": APP,
        "from": "HOURHAND_APP",
        "job_types": ["broken", "greet"],
        "code_schedules": [],
    }
    assert data["database"]["from"] == "HOURHAND_DATABASE"
    assert data["config"] == {"path": str(folder / "hourhand.toml"), "read_by_app": False}

    out = hourhand("info", "--app", "configured:hh", cwd=folder, **env)
    assert "configured:hh (from --app): 1 job type, 0 code schedules" in out.stdout
    assert f"{folder / 'hourhand.toml'} (read by the app)" in out.stdout


def test_info_masks_the_password_of_a_postgres_url(pg_base_url: str) -> None:
    url = pg_base_url.replace("postgres@", "postgres:s3cret@")  # the test server trusts all
    out = hourhand("info", "--database", url)
    assert out.returncode == 0, out.stderr
    assert "postgres:***@" in out.stdout and "s3cret" not in out.stdout + out.stderr


@pytest.mark.parametrize("command", [["jobs", "list"], ["info"]])
def test_an_unreachable_database_is_one_line_without_its_password(command: list[str]) -> None:
    out = hourhand("--database", "postgresql://u:pw@127.0.0.1:1/x", *command)
    assert out.returncode == 2
    assert out.stderr.startswith("error: cannot connect to PostgreSQL at postgresql://u:***@")
    assert len(out.stderr.splitlines()) == 1 and "pw@" not in out.stderr


# -- options, usage errors ------------------------------------------------------------------


def test_options_after_the_command_override_the_groups(db: str, tmp_path: Path) -> None:
    hourhand("--app", APP, "--database", db, "enqueue", "greet", "--args", '{"name": "a"}')
    other = tmp_path.resolve() / "other.db"
    out = hourhand("--database", f"sqlite:///{other}", "jobs", "list", "--json", "--database", db)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)) == 1
    assert not other.exists()
    info = hourhand(
        "--app", "tests.apps.scheduled:hh", "--database", db, "info", "--app", APP, "--json"
    )
    assert json.loads(info.stdout)["app"]["path"] == APP
    assert json.loads(info.stdout)["app"]["from"] == "--app"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["jobs", "list", "--bogus"], "error: no such option '--bogus'"),
        (["jobs", "show"], "error: missing argument 'JOB_ID' (see \"hourhand jobs show --help\")"),
        (["jobs", "list", "--state", "nope"], "error: invalid value for '--state': 'nope'"),
        (["jobs", "show", "abc"], "'abc' is not a valid integer"),
        (["nosuchcommand"], "error: no such command 'nosuchcommand'"),
        (["--bogus", "info"], "error: no such option '--bogus' (see \"hourhand --help\")"),
        (["cron", "@daily", "--log-level", "LOUD"], "invalid value for '--log-level'"),
        (["cron", "@daily", "--count", "0"], "invalid value for '--count'"),
    ],
)
def test_usage_errors_are_one_line_and_exit_code_2(args: list[str], message: str) -> None:
    out = hourhand(*args)
    assert out.returncode == 2
    assert message in out.stderr
    assert len(out.stderr.splitlines()) == 1 and "Usage:" not in out.stderr


def test_jobs_retry_help_says_what_it_does(db: str) -> None:
    help_text = " ".join(hourhand("jobs", "retry", "--help").stdout.split())
    assert "Run a failed, cancelled or retrying job again now" in help_text
    assert "or a scheduled job now instead of later" in help_text
    assert "Queued, running and completed jobs are refused" in help_text

    base = ["--app", APP, "--database", db]
    later = hourhand(*base, "enqueue", "greet", "--args", '{"name": "a"}', "--delay", "3600")
    job_id = later.stdout.split()[-1]
    assert hourhand(*base, "jobs", "retry", job_id).stdout == f"job {job_id} is queued\n"
    refused = hourhand(*base, "jobs", "retry", job_id)
    assert refused.returncode == 2
    assert f"job {job_id} is queued; only failed, cancelled, retrying or scheduled" in (
        refused.stderr
    )


# -- enqueue, paging, jobs show -------------------------------------------------------------


def test_enqueue_takes_run_at_timeout_max_attempts_unique_key_and_org(db: str) -> None:
    base = ["--app", APP, "--database", db, "enqueue", "greet", "--args", '{"name": "a"}']
    out = hourhand(
        *base,
        "--run-at",
        "2030-05-01T08:00:00+02:00",
        "--timeout",
        "90",
        "--max-attempts",
        "3",
        "--unique-key",
        "k1",
        "--org",
        "org_1",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    zulu = hourhand(*base, "--run-at", "2030-05-01T06:00:00Z", "--json")
    app = Hourhand(db)
    try:
        job = app.get_job(json.loads(out.stdout)["id"])
        assert job.run_at == datetime(2030, 5, 1, 6, tzinfo=UTC) and job.state == "scheduled"
        assert (job.timeout, job.max_attempts, job.unique_key, job.org_id) == (
            90.0,
            3,
            "k1",
            "org_1",
        )
        assert app.get_job(json.loads(zulu.stdout)["id"]).run_at == job.run_at
    finally:
        app.close()
    shown = hourhand("--database", db, "jobs", "show", str(job.id))
    assert re.search(r"^timeout\s+1 min 30 s$", shown.stdout, re.MULTILINE), shown.stdout


def test_jobs_list_pages_and_ends_with_the_next_page_command(db: str) -> None:
    app = Hourhand(db)
    try:
        app.registry.update(cli_app.hh.registry)
        ids = app.enqueue_many("greet", [{"name": str(i)} for i in range(5)])
    finally:
        app.close()
    first = hourhand("--database", db, "jobs", "list", "--state", "queued", "--limit", "2")
    lines = first.stdout.splitlines()
    assert lines[0] == "2 jobs"
    command = f"hourhand --database {db} jobs list --state queued --limit 2 --after {ids[3]}"
    assert lines[-1] == f"next page: {command}"
    second = hourhand(*shlex.split(command)[1:], "--json")
    assert [j["id"] for j in json.loads(second.stdout)] == [ids[2], ids[1]]
    last = hourhand(*shlex.split(command)[1:-1], str(ids[1]))
    assert last.stdout.splitlines()[-1] == "no more jobs"
    assert [line.split()[0] for line in last.stdout.splitlines()[2:-1]] == [str(ids[0])]


def test_jobs_show_gives_the_last_traceback_and_the_schedule_that_made_the_job(db: str) -> None:
    app = Hourhand(db)
    try:
        app.registry.update(cli_app.hh.registry)
        failing = app.enqueue("broken")
        worker = WorkerThread(app.worker(poll_interval=0.1)).start()
        try:
            wait_until(lambda: app.get_job(failing).state == "failed", what="the job to fail")
        finally:
            worker.stop()
        schedule = app.schedules.create(
            "nightly", "greet", "0 3 * * *", args={"name": "ops"}, org_id="org_1"
        )
        assert schedule.next_fire_at is not None
        [fired] = app.scheduler().tick(schedule.next_fire_at)
        triggered = app.schedules.trigger(schedule.id)
    finally:
        app.close()

    out = hourhand("--database", db, "jobs", "show", str(failing))
    assert out.returncode == 0, out.stderr
    assert "traceback of attempt 1 (failed):\nTraceback (most recent call last):" in out.stdout
    assert 'raise ValueError("the report has no rows")' in out.stdout
    assert out.stdout.rstrip().endswith("ValueError: the report has no rows")
    attempt_row = r"^\s*1\s+failed\s.*\s\d+(\.\d)? ms\s+ValueError: the report has no rows$"
    assert re.search(attempt_row, out.stdout, re.MULTILINE), out.stdout
    assert re.search(r"^schedule\s+-$", out.stdout, re.MULTILINE)

    by_cron = hourhand("--database", db, "jobs", "show", str(fired)).stdout
    fire_time = schedule.next_fire_at.strftime("%Y-%m-%d %H:%M:%S")
    assert f"nightly (org org_1), id {schedule.id}: fire time {fire_time} UTC" in by_cron
    assert "0 attempts" in by_cron and "traceback" not in by_cron
    by_hand = hourhand("--database", db, "jobs", "show", str(triggered)).stdout
    assert f"nightly (org org_1), id {schedule.id}: triggered by hand" in by_hand
    data = json.loads(hourhand("--database", db, "jobs", "show", str(fired), "--json").stdout)
    assert data["schedule"] == {"id": schedule.id, "name": "nightly", "org_id": "org_1"}
    failed = json.loads(hourhand("--database", db, "jobs", "show", str(failing), "--json").stdout)
    assert failed["schedule"] is None
    assert "ValueError: the report has no rows" in failed["attempts"][0]["traceback"]


# -- output -----------------------------------------------------------------------------------


def test_tables_are_plain_when_stdout_is_not_a_terminal(db: str) -> None:
    queue = "q" * 150  # wider than any terminal: rich would wrap it
    base = ["--app", APP, "--database", db, "enqueue", "greet", "--args", '{"name": "a"}']
    hourhand(*base, "--queue", queue)
    one = hourhand("--database", db, "jobs", "list").stdout
    lines = one.splitlines()
    assert lines[0] == "1 job"
    header = ["id", "type", "queue", "state", "attempt", "prio", "run", "at", "(UTC)", "error"]
    assert lines[1].split() == header
    assert len(lines) == 3 and lines[2].split()[:4] == ["1", "greet", queue, "queued"]
    assert "─" not in one and "\x1b[" not in one  # no rich rule, no colour
    hourhand(*base)
    assert hourhand("--database", db, "jobs", "list").stdout.splitlines()[0] == "2 jobs"


def test_tables_fit_the_terminal(db: str) -> None:
    base = ["--app", APP, "--database", db, "enqueue", "greet", "--args", '{"name": "a"}']
    hourhand(*base, "--queue", "q" * 150)
    master, replica = pty.openpty()
    fcntl.ioctl(replica, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 70, 0, 0))
    env = subprocess_env(TERM="xterm")
    env.pop("COLUMNS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "hourhand", "--database", db, "jobs", "list"],
        stdout=replica,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(replica)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the command closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    _, errors = proc.communicate(timeout=60)
    assert proc.returncode == 0, errors
    text = re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]", "", b"".join(chunks).decode()).replace("\r", "")
    lines = text.splitlines()
    assert any(set(line.strip()) == {"─"} for line in lines), text  # a rich table's header rule
    assert max(len(line) for line in lines) <= 70, text


def test_enqueue_says_when_a_unique_key_already_has_a_job(db: str) -> None:
    base = ["--app", APP, "--database", db, "enqueue", "greet", "--unique-key", "k1"]
    first = hourhand(*base, "--args", '{"name": "a"}')
    assert first.returncode == 0, first.stderr
    job_id = int(first.stdout.split()[-1])
    assert first.stdout.strip() == f"enqueued job {job_id}"
    again = hourhand(*base, "--args", '{"name": "b"}')
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"already enqueued as job {job_id} (unique key 'k1')"
    as_json = json.loads(hourhand(*base, "--args", '{"name": "c"}', "--json").stdout)
    assert as_json == {"id": job_id, "created": False}


def test_enqueue_wait_prints_the_result_and_exits_by_how_the_job_ended(db: str) -> None:
    app = Hourhand(db)
    app.registry.update(cli_app.hh.registry)
    worker = WorkerThread(app.worker(poll_interval=0.1)).start()
    try:
        base = ["--app", APP, "--database", db, "enqueue"]
        done = hourhand(*base, "greet", "--args", '{"name": "ada"}', "--wait", "30")
        assert done.returncode == 0, done.stderr
        assert re.search(r'^job \d+ completed in .*; result: "hello ada"$', done.stdout, re.M)
        failed = hourhand(*base, "broken", "--wait", "30", "--json")
        assert failed.returncode == 1, failed.stderr
        job = json.loads(failed.stdout)
        assert job["state"] == "failed" and "the report has no rows" in job["error"]
        late = hourhand(
            *base, "greet", "--args", '{"name": "x"}', "--delay", "3600", "--wait", "0.2"
        )
        assert late.returncode == 124
        assert re.search(r"^job \d+ has not finished: it is scheduled$", late.stdout, re.M)
    finally:
        worker.stop()
        app.close()


def test_config_check_says_ok_or_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "hourhand.toml"
    path.write_text(
        '[channels.ops-hook]\nkind = "webhook"\nurl = "http://127.0.0.1:9000/hook"\n\n'
        '[alerts.mail-backlog]\nkind = "queue_backlog"\nqueue = "mail"\nready_above = 1000\n'
        'channels = ["ops-hook"]\n'
    )
    ok = hourhand("config", "check", str(path))
    assert ok.returncode == 0, ok.stderr
    assert "ok: 0 schedules, 1 channel, 1 alert rule" in ok.stdout
    path.write_text(path.read_text().replace("ready_above = 1000", "ready_above = -1"))
    bad = hourhand("config", "check", str(path))
    assert bad.returncode == 2
    assert f"{path}: [alerts.mail-backlog]: 'ready_above':" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_prune_dry_run_then_delete(db: str) -> None:
    """On an empty database: the command's shapes (the pruning itself: test_ops.py)."""
    dry = hourhand("--database", db, "prune", "--older-than", "0", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("would delete 0 jobs finished over")
    done = hourhand("--database", db, "prune", "--older-than", "30", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["deleted"] == 0
    bad = hourhand("--database", db, "prune", "--older-than", "1", "--state", "queued")
    assert bad.returncode == 2 and "queued" in bad.stderr
