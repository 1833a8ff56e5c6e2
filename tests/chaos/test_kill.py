"""Chaos: ``kill -9`` of a random worker every ~2 s during a drain, on both stores."""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hourhand import Hourhand
from tests.chaos.harness import Figures, Fleet, account, store_of, verdict, wait_drained, waiting

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

JOBS = 3000
WORKERS = 3
CONCURRENCY = 10
LEASE = 2.0
KILLS = 5
KILL_EVERY = (1.5, 2.5)  # seconds between kills
DRAIN_TIMEOUT = 60.0  # seconds after the last kill


def test_kill9_random_workers_during_a_drain(
    chaos_url: str,
    tmp_path: Path,
    apps: Callable[[str], Hourhand],
    record_figures: Callable[[Figures], None],
) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    app = apps(chaos_url)
    figures = Figures("kill -9 every ~2s", store_of(chaos_url), notes=[f"seed {seed}"])
    # 3000 jobs of 50-150 ms on 30 slots: at least 10 s of work, whatever the engine's speed.
    ids = app.enqueue_many("chaos:work", [{"ms": rng.randint(50, 150)} for _ in range(JOBS)])
    fleet = Fleet(chaos_url, tmp_path, concurrency=CONCURRENCY, lease=LEASE)
    started = time.time()
    last_fault: float | None = None
    try:
        fleet.start(WORKERS)
        while figures.faults < KILLS:
            time.sleep(rng.uniform(*KILL_EVERY))
            fleet.check(replace=True)
            if not waiting(app):
                break  # drained already: no more "during a drain"
            victim = rng.choice(fleet.alive())
            fleet.kill(victim)
            last_fault = time.time()
            figures.faults += 1
            fleet.start()  # the replacement
        drained = wait_drained(app, JOBS, DRAIN_TIMEOUT)
        fleet.check(replace=False)
        fleet.stop()
    except BaseException:
        fleet.kill_all()
        raise

    account(
        figures,
        app,
        fleet,
        started=started,
        last_fault=last_fault,
        expected=ids,
        duplicates_allowed=True,
    )
    if not drained:
        figures.problems.append(f"the drain did not finish {DRAIN_TIMEOUT:.0f}s after the chaos")
    if figures.faults < 3:
        figures.problems.append(
            f"only {figures.faults} kills landed during the drain: the run proves little"
        )
    if chaos_url.startswith("sqlite"):
        conn = sqlite3.connect(chaos_url.split(":///", 1)[1])
        try:
            integrity = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        finally:
            conn.close()
        if integrity != ["ok"]:
            figures.problems.append(f"PRAGMA integrity_check: {integrity[:10]}")
    record_figures(figures)

    assert not figures.problems, verdict(figures, fleet)
    assert figures.lost == 0
    assert figures.failed == 0
    assert figures.unexplained == 0
    assert figures.bad_exits == 0
