"""Several scheduler processes against one database: each fire time becomes one job."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from hourhand import Hourhand
from tests.conftest import reset_postgres, subprocess_env, wait_until

pytestmark = pytest.mark.slow


def start_scheduler(url: str, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hourhand",
                "--app",
                "tests.apps.scheduled:hh",
                "--database",
                url,
                "scheduler",
                "--poll-interval",
                "0.5",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=subprocess_env(),
        )


def started(log: Path, times: int = 1) -> bool:
    """Whether the scheduler(s) writing ``log`` said "scheduler started" ``times`` times."""
    return log.exists() and log.read_text().count("scheduler started") >= times


def test_three_schedulers_one_killed_and_restarted_fire_each_minute_once(
    tmp_path: Path, pg_base_url: str
) -> None:
    """Three schedulers per store over two real minute boundaries: one is killed hard as
    soon as they are all up and restarted at once, another is killed hard the moment the
    first fire lands (maybe mid-transaction). Each fire time runs exactly once, none is
    missed, and the ledger agrees. (Two boundaries, not three: the test is wall-clock bound.)
    """
    reset_postgres(pg_base_url)
    urls = {"sqlite": f"sqlite:///{tmp_path}/s.db", "postgres": pg_base_url}
    apps = {kind: Hourhand(url) for kind, url in urls.items()}
    procs: dict[str, list[subprocess.Popen[bytes]]] = {kind: [] for kind in urls}
    logs = {kind: [tmp_path / f"{kind}{n}.log" for n in range(3)] for kind in urls}
    try:
        begun = {kind: app.store.now() for kind, app in apps.items()}
        for kind, url in urls.items():
            for log in logs[kind]:
                procs[kind].append(start_scheduler(url, log))
        wait_until(
            lambda: all(started(log) for kind in urls for log in logs[kind]),
            timeout=60,
            interval=0.1,
            what="three schedulers of each store up",
        )

        def fires(kind: str) -> list:
            app = apps[kind]
            schedules = app.schedules.list()
            if not schedules:
                return []
            return [j.fire_time for j in app.schedules.runs(schedules[0].id, limit=1000)]

        def at_least(n: int) -> bool:
            return all(len(fires(kind)) >= n for kind in urls)

        for kind, url in urls.items():  # kill the first hard, and bring it straight back
            procs[kind][0].kill()
            procs[kind][0].wait()
            procs[kind][0] = start_scheduler(url, logs[kind][0])
        wait_until(
            lambda: all(started(logs[kind][0], 2) for kind in urls),
            timeout=60,
            interval=0.1,
            what="the restarted schedulers up",
        )
        wait_until(lambda: at_least(1), timeout=90, interval=0.05, what="the first fire")
        for kind in urls:  # the moment it lands, kill the second hard
            procs[kind][1].kill()
            procs[kind][1].wait()
        wait_until(lambda: at_least(2), timeout=90, interval=0.5, what="a fire with two left")

        for kind in urls:
            alive = [procs[kind][0], procs[kind][2]]
            for proc in alive:
                proc.send_signal(signal.SIGTERM)
            for proc in alive:
                assert proc.wait(30) == 0
            times = fires(kind)
            counts = Counter(times)
            assert set(counts.values()) == {1}, (kind, counts)  # exactly one job each
            ordered = sorted(counts)
            minute = timedelta(minutes=1)
            assert all(b - a == minute for a, b in itertools.pairwise(ordered)), (
                kind,
                ordered,
            )  # none missed
            # the first fire time after the schedule was synced (by the first scheduler up) ran
            [schedule] = apps[kind].schedules.list()
            assert schedule.created_at is not None
            assert ordered[0] - max(begun[kind], schedule.created_at) <= minute
            # the ledger agrees: one entry per fire time, naming its one job
            jobs = {j.fire_time: j.id for j in apps[kind].schedules.runs(schedule.id, 1000)}
            entries = apps[kind].store.schedule_fires(schedule.id, 1000)
            assert {e.fire_time: e.job_id for e in entries} == jobs, kind
            assert {e.status for e in entries} == {"enqueued"}, kind
            assert not any("Traceback" in log.read_text() for log in logs[kind])
    finally:
        for group in procs.values():
            for proc in group:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        for app in apps.values():
            app.close()
