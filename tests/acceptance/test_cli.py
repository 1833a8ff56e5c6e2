"""The ``hourhand`` command, run as a user would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hourhand import Hourhand
from tests.conftest import subprocess_env

APP = "tests.apps.cli_app:hh"


def hourhand(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hourhand", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=subprocess_env(COLUMNS="200"),
    )


@pytest.fixture
def db(store_url: str) -> str:
    return store_url


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


def test_worker_command_runs_jobs_until_sigterm(db: str) -> None:
    app = Hourhand(db)
    try:
        app.registry.update(__import__("tests.apps.cli_app", fromlist=["hh"]).hh.registry)
        job_id = app.enqueue("greet", {"name": "bob"})
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hourhand",
                "--app",
                APP,
                "--database",
                db,
                "worker",
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
        assert b"worker" in output and b"stopped" in output
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
