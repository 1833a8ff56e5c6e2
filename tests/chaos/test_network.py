"""Chaos: every connection between the workers and PostgreSQL cut at once, repeatedly,
during a drain (a TCP proxy of the test's own sits between them)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hourhand import Hourhand
from tests.chaos.harness import Figures, Fleet, account, store_of, verdict, wait_drained, waiting
from tests.chaos.tcpproxy import TcpProxy
from tests.support.pgserver import PgServer

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

JOBS = 1500
WORKERS = 3
CONCURRENCY = 10
LEASE = 4.0
CUTS = 4
CUT_EVERY = (1.5, 2.5)  # seconds between cuts
DRAIN_TIMEOUT = 60.0  # seconds after the last cut


def test_postgres_connections_cut_during_a_drain(
    chaos_pg: PgServer,
    chaos_pg_url: str,
    tmp_path: Path,
    apps: Callable[[str], Hourhand],
    record_figures: Callable[[Figures], None],
) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    app = apps(chaos_pg_url)  # the test's own view goes straight to the server
    figures = Figures("connections cut every ~2s", store_of(chaos_pg_url), notes=[f"seed {seed}"])
    # 1500 jobs of 150-250 ms on 30 slots: at least 10 s of work.
    ids = app.enqueue_many("chaos:work", [{"ms": rng.randint(150, 250)} for _ in range(JOBS)])
    proxy = TcpProxy("127.0.0.1", chaos_pg.port).start()
    proxied = chaos_pg_url.replace(f":{chaos_pg.port}/", f":{proxy.port}/")
    assert proxied != chaos_pg_url
    fleet = Fleet(proxied, tmp_path, concurrency=CONCURRENCY, lease=LEASE)
    started = time.time()
    last_fault: float | None = None
    cut_sizes: list[int] = []
    try:
        fleet.start(WORKERS)
        while figures.faults < CUTS:
            time.sleep(rng.uniform(*CUT_EVERY))
            fleet.check(replace=True)
            if not waiting(app):
                break
            cut_sizes.append(proxy.cut())
            last_fault = time.time()
            figures.faults += 1
        drained = wait_drained(app, JOBS, DRAIN_TIMEOUT)
        fleet.check(replace=False)
        fleet.stop()
    except BaseException:
        fleet.kill_all()
        raise
    finally:
        proxy.stop()

    figures.notes.append(
        f"connections cut each time: {cut_sizes}; accepted by the proxy in all: {proxy.accepted}"
    )
    account(figures, app, fleet, started=started, last_fault=last_fault, expected=ids)
    if not drained:
        figures.problems.append(f"the drain did not finish {DRAIN_TIMEOUT:.0f}s after the chaos")
    if figures.faults < 3 or not all(cut_sizes):
        figures.problems.append(
            f"the cuts did not all land during the drain ({cut_sizes}): the run proves little"
        )
    record_figures(figures)

    assert not figures.problems, verdict(figures, fleet)
    assert figures.lost == 0
    assert figures.failed == 0
    assert figures.duplicates == 0
    assert figures.bad_exits == 0
