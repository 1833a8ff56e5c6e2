"""Worker processes: exactly-once under load, SIGKILL rescue, SIGSTOP fencing, SIGTERM drain."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from hourhand import Hourhand, JobState, Outcome
from tests.apps import counting
from tests.conftest import subprocess_env, wait_until

pytestmark = pytest.mark.slow


class Workers:
    """Worker subprocesses running tests.apps.counting, with their logs in files."""

    def __init__(self, url: str, logdir: Path) -> None:
        self.url = url
        self.logdir = logdir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        n = len(self.procs)
        with open(self.logdir / f"worker{n}.log", "wb") as log:  # the child keeps its copy
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hourhand",
                    "--app",
                    "tests.apps.counting:hh",
                    "--database",
                    self.url,
                    "worker",
                    "--poll-interval",
                    "0.2",
                    *args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=subprocess_env(),
            )
        self.procs.append(proc)
        return proc

    def log(self, proc: subprocess.Popen[bytes]) -> str:
        return (self.logdir / f"worker{self.procs.index(proc)}.log").read_text()

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def app(store_url: str) -> Iterator[Hourhand]:
    """The counting app's job types, on this test's database."""
    counting.create_executions_table(store_url)
    app = Hourhand(store_url)
    app.registry.update(counting.hh.registry)
    yield app
    app.close()


@pytest.fixture
def workers(store_url: str, tmp_path: Path) -> Iterator[Workers]:
    w = Workers(store_url, tmp_path)
    yield w
    w.stop_all()


def freeze(proc: subprocess.Popen[bytes], url: str) -> None:
    """SIGSTOP a worker at a moment it holds no SQLite write lock.

    A process frozen inside a write transaction (a heartbeat takes a few milliseconds)
    holds SQLite's one write lock and stalls every writer until it resumes; that is SQLite,
    not what this test is about. PostgreSQL has no such lock between statements."""
    for _ in range(50):
        os.kill(proc.pid, signal.SIGSTOP)
        if not url.startswith("sqlite"):
            return
        conn = sqlite3.connect(url.split(":///", 1)[1], timeout=0.5, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return
        except sqlite3.OperationalError:
            os.kill(proc.pid, signal.SIGCONT)
            time.sleep(0.05)
        finally:
            conn.close()
    raise AssertionError("could not freeze the worker outside a write transaction")


def running_by(app: Hourhand, proc: subprocess.Popen[bytes], ids: list[int]) -> bool:
    jobs = [app.get_job(i) for i in ids]
    return all(j.state == JobState.RUNNING and f":{proc.pid}:" in (j.worker_id or "") for j in jobs)


def test_four_workers_execute_5000_jobs_exactly_once(
    app: Hourhand, workers: Workers, store_url: str
) -> None:
    ids = app.enqueue_many("count", [{} for _ in range(5000)])
    for _ in range(4):
        workers.start("--concurrency", "50")
    wait_until(
        lambda: app.counts()["completed"] == 5000,
        timeout=240,
        interval=0.2,
        what="5000 completed jobs",
    )
    # (a worker still importing when the others have done everything would die of the
    # SIGTERM before its handler is installed: each is up before they are stopped)
    wait_until(
        lambda: all(" started: " in workers.log(p) for p in workers.procs),
        timeout=60,
        what="every worker up",
    )
    workers.stop_all()
    assert [p.returncode for p in workers.procs] == [0] * 4, [workers.log(p) for p in workers.procs]
    runs = Counter(job_id for job_id, _, _ in counting.executions(store_url))
    assert set(runs) == set(ids)
    assert set(runs.values()) == {1}  # every job executed exactly once
    assert len({pid for _, _, pid in counting.executions(store_url)}) > 1  # work was shared
    assert app.counts()["completed"] == 5000


def test_sigkilled_worker_jobs_are_rescued_and_complete(
    app: Hourhand, workers: Workers, store_url: str
) -> None:
    ids = app.enqueue_many("sleepy", [{"first": 60, "later": 0} for _ in range(3)])
    victim = workers.start("--lease", "1.5")
    wait_until(lambda: len(counting.executions(store_url)) == 3, what="the victim's handlers")
    assert running_by(app, victim, ids)
    victim.kill()
    victim.wait()
    workers.start("--lease", "1.5")
    wait_until(lambda: all(app.get_job(i).state == JobState.COMPLETED for i in ids), timeout=30)
    for job_id in ids:
        attempts = app.attempts(job_id)
        assert [a.outcome for a in attempts] == [Outcome.LOST, Outcome.COMPLETED]
        assert "worker lost" in (attempts[0].error or "")
        assert f":{victim.pid}:" in (attempts[0].worker_id or "")
        assert app.get_job(job_id).result != victim.pid
    assert sorted(job for job, _, _ in counting.executions(store_url)) == sorted(ids * 2)


def test_stalled_worker_cannot_heartbeat_or_complete_a_reclaimed_job(
    app: Hourhand, workers: Workers, tmp_path: Path, store_url: str
) -> None:
    gate = tmp_path / "gate"
    job_id = app.enqueue("gated", {"gate": str(gate)})
    stalled = workers.start("--lease", "1.2")
    wait_until(lambda: running_by(app, stalled, [job_id]), what="job running on the stalled")
    freeze(stalled, store_url)
    rescuer = workers.start("--lease", "1.2")
    job = wait_until(
        lambda: (j := app.get_job(job_id)).attempt == 2 and j.state == JobState.RUNNING and j
    )
    assert f":{rescuer.pid}:" in (job.worker_id or "")
    gate.touch()  # the stalled worker's handler may finish as soon as it wakes
    os.kill(stalled.pid, signal.SIGCONT)
    # Its next heartbeat is refused: the claim is fenced on (id, attempt, worker).
    wait_until(
        lambda: (
            "lease lost to another worker" in workers.log(stalled)
            or "not recorded" in workers.log(stalled)
        ),
        what="the stalled worker to notice",
    )
    wait_until(lambda: app.get_job(job_id).state == JobState.COMPLETED)
    final = app.get_job(job_id)
    assert final.result == rescuer.pid  # the rescuer's result, not the stalled worker's
    outcomes = [(a.attempt, a.outcome) for a in app.attempts(job_id)]
    assert outcomes == [(1, Outcome.LOST), (2, Outcome.COMPLETED)]
    assert f":{rescuer.pid}:" in (app.attempts(job_id)[1].worker_id or "")


def test_sigterm_records_finished_jobs_and_hands_back_the_rest(
    app: Hourhand, workers: Workers
) -> None:
    quick = app.enqueue_many("sleepy", [{"first": 0.5} for _ in range(2)])
    slow = app.enqueue_many("sleepy", [{"first": 120} for _ in range(2)])
    proc = workers.start("--concurrency", "4", "--grace", "2", "--lease", "60")
    wait_until(lambda: running_by(app, proc, quick + slow), what="all four running")
    sent = time.monotonic()
    proc.terminate()
    assert proc.wait(20) == 0
    assert time.monotonic() - sent < 10  # grace (2 s) plus shutdown, not the 60 s lease
    for job_id in quick:
        assert app.get_job(job_id).state == JobState.COMPLETED
    for job_id in slow:
        job = app.get_job(job_id)
        assert job.state == JobState.QUEUED  # back at once, not after the lease
        # the interrupted attempt does not count, and shows as a hand-back
        assert (job.attempt, job.max_attempts, job.handbacks) == (0, 5, 1)
        [attempt] = app.attempts(job_id)
        assert attempt.outcome == Outcome.INTERRUPTED
    assert "stopping" in workers.log(proc)
