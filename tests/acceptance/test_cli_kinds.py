"""The commands read the config file's custom kinds: a worker runs them, enqueue takes
them, jobs types lists them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.acceptance.test_cli import APP, hourhand
from tests.conftest import subprocess_env

CONFIG = """
[kinds.count-greetings]
base = "hourhand.sql"
description = "How many greet jobs there are"
args = { sql = "SELECT count(*) FROM hourhand_jobs WHERE name = :name" }
params.name = { type = "string", default = "greet" }
"""


def test_a_worker_and_enqueue_read_the_custom_kinds_of_hourhand_toml(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/kinds.db"
    (tmp_path / "hourhand.toml").write_text(CONFIG)
    base = ["--app", APP, "--database", db]
    assert hourhand(*base, "migrate", cwd=tmp_path).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "hourhand", *base, "worker", "--poll-interval", "0.1"],
        env=subprocess_env(),
        cwd=tmp_path,  # ./hourhand.toml is read
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        done = hourhand(*base, "enqueue", "count-greetings", "--wait", "30", "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        job = json.loads(done.stdout)
        assert job["state"] == "completed" and job["result"]["rows"] == [[0]]
        refused = hourhand(
            *base, "enqueue", "count-greetings", "--args", '{"name": 1}', cwd=tmp_path
        )
        assert refused.returncode == 2
        assert "argument 'name': Input should be a valid string" in refused.stderr
    finally:
        proc.terminate()
        _, errors = proc.communicate(timeout=30)
    assert proc.returncode == 0, errors
    listed = hourhand("--database", db, "jobs", "types", cwd=tmp_path)
    assert "count-greetings" in listed.stdout and "[name]" in listed.stdout
    assert "How many greet jobs there are" in listed.stdout


def test_a_worker_and_enqueue_start_beside_schedules_of_job_types_their_app_lacks(
    tmp_path: Path,
) -> None:
    """Workers may run a subset of the job types: the file's schedules are the scheduler's
    to check, not theirs (nor the enqueue's)."""
    db = f"sqlite:///{tmp_path}/subset.db"
    (tmp_path / "hourhand.toml").write_text(
        CONFIG + '\n[schedules.nightly]\njob = "reports:elsewhere"\ncron = "0 3 * * *"\n'
    )
    base = ["--app", APP, "--database", db]
    assert hourhand(*base, "migrate", cwd=tmp_path).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "hourhand", *base, "worker", "--poll-interval", "0.1"],
        env=subprocess_env(),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        done = hourhand(*base, "enqueue", "count-greetings", "--wait", "30", "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["state"] == "completed"  # the worker ran it
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert b"unknown job type" not in err
    refused = hourhand(*base, "scheduler", cwd=tmp_path, timeout=30)  # the scheduler checks
    assert refused.returncode == 2 and "unknown job type 'reports:elsewhere'" in refused.stderr
