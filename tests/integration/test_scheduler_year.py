"""A scheduler driven by an injected clock through one simulated year (no sleeping)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from hourhand import Hourhand, JobContext
from tests.support.cronref import Ref
from tests.unit.test_cron import EXPRESSIONS, YEAR_END, YEAR_START, ZONES


def test_a_simulated_year_fires_every_expected_instant_once(tmp_path: Path) -> None:
    # SQLite with synchronous=NORMAL: the year's ~50,000 runs commit one tick at a time
    app = Hourhand(f"sqlite:///{tmp_path}/year.db?synchronous=NORMAL")

    @app.job("noop")
    async def noop(ctx: JobContext) -> None:
        return None

    try:
        ids = {}
        for n, (expr, tz) in enumerate((e, z) for e in EXPRESSIONS for z in ZONES):
            s = app.schedules.create(f"s{n}", "noop", expr, tz=tz, overlap="allow")
            first = s.parsed.next(YEAR_START - timedelta(microseconds=1))
            app.store.update_schedule(s.id, {"next_fire_at": first})
            ids[(expr, tz)] = s.id
        scheduler = app.scheduler()
        ticks = 0
        while (now := app.store.next_schedule_due()) is not None and now < YEAR_END:
            scheduler.tick(now)  # the clock jumps straight to the next fire time
            ticks += 1
        assert ticks > 35_000
        for (expr, tz), sid in ids.items():
            fired = sorted(j.fire_time for j in app.schedules.runs(sid, limit=100_000))
            want = Ref(expr, tz).fires(YEAR_START, YEAR_END, timedelta(minutes=15))
            assert fired == want, (expr, tz)
            entries = app.store.schedule_fires(sid, 100_000)  # one ledger entry each
            assert sorted(e.fire_time for e in entries) == want, (expr, tz)
    finally:
        app.close()
